/* vit: the ViT image encoder of BLIP, CLIP and SigLIP (see vit.h), batched over images.
 *
 * Weights are bound once (shape-checked) and used in place; the model is read-only after
 * loading. A forward pass takes its activations from the caller's workspace (WS_VISION)
 * and, for an input size other than image_size, interpolates the position embeddings into
 * WS_VISION_POS. */
#include "vision/vit.h"

#include <math.h>
#include <omp.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/attention.h"
#include "core/attention_bf16.h"
#include "core/error.h"
#include "core/gemm.h"
#include "core/ops.h"
#include "core/team.h"
#include "core/threads.h"

typedef struct {
  const float *ln1_w, *ln1_b, *ln2_w, *ln2_b;
  const gemm_stack *qkv_stack; /* CLIP's, SigLIP's q_proj, k_proj, v_proj as one product */
  const float *qkv_w, *qkv_b;  /* BLIP's fused (3D, D), (3D): rows q, k, v; else NULL */
  const float *o_w, *o_b;      /* out_proj / projection */
  const float *fc1_w, *fc1_b, *fc2_w, *fc2_b; /* (mlp, D), (mlp); (D, mlp), (D) */
} vit_layer;

struct vit_model {
  vit_config c;
  int grid;                     /* g = image_size / patch_size */
  int ncls;                     /* class-token rows: 1, SigLIP 0 */
  const float *cls;             /* (D), NULL for SigLIP */
  const float *patch_w;         /* (D, C*p*p) viewed from (D, C, p, p) */
  const float *patch_b;         /* (D) BLIP and SigLIP, else NULL */
  const float *pos;             /* (ncls + g*g, D) */
  const float *pre_w, *pre_b;   /* CLIP pre_layrnorm */
  const float *post_w, *post_b; /* post_layernorm */
  vit_layer *layers;
};

/* ---- loading --------------------------------------------------------------------- */

static vlp_status bind(vlp_weights *w, const char *prefix, const char *name, const float **out,
                       int ndim, int d0, int d1, int d2, int d3) {
  char full[512];
  int len = snprintf(full, sizeof full, "%s%s", prefix, name);
  if (len < 0 || (size_t)len >= sizeof full)
    return vlp_fail(VLP_ERR_INVALID, "vit: tensor name too long: %s%s", prefix, name);
  switch (ndim) {
    case 1:
      return weights_f32(w, full, out, 1, d0);
    case 2:
      return weights_f32(w, full, out, 2, d0, d1);
    case 3:
      return weights_f32(w, full, out, 3, d0, d1, d2);
    default:
      return weights_f32(w, full, out, 4, d0, d1, d2, d3);
  }
}

#define BIND1(name, p, a) \
  if ((st = bind(w, prefix, name, p, 1, a, 0, 0, 0))) goto fail
#define BIND2(name, p, a, b) \
  if ((st = bind(w, prefix, name, p, 2, a, b, 0, 0))) goto fail

static vlp_status check_config(const vit_config *c) {
  if (c->hidden <= 0 || c->layers <= 0 || c->heads <= 0 || c->mlp <= 0 || c->image_size <= 0 ||
      c->patch_size <= 0 || c->channels <= 0)
    return vlp_fail(VLP_ERR_MODEL, "vit: config sizes must be positive");
  if (c->hidden % c->heads)
    return vlp_fail(VLP_ERR_MODEL, "vit: hidden_size %d not divisible by num_attention_heads %d",
                    c->hidden, c->heads);
  if (c->image_size % c->patch_size && c->kind != VIT_SIGLIP)
    return vlp_fail(VLP_ERR_MODEL, "vit: image_size %d not a multiple of patch_size %d",
                    c->image_size, c->patch_size);
  if (c->hidden > (1 << 16) || c->mlp > (1 << 20) || c->layers > 1024 ||
      c->image_size > (1 << 14) || c->channels > 64 ||
      (int64_t)c->channels * c->patch_size * c->patch_size > (1 << 24))
    return vlp_fail(VLP_ERR_MODEL, "vit: config sizes out of range");
  if (!(c->eps > 0 && c->eps < 1))
    return vlp_fail(VLP_ERR_MODEL, "vit: layer_norm_eps %g out of range", (double)c->eps);
  return VLP_OK;
}

