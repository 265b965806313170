/* siglip_head: the attention-pooling head of SigLIP's vision tower (see siglip_head.h). */
#include "vision/siglip_head.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/gemm.h"
#include "core/ops.h"

struct siglip_head {
  vit_config c;
  const float *probe;         /* (D) */
  const float *in_w, *in_b;   /* (3D, D), (3D): q, k, v rows */
  const float *out_w, *out_b; /* (D, D), (D) */
  const float *ln_w, *ln_b;   /* (D) */
  const float *fc1_w, *fc1_b; /* (M, D), (M) */
  const float *fc2_w, *fc2_b; /* (D, M), (D) */
};

static vlp_status bind(vlp_weights *w, const char *prefix, const char *name, const float **out,
                       int ndim, int d0, int d1, int d2) {
  char full[512];
  int len = snprintf(full, sizeof full, "%s%s", prefix, name);
  if (len < 0 || (size_t)len >= sizeof full)
    return vlp_fail(VLP_ERR_INVALID, "siglip head: tensor name too long: %s%s", prefix, name);
  if (ndim == 1) return weights_f32(w, full, out, 1, d0);
  if (ndim == 2) return weights_f32(w, full, out, 2, d0, d1);
  return weights_f32(w, full, out, 3, d0, d1, d2);
}

vlp_status siglip_head_load(vlp_weights *w, const char *prefix, const vit_config *c,
                            siglip_head **out) {
  *out = NULL;
  siglip_head *h = calloc(1, sizeof *h);
  if (!h) return vlp_fail(VLP_ERR_NOMEM, "siglip head: out of memory");
  h->c = *c;
  const int D = c->hidden, M = c->mlp;
  vlp_status st;
  if ((st = bind(w, prefix, "probe", &h->probe, 3, 1, 1, D)) ||
      (st = bind(w, prefix, "attention.in_proj_weight", &h->in_w, 2, 3 * D, D, 0)) ||
      (st = bind(w, prefix, "attention.in_proj_bias", &h->in_b, 1, 3 * D, 0, 0)) ||
      (st = bind(w, prefix, "attention.out_proj.weight", &h->out_w, 2, D, D, 0)) ||
      (st = bind(w, prefix, "attention.out_proj.bias", &h->out_b, 1, D, 0, 0)) ||
      (st = bind(w, prefix, "layernorm.weight", &h->ln_w, 1, D, 0, 0)) ||
      (st = bind(w, prefix, "layernorm.bias", &h->ln_b, 1, D, 0, 0)) ||
      (st = bind(w, prefix, "mlp.fc1.weight", &h->fc1_w, 2, M, D, 0)) ||
      (st = bind(w, prefix, "mlp.fc1.bias", &h->fc1_b, 1, M, 0, 0)) ||
      (st = bind(w, prefix, "mlp.fc2.weight", &h->fc2_w, 2, D, M, 0)) ||
      (st = bind(w, prefix, "mlp.fc2.bias", &h->fc2_b, 1, D, 0, 0))) {
    free(h);
    return st;
  }
  *out = h;
  return VLP_OK;
}

void siglip_head_free(siglip_head *h) {
  free(h);
}

/* The in-projection runs with the whole (3D, D) weight, as packed at load: its row slices
 * are no packed weights of their own, and ran on OpenBLAS, whose blocking (and so each
 * image's result) depends on the batch's row count. It runs image by image (T rows each),
 * which keeps the scratch small; the q columns of the image rows are not used. */
vlp_status siglip_head_forward(const siglip_head *h, vlp_ws *ws, const float *last_hidden, int B,
                               int T, float *pooled) {
  const int D = h->c.hidden, M = h->c.mlp, H = h->c.heads;
  if (B <= 0 || T <= 0) return vlp_fail(VLP_ERR_INVALID, "siglip head: %d x %d tokens", B, T);
  const size_t TD = (size_t)T * D;
  if (TD > INT32_MAX / 8 || (size_t)B * D > INT32_MAX / 8 || (size_t)B * M > INT32_MAX)
    return vlp_fail(VLP_ERR_NOMEM, "siglip head: batch %d x %d too large", B, T);
  /* scratch: kv (T, 3D), k, v (T, D); q (3D); ctx, x, y (B, D); mlp (B, M) */
  float *kv = ws_floats(ws, WS_FUSION, 5 * TD + 3 * (size_t)D + 3 * (size_t)B * D + (size_t)B * M);
  if (!kv) return vlp_fail(VLP_ERR_NOMEM, "siglip head: out of memory for batch %d", B);
  float *k = kv + 3 * TD, *v = k + TD, *q = v + TD, *ctx = q + 3 * (size_t)D;
  float *x = ctx + (size_t)B * D, *y = x + (size_t)B * D, *mlp = y + (size_t)B * D;
  gemm_linear(q, h->probe, h->in_w, h->in_b, 1, D, 3 * D, GEMM_ACT_NONE, 0); /* q = [0, D) */
  op_attn_shape as = {
      .B = 1, .H = H, .Tq = 1, .Tk = T, .hd = D / H, .kv_cap = T, .mask = NULL, .causal = 0};
  for (int b = 0; b < B; b++) {
    gemm_linear(kv, last_hidden + (size_t)b * TD, h->in_w, h->in_b, T, D, 3 * D, GEMM_ACT_NONE, 0);
    for (int t = 0; t < T; t++) {
      memcpy(k + (size_t)t * D, kv + (size_t)t * 3 * D + D, (size_t)D * sizeof *k);
      memcpy(v + (size_t)t * D, kv + (size_t)t * 3 * D + 2 * D, (size_t)D * sizeof *v);
    }
    op_attention(ctx + (size_t)b * D, q, k, v, &as);
  }
  op_linear(x, ctx, h->out_w, h->out_b, B, D, D);
  op_layernorm(y, x, h->ln_w, h->ln_b, B, D, h->c.eps);
  gemm_linear(mlp, y, h->fc1_w, h->fc1_b, B, D, M, vit_gemm_act(h->c.act), 0);
  op_linear(pooled, mlp, h->fc2_w, h->fc2_b, B, M, D);
  op_add(pooled, x, (size_t)B * D);
  return VLP_OK;
}
