/* siglip_head: the attention-pooling head of SigLIP's vision tower (see siglip_head.h). */
#include "vision/siglip_head.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"
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

static void activate(vlp_act a, float *x, size_t n) {
  if (a == ACT_GELU_TANH)
    op_gelu_tanh(x, n);
  else if (a == ACT_QUICK_GELU)
    op_quick_gelu(x, n);
  else
    op_gelu(x, n);
}

vlp_status siglip_head_forward(const siglip_head *h, vlp_ws *ws, const float *last_hidden, int B,
                               int T, float *pooled) {
  const int D = h->c.hidden, M = h->c.mlp, H = h->c.heads;
  if (B <= 0 || T <= 0) return vlp_fail(VLP_ERR_INVALID, "siglip head: %d x %d tokens", B, T);
  const size_t N = (size_t)B * T;
  if (N > INT32_MAX || N > SIZE_MAX / 4 / (size_t)D)
    return vlp_fail(VLP_ERR_NOMEM, "siglip head: batch %d x %d too large", B, T);
  /* scratch: k, v (N, D); q, ctx, x, y (B, D); mlp (B, M) */
  float *k = ws_floats(ws, WS_FUSION, 2 * N * D + 4 * (size_t)B * D + (size_t)B * M);
  if (!k) return vlp_fail(VLP_ERR_NOMEM, "siglip head: out of memory for batch %d", B);
  float *v = k + N * D, *q = v + N * D, *ctx = q + (size_t)B * D, *x = ctx + (size_t)B * D;
  float *y = x + (size_t)B * D, *mlp = y + (size_t)B * D;
  op_linear(k, last_hidden, h->in_w + (size_t)D * D, h->in_b + D, (int)N, D, D);
  op_linear(v, last_hidden, h->in_w + (size_t)2 * D * D, h->in_b + 2 * D, (int)N, D, D);
  op_linear(q, h->probe, h->in_w, h->in_b, 1, D, D); /* the same query for every image */
  for (int b = 1; b < B; b++)
    for (int d = 0; d < D; d++) q[(size_t)b * D + d] = q[d];
  op_attn_shape as = {
      .B = B, .H = H, .Tq = 1, .Tk = T, .hd = D / H, .kv_cap = T, .mask = NULL, .causal = 0};
  op_attention(ctx, q, k, v, &as);
  op_linear(x, ctx, h->out_w, h->out_b, B, D, D);
  op_layernorm(y, x, h->ln_w, h->ln_b, B, D, h->c.eps);
  op_linear(mlp, y, h->fc1_w, h->fc1_b, B, D, M);
  activate(h->c.act, mlp, (size_t)B * M);
  op_linear(pooled, mlp, h->fc2_w, h->fc2_b, B, M, D);
  op_add(pooled, x, (size_t)B * D);
  return VLP_OK;
}