vlp_status vit_load(vlp_weights *w, const char *prefix, const vit_config *c, vit_model **out) {
  *out = NULL;
  vlp_status st = check_config(c);
  if (st) return st;
  vit_model *m = calloc(1, sizeof *m);
  if (!m) return vlp_fail(VLP_ERR_NOMEM, "vit: out of memory");
  m->c = *c;
  m->grid = c->image_size / c->patch_size;
  m->layers = calloc((size_t)c->layers, sizeof *m->layers);
  if (!m->layers) {
    free(m);
    return vlp_fail(VLP_ERR_NOMEM, "vit: out of memory");
  }
  const int D = c->hidden, C = c->channels, p = c->patch_size, M = c->mlp;
  m->ncls = c->kind == VIT_SIGLIP ? 0 : 1;
  const int npos = m->ncls + m->grid * m->grid;
  const int blip = c->kind == VIT_BLIP;

  if (c->kind == VIT_SIGLIP) {
    BIND2("embeddings.position_embedding.weight", &m->pos, npos, D);
    BIND1("embeddings.patch_embedding.bias", &m->patch_b, D);
  } else if (blip) {
    if ((st = bind(w, prefix, "embeddings.class_embedding", &m->cls, 3, 1, 1, D, 0))) goto fail;
    if ((st = bind(w, prefix, "embeddings.position_embedding", &m->pos, 3, 1, npos, D, 0)))
      goto fail;
    BIND1("embeddings.patch_embedding.bias", &m->patch_b, D);
  } else {
    BIND1("embeddings.class_embedding", &m->cls, D);
    BIND2("embeddings.position_embedding.weight", &m->pos, npos, D);
    BIND1("pre_layrnorm.weight", &m->pre_w, D);
    BIND1("pre_layrnorm.bias", &m->pre_b, D);
  }
  if ((st = bind(w, prefix, "embeddings.patch_embedding.weight", &m->patch_w, 4, D, C, p, p)))
    goto fail;
  BIND1("post_layernorm.weight", &m->post_w, D);
  BIND1("post_layernorm.bias", &m->post_b, D);

  for (int i = 0; i < c->layers; i++) {
    vit_layer *L = &m->layers[i];
    char n[128];
#define LNAME(s) (snprintf(n, sizeof n, "encoder.layers.%d.%s", i, s), n)
    BIND1(LNAME("layer_norm1.weight"), &L->ln1_w, D);
    BIND1(LNAME("layer_norm1.bias"), &L->ln1_b, D);
    BIND1(LNAME("layer_norm2.weight"), &L->ln2_w, D);
    BIND1(LNAME("layer_norm2.bias"), &L->ln2_b, D);
    BIND2(LNAME("mlp.fc1.weight"), &L->fc1_w, M, D);
    BIND1(LNAME("mlp.fc1.bias"), &L->fc1_b, M);
    BIND2(LNAME("mlp.fc2.weight"), &L->fc2_w, D, M);
    BIND1(LNAME("mlp.fc2.bias"), &L->fc2_b, D);
    if (blip) {
      /* fused qkv (3D, D): rows [0, D) = q, [D, 2D) = k, [2D, 3D) = v, heads contiguous.
       * It runs as one product: the weight is packed whole, so slices of it would miss
       * the packed copy and run unpacked. */
      BIND2(LNAME("self_attn.qkv.weight"), &L->qkv_w, 3 * D, D);
      BIND1(LNAME("self_attn.qkv.bias"), &L->qkv_b, 3 * D);
      BIND2(LNAME("self_attn.projection.weight"), &L->o_w, D, D);
      BIND1(LNAME("self_attn.projection.bias"), &L->o_b, D);
    } else {
      /* q_proj, k_proj, v_proj as one stacked product: each row's q, k, v side by side,
       * as BLIP's fused weight gives them */
      static const char *const qkv[3] = {"q", "k", "v"};
      char sa[300];
      snprintf(sa, sizeof sa, "%sencoder.layers.%d.self_attn.", prefix, i);
      if ((st = weights_linear_stack_named(w, sa, qkv, "_proj", 3, D, D, &L->qkv_stack))) goto fail;
      BIND2(LNAME("self_attn.out_proj.weight"), &L->o_w, D, D);
      BIND1(LNAME("self_attn.out_proj.bias"), &L->o_b, D);
    }
#undef LNAME
  }
  *out = m;
  return VLP_OK;
fail:
  vit_free(m);
  return st;
}

