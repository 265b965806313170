/* clip_text: the CLIP text tower (CLIPTextTransformer of transformers 4.47), batched, and
 * its SigLIP variant (SiglipTextTransformer).
 *
 * token embedding + position embedding (max_position_embeddings rows) -> pre-LN layers
 * (layer_norm1 -> q/k/v/out_proj attention with a causal mask -> residual; layer_norm2 ->
 * fc1 -> activation (quick_gelu or exact gelu, from hidden_act) -> fc2 -> residual) ->
 * final_layer_norm = last_hidden_state.
 * pooled = last_hidden_state at the eos position: eos_token_id == 2 in the config (the
 * legacy hub configs) -> argmax(input_ids) (first maximum); otherwise the first position
 * whose id == eos_token_id (position 0 when there is none, as torch's argmax of an
 * all-zero row).
 * Texts of different lengths run in one batch padded to the longest: with the causal mask a
 * real position never sees a later one, so the real positions (and the pooled state) are
 * exactly those of the text run alone; pad positions also get the padding mask as in
 * the reference (their values are not meaningful).
 *
 * SigLIP: the same layers with NO causal mask and NO padding mask (the pads of a text
 * padded to max_length attend and are attended to, as in the reference), gelu_pytorch_tanh;
 * pooled = `head` (Linear) applied to the LAST position, whatever token is there. */
#ifndef VLP_TEXT_CLIP_TEXT_H
#define VLP_TEXT_CLIP_TEXT_H

#include <cjson/cJSON.h>

#include "core/weights.h"
#include "core/workspace.h"

typedef enum { CLIP_ACT_QUICK_GELU, CLIP_ACT_GELU, CLIP_ACT_GELU_TANH } clip_text_act;

typedef struct {
  int vocab, hidden, mlp, layers, heads, max_pos;
  int eos_token_id;
  int projection_dim; /* text_config.projection_dim (CLIPModel uses the top-level one);
                         SigLIP: the head's output width (projection_size, default hidden) */
  float eps;
  clip_text_act act;
  int siglip; /* 1: the SigLIP variant (no masks, head on the last position) */
} clip_text_config;

/* CLIPTextConfig from the "text_config" object of config.json (NULL: all defaults). Absent
 * fields take the transformers 4.47 defaults (vocab 49408, hidden 512, mlp 2048, 12 layers,
 * 8 heads, 77 positions, quick_gelu, eps 1e-5, eos 49407, projection 512). Nonsense values
 * (non-positive sizes, hidden % heads != 0) are VLP_ERR_MODEL, an activation other than
 * quick_gelu / gelu VLP_ERR_UNSUPPORTED; messages name path_for_errors and the field. */
vlp_status clip_text_config_from_json(const cJSON *text_config, const char *path_for_errors,
                                      clip_text_config *out);
/* SiglipTextConfig, same checks; defaults vocab 32000, hidden 768, mlp 3072, 12 layers, 12
 * heads, 64 positions, gelu_pytorch_tanh, eps 1e-6. */
vlp_status siglip_text_config_from_json(const cJSON *text_config, const char *path_for_errors,
                                        clip_text_config *out);

typedef struct clip_text_model clip_text_model;

/* Bind the tensors under prefix ("text_model.") and check their shapes against c (SigLIP:
 * also head.weight / head.bias). */
vlp_status clip_text_load(vlp_weights *w, const char *prefix, const clip_text_config *c,
                          clip_text_model **out);
void clip_text_free(clip_text_model *m);
const clip_text_config *clip_text_cfg(const clip_text_model *m);

/* Padded tokens per forward pass where many texts are split into passes (fusion's
 * clip_encode_strings, siglip_encode_strings): rows enough for the products to run at their
 * batched speed (CLIP B/32, 2000 short texts in one process: passes of ~73 texts took 6%
 * less time than passes of 16; 512 and 2048 tokens the same), and a workspace bounded
 * whatever the number of texts. */
#define CLIP_TEXT_PASS_ROWS 1024

/* ids (B, T) row-major, row b holds lens[b] real ids (1 <= lens[b] <= T <= max_pos, every
 * id in [0, vocab)) followed by anything (ignored).
 * last_hidden (B, T, hidden) or NULL; rows t >= lens[b] are pad positions (not meaningful).
 * pooled (B, hidden) or NULL (SigLIP: (B, projection_dim), the head's output).
 * SigLIP: every row holds T valid ids (a max_length sequence, pads included); lens[b] < T
 * masks the keys from lens[b] on (what the reference does when given an attention mask;
 * its own path passes none: lens[b] == T).
 * Scratch from ws (WS_TEXT); the model is only read. */
vlp_status clip_text_forward(const clip_text_model *m, vlp_ws *ws, const int *ids, const int *lens,
                             int B, int T, float *last_hidden, float *pooled);

/* The position the reference pools for a row of n real ids. */
int clip_text_eos_index(const clip_text_config *c, const int *ids, int n);

#endif
