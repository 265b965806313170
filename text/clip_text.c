/* clip_text: the CLIP text tower and its SigLIP variant (see clip_text.h). */
#include "text/clip_text.h"

#include <float.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/gemm.h"
#include "core/json.h"
#include "core/ops.h"

typedef struct {
  const float *ln1_g, *ln1_b, *ln2_g, *ln2_b;
  const gemm_stack *qkv; /* q_proj, k_proj, v_proj as one product: rows [q, k, v] */
  const float *o_w, *o_b;
  const float *fc1_w, *fc1_b, *fc2_w, *fc2_b;
} clip_text_layer;

struct clip_text_model {
  clip_text_config c;
  const float *tok_emb; /* (vocab, hidden) */
  const float *pos_emb; /* (max_pos, hidden) */
  const float *final_g, *final_b;
  const float *head_w, *head_b; /* SigLIP: (P, hidden), (P) */
  clip_text_layer *layers;
};

/* ---- config ---------------------------------------------------------------------------- */

static vlp_status positive(const char *path, const char *field, int v) {
  if (v <= 0)
    return vlp_fail(VLP_ERR_MODEL, "%s: text_config.%s = %d must be positive", path, field, v);
  return VLP_OK;
}

/* The class defaults of CLIPTextConfig / SiglipTextConfig. */
typedef struct {
  int vocab, hidden, mlp, layers, heads, max_pos, eos;
  double eps;
  const char *act;
} text_defaults;

static vlp_status parse_config(const cJSON *tc, const char *path, const text_defaults *d,
                               int siglip, clip_text_config *out) {
  clip_text_config c = {.siglip = siglip};
  c.vocab = json_int(tc, "vocab_size", d->vocab);
  c.hidden = json_int(tc, "hidden_size", d->hidden);
  c.mlp = json_int(tc, "intermediate_size", d->mlp);
  c.layers = json_int(tc, "num_hidden_layers", d->layers);
  c.heads = json_int(tc, "num_attention_heads", d->heads);
  c.max_pos = json_int(tc, "max_position_embeddings", d->max_pos);
  c.eos_token_id = json_int(tc, "eos_token_id", d->eos);
  c.projection_dim =
      siglip ? json_int(tc, "projection_size", c.hidden) : json_int(tc, "projection_dim", 512);
  c.eps = (float)json_num(tc, "layer_norm_eps", d->eps);
  const char *act = json_str(tc, "hidden_act", d->act);
  vlp_status st;
  if ((st = positive(path, "vocab_size", c.vocab)) ||
      (st = positive(path, "hidden_size", c.hidden)) ||
      (st = positive(path, "intermediate_size", c.mlp)) ||
      (st = positive(path, "num_hidden_layers", c.layers)) ||
      (st = positive(path, "num_attention_heads", c.heads)) ||
      (st = positive(path, "max_position_embeddings", c.max_pos)) ||
      (siglip && (st = positive(path, "projection_size", c.projection_dim))))
    return st;
  if (c.hidden % c.heads != 0)
    return vlp_fail(VLP_ERR_MODEL,
                    "%s: text_config.hidden_size %d is not a multiple of num_attention_heads %d",
                    path, c.hidden, c.heads);
  if (!(c.eps > 0.0f))
    return vlp_fail(VLP_ERR_MODEL, "%s: text_config.layer_norm_eps must be positive", path);
  if (strcmp(act, "quick_gelu") == 0) {
    c.act = CLIP_ACT_QUICK_GELU;
  } else if (strcmp(act, "gelu") == 0) {
    c.act = CLIP_ACT_GELU;
  } else if (strcmp(act, "gelu_pytorch_tanh") == 0 || (siglip && strcmp(act, "gelu_new") == 0)) {
    c.act = CLIP_ACT_GELU_TANH;
  } else {
    return vlp_fail(VLP_ERR_UNSUPPORTED,
                    "%s: text_config.hidden_act \"%s\" is not supported (quick_gelu, gelu, "
                    "gelu_pytorch_tanh)",
                    path, act);
  }
  *out = c;
  return VLP_OK;
}

vlp_status clip_text_config_from_json(const cJSON *tc, const char *path, clip_text_config *out) {
  static const text_defaults d = {49408, 512, 2048, 12, 8, 77, 49407, 1e-5, "quick_gelu"};
  return parse_config(tc, path, &d, 0, out);
}

vlp_status siglip_text_config_from_json(const cJSON *tc, const char *path, clip_text_config *out) {
  static const text_defaults d = {32000, 768, 3072, 12, 12, 64, 49407, 1e-6, "gelu_pytorch_tanh"};
  return parse_config(tc, path, &d, 1, out);
}

