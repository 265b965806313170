/* siglip: SiglipModel of a Hugging Face model folder - image and text embeddings, logits
 * and sigmoid scores, zero-shot tags.
 *
 * A folder holds config.json (architectures[0] == "SiglipModel"; text_config / vision_config
 * with the transformers 4.47 defaults where absent), model.safetensors (F32 / F16 / BF16),
 * spiece.model (+ tokenizer_config.json, special_tokens_map.json) and
 * preprocessor_config.json (SiglipImageProcessor).
 *
 * Shapes (D = the embedding width: the vision hidden size == the text head's output width,
 * L = the tokenizer's model_max_length, 64):
 *   image: pixels (B, 3, S, S) -> last_hidden (B, (S/patch)^2, Dv) (post-layernormed)
 *          -> pooled (B, Dv) = attention-pooling head -> image_embeds = pooled / ||pooled||
 *   text:  a text -> ids truncated to L and padded to L with the pad id (</s>), as the
 *          reference's padding="max_length" -> last_hidden (B, L, Dt) -> pooled (B, D) =
 *          head(last_hidden[:, L - 1]) -> text_embeds = pooled / ||pooled||
 *   logits (Bi, Bt) = exp(logit_scale) * image_embeds @ text_embeds^T + logit_bias, both
 *   read from the weights; probabilities = sigmoid(logits), each pair on its own.
 * The model is read-only after loading; every compute call takes a workspace. */
#ifndef VLP_FUSION_SIGLIP_H
#define VLP_FUSION_SIGLIP_H

#include "core/workspace.h"
#include "media/preprocess.h"
#include "text/clip_text.h"
#include "text/tokenizer.h"
#include "vision/vit.h"
#include "vlp.h"

typedef struct siglip_model siglip_model;

typedef struct {
  int dim;           /* D: width of the embeddings */
  int text_hidden;   /* Dt */
  int vision_hidden; /* Dv */
  int image_size;    /* S the position table was trained for */
  int patch_size;
  int text_len; /* L: every text runs padded to this many positions */
} siglip_dims;

/* Load a SiglipModel folder. Another architecture is VLP_ERR_UNSUPPORTED; a missing tensor
 * (probe, head, ...), a tensor whose shape disagrees with config.json or a config that
 * disagrees with itself is VLP_ERR_MODEL; a missing or corrupt spiece.model is
 * VLP_ERR_MODEL / VLP_ERR_FORMAT; each one line naming the file and the tensor / field. */
vlp_status siglip_load(const char *model_dir, siglip_model **out);
/* Only the towers in parts (VLP_LOAD_VISION: the ViT and its pooling head; VLP_LOAD_TEXT):
 * the other is neither bound nor packed, and encoding with it fails with VLP_ERR_INVALID.
 * siglip_load loads both. */
vlp_status siglip_load_parts(const char *model_dir, unsigned parts, siglip_model **out);
void siglip_free(siglip_model *m);

siglip_dims siglip_get_dims(const siglip_model *m);
/* The model's tensors (for weights_prepare_linears). */
vlp_weights *siglip_weights(const siglip_model *m);
const vlp_tokenizer *siglip_tokenizer(const siglip_model *m);
const prep_config *siglip_prep(const siglip_model *m);
float siglip_logit_scale(const siglip_model *m); /* raw parameter; the logits use exp of it */
float siglip_logit_bias(const siglip_model *m);
/* Tokens of the vision tower for an S x S input: (S / patch)^2. */
int siglip_vision_tokens(const siglip_model *m, int S);

/* pixels (B, 3, S, S) as prep_run makes them (S a multiple of patch_size; another S than
 * image_size interpolates the position embeddings). last_hidden (B, tokens, Dv) and pooled
 * (B, D) may be NULL; embeds (B, D) is required. */
vlp_status siglip_encode_images(const siglip_model *m, vlp_ws *ws, const float *pixels, int B,
                                int S, float *last_hidden, float *pooled, float *embeds);
/* ids (B, L): each row a full padded sequence (siglip_text_ids). last_hidden (B, L, Dt) and
 * pooled (B, D) may be NULL; embeds (B, D) is required. mask_lens NULL: no attention mask
 * (the reference's path); else row b's keys from mask_lens[b] on are masked (what the
 * reference gives when an attention_mask is passed). */
vlp_status siglip_encode_ids(const siglip_model *m, vlp_ws *ws, const int *ids, int B,
                             const int *mask_lens, float *last_hidden, float *pooled,
                             float *embeds);
/* The L ids the text tower receives for a text: tokenized, truncated and padded. */
vlp_status siglip_text_ids(const siglip_model *m, const char *text, int *ids);
/* Tokenize, pad and encode B strings; embeds (B, D). */
vlp_status siglip_encode_strings(const siglip_model *m, vlp_ws *ws, const char *const *texts, int B,
                                 float *embeds);

/* logits (Bi, Bt) = exp(logit_scale) * image_embeds @ text_embeds^T + logit_bias. */
void siglip_logits(const siglip_model *m, const float *image_embeds, int Bi,
                   const float *text_embeds, int Bt, float *logits);
/* probs (Bi, Bt) = sigmoid(siglip_logits), every pair on its own. */
void siglip_probs(const siglip_model *m, const float *image_embeds, int Bi,
                  const float *text_embeds, int Bt, float *probs);
/* sigmoid of one logit (1 / (1 + exp(-x)), without overflow). */
float siglip_sigmoid(float x);

#endif
