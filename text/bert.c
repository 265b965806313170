/* bert: BLIP's BERT-style text model (see bert.h): weight binding, the full forward pass
 * (bidirectional or causal, optional cross-attention), the LM head and the incremental
 * KV-cache decoder used by generation. */
#include "text/bert.h"

#include <float.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cross_attention.h"
#include "core/error.h"
#include "core/gemm.h"
#include "core/gemm_panel.h"
#include "core/json.h"
#include "core/ops.h"
#include "core/team.h"
#include "core/threads.h"
#include "core/workspace.h"
#include "text/bert_internal.h"

/* HF's additive masks: padding in self-attention (1 - m) * -10000; the encoder mask goes
 * through invert_attention_mask, (1 - m) * finfo(float32).min. */
#define SELF_MASK_VALUE (-10000.0f)
#define ENC_MASK_VALUE (-FLT_MAX)

/* ---- config ------------------------------------------------------------------------ */

vlp_status bert_config_from_json(const cJSON *tc, const char *path, bert_config *out) {
  bert_config c;
  c.vocab = json_int(tc, "vocab_size", 30524);
  c.hidden = json_int(tc, "hidden_size", 768);
  c.encoder_hidden = json_int(tc, "encoder_hidden_size", 768);
  c.mlp = json_int(tc, "intermediate_size", 3072);
  c.layers = json_int(tc, "num_hidden_layers", 12);
  c.heads = json_int(tc, "num_attention_heads", 8);
  c.max_pos = json_int(tc, "max_position_embeddings", 512);
  c.eps = (float)json_num(tc, "layer_norm_eps", 1e-12);
  const char *act = json_str(tc, "hidden_act", "gelu");
  struct {
    const char *name;
    int v;
  } f[] = {{"vocab_size", c.vocab},
           {"hidden_size", c.hidden},
           {"encoder_hidden_size", c.encoder_hidden},
           {"intermediate_size", c.mlp},
           {"num_hidden_layers", c.layers},
           {"num_attention_heads", c.heads},
           {"max_position_embeddings", c.max_pos}};
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
    if (f[i].v <= 0 || f[i].v > (1 << 24))
      return vlp_fail(VLP_ERR_MODEL, "%s: text_config.%s = %d is out of range", path, f[i].name,
                      f[i].v);
  if (c.hidden % c.heads != 0)
    return vlp_fail(VLP_ERR_MODEL,
                    "%s: text_config.hidden_size %d is not a multiple of num_attention_heads %d",
                    path, c.hidden, c.heads);
  if (!(c.eps > 0.0f) || c.eps > 1.0f)
    return vlp_fail(VLP_ERR_MODEL, "%s: text_config.layer_norm_eps %g is out of range", path,
                    (double)c.eps);
  if (strcmp(act, "gelu") != 0)
    return vlp_fail(VLP_ERR_UNSUPPORTED,
                    "%s: text_config.hidden_act \"%s\" is not supported (gelu)", path, act);
  *out = c;
  return VLP_OK;
}

/* ---- loading ----------------------------------------------------------------------- */

static vlp_status bind(vlp_weights *w, const float **p, int ndim, int d0, int d1, const char *fmt,
                       ...) __attribute__((format(printf, 6, 7)));