/* ---- loading --------------------------------------------------------------------------- */

static vlp_status bind(vlp_weights *w, const char *prefix, const char *name, const float **p,
                       int ndim, int d0, int d1) {
  char full[512];
  int len = snprintf(full, sizeof full, "%s%s", prefix, name);
  if (len < 0 || (size_t)len >= sizeof full)
    return vlp_fail(VLP_ERR_INVALID, "tensor name too long: %s%s", prefix, name);
  if (ndim == 1) return weights_f32(w, full, p, 1, d0);
  return weights_f32(w, full, p, 2, d0, d1);
}

vlp_status clip_text_load(vlp_weights *w, const char *prefix, const clip_text_config *c,
                          clip_text_model **out) {
  *out = NULL;
  clip_text_model *m = calloc(1, sizeof *m);
  if (!m) return vlp_fail(VLP_ERR_NOMEM, "clip_text_load: out of memory");
  m->c = *c;
  m->layers = calloc((size_t)c->layers, sizeof *m->layers);
  if (!m->layers) {
    free(m);
    return vlp_fail(VLP_ERR_NOMEM, "clip_text_load: out of memory");
  }
  const int D = c->hidden, F = c->mlp;
  vlp_status st;
  if ((st = bind(w, prefix, "embeddings.token_embedding.weight", &m->tok_emb, 2, c->vocab, D)) ||
      (st = bind(w, prefix, "embeddings.position_embedding.weight", &m->pos_emb, 2, c->max_pos,
                 D)) ||
      (st = bind(w, prefix, "final_layer_norm.weight", &m->final_g, 1, D, 0)) ||
      (st = bind(w, prefix, "final_layer_norm.bias", &m->final_b, 1, D, 0)))
    goto fail;
  if (c->siglip && ((st = bind(w, prefix, "head.weight", &m->head_w, 2, c->projection_dim, D)) ||
                    (st = bind(w, prefix, "head.bias", &m->head_b, 1, c->projection_dim, 0))))
    goto fail;
  for (int i = 0; i < c->layers; i++) {
    static const char *const qkv[3] = {"q", "k", "v"}; /* self_attn.q_proj, ... */
    char lp[256], sa[300];
    snprintf(lp, sizeof lp, "%sencoder.layers.%d.", prefix, i);
    snprintf(sa, sizeof sa, "%sself_attn.", lp);
    clip_text_layer *L = &m->layers[i];
    if ((st = bind(w, lp, "layer_norm1.weight", &L->ln1_g, 1, D, 0)) ||
        (st = bind(w, lp, "layer_norm1.bias", &L->ln1_b, 1, D, 0)) ||
        (st = bind(w, lp, "layer_norm2.weight", &L->ln2_g, 1, D, 0)) ||
        (st = bind(w, lp, "layer_norm2.bias", &L->ln2_b, 1, D, 0)) ||
        (st = weights_linear_stack_named(w, sa, qkv, "_proj", 3, D, D, &L->qkv)) ||
        (st = bind(w, lp, "self_attn.out_proj.weight", &L->o_w, 2, D, D)) ||
        (st = bind(w, lp, "self_attn.out_proj.bias", &L->o_b, 1, D, 0)) ||
        (st = bind(w, lp, "mlp.fc1.weight", &L->fc1_w, 2, F, D)) ||
        (st = bind(w, lp, "mlp.fc1.bias", &L->fc1_b, 1, F, 0)) ||
        (st = bind(w, lp, "mlp.fc2.weight", &L->fc2_w, 2, D, F)) ||
        (st = bind(w, lp, "mlp.fc2.bias", &L->fc2_b, 1, D, 0)))
      goto fail;
  }
  *out = m;
  return VLP_OK;
fail:
  clip_text_free(m);
  return st;
}

void clip_text_free(clip_text_model *m) {
  if (!m) return;
  free(m->layers);
  free(m);
}

const clip_text_config *clip_text_cfg(const clip_text_model *m) {
  return &m->c;
}

/* ---- forward --------------------------------------------------------------------------- */

int clip_text_eos_index(const clip_text_config *c, const int *ids, int n) {
  int best = 0;
  if (c->eos_token_id == 2) {
    for (int t = 1; t < n; t++)
      if (ids[t] > ids[best]) best = t;
    return best;
  }
  for (int t = 0; t < n; t++)
    if (ids[t] == c->eos_token_id) return t;
  return 0;
}

/* A layer's first half on n rows: each row's q, k, v of ln1(x) side by side in qkv (n, 3D);
 * h is scratch for ln1(x). */
