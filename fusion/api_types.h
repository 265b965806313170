/* api_types: what the public handles of vlp.h are inside (vlp_model, vlp_session,
 * vlp_features), shared by the fusion/api_*.c files that implement vlp.h. */
#ifndef VLP_FUSION_API_TYPES_H
#define VLP_FUSION_API_TYPES_H

#include "core/weights.h"
#include "core/workspace.h"
#include "fusion/blip.h"
#include "fusion/clip.h"
#include "fusion/siglip.h"
#include "vlp.h"

/* Read-only after vlp_model_load_with. */
struct vlp_model {
  vlp_arch arch;
  char *dir; /* the model folder, absolute (realpath) */
  blip_model *blip;
  clip_model *clip;
  siglip_model *siglip;
  vlp_model_params params;  /* parts: never 0 */
  weights_pack_report pack; /* what loading packed for the GEMM backend */
};

/* BLIP images go through the vision tower in chunks whose workspace stays within this (at
 * least one image a chunk): BLIP-base at 384 x 384 takes ~18 MB an image, so 2 at a time. */
#define API_VISION_CHUNK_BYTES ((size_t)48 << 20)

struct vlp_session {
  const vlp_model *m;
  int n_threads; /* resolved: >= 1 */
  vlp_step_fn progress;
  void *progress_ctx;
  size_t vision_chunk_bytes; /* API_VISION_CHUNK_BYTES (tests lower it) */
  vlp_ws ws;
};

/* BLIP: the vision tower's last_hidden_state (n, Ti, Dv), plus image_feat (n, E) for the
 * retrieval model. CLIP / SigLIP: image_embeds (n, P) (the projected, normalised
 * embeddings their heads use). */
struct vlp_features {
  const vlp_model *m;
  int n, S, Ti, dim;
  float *hidden; /* BLIP (n, Ti, Dv), else NULL */
  float *embeds; /* (n, dim) or NULL (captioning / VQA) */
};

/* Images a chunk when n BLIP images of S x S go through the vision tower of s's model: as
 * many as fit in s->vision_chunk_bytes of workspace (at least 1), spread evenly. */
int api_vision_chunk(const vlp_session *s, int n, int S);
/* The image processor of m. */
const prep_config *api_prep(const vlp_model *m);
/* VLP_ERR_INVALID naming m's folder unless m was loaded with part (VLP_LOAD_VISION or
 * VLP_LOAD_TEXT). */
vlp_status api_need_part(const vlp_model *m, unsigned part);
/* VLP_ERR_INVALID naming both unless m is of architecture a. */
vlp_status api_need(const vlp_model *m, vlp_arch a);
/* f exists, was made by s's model and has image i. */
vlp_status api_check_features(const vlp_session *s, const vlp_features *f, int i);

/* Every compute entry point of vlp.h runs between these: the session's thread count for
 * this thread's kernels, restored afterwards. */
int api_enter(const vlp_session *s);
/* The session's progress callback: VLP_ERR_CANCELLED (message set) when it says stop. */
vlp_status api_progress(const vlp_session *s, const char *what, int64_t done, int64_t total);
void api_leave(int previous);

#endif