void vit_free(vit_model *m) {
  if (!m) return;
  free(m->layers);
  free(m);
}

const vit_config *vit_cfg(const vit_model *m) {
  return &m->c;
}

int vit_tokens(const vit_model *m, int S) {
  int n = S / m->c.patch_size;
  return m->ncls + n * n;
}

/* ---- position embeddings --------------------------------------------------------- */

/* Cubic convolution weights for fraction t, a = -0.75 (as torch's bicubic). */
static void cubic_weights(float t, float w[4]) {
  const float A = -0.75f;
  float x;
  x = t + 1.0f; /* |x| in [1, 2) */
  w[0] = ((A * x - 5.0f * A) * x + 8.0f * A) * x - 4.0f * A;
  x = t; /* [0, 1) */
  w[1] = ((A + 2.0f) * x - (A + 3.0f)) * x * x + 1.0f;
  x = 1.0f - t;
  w[2] = ((A + 2.0f) * x - (A + 3.0f)) * x * x + 1.0f;
  x = 2.0f - t;
  w[3] = ((A * x - 5.0f * A) * x + 8.0f * A) * x - 4.0f * A;
}

/* For each of the `out` destination positions: the 4 clamped source indices and weights of
 * torch.nn.functional.interpolate(size=out, mode="bicubic", align_corners=False) along
 * one axis of length `in` (scale = in / out, source = (dst + 0.5) * scale - 0.5). */
static void cubic_taps(int in, int out, int *idx, float *wt) {
  const float scale = (float)in / (float)out;
  for (int o = 0; o < out; o++) {
    float src = scale * ((float)o + 0.5f) - 0.5f;
    float fl = floorf(src);
    int i0 = (int)fl;
    cubic_weights(src - fl, wt + 4 * o);
    for (int j = 0; j < 4; j++) {
      int s = i0 - 1 + j;
      idx[4 * o + j] = s < 0 ? 0 : (s > in - 1 ? in - 1 : s);
    }
  }
}

gemm_act vit_gemm_act(vlp_act a) {
  return a == ACT_GELU_TANH    ? GEMM_ACT_GELU_TANH
         : a == ACT_QUICK_GELU ? GEMM_ACT_QUICK_GELU
                               : GEMM_ACT_GELU_ERF;
}

/* The (ncls + n*n, D) position table for an S x S input (in WS_VISION_POS unless S is the
 * trained size); NULL only on allocation failure. */
static const float *pos_table(const vit_model *m, vlp_ws *ws, int S) {
  const int n = S / m->c.patch_size, g = m->grid, D = m->c.hidden, c0 = m->ncls;
  if (n == g) return m->pos;
  size_t nt = ((size_t)n * n + (size_t)c0) * D;
  float *t = ws_floats(ws, WS_VISION_POS, nt + (size_t)8 * n);
  if (!t) return NULL;
  float *wt = t + nt;                            /* (4 n) tap weights */
  int *idx = (int *)(wt + 4 * n);                /* (4 n) tap indices */
  cubic_taps(g, n, idx, wt);                     /* same taps along y and x (square grid) */
  memcpy(t, m->pos, (size_t)c0 * D * sizeof *t); /* CLS row unchanged */
  const float *patch = m->pos + (size_t)c0 * D;  /* (g, g, D) */
  for (int oy = 0; oy < n; oy++) {
    for (int ox = 0; ox < n; ox++) {
      float *dst = t + ((size_t)c0 + (size_t)oy * n + ox) * D;
      for (int d = 0; d < D; d++) {
        float acc = 0.0f;
        for (int i = 0; i < 4; i++) {
          const float *row = patch + (size_t)idx[4 * oy + i] * g * D;
          float r = 0.0f;
          for (int j = 0; j < 4; j++) r += wt[4 * ox + j] * row[(size_t)idx[4 * ox + j] * D + d];
          acc += wt[4 * oy + i] * r;
        }
        dst[d] = acc;
      }
    }
  }
  return t;
}

/* ---- forward --------------------------------------------------------------------- */

/* a * b into *out, 0 on overflow. */
static int mul_ok(size_t a, size_t b, size_t *out) {
  if (a && b > SIZE_MAX / a) return 0;
  *out = a * b;
  return 1;
}