static void qkv_rows(const clip_text_model *m, const clip_text_layer *L, float *qkv, float *h,
                     const float *x, int n) {
  const gemm_norm ln = {L->ln1_g, L->ln1_b, m->c.eps};
  gemm_stack_linear_norm(qkv, x, &ln, h, L->qkv, n);
}

/* The rest of a layer on n rows after the attention output att: x += att W_o + b_o, then
 * x += MLP(ln2(x)); h and f are scratch. The residual adds and the MLP activation run
 * inside the products. */
static void out_mlp_rows(const clip_text_model *m, const clip_text_layer *L, float *x,
                         const float *att, float *h, float *f, int n) {
  const clip_text_config *c = &m->c;
  const int D = c->hidden, F = c->mlp;
  gemm_act act = c->act == CLIP_ACT_GELU        ? GEMM_ACT_GELU_ERF
                 : c->act == CLIP_ACT_GELU_TANH ? GEMM_ACT_GELU_TANH
                                                : GEMM_ACT_QUICK_GELU;
  gemm_linear(x, att, L->o_w, L->o_b, n, D, D, GEMM_ACT_NONE, 1);
  const gemm_norm ln = {L->ln2_g, L->ln2_b, c->eps};
  gemm_mlp_norm(x, x, &ln, h, f, L->fc1_w, L->fc1_b, L->fc2_w, L->fc2_b, n, D, F, act);
}

/* The row of text b that is pooled: SigLIP's last position, CLIP's end-of-text token. */
static int pooled_row(const clip_text_config *c, const int *ids, const int *lens, int b, int T) {
  return c->siglip ? T - 1 : clip_text_eos_index(c, ids + (size_t)b * T, lens[b]);
}

/* 1 when the last layer may run on the pooled rows only: a query row at the end of its
 * keys sees there what it sees among all rows (CLIP's end-of-text token is the last real
 * token, so the causal limit and the padding mask agree), and the gathered rows fit (T >= 3,
 * see last_layer_pooled). */
static int can_pool_only(const clip_text_config *c, const int *ids, const int *lens, int B, int T) {
  if (T < 3) return 0;
  for (int b = 0; b < B && !c->siglip; b++)
    if (pooled_row(c, ids, lens, b, T) != lens[b] - 1) return 0;
  return 1;
}

/* The last layer on each text's pooled row only: q, k, v from every row, then the
 * attention of the B pooled rows (each the last query of its text) over all keys, the
 * output projection, the MLP and the final layer norm on B rows instead of B * T. Rows are
 * gathered: q parts into h (B rows of 3D floats, the stride attention reads), the residual
 * rows into att after the attention output. The normed rows end in h (B, D). */
static void last_layer_pooled(const clip_text_model *m, const clip_text_layer *L, const int *ids,
                              const int *lens, int B, int T, op_attn_shape as, float *x, float *h,
                              float *qkv, float *att, float *f) {
  const clip_text_config *c = &m->c;
  const int D = c->hidden;
  qkv_rows(m, L, qkv, h, x, B * T);
  float *qc = h, *xc = att + (size_t)B * D; /* (B, 3D), (B, D) */
  for (int b = 0; b < B; b++) {
    size_t r = (size_t)b * T + pooled_row(c, ids, lens, b, T);
    memcpy(qc + (size_t)b * 3 * D, qkv + r * 3 * D, (size_t)D * sizeof *qc);
    memcpy(xc + (size_t)b * D, x + r * D, (size_t)D * sizeof *xc);
  }
  as.Tq = 1;
  op_attention(att, qc, qkv + D, qkv + 2 * D, &as);
  out_mlp_rows(m, L, xc, att, h, f, B);
  op_layernorm(h, xc, m->final_g, m->final_b, B, D, c->eps);
}

/* n * a * b floats, or 0 on overflow. */
static size_t mul3(size_t n, size_t a, size_t b) {
  if (a && n > SIZE_MAX / a) return 0;
  n *= a;
  if (b && n > SIZE_MAX / b) return 0;
  return n * b;
}

