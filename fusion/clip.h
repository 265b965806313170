/* clip: CLIPModel of a Hugging Face model folder - image and text embeddings, logits,
 * zero-shot tags.
 *
 * A folder holds config.json (architectures[0] == "CLIPModel"; text_config / vision_config
 * with the transformers 4.47 defaults where absent), model.safetensors (F32 / F16 / BF16),
 * vocab.json + merges.txt and preprocessor_config.json.
 *
 * Shapes (P = projection_dim, Dt = text hidden, Dv = vision hidden):
 *   image: pixels (B, 3, S, S) -> last_hidden (B, 1 + (S/patch)^2, Dv) [NOT post-normed]
 *          -> pooled (B, Dv) = post_layernorm(last_hidden[:, 0])
 *          -> image_features (B, P) = visual_projection(pooled) -> image_embeds (B, P) L2-normed
 *   text:  ids of B texts -> last_hidden (B, Tmax, Dt) (final_layer_norm output; rows past a
 *          text's length are padding) -> pooled (B, Dt) at the eos position
 *          -> text_features (B, P) = text_projection(pooled) -> text_embeds (B, P) L2-normed
 *   logits_per_image (Bi, Bt) = exp(logit_scale) * image_embeds @ text_embeds^T, with
 *   logit_scale read from the weights (not the config).
 * Every output pointer except the embeds may be NULL (not computed / not copied).
 * The model is read-only after loading; scratch comes from the caller's workspace (the
 * towers' slots and WS_FUSION): one workspace per thread. */
#ifndef VLP_FUSION_CLIP_H
#define VLP_FUSION_CLIP_H

#include "media/preprocess.h"
#include "text/clip_text.h"
#include "text/tokenizer.h"
#include "vision/vit.h"
#include "vlp.h"

typedef struct clip_model clip_model;

typedef struct {
  int projection_dim; /* P */
  int text_hidden;    /* Dt */
  int vision_hidden;  /* Dv */
  int image_size;     /* S the position table was trained for */
  int patch_size;
  int max_text_len; /* max_position_embeddings (77): the tokenizer truncates to it */
} clip_dims;

/* Load a CLIPModel folder. Another architecture is VLP_ERR_UNSUPPORTED; a missing tensor, a
 * tensor of the wrong shape or an inconsistent config is VLP_ERR_MODEL; each with one line
 * naming the file and the field / tensor. */
vlp_status clip_load(const char *model_dir, clip_model **out);
/* Only the towers in parts (VLP_LOAD_VISION / VLP_LOAD_TEXT): the other is neither bound nor
 * packed, and encoding with it fails with VLP_ERR_INVALID. clip_load loads both. */
vlp_status clip_load_parts(const char *model_dir, unsigned parts, clip_model **out);
void clip_free(clip_model *m);

clip_dims clip_get_dims(const clip_model *m);
const vlp_tokenizer *clip_tokenizer(const clip_model *m);
const prep_config *clip_prep(const clip_model *m);
/* The model's tensors (for weights_prepare_linears). */
vlp_weights *clip_weights(const clip_model *m);
/* The raw logit_scale parameter (the logits use exp of it). */
float clip_logit_scale(const clip_model *m);
/* Tokens of the vision tower for an S x S input: 1 + (S / patch)^2. */
int clip_vision_tokens(const clip_model *m, int S);

/* pixels (B, 3, S, S) as prep_run makes them (S a multiple of patch_size; S != image_size
 * interpolates the position embeddings).
 * last_hidden (B, clip_vision_tokens(S), Dv), pooled (B, Dv), features (B, P): NULL = skip.
 * embeds (B, P): required. */
vlp_status clip_encode_images(const clip_model *m, vlp_ws *ws, const float *pixels, int B, int S,
                              float *last_hidden, float *pooled, float *features, float *embeds);

/* Texts already tokenized: ids[b] holds lens[b] ids (specials included, 1..max_text_len;
 * use tok_encode with max_len = max_text_len).
 * last_hidden (B, Tmax, Dt) with Tmax = max(lens), pooled (B, Dt), features (B, P): NULL =
 * skip. embeds (B, P): required. */
vlp_status clip_encode_texts(const clip_model *m, vlp_ws *ws, const int *const *ids,
                             const int *lens, int B, float *last_hidden, float *pooled,
                             float *features, float *embeds);

/* Tokenize (truncating to max_text_len as the reference's truncation=True) and encode B
 * strings; embeds (B, P). */
vlp_status clip_encode_strings(const clip_model *m, vlp_ws *ws, const char *const *texts, int B,
                               float *embeds);

/* logits (Bi, Bt) = exp(logit_scale) * image_embeds (Bi, P) @ text_embeds (Bt, P)^T. */
void clip_logits(const clip_model *m, const float *image_embeds, int Bi, const float *text_embeds,
                 int Bt, float *logits);
/* probs (Bi, Bt) = softmax over texts of clip_logits (the reference's probs). */
void clip_probs(const clip_model *m, const float *image_embeds, int Bi, const float *text_embeds,
                int Bt, float *probs);

/* Zero-shot tags: label_embeds (L, P) computed once per run (clip_encode_strings of the
 * templated labels), image_embeds (B, P); scores (B, L) = softmax over labels of
 * exp(logit_scale) * cosine. Same as clip_probs. */
void clip_tag(const clip_model *m, const float *label_embeds, int L, const float *image_embeds,
              int B, float *scores);

#endif