/* Columns of the MLP buffer: max(M, 3D, K), since each layer's q, k, v rows go through it
 * too, and before the layers the unfolded patches (K = channels * patch^2 columns). */
static int mlp_width(const vit_model *m) {
  const vit_config *c = &m->c;
  int w = 3 * c->hidden > c->mlp ? 3 * c->hidden : c->mlp;
  int K = c->channels * c->patch_size * c->patch_size;
  return K > w ? K : w;
}

size_t vit_workspace_bytes(const vit_model *m, int B, int S) {
  const vit_config *c = &m->c;
  const int p = c->patch_size, n = S / p;
  if (B <= 0 || S < p || S > (1 << 14)) return 0;
  /* rows N = B*T; scratch = h, ctx (N, D) + mlp (N, mlp_width: also the q, k, v rows
   * and the patches, B*n*n <= N rows of K <= mlp_width) */
  size_t N, ND, NM, tot;
  if (!mul_ok((size_t)B, (size_t)m->ncls + (size_t)n * n, &N) || N > INT32_MAX ||
      !mul_ok(N, (size_t)c->hidden, &ND) || !mul_ok(N, (size_t)mlp_width(m), &NM) ||
      ND > SIZE_MAX / 8 || NM > SIZE_MAX / 8 || !mul_ok(2 * ND + NM, sizeof(float), &tot))
    return 0;
  return tot;
}

/* A layer's first half on n rows: each row's q, k, v of ln1(x) side by side in qkv (n, 3D);
 * h is scratch for ln1(x). */
static void qkv_rows(const vit_model *m, const vit_layer *L, float *qkv, float *h, const float *x,
                     int n) {
  const vit_config *c = &m->c;
  const int D = c->hidden;
  const gemm_norm ln = {L->ln1_w, L->ln1_b, c->eps};
  if (L->qkv_w)
    gemm_linear_norm(qkv, x, &ln, h, L->qkv_w, L->qkv_b, n, D, 3 * D, GEMM_ACT_NONE, 0);
  else
    gemm_stack_linear_norm(qkv, x, &ln, h, L->qkv_stack, n);
}

/* x += MLP(ln2(x)) on n rows; h and mlp are scratch. The residual add and the activation
 * run inside the products (gemm.h). */
static void mlp_rows(const vit_model *m, const vit_layer *L, float *x, float *h, float *mlp,
                     int n) {
  const vit_config *c = &m->c;
  const gemm_norm ln = {L->ln2_w, L->ln2_b, c->eps};
  gemm_mlp_norm(x, x, &ln, h, mlp, L->fc1_w, L->fc1_b, L->fc2_w, L->fc2_b, n, c->hidden, c->mlp,
                vit_gemm_act(c->act));
}

/* The rest of a layer on n rows after the attention output ctx: x += ctx W_o + b_o, then
 * the MLP. */
static void out_mlp_rows(const vit_model *m, const vit_layer *L, float *x, const float *ctx,
                         float *h, float *mlp, int n) {
  const int D = m->c.hidden;
  gemm_linear(x, ctx, L->o_w, L->o_b, n, D, D, GEMM_ACT_NONE, 1);
  mlp_rows(m, L, x, h, mlp, n);
}

/* ---- layers with the attention in bf16 ------------------------------------------- */

/* 1 when every layer's products run in bf16 and the attention of shape as has a bf16
 * kernel here (core/attention_bf16.h): then q, k, v and the attention output stay in bf16
 * between the products (half the bytes, no conversions) and the attention's products run
 * as bf16 dot products, instead of f32 FMAs on rows the products wrote in f32. It stands
 * in for the blocked f32 kernels: VLP_ATTN forcing another path turns it off too. */
static int bf16_layers(const vit_model *m, const op_attn_shape *as) {
  if (!attention_bf16_available(as) || !op_attention_is_blocked(as)) return 0;
  for (int l = 0; l < m->c.layers; l++) {
    const vit_layer *L = &m->layers[l];
    if (!(L->qkv_w ? gemm_bf16_rows(L->qkv_w) : gemm_stack_bf16_rows(L->qkv_stack)) ||
        !gemm_bf16_rows(L->o_w))
      return 0;
  }
  return 1;
}