vlp_status clip_text_forward(const clip_text_model *m, vlp_ws *ws, const int *ids, const int *lens,
                             int B, int T, float *last_hidden, float *pooled) {
  const clip_text_config *c = &m->c;
  if (B <= 0 || T <= 0)
    return vlp_fail(VLP_ERR_INVALID, "clip text: batch %d x %d tokens is empty", B, T);
  if (T > c->max_pos)
    return vlp_fail(VLP_ERR_INVALID, "clip text: %d tokens exceed max_position_embeddings %d", T,
                    c->max_pos);
  for (int b = 0; b < B; b++) {
    if (lens[b] < 1 || lens[b] > T)
      return vlp_fail(VLP_ERR_INVALID, "clip text: text %d has %d tokens (must be 1..%d)", b,
                      lens[b], T);
    for (int t = 0; t < (c->siglip ? T : lens[b]); t++) {
      int id = ids[(size_t)b * T + t];
      if (id < 0 || id >= c->vocab)
        return vlp_fail(VLP_ERR_INVALID,
                        "clip text: token id %d of text %d outside the vocabulary (%d)", id, b,
                        c->vocab);
    }
  }
  const int D = c->hidden, F = c->mlp, H = c->heads;
  const size_t N = (size_t)B * T;
  /* scratch: x, h, qkv (N x 3D), att (6 x N x D in all), f (N x F), ids (N), mask (B x T) */
  size_t nd = mul3(N, (size_t)D, 1), nf = mul3(N, (size_t)F, 1);
  if (!nd || !nf || nd > SIZE_MAX / 8 - nf)
    return vlp_fail(VLP_ERR_NOMEM, "clip text: batch %d x %d too large", B, T);
  float *x = ws_floats(ws, WS_TEXT, 6 * nd + nf + 2 * N); /* (N, D) residual stream */
  if (!x) return vlp_fail(VLP_ERR_NOMEM, "clip text: out of memory for batch %d x %d", B, T);
  float *h = x + nd;                 /* (N, D) normed */
  float *qkv = h + nd;               /* (N, 3D) each row's q, k, v side by side */
  float *att = qkv + 3 * nd;         /* (N, D) */
  float *f = att + nd;               /* (N, F) */
  float *mask = f + nf;              /* (B, T) additive padding mask */
  int *safe_ids = (int *)(mask + N); /* (N) pads replaced by id 0 */

  for (int b = 0; b < B; b++)
    for (int t = 0; t < T; t++) {
      size_t i = (size_t)b * T + t;
      int real = t < lens[b];
      safe_ids[i] = real || c->siglip ? ids[i] : 0; /* SigLIP embeds its pads */
      mask[i] = real ? 0.0f : -FLT_MAX;
    }
  /* embeddings: token + position */
  op_embedding(x, m->tok_emb, safe_ids, (int)N, D);
  for (int b = 0; b < B; b++) op_add(x + (size_t)b * T * D, m->pos_emb, (size_t)T * D);

  op_attn_shape as = {.B = B,
                      .H = H,
                      .Tq = T,
                      .Tk = T,
                      .hd = D / H,
                      .kv_cap = T,
                      .mask = mask,
                      .causal = !c->siglip,
                      .ld = 3 * D}; /* q, k, v read in place from the stacked product */
  int any_pad = 0;
  for (int b = 0; b < B; b++) any_pad |= lens[b] < T;
  if (!any_pad) as.mask = NULL;

  /* only the pooled rows wanted: the last layer on those rows alone */
  const int pool_only = !last_hidden && pooled && can_pool_only(c, ids, lens, B, T);
  for (int l = 0; l < c->layers - pool_only; l++) {
    const clip_text_layer *L = &m->layers[l];
    qkv_rows(m, L, qkv, h, x, (int)N);
    op_attention(att, qkv, qkv + D, qkv + 2 * D, &as);
    out_mlp_rows(m, L, x, att, h, f, (int)N);
  }
  if (pool_only) {
    last_layer_pooled(m, &m->layers[c->layers - 1], ids, lens, B, T, as, x, h, qkv, att, f);
    if (c->siglip)
      op_linear(pooled, h, m->head_w, m->head_b, B, D, c->projection_dim);
    else
      memcpy(pooled, h, (size_t)B * D * sizeof(float));
    return VLP_OK;
  }
  op_layernorm(h, x, m->final_g, m->final_b, (int)N, D, c->eps); /* h = last_hidden */
  if (last_hidden) memcpy(last_hidden, h, nd * sizeof(float));
  if (pooled && c->siglip) {
    /* the head on the last position of each row: gather the rows into att, one GEMM */
    for (int b = 0; b < B; b++)
      memcpy(att + (size_t)b * D, h + ((size_t)b * T + T - 1) * D, (size_t)D * sizeof(float));
    op_linear(pooled, att, m->head_w, m->head_b, B, D, c->projection_dim);
  } else if (pooled)
    for (int b = 0; b < B; b++) {
      int e = clip_text_eos_index(c, ids + (size_t)b * T, lens[b]);
      memcpy(pooled + (size_t)b * D, h + ((size_t)b * T + e) * D, (size_t)D * sizeof(float));
    }
  return VLP_OK;
}
