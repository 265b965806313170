/* vit: the ViT image encoder of BLIP, CLIP and SigLIP, batched over images.
 *
 * BLIP (BlipVisionModel): Conv2d patch embedding with bias -> prepend class embedding ->
 *   + position embedding -> pre-LN layers (fused qkv Linear with bias, `projection`, exact
 *   GELU MLP) -> post_layernorm = last_hidden_state.
 * CLIP (CLIPVisionModel): patch embedding without bias -> class embedding -> + position
 *   embedding -> pre_layrnorm -> pre-LN layers (q/k/v/out_proj, activation per config)
 *   = last_hidden_state (NOT post-normed).
 * SigLIP (SiglipVisionTransformer): patch embedding WITH bias, NO class embedding ->
 *   + position embedding (one row per patch) -> pre-LN layers (q/k/v/out_proj,
 *   gelu_pytorch_tanh) -> post_layernorm = last_hidden_state; its pooled output is the
 *   attention-pooling head (vision/siglip_head.h), not vit_pool.
 * BLIP and CLIP: pooled = post_layernorm(last_hidden_state[:, 0]).
 * An input of another size than image_size uses position embeddings interpolated as the
 * reference's interpolate_pos_encoding does (bicubic, align_corners=False, a = -0.75). */
#ifndef VLP_VISION_VIT_H
#define VLP_VISION_VIT_H

#include "core/gemm.h"
#include "core/json.h"
#include "core/weights.h"
#include "core/workspace.h"

typedef enum { VIT_BLIP, VIT_CLIP, VIT_SIGLIP } vit_kind;
typedef enum { ACT_GELU, ACT_QUICK_GELU, ACT_GELU_TANH } vlp_act;

typedef struct {
  vit_kind kind;
  int hidden, layers, heads, mlp, image_size, patch_size, channels;
  float eps;
  vlp_act act;
} vit_config;

/* Read the vision_config object of a config.json (NULL = all defaults), with the
 * transformers 4.47 defaults of BlipVisionConfig / CLIPVisionConfig / SiglipVisionConfig
 * for absent fields.
 * Errors name path_for_errors and the field. */
vlp_status vit_config_from_json(const cJSON *vision_config, vit_kind kind,
                                const char *path_for_errors, vit_config *out);

typedef struct vit_model vit_model;

/* Bind the tensors under `prefix` (e.g. "vision_model.") and check their shapes. */
vlp_status vit_load(vlp_weights *w, const char *prefix, const vit_config *c, vit_model **out);
void vit_free(vit_model *m);
const vit_config *vit_cfg(const vit_model *m);
/* Tokens for an S x S input: 1 + (S / patch)^2 (SigLIP: (S / patch)^2). */
int vit_tokens(const vit_model *m, int S);
/* Bytes of WS_VISION that vit_forward takes for B images of S x S (proportional to B);
 * 0 when B or S is out of range or the size overflows. */
size_t vit_workspace_bytes(const vit_model *m, int B, int S);

/* The MLP activation as a product epilogue (gemm.h), for the tower and SigLIP's head. */
gemm_act vit_gemm_act(vlp_act a);
/* pixels (B, 3, S, S) -> last_hidden (B, vit_tokens(S), hidden). S must be a multiple of
 * patch_size. Scratch from ws slots WS_VISION and WS_VISION_POS; the model is only read. */
vlp_status vit_forward(const vit_model *m, vlp_ws *ws, const float *pixels, int B, int S,
                       float *last_hidden);
/* pooled (B, hidden) as vit_pool(vit_forward(...)) gives it, with less work: the last layer
 * runs its attention, output projection and MLP on each image's class-token row only (the
 * one pooled; ~6% of a ViT-B/32's products). scratch (B, vit_tokens(S), hidden) is
 * overwritten; its other rows are not the last hidden state. A tower without a class token
 * (SigLIP's, pooled by its head over every row) runs every row. */
vlp_status vit_forward_pooled(const vit_model *m, vlp_ws *ws, const float *pixels, int B, int S,
                              float *scratch, float *pooled);
/* pooled (B, hidden) = post_layernorm(last_hidden[:, 0]). */
void vit_pool(const vit_model *m, const float *last_hidden, int B, int T, float *pooled);

#endif