/* qkv_rows with the q, k, v rows written in bf16 (n, 3D); 0 when a product failed. */
static int qkv_rows16(const vit_model *m, const vit_layer *L, uint16_t *qkv, float *h,
                      const float *x, int n) {
  const vit_config *c = &m->c;
  const int D = c->hidden;
  const gemm_norm ln = {L->ln1_w, L->ln1_b, c->eps};
  return L->qkv_w ? gemm_linear_norm_to_bf16(qkv, x, &ln, h, L->qkv_w, L->qkv_b, n, D, 3 * D)
                  : gemm_stack_linear_norm_to_bf16(qkv, x, &ln, h, L->qkv_stack, n);
}

/* out_mlp_rows on the attention output ctx in bf16 (n, D); 0 when a product failed. */
static int out_mlp_rows16(const vit_model *m, const vit_layer *L, float *x, const uint16_t *ctx,
                          float *h, float *mlp, int n) {
  const int D = m->c.hidden;
  if (!gemm_linear_from_bf16(x, ctx, L->o_w, L->o_b, n, D, D, GEMM_ACT_NONE, 1)) return 0;
  mlp_rows(m, L, x, h, mlp, n);
  return 1;
}

/* The last layer on the class-token row of each image only (the rows pooled): its q, k, v
 * still come from every row, then the attention of the B class rows over all keys, the
 * output projection, the MLP and their residuals run on B rows instead of B * T. The rows
 * are gathered: q parts into h (B rows of 3D floats, the stride attention reads), the
 * residual rows into ctx after the attention output, and scattered back at the end. */
static void last_layer_cls(const vit_model *m, const vit_layer *L, float *x, float *h, float *ctx,
                           float *mlp, int B, int T) {
  const vit_config *c = &m->c;
  const int D = c->hidden;
  qkv_rows(m, L, mlp, h, x, B * T);
  float *qc = h, *att = ctx, *xc = ctx + (size_t)B * D; /* (B, 3D), (B, D), (B, D) */
  for (int b = 0; b < B; b++) {
    memcpy(qc + (size_t)b * 3 * D, mlp + (size_t)b * T * 3 * D, (size_t)D * sizeof *qc);
    memcpy(xc + (size_t)b * D, x + (size_t)b * T * D, (size_t)D * sizeof *xc);
  }
  op_attn_shape as = {
      .B = B, .H = c->heads, .Tq = 1, .Tk = T, .hd = D / c->heads, .kv_cap = T, .ld = 3 * D};
  op_attention(att, qc, mlp + D, mlp + 2 * D, &as);
  out_mlp_rows(m, L, xc, att, h, mlp, B);
  for (int b = 0; b < B; b++)
    memcpy(x + (size_t)b * T * D, xc + (size_t)b * D, (size_t)D * sizeof *x);
}

/* Rows per thread from which layers_team runs the layers. With fewer, each thread reading
 * every weight for its few rows cost more than the wake-ups saved: CLIP B/32 at batch 1
 * (25 rows each) took 16% more time. */
#define TEAM_ROWS 256

/* 1 when layers_team may run the layers: more than one thread, TEAM_ROWS rows each, rows
 * whose products do not depend on the other rows (the threads' shares change with the
 * batch), and the attention on the blocked kernels. VLP_VIT_TEAM=0 turns it off. */
static int team_wanted(const op_attn_shape *as, int N, int nt) {
  const char *env = getenv("VLP_VIT_TEAM");
  if (env && strcmp(env, "0") == 0) return 0;
  return nt > 1 && nt <= TEAM_MAX && N >= TEAM_ROWS * nt && !omp_in_parallel() &&
         gemm_batch_invariant() && op_attention_is_blocked(as);
}

/* Layers [0, nl) over the N rows of x in one parallel region: each thread runs the
 * layernorms, products and residuals of its own share of the rows (on itself alone), the
 * attention's tasks are shared out as op_attention does, and the threads wait for each
 * other three times a layer (team_wait: a short spin, then sleep): after the q, k, v rows
 * (the attention reads every row's), after the attention (the MLP's intermediate rows
 * reuse the q, k, v buffer) and after the MLP (the next q, k, v overwrite it). Each op in
 * a region of its own wakes the sleeping OpenMP workers about seven times a layer. With b16
 * (bf16_layers) the q, k, v rows and the attention output are bf16; a bf16 product that
 * fails sets *failed (the threads go on to the end: they cannot leave the barriers). */