static vlp_status bind(vlp_weights *w, const float **p, int ndim, int d0, int d1, const char *fmt,
                       ...) {
  char name[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(name, sizeof name, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof name)
    return vlp_fail(VLP_ERR_INVALID, "tensor name too long: %.100s...", name);
  return ndim == 1 ? weights_f32(w, name, p, 1, d0) : weights_f32(w, name, p, 2, d0, d1);
}

static vlp_status bind_lin(vlp_weights *w, lin *l, int out, int in, const char *pre,
                           const char *what) {
  vlp_status st = bind(w, &l->w, 2, out, in, "%s%s.weight", pre, what);
  if (st == VLP_OK) st = bind(w, &l->b, 1, out, 0, "%s%s.bias", pre, what);
  return st;
}

static vlp_status bind_ln(vlp_weights *w, lnorm *l, int d, const char *pre, const char *what) {
  vlp_status st = bind(w, &l->g, 1, d, 0, "%s%s.weight", pre, what);
  if (st == VLP_OK) st = bind(w, &l->b, 1, d, 0, "%s%s.bias", pre, what);
  return st;
}

vlp_status bert_load(vlp_weights *w, const char *prefix, const char *lm_prefix,
                     const bert_config *c, bert_model **out) {
  *out = NULL;
  bert_model *m = calloc(1, sizeof *m);
  if (!m) return vlp_fail(VLP_ERR_NOMEM, "bert: out of memory");
  m->c = *c;
  m->L = calloc((size_t)c->layers, sizeof *m->L);
  if (!m->L) {
    free(m);
    return vlp_fail(VLP_ERR_NOMEM, "bert: out of memory");
  }
  pthread_mutex_init(&m->draft_lock, NULL);
  int D = c->hidden, E = c->encoder_hidden, F = c->mlp;
  char pre[400], probe[512];
  vlp_status st = VLP_OK;
  if (strlen(prefix) > 200 || (lm_prefix && strlen(lm_prefix) > 200)) {
    st = vlp_fail(VLP_ERR_INVALID, "bert: tensor prefix too long");
    goto fail;
  }
  snprintf(probe, sizeof probe, "%sencoder.layer.0.crossattention.self.query.weight", prefix);
  m->has_cross = weights_find(w, probe) != NULL;

  st = bind(w, &m->wte, 2, c->vocab, D, "%sembeddings.word_embeddings.weight", prefix);
  if (!st)
    st = bind(w, &m->wpe, 2, c->max_pos, D, "%sembeddings.position_embeddings.weight", prefix);
  if (!st) st = bind_ln(w, &m->ln_emb, D, prefix, "embeddings.LayerNorm");
  for (int i = 0; i < c->layers && !st; i++) {
    bert_layer *L = &m->L[i];
    snprintf(pre, sizeof pre, "%sencoder.layer.%d.", prefix, i);
    /* self-attention's query, key, value as one stacked product */
    static const char *const qkv[3] = {"query", "key", "value"};
    snprintf(probe, sizeof probe, "%sattention.self.", pre);
    st = weights_linear_stack_named(w, probe, qkv, "", 3, D, D, &L->qkv);
    if (!st) st = bind_lin(w, &L->o, D, D, pre, "attention.output.dense");
    if (!st) st = bind_ln(w, &L->ln_attn, D, pre, "attention.output.LayerNorm");
    if (m->has_cross) {
      if (!st) st = bind_lin(w, &L->cq, D, D, pre, "crossattention.self.query");
      if (!st) st = bind_lin(w, &L->ck, D, E, pre, "crossattention.self.key");
      if (!st) st = bind_lin(w, &L->cv, D, E, pre, "crossattention.self.value");
      if (!st) st = bind_lin(w, &L->co, D, D, pre, "crossattention.output.dense");
      if (!st) st = bind_ln(w, &L->ln_cross, D, pre, "crossattention.output.LayerNorm");
    }
    if (!st) st = bind_lin(w, &L->fc1, F, D, pre, "intermediate.dense");
    if (!st) st = bind_lin(w, &L->fc2, D, F, pre, "output.dense");
    if (!st) st = bind_ln(w, &L->ln_out, D, pre, "output.LayerNorm");
  }
  if (!st && lm_prefix) {
    m->has_lm = 1;
    st = bind_lin(w, &m->lm_dense, D, D, lm_prefix, "predictions.transform.dense");
    if (!st) st = bind_ln(w, &m->lm_ln, D, lm_prefix, "predictions.transform.LayerNorm");
    if (!st) st = bind(w, &m->lm_w, 2, c->vocab, D, "%spredictions.decoder.weight", lm_prefix);
    if (!st) st = bind(w, &m->lm_b, 1, c->vocab, 0, "%spredictions.bias", lm_prefix);
  }
  if (st) goto fail;
  if (lm_prefix) { /* a decoder: its steps multiply one row per sequence and beam */
    for (int i = 0; i < c->layers; i++) {
      const bert_layer *L = &m->L[i];
      weights_stack_few_rows(w, L->qkv);
      const float *few[] = {L->o.w, L->cq.w, L->co.w, L->fc1.w, L->fc2.w};
      for (int j = 0; j < 5; j++)
        if (few[j]) weights_few_rows(w, few[j]);
    }
    weights_few_rows(w, m->lm_dense.w);
    weights_few_rows(w, m->lm_w);
  }
  *out = m;
  return VLP_OK;
fail:
  bert_free(m);
  return st;
}

static void draft_free(bert_draft *d, int layers) {
  if (!d) return;
  gemm_bound_free(&d->lm_dense);
  for (int l = 0; l < layers; l++) {
    bert_draft_layer *q = &d->L[l];
    gemm_bound_free(&q->qkv), gemm_bound_free(&q->o), gemm_bound_free(&q->cq);
    gemm_bound_free(&q->co), gemm_bound_free(&q->fc1), gemm_bound_free(&q->fc2);
  }
  free(d);
}

void bert_free(bert_model *m) {
  if (!m) return;
  if (m->lm_bound) gemm_bound_free(m->lm_bound);
  free(m->lm_bound);
  draft_free(m->draft, m->c.layers);
  pthread_mutex_destroy(&m->draft_lock);
  free(m->L);
  free(m);
}

vlp_status bert_prepare_greedy(bert_model *m, size_t *bytes) {
  if (bytes) *bytes = 0;
  const gemm_panel *g = m->has_lm ? gemm_panel_of(m->lm_w) : NULL;
  if (!g || m->lm_bound || !gemm_bound_available()) return VLP_OK;
  gemm_bound *b = malloc(sizeof *b);
  if (!b) return vlp_fail(VLP_ERR_NOMEM, "bert: out of memory");
  vlp_status st = gemm_bound_make(b, g, 1);
  if (st) {
    free(b);
    return st;
  }
  m->lm_bound = b;
  if (bytes) *bytes = gemm_bound_bytes(b);
  return VLP_OK;
}

static vlp_status draft_make(const bert_model *m, bert_draft **out) {
  bert_draft *d = calloc(1, sizeof *d + (size_t)m->c.layers * sizeof d->L[0]);
  if (!d) return vlp_fail(VLP_ERR_NOMEM, "bert: out of memory for the draft decoder");
  const float *qkv_b;
  vlp_status st = gemm_bound_make(&d->lm_dense, gemm_panel_of(m->lm_dense.w), 0);
  for (int l = 0; l < m->c.layers && !st; l++) {
    const bert_layer *L = &m->L[l];
    bert_draft_layer *q = &d->L[l];
    st = gemm_bound_make(&q->qkv, gemm_stack_panel(L->qkv, &qkv_b), 0);
    if (!st) st = gemm_bound_make(&q->o, gemm_panel_of(L->o.w), 0);
    if (!st) st = gemm_bound_make(&q->cq, gemm_panel_of(L->cq.w), 0);
    if (!st) st = gemm_bound_make(&q->co, gemm_panel_of(L->co.w), 0);
    if (!st) st = gemm_bound_make(&q->fc1, gemm_panel_of(L->fc1.w), 0);
    if (!st) st = gemm_bound_make(&q->fc2, gemm_panel_of(L->fc2.w), 0);
  }
  if (st) {
    draft_free(d, m->c.layers);
    return st;
  }
  *out = d;
  return VLP_OK;
}

int bert_prepare_draft(const bert_model *cm, int make) {
  bert_model *m = (bert_model *)cm; /* the draft is the one part made after loading */
  if (!m->lm_bound) return 0;
  pthread_mutex_lock(&m->draft_lock);
  if (!m->draft && make) {
    bert_draft *d = NULL;
    if (draft_make(m, &d) == VLP_OK)
      m->draft = d;
    else
      vlp_clear_error(); /* without it, the steps stay one token at a time */
  }
  int ok = m->draft != NULL;
  pthread_mutex_unlock(&m->draft_lock);
  return ok;
}

const bert_config *bert_cfg(const bert_model *m) {
  return &m->c;
}
int bert_has_cross(const bert_model *m) {
  return m->has_cross;
}

/* ---- shared layer code ------------------------------------------------------------- */

/* a * b * c floats, or 0 on overflow (callers treat 0 as an error when a, b, c > 0). */
static size_t nfloats(size_t a, size_t b, size_t c) {
  if (a == 0 || b == 0 || c == 0) return 0;
  if (a > SIZE_MAX / b) return 0;
  size_t ab = a * b;
  if (ab > SIZE_MAX / c / sizeof(float)) return 0;
  return ab * c;
}

/* Columns of scratch.h. */
static size_t h_width(const bert_config *c) {
  return (size_t)c->mlp > 3 * (size_t)c->hidden ? (size_t)c->mlp : 3 * (size_t)c->hidden;
}

/* Floats scratch_carve takes for `rows` rows, 0 on overflow. */
static size_t scratch_floats(const bert_config *c, size_t rows) {
  return nfloats(rows, 4 * (size_t)c->hidden + h_width(c), 1);
}

/* Point s into buf (scratch_floats(c, rows) floats); returns the first float after it. */
static float *scratch_carve(scratch *s, const bert_config *c, size_t rows, float *buf) {
  size_t D = (size_t)c->hidden;
  s->x = buf;
  s->q = s->x + rows * D;
  s->ctx = s->q + rows * D;
  s->tmp = s->ctx + rows * D;
  s->h = s->tmp + rows * D;
  return s->h + rows * h_width(c);
}

/* a + b (+ c ...) floats with overflow check: 0 on overflow. */
static size_t add_floats(size_t a, size_t b) {
  return (a && b && a <= SIZE_MAX / sizeof(float) - b) ? a + b : 0;
}

/* x (N, T, D) = LayerNorm(word[ids] + pos[past + t]). */
static void embed(const bert_model *m, const int *ids, int N, int T, int past, float *x) {
  int D = m->c.hidden;
  op_embedding(x, m->wte, ids, N * T, D);
  for (int n = 0; n < N; n++)
    for (int t = 0; t < T; t++)
      op_add(x + ((size_t)n * T + t) * D, m->wpe + (size_t)(past + t) * D, (size_t)D);
  op_layernorm(x, x, m->ln_emb.g, m->ln_emb.b, N * T, D, m->c.eps);
}

/* x = LayerNorm(x + dense(in)); uses s->tmp. */
static void dense_add_norm(const bert_model *m, scratch *s, const lin *o, const lnorm *ln,
                           const float *in, int n, int in_dim) {
  int D = m->c.hidden;
  op_linear(s->tmp, in, o->w, o->b, n, in_dim, D);
  op_add(s->tmp, s->x, (size_t)n * D);
  op_layernorm(s->x, s->tmp, ln->g, ln->b, n, D, m->c.eps);
}

/* Self-attention K/V storage: (N, cap, D); this call's T tokens go to rows past..past+T-1.
 * Cross-attention K/V (Nenc, Te, D); row n reads item enc_of_row[n] (NULL: item n);
 * cross_mask additive (Nenc, Te) or NULL. */
typedef struct {
  float *k, *v;
  int cap, past;
  const float *self_mask; /* additive (N, past + T) or NULL */
  int causal;
  const float *ck, *cv;
  int Te;
  const int *enc_of_row;
  const float *cross_mask;
  const xattn_shape *packed; /* ck, cv packed by xattn_pack (NULL: rows (Nenc, Te, D)) */
} layer_io;

static void layer_forward(const bert_model *m, const bert_layer *L, scratch *s, int N, int T,
                          const layer_io *io) {
  const bert_config *c = &m->c;
  int D = c->hidden, H = c->heads, hd = D / H, rows = N * T;

  /* self-attention */
  /* self-attention: q, k, v of every row in one product, then q to s->q and each
   * sequence's keys and values to this call's rows of its cache */
  gemm_stack_linear(s->h, s->x, L->qkv, rows);
  for (int r = 0; r < rows; r++) {
    const float *qkv = s->h + (size_t)r * 3 * D;
    size_t at = ((size_t)(r / T) * io->cap + io->past + r % T) * D;
    memcpy(s->q + (size_t)r * D, qkv, (size_t)D * sizeof *qkv);
    memcpy(io->k + at, qkv + D, (size_t)D * sizeof *qkv);
    memcpy(io->v + at, qkv + 2 * D, (size_t)D * sizeof *qkv);
  }
  op_attn_shape sh = {.B = N,
                      .H = H,
                      .Tq = T,
                      .Tk = io->past + T,
                      .hd = hd,
                      .kv_cap = io->cap,
                      .mask = io->self_mask,
                      .causal = io->causal};
  op_attention(s->ctx, s->q, io->k, io->v, &sh);
  dense_add_norm(m, s, &L->o, &L->ln_attn, s->ctx, rows, D);

  /* cross-attention */
  if (io->ck) {
    op_linear(s->q, s->x, L->cq.w, L->cq.b, rows, D, D);
    op_attn_shape cs = {.B = N,
                        .H = H,
                        .Tq = T,
                        .Tk = io->Te,
                        .hd = hd,
                        .kv_cap = io->Te,
                        .mask = io->cross_mask,
                        .causal = 0};
    if (io->packed) {
      xattn_run(s->ctx, s->q, rows, T, io->enc_of_row, io->ck, io->cv, io->cross_mask, io->packed);
    } else if (!io->enc_of_row) {
      op_attention(s->ctx, s->q, io->ck, io->cv, &cs);
    } else {
      /* Consecutive rows reading the same item (its beams) attend as one item's query rows,
       * one pass over its K/V: cross-attention is not causal, so rows are independent. */
      cs.B = 1;
      for (int n = 0, run; n < N; n += run) {
        for (run = 1; n + run < N && io->enc_of_row[n + run] == io->enc_of_row[n];) run++;
        size_t item = (size_t)io->enc_of_row[n];
        size_t off = (size_t)n * T * D, eoff = item * io->Te * D;
        cs.Tq = run * T;
        cs.mask = io->cross_mask ? io->cross_mask + item * io->Te : NULL;
        op_attention(s->ctx + off, s->q + off, io->ck + eoff, io->cv + eoff, &cs);
      }
    }
    dense_add_norm(m, s, &L->co, &L->ln_cross, s->ctx, rows, D);
  }

  /* MLP */
  gemm_linear(s->h, s->x, L->fc1.w, L->fc1.b, rows, D, c->mlp, GEMM_ACT_GELU_ERF, 0);
  dense_add_norm(m, s, &L->fc2, &L->ln_out, s->h, rows, c->mlp);
}

/* ---- full forward ------------------------------------------------------------------ */

static vlp_status check_ids(const bert_model *m, const int *ids, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (ids[i] < 0 || ids[i] >= m->c.vocab)
      return vlp_fail(VLP_ERR_INVALID, "bert: token id %d out of range (vocab %d)", ids[i],
                      m->c.vocab);
  return VLP_OK;
}

vlp_status bert_forward(const bert_model *m, vlp_ws *ws, const int *ids, const int *mask, int B,
                        int T, int causal, const float *enc, const int *enc_mask, int Te,
                        float *hidden) {
  const bert_config *c = &m->c;
  int D = c->hidden;
  if (B <= 0 || T <= 0)
    return vlp_fail(VLP_ERR_INVALID, "bert: empty input (batch %d, length %d)", B, T);
  if (T > c->max_pos)
    return vlp_fail(VLP_ERR_INVALID, "bert: %d tokens exceed max_position_embeddings %d", T,
                    c->max_pos);
  if (enc && !m->has_cross)
    return vlp_fail(VLP_ERR_INVALID,
                    "bert: encoder states given to a model without cross-attention");
  if (enc && Te <= 0) return vlp_fail(VLP_ERR_INVALID, "bert: empty encoder states");
  size_t rows = (size_t)B * T;
  vlp_status st = check_ids(m, ids, rows);
  if (st) return st;

  size_t nkv = nfloats(rows, (size_t)D, 2);
  size_t nck = enc ? nfloats((size_t)B * Te, (size_t)D, 2) : 1;
  size_t nmask = enc ? (size_t)B * (T + Te) : rows;
  size_t tot = add_floats(add_floats(add_floats(scratch_floats(c, rows), nkv), nck), nmask);
  if (!nkv || !nck || !tot) return vlp_fail(VLP_ERR_NOMEM, "bert: buffer size overflows");
  float *buf = ws_floats(ws, WS_TEXT, tot);
  if (!buf) return vlp_fail(VLP_ERR_NOMEM, "bert: out of memory for %zu rows", rows);
  scratch s;
  float *kv = scratch_carve(&s, c, rows, buf);
  float *ckv = enc ? kv + nkv : NULL;
  float *masks = kv + nkv + nck;
  float *self_mask = NULL, *cross_mask = NULL;
  if (mask) {
    self_mask = masks;
    for (size_t i = 0; i < rows; i++) self_mask[i] = mask[i] ? 0.0f : SELF_MASK_VALUE;
  }
  if (enc && enc_mask) {
    cross_mask = masks + rows;
    for (size_t i = 0; i < (size_t)B * Te; i++) cross_mask[i] = enc_mask[i] ? 0.0f : ENC_MASK_VALUE;
  }

  embed(m, ids, B, T, 0, s.x);
  layer_io io = {.k = kv,
                 .v = kv + rows * D,
                 .cap = T,
                 .past = 0,
                 .self_mask = self_mask,
                 .causal = causal,
                 .Te = Te,
                 .cross_mask = cross_mask};
  size_t ne = (size_t)B * Te;
  for (int l = 0; l < c->layers; l++) {
    const bert_layer *L = &m->L[l];
    if (enc) {
      io.ck = ckv;
      io.cv = ckv + ne * D;
      op_linear(ckv, enc, L->ck.w, L->ck.b, (int)ne, c->encoder_hidden, D);
      op_linear(ckv + ne * D, enc, L->cv.w, L->cv.b, (int)ne, c->encoder_hidden, D);
    }
    layer_forward(m, L, &s, B, T, &io);
  }
  memcpy(hidden, s.x, rows * D * sizeof(float));
  return VLP_OK;
}

/* logits (n, vocab) from hidden (n, D); h is a work buffer of n * D floats. */
static void lm_head(const bert_model *m, const float *hidden, int n, float *h, float *logits) {
  int D = m->c.hidden;
  gemm_linear(h, hidden, m->lm_dense.w, m->lm_dense.b, n, D, D, GEMM_ACT_GELU_ERF, 0);
  op_layernorm(h, h, m->lm_ln.g, m->lm_ln.b, n, D, m->c.eps);
  op_linear(logits, h, m->lm_w, m->lm_b, n, D, m->c.vocab);
}

vlp_status bert_lm_logits(const bert_model *m, vlp_ws *ws, const float *hidden, int n,
                          float *logits) {
  if (!m->has_lm) return vlp_fail(VLP_ERR_INVALID, "bert: model was loaded without an LM head");
  if (n <= 0) return VLP_OK;
  size_t cnt = nfloats((size_t)n, (size_t)m->c.hidden, 1);
  if (!cnt) return vlp_fail(VLP_ERR_NOMEM, "bert: buffer size overflows");
  float *h = ws_floats(ws, WS_TMP0, cnt);
  if (!h) return vlp_fail(VLP_ERR_NOMEM, "bert: out of memory");
  lm_head(m, hidden, n, h, logits);
  return VLP_OK;
}

/* ---- incremental decoding ---------------------------------------------------------- */

void bert_cache_free(bert_cache *c) {
  if (c) free(c->plan), free(c->xq), free(c->qst), free(c->dq), free(c->dst);
  free(c);
}

vlp_status bert_cache_new(const bert_model *m, vlp_ws *ws, int N, int cap, const float *enc,
                          int Nenc, int Te, const int *enc_of_row, bert_cache **out) {
  const bert_config *cf = &m->c;
  int D = cf->hidden;
  *out = NULL;
  if (N <= 0 || cap <= 0 || Nenc <= 0 || Te <= 0)
    return vlp_fail(VLP_ERR_INVALID, "bert: bad cache size (rows %d, cap %d, items %d, Te %d)", N,
                    cap, Nenc, Te);
  if (!m->has_cross || !m->has_lm)
    return vlp_fail(VLP_ERR_INVALID, "bert: decoding needs cross-attention and an LM head");
  if (cap > cf->max_pos) cap = cf->max_pos;
  for (int r = 0; r < N; r++)
    if (enc_of_row[r] < 0 || enc_of_row[r] >= Nenc)
      return vlp_fail(VLP_ERR_INVALID, "bert: row %d reads encoder item %d of %d", r, enc_of_row[r],
                      Nenc);
  /* The image tokens' keys and values are read at every step: packed per head so a step
   * streams them, unless the shape is beyond the packed kernel's limits. */
  xattn_shape xs = {cf->heads, D / cf->heads, Te};
  int packed = xattn_packs(&xs);
  size_t kper = packed ? xattn_k_floats(&xs) : (size_t)Te * D;
  size_t vper = packed ? xattn_v_floats(&xs) : (size_t)Te * D;
  size_t nself = nfloats((size_t)cf->layers * N, (size_t)cap, (size_t)D);
  size_t nck = nfloats((size_t)cf->layers * Nenc, kper, 1);
  size_t ncv = nfloats((size_t)cf->layers * Nenc, vper, 1);
  size_t ntmp = packed ? nfloats(2, (size_t)Te, (size_t)D) : 0; /* one item's K, V rows */
  size_t tot = add_floats(nself, nself);
  tot = add_floats(tot, tot);
  tot = add_floats(tot, add_floats(nck, ncv));
  if (packed) tot = add_floats(tot, ntmp);
  tot = add_floats(tot, (size_t)2 * N + (size_t)N * D); /* enc_of_row, enc_tmp, last */
  tot = add_floats(tot, scratch_floats(cf, (size_t)N * cap));
  /* a one-row cache of a model with a draft also holds the draft's K/V */
  const int draft = N == 1 && bert_prepare_draft(m, 0);
  size_t ndk = 0;
  if (draft) {
    ndk = nfloats((size_t)cf->layers, (size_t)cap, (size_t)D);
    tot = add_floats(tot, add_floats(ndk, ndk));
  }
  /* steps in one parallel region (bert_step.c) when the weights allow, with the other
   * threads' residual streams here, at most TEAM_MAX - 1: a step is bound by memory
   * bandwidth, which a few cores saturate, and each stream holds as many rows as the cache */
  bert_step_plan *plan = bert_step_plan_new(m, packed);
  int threads = plan ? vlp_threads_current() : 1;
  if (threads > TEAM_MAX) threads = TEAM_MAX;
  size_t npriv = nfloats((size_t)threads - 1, (size_t)N * cap, (size_t)D);
  if (threads > 1) tot = add_floats(tot, npriv);
  vlp_status st = VLP_OK;
  float *buf = NULL;
  bert_cache *c = NULL;
  if (!nself || !nck || !ncv || (threads > 1 && !npriv) || (draft && !ndk) || !tot)
    st = vlp_fail(VLP_ERR_NOMEM, "bert: cache size overflows");
  else if (!(buf = ws_floats(ws, WS_DECODER, tot)))
    st = vlp_fail(VLP_ERR_NOMEM, "bert: out of memory for the KV cache");
  else if (!(c = calloc(1, sizeof *c)))
    st = vlp_fail(VLP_ERR_NOMEM, "bert: out of memory");
  if (st) {
    free(plan);
    return st;
  }
  c->plan = plan;
  c->hrows = N == 1 ? cap : N; /* a one-row cache may bound all positions of a step */
  if (plan && m->lm_bound) {   /* without them the steps give logits only */
    c->xq = malloc((size_t)threads * c->hrows * gemm_bound_row_bytes(m->lm_bound));
    c->qst = malloc((size_t)threads * c->hrows * sizeof *c->qst);
    if (!c->xq || !c->qst) free(c->xq), free(c->qst), c->xq = NULL, c->qst = NULL;
  }
  if (draft && c->xq) { /* without them the draft is not used */
    c->dq_row = (size_t)(cf->mlp > D ? cf->mlp : D) + 64;
    c->dq = malloc((size_t)threads * cap * c->dq_row);
    c->dst = malloc((size_t)threads * cap * sizeof *c->dst);
    if (!c->dq || !c->dst) free(c->dq), free(c->dst), c->dq = NULL, c->dst = NULL;
  }
  c->N = N, c->cap = cap, c->Nenc = Nenc, c->Te = Te, c->D = D, c->layers = cf->layers;
  c->kper = kper, c->vper = vper, c->packed = packed, c->xs = xs;
  c->k = buf;
  c->v = c->k + nself;
  c->k2 = c->v + nself;
  c->v2 = c->k2 + nself;
  c->ck = c->v2 + nself;
  c->cv = c->ck + nck;
  c->last = c->cv + ncv;
  float *after = scratch_carve(&c->s, cf, (size_t)N * cap, c->last + (size_t)N * D);
  c->enc_of_row = (int *)after;
  c->enc_tmp = c->enc_of_row + N;
  c->threads = threads;
  c->xpriv = (float *)(c->enc_tmp + N);
  float *tk = c->xpriv + npriv, *tv = tk + (size_t)Te * D;
  if (c->dq) {
    c->draft = m->draft; /* (read after bert_prepare_draft's lock above) */
    c->dk = tk + ntmp;
    c->dv = c->dk + ndk;
  }
  memcpy(c->enc_of_row, enc_of_row, (size_t)N * sizeof(int));
  const int E = cf->encoder_hidden;
  for (int l = 0; l < cf->layers; l++) {
    const bert_layer *L = &m->L[l];
    float *ck = c->ck + (size_t)l * Nenc * kper, *cv = c->cv + (size_t)l * Nenc * vper;
    if (!packed) {
      op_linear(ck, enc, L->ck.w, L->ck.b, Nenc * Te, E, D);
      op_linear(cv, enc, L->cv.w, L->cv.b, Nenc * Te, E, D);
      continue;
    }
    for (int e = 0; e < Nenc; e++) {
      const float *ei = enc + (size_t)e * Te * E;
      op_linear(tk, ei, L->ck.w, L->ck.b, Te, E, D);
      op_linear(tv, ei, L->cv.w, L->cv.b, Te, E, D);
      xattn_pack(ck + (size_t)e * kper, cv + (size_t)e * vper, tk, tv, &xs);
    }
  }
  *out = c;
  return VLP_OK;
}

/* A step's checks, then its ids' embeddings into c->s.x: T ids per row of N from position
 * `at` (the decoder's length, or the draft's). */
static vlp_status step_begin(const bert_model *m, bert_cache *c, const int *ids, int N, int T,
                             int at) {
  if (T <= 0) return vlp_fail(VLP_ERR_INVALID, "bert: cache step with %d tokens", T);
  if (at + T > c->cap)
    return vlp_fail(VLP_ERR_INVALID, "bert: sequence of %d tokens exceeds the cache (%d)", at + T,
                    c->cap);
  vlp_status st = check_ids(m, ids, (size_t)N * T);
  if (!st) embed(m, ids, N, T, at, c->s.x);
  return st;
}

vlp_status bert_cache_step(const bert_model *m, bert_cache *c, const int *ids, int T,
                           float *logits) {
  const bert_config *cf = &m->c;
  int D = cf->hidden, N = c->N;
  vlp_status st = step_begin(m, c, ids, c->N, T, c->len);
  if (st) return st;
  if (c->plan) {
    bert_step_fused(m, c, T, STEP_LAST, logits, NULL, NULL);
    c->len += T;
    return VLP_OK;
  }
  size_t self_per = (size_t)N * c->cap * D;
  for (int l = 0; l < cf->layers; l++) {
    layer_io io = {.k = c->k + l * self_per,
                   .v = c->v + l * self_per,
                   .cap = c->cap,
                   .past = c->len,
                   .self_mask = NULL,
                   .causal = 1,
                   .ck = c->ck + (size_t)l * c->Nenc * c->kper,
                   .cv = c->cv + (size_t)l * c->Nenc * c->vper,
                   .Te = c->Te,
                   .packed = c->packed ? &c->xs : NULL,
                   .enc_of_row = c->enc_of_row,
                   .cross_mask = NULL};
    layer_forward(m, &m->L[l], &c->s, N, T, &io);
  }
  c->len += T;
  for (int n = 0; n < N; n++)
    memcpy(c->last + (size_t)n * D, c->s.x + ((size_t)n * T + T - 1) * D,
           (size_t)D * sizeof(float));
  lm_head(m, c->last, N, c->s.tmp, logits); /* s.tmp holds N * cap * D >= N * D floats */
  return VLP_OK;
}

int bert_cache_has_bounds(const bert_cache *c) {
  return c->xq != NULL;
}

vlp_status bert_cache_step_bounds(const bert_model *m, bert_cache *c, const int *ids, int T,
                                  float *est, float *rad) {
  if (!c->xq) return vlp_fail(VLP_ERR_UNSUPPORTED, "bert: this cache has no LM head bounds");
  vlp_status st = step_begin(m, c, ids, c->N, T, c->len);
  if (st) return st;
  bert_step_fused(m, c, T, STEP_LAST, NULL, est, rad);
  c->len += T;
  return VLP_OK;
}

vlp_status bert_cache_step_bounds_all(const bert_model *m, bert_cache *c, const int *ids, int T,
                                      float *est, float *rad) {
  if (!c->xq || c->N * T > c->hrows)
    return vlp_fail(VLP_ERR_UNSUPPORTED, "bert: this cache cannot bound %d positions", c->N * T);
  vlp_status st = step_begin(m, c, ids, c->N, T, c->len);
  if (st) return st;
  bert_step_fused(m, c, T, STEP_ALL, NULL, est, rad);
  c->len += T;
  return VLP_OK;
}

int bert_cache_has_draft(const bert_cache *c) {
  return c->dq != NULL;
}

vlp_status bert_cache_draft(const bert_model *m, bert_cache *c, const int *seq, int len,
                            float *est) {
  if (!c->dq) return vlp_fail(VLP_ERR_UNSUPPORTED, "bert: this cache has no draft");
  vlp_status st = step_begin(m, c, seq + c->dlen, 1, len - c->dlen, c->dlen);
  if (st) return st;
  bert_step_fused(m, c, len - c->dlen, STEP_DRAFT, NULL, est, NULL);
  c->dlen = len;
  return VLP_OK;
}

void bert_cache_rewind(bert_cache *c, int len) {
  if (len < 0) len = 0;
  if (len < c->len) c->len = len;
  if (len < c->dlen) c->dlen = len;
}

void bert_cache_exact_logits(const bert_model *m, const bert_cache *c, int row, const int *ids,
                             int n, float *out) {
  /* the fused step leaves the LM head's input rows at the start of c->s.x */
  gemm_panel_columns(c->plan->lm_w, out, c->s.x + (size_t)row * c->D, m->lm_b, ids, n);
}

void bert_cache_reorder(bert_cache *c, const int *src) {
  int N = c->N;
  size_t row = (size_t)c->cap * c->D, used = (size_t)c->len * c->D;
  for (int l = 0; l < c->layers; l++) {
    size_t base = (size_t)l * N * row;
    for (int r = 0; r < N; r++) {
      int from = (src[r] >= 0 && src[r] < N) ? src[r] : r;
      memcpy(c->k2 + base + r * row, c->k + base + from * row, used * sizeof(float));
      memcpy(c->v2 + base + r * row, c->v + base + from * row, used * sizeof(float));
    }
  }
  float *t = c->k;
  c->k = c->k2, c->k2 = t;
  t = c->v;
  c->v = c->v2, c->v2 = t;
  for (int r = 0; r < N; r++)
    c->enc_tmp[r] = c->enc_of_row[(src[r] >= 0 && src[r] < N) ? src[r] : r];
  memcpy(c->enc_of_row, c->enc_tmp, (size_t)N * sizeof(int));
}
