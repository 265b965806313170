/* siglip_head: SigLIP's attention-pooling head (SiglipMultiheadAttentionPoolingHead of
 * transformers 4.47), the vision tower's pooler_output.
 *
 * A learned probe (1, 1, D) is the only query of an nn.MultiheadAttention over the T tokens
 * of last_hidden_state: in_proj_weight (3D, D) rows [0, D) = q, [D, 2D) = k, [2D, 3D) = v,
 * in_proj_bias (3D), `heads` heads, scale head_dim^-0.5, then out_proj (D, D) + bias. Then
 * x = x + mlp(layernorm(x)) with the head's own layernorm and MLP (fc1, activation, fc2).
 * pooled = that one row. */
#ifndef VLP_VISION_SIGLIP_HEAD_H
#define VLP_VISION_SIGLIP_HEAD_H

#include "core/weights.h"
#include "core/workspace.h"
#include "vision/vit.h"

typedef struct siglip_head siglip_head;

/* Bind the tensors under prefix ("vision_model.head.") for the tower of config c (width,
 * heads, MLP size, eps and activation are the vision config's). */
vlp_status siglip_head_load(vlp_weights *w, const char *prefix, const vit_config *c,
                            siglip_head **out);
void siglip_head_free(siglip_head *h);
/* last_hidden (B, T, D) -> pooled (B, D). Scratch from ws slot WS_FUSION; the head is only
 * read. */
vlp_status siglip_head_forward(const siglip_head *h, vlp_ws *ws, const float *last_hidden, int B,
                               int T, float *pooled);

#endif