static void layers_team(const vit_model *m, float *x, float *h, float *ctx, float *mlp, int N,
                        int nl, const op_attn_shape *as, int nt, int b16, atomic_int *failed) {
  const int D = m->c.hidden, M = m->c.mlp;
  uint16_t *qkv16 = (uint16_t *)mlp, *ctx16 = (uint16_t *)ctx;
  team_barrier bar;
  team_init(&bar);
#pragma omp parallel num_threads(nt)
  {
    const int t = omp_get_thread_num(), n = omp_get_num_threads();
    const int r0 = (int)((long)N * t / n), rows = (int)((long)N * (t + 1) / n) - r0;
    float *xr = x + (size_t)r0 * D, *hr = h + (size_t)r0 * D;
    for (int l = 0; l < nl; l++) {
      const vit_layer *L = &m->layers[l];
      if (b16 && !qkv_rows16(m, L, qkv16 + (size_t)r0 * 3 * D, hr, xr, rows))
        atomic_store(failed, 1);
      else if (!b16 && rows)
        qkv_rows(m, L, mlp + (size_t)r0 * 3 * D, hr, xr, rows);
      team_wait(&bar, n);
      if (b16)
        attention_bf16_team(ctx16, qkv16, qkv16 + D, qkv16 + 2 * D, as, &bar, t, n);
      else
        attention_blocked_team(ctx, mlp, mlp + D, mlp + 2 * D, as, &bar, t, n);
      team_wait(&bar, n);
      if (b16 && !out_mlp_rows16(m, L, xr, ctx16 + (size_t)r0 * D, hr, mlp + (size_t)r0 * M, rows))
        atomic_store(failed, 1);
      else if (!b16 && rows)
        out_mlp_rows(m, L, xr, ctx + (size_t)r0 * D, hr, mlp + (size_t)r0 * M, rows);
      team_wait(&bar, n);
    }
  }
}

/* vit_forward, or with cls_only the last layer on the class-token rows only. */
static vlp_status forward(const vit_model *m, vlp_ws *ws, const float *pixels, int B, int S,
                          float *last_hidden, int cls_only) {
  const vit_config *c = &m->c;
  const int D = c->hidden, p = c->patch_size, C = c->channels, H = c->heads;
  if (B <= 0) return vlp_fail(VLP_ERR_INVALID, "vit: batch size %d must be positive", B);
  /* SigLIP's Conv2d takes floor(S / p) patches (so400m: 384 / 14 -> 27), the last pixels
   * unused; the others need S to be a multiple */
  if (S < p || (S % p && c->kind != VIT_SIGLIP) || S > (1 << 14))
    return vlp_fail(VLP_ERR_INVALID,
                    "vit: input size %d must be a positive multiple of the patch "
                    "size %d (at most 16384)",
                    S, p);
  const int n = S / p;
  const int T = m->ncls + n * n;
  const int K = C * p * p; /* unfolded patch length */

  size_t tot = vit_workspace_bytes(m, B, S);
  if (!tot) return vlp_fail(VLP_ERR_NOMEM, "vit: batch %d at size %d is too large", B, S);
  const size_t N = (size_t)B * T, ND = N * D; /* within tot */
  float *h = ws_get(ws, WS_VISION, tot);      // (N, D)
  if (!h) return vlp_fail(VLP_ERR_NOMEM, "vit: out of memory for batch %d at size %d", B, S);
  const float *pos = pos_table(m, ws, S);
  if (!pos) return vlp_fail(VLP_ERR_NOMEM, "vit: out of memory interpolating position table");

  float *ctx = h + ND;     // (N, D); first the patch embeddings
  float *mlp = ctx + ND;   // (N, M), or (N, 3D) q, k, v rows
  float *patches = mlp;    // (B*n*n, K) in the conv weight's (c, ky, kx) order, first
  float *x = last_hidden;  // (B, T, D) residual stream

  /* unfold patches: row (b, py, px), column (ch, ky, kx) */
  for (int b = 0; b < B; b++)
    for (int py = 0; py < n; py++)
      for (int px = 0; px < n; px++) {
        float *dst = patches + (((size_t)b * n + py) * n + px) * K;
        for (int ch = 0; ch < C; ch++)
          for (int ky = 0; ky < p; ky++) {
            const float *src =
                pixels + (((size_t)b * C + ch) * S + (size_t)py * p + ky) * S + (size_t)px * p;
            memcpy(dst + ((size_t)ch * p + ky) * p, src, (size_t)p * sizeof *src);
          }
      }
  /* patch embedding as one GEMM into ctx (B*n*n, D), then place behind each CLS row */
  op_linear(ctx, patches, m->patch_w, m->patch_b, B * n * n, K, D);
  for (int b = 0; b < B; b++) {
    float *xb = x + (size_t)b * T * D;
    if (m->ncls) memcpy(xb, m->cls, (size_t)D * sizeof *xb);
    memcpy(xb + (size_t)m->ncls * D, ctx + (size_t)b * n * n * D, (size_t)n * n * D * sizeof *xb);
    op_add(xb, pos, (size_t)T * D);
  }
  const int Ni = (int)N;
  if (c->kind == VIT_CLIP) op_layernorm(x, x, m->pre_w, m->pre_b, Ni, D, c->eps);

  /* attention reads q, k, v where the product wrote them: row i = [q_i, k_i, v_i] */
  op_attn_shape as = {.B = B, .H = H, .Tq = T, .Tk = T, .hd = D / H, .kv_cap = T, .ld = 3 * D};
  /* gathering B rows of 3D floats into h (T rows of D per image) needs T >= 3 */
  cls_only = cls_only && m->ncls && T >= 3;
  int l0 = 0, nt = vlp_threads_current();
  const int b16 = bf16_layers(m, &as);
  atomic_int failed = 0;
  if (team_wanted(&as, Ni, nt)) {
    l0 = cls_only ? c->layers - 1 : c->layers;
    layers_team(m, x, h, ctx, mlp, Ni, l0, &as, nt, b16, &failed);
  }
  for (int l = l0; l < c->layers; l++) {
    const vit_layer *L = &m->layers[l];
    if (cls_only && l == c->layers - 1) {
      last_layer_cls(m, L, x, h, ctx, mlp, B, T);
      break;
    }
    uint16_t *qkv16 = (uint16_t *)mlp, *ctx16 = (uint16_t *)ctx;
    if (b16 && (!qkv_rows16(m, L, qkv16, h, x, Ni) ||
                !attention_bf16(ctx16, qkv16, qkv16 + D, qkv16 + 2 * D, &as) ||
                !out_mlp_rows16(m, L, x, ctx16, h, mlp, Ni)))
      atomic_store(&failed, 1);
    if (atomic_load(&failed)) break;
    if (b16) continue;
    qkv_rows(m, L, mlp, h, x, Ni);
    op_attention(ctx, mlp, mlp + D, mlp + 2 * D, &as);
    out_mlp_rows(m, L, x, ctx, h, mlp, Ni);
  }
  if (atomic_load(&failed))
    return vlp_fail(VLP_ERR_NOMEM, "vit: a bf16 product failed (out of memory for its scratch)");
  if (c->kind != VIT_CLIP && cls_only)
    for (int b = 0; b < B; b++)
      op_layernorm(x + (size_t)b * T * D, x + (size_t)b * T * D, m->post_w, m->post_b, 1, D,
                   c->eps);
  else if (c->kind != VIT_CLIP)
    op_layernorm(x, x, m->post_w, m->post_b, Ni, D, c->eps);
  return VLP_OK;
}

vlp_status vit_forward(const vit_model *m, vlp_ws *ws, const float *pixels, int B, int S,
                       float *last_hidden) {
  return forward(m, ws, pixels, B, S, last_hidden, 0);
}

vlp_status vit_forward_pooled(const vit_model *m, vlp_ws *ws, const float *pixels, int B, int S,
                              float *scratch, float *pooled) {
  vlp_status st = forward(m, ws, pixels, B, S, scratch, 1);
  if (!st) vit_pool(m, scratch, B, vit_tokens(m, S), pooled);
  return st;
}

void vit_pool(const vit_model *m, const float *last_hidden, int B, int T, float *pooled) {
  const int D = m->c.hidden;
  for (int b = 0; b < B; b++)
    op_layernorm(pooled + (size_t)b * D, last_hidden + (size_t)b * T * D, m->post_w, m->post_b, 1,
                 D, m->c.eps);
}
