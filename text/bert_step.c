/* bert_step: one decoding step of the BERT decoder in a single parallel region.
 *
 * A batch-1 step is ~75 products of one row (every decoder weight read once, ~490 MB for
 * BLIP-base) with a little attention and layernorm between them. Run pass by pass, each
 * product opens its own region and the second thread, asleep since the last one, takes
 * ~20 us to wake (core/threads.h): the step streamed its weights at ~40 GB/s. Here the two
 * threads stay in one region for the whole step, each product's panels (core/gemm_panel.h)
 * and each attention's (row, head) tasks are split between them, and they meet at a team
 * barrier (core/team.h) between dependent passes: ~51-59 GB/s, the memory's read
 * bandwidth (prototype measurements in the closing note of stop 23). Each thread takes the
 * panels and attention tasks of its own contiguous share a few at a time, then helps with
 * the others' (team_next), so it streams its weights front to back and a thread slowed by
 * the host takes fewer. Same arithmetic per row as the pass-by-pass path on the same panels. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/gemm_panel.h"
#include "core/kernels.h"
#include "core/ops.h"
#include "core/team.h"
#include "core/threads.h"
#include "text/bert_internal.h"

bert_step_plan *bert_step_plan_new(const bert_model *m, int packed_xattn) {
  if (!packed_xattn || !m->has_cross || !m->has_lm) return NULL;
  bert_step_plan *p = malloc(sizeof *p + (size_t)m->c.layers * sizeof p->L[0]);
  if (!p) return NULL;
  p->lm_dense = gemm_panel_of(m->lm_dense.w);
  p->lm_w = gemm_panel_of(m->lm_w);
  int ok = p->lm_dense && p->lm_w;
  for (int i = 0; i < m->c.layers && ok; i++) {
    const bert_layer *L = &m->L[i];
    bert_step_layer *s = &p->L[i];
    s->qkv = gemm_stack_panel(L->qkv, &s->qkv_b);
    s->o = gemm_panel_of(L->o.w);
    s->cq = gemm_panel_of(L->cq.w);
    s->co = gemm_panel_of(L->co.w);
    s->fc1 = gemm_panel_of(L->fc1.w);
    s->fc2 = gemm_panel_of(L->fc2.w);
    ok = s->qkv && s->o && s->cq && s->co && s->fc1 && s->fc2;
  }
  if (!ok) {
    free(p);
    return NULL;
  }
  return p;
}

/* What every thread of the region shares. */
typedef struct {
  const bert_model *m;
  bert_cache *c;
  int T, rows;
  bert_step_kind kind;
  const bert_draft *draft;   /* STEP_DRAFT: the int8 products */
  float *k, *v;              /* the self-attention cache (the draft's or the decoder's) */
  int len;                   /* its length */
  size_t kv_per;             /* its floats per layer */
  float *logits, *est, *rad; /* est, rad: the LM head's bounds instead of logits */
  team_barrier bar;
} step;

/* Thread t's copy of the residual stream (rows, D): thread 0 works in the cache's, the
 * others in their own, so each layernorm runs on every thread over all rows instead of
 * being split and waited for. */
static float *stream_of(step *s, int t) {
  bert_cache *c = s->c;
  return t == 0 ? c->s.x : c->xpriv + (size_t)(t - 1) * c->N * c->cap * c->D;
}

/* The draft's y (n, out) = act(x Q^T + b) + res from the int8 copy's estimates: each
 * thread quantises x for itself, then applies the epilogue to its panels' columns. */
static void product_int8(step *s, int t, int nt, const gemm_bound *q, float *y, const float *x,
                         int ldx, int n, const float *b, gemm_act act, const float *res) {
  bert_cache *c = s->c;
  unsigned char *u = c->dq + (size_t)t * c->cap * c->dq_row;
  gemm_bound_row *st = c->dst + (size_t)t * c->cap;
  gemm_bound_quantize_est(q, x, ldx, n, u, st);
  const vk_table *vk = vk_get();
  long p0, p1, chunk = q->panels >= 32 * nt ? 4 : 1;
  while (team_next(&s->bar, t, nt, q->panels, chunk, &p0, &p1)) {
    gemm_bound_part(q, y, NULL, q->out, u, st, n, b, (int)p0, (int)p1);
    int c0 = (int)p0 * GEMM_PANEL_COLS, c1 = (int)p1 * GEMM_PANEL_COLS;
    if (c1 > q->out) c1 = q->out;
    for (long r = 0; r < n; r++) {
      float *yr = y + r * q->out;
      if (act == GEMM_ACT_GELU_ERF) vk->gelu(yr + c0, (size_t)(c1 - c0));
      if (res)
        for (int j = c0; j < c1; j++) yr[j] += res[r * q->out + j];
    }
  }
  team_wait(&s->bar, nt);
}

/* y (n, ldy) = act(x W^T + b) + res, panels handed out a few at a time, then the barrier;
 * the draft multiplies by q, the int8 copy of W. */
static void product(step *s, int t, int nt, const gemm_panel *g, const gemm_bound *q, float *y,
                    const float *x, int ldx, int n, const float *b, gemm_act act,
                    const float *res) {
  if (s->draft) {
    product_int8(s, t, nt, q, y, x, ldx, n, b, act, res);
    return;
  }
  long p0, p1, chunk = g->panels >= 32 * nt ? 4 : 1;
  while (team_next(&s->bar, t, nt, g->panels, chunk, &p0, &p1))
    gemm_panel_part(g, y, g->out, x, ldx, n, b, act, res, g->out, (int)p0, (int)p1);
  team_wait(&s->bar, nt);
}

/* y = LayerNorm(x) over n rows of D, every row on this thread (y is its own). */
static void layernorm(const step *s, float *y, const float *x, const lnorm *ln, int n) {
  const vk_table *vk = vk_get();
  const int D = s->m->c.hidden;
  for (long r = 0; r < n; r++)
    vk->layernorm_row(y + r * D, x + r * D, ln->g, ln->b, D, s->m->c.eps);
}

static void layer(step *s, int t, int nt, int l) {
  const bert_model *m = s->m;
  const bert_layer *L = &m->L[l];
  const bert_step_layer *P = &s->c->plan->L[l];
  const bert_draft_layer *Q = s->draft ? &s->draft->L[l] : NULL;
  bert_cache *c = s->c;
  scratch *w = &c->s;
  float *x = stream_of(s, t);
  const int D = m->c.hidden, H = m->c.heads, hd = D / H, T = s->T, rows = s->rows, N = c->N;
  float *kc = s->k + (size_t)l * s->kv_per, *vc = s->v + (size_t)l * s->kv_per;
  long a, b;

  /* self-attention: q, k, v; then per (sequence, head) task its slices of the new rows into
   * s->q and the cache, and its T query rows over the cache */
  product(s, t, nt, P->qkv, Q ? &Q->qkv : NULL, w->h, x, D, rows, P->qkv_b, GEMM_ACT_NONE, NULL);
  op_attn_shape sh = {
      .B = N, .H = H, .Tq = T, .Tk = s->len + T, .hd = hd, .kv_cap = c->cap, .causal = 1};
  /* task a: sequence a / H, head a % H */
  while (team_next(&s->bar, t, nt, (long)N * H, 1, &a, &b)) {
    int n = (int)(a / H), h = (int)(a % H);
    for (int i = 0; i < T; i++) {
      size_t r = (size_t)n * T + i, at = ((size_t)n * c->cap + s->len + i) * D + (size_t)h * hd;
      const float *qkv = w->h + r * 3 * D + (size_t)h * hd;
      memcpy(w->q + r * D + (size_t)h * hd, qkv, (size_t)hd * sizeof *qkv);
      memcpy(kc + at, qkv + D, (size_t)hd * sizeof *qkv);
      memcpy(vc + at, qkv + 2 * D, (size_t)hd * sizeof *qkv);
    }
    op_attention_rows_part(w->ctx, w->q, kc, vc, &sh, a * T, b * T);
  }
  team_wait(&s->bar, nt);
  product(s, t, nt, P->o, Q ? &Q->o : NULL, w->tmp, w->ctx, D, rows, L->o.b, GEMM_ACT_NONE, x);
  layernorm(s, x, w->tmp, &L->ln_attn, rows);

  /* cross-attention over the image tokens (packed keys and values) */
  product(s, t, nt, P->cq, Q ? &Q->cq : NULL, w->q, x, D, rows, L->cq.b, GEMM_ACT_NONE, NULL);
  /* head-major: a sequence's T rows read the head's keys and values in turn, from cache */
  while (team_next(&s->bar, t, nt, (long)rows * H, 1, &a, &b))
    for (long i = a; i < b; i++) {
      long task = i % rows * H + i / rows; /* xattn_run_part's: row task / H, head task % H */
      xattn_run_part(w->ctx, w->q, T, c->enc_of_row, c->ck + (size_t)l * c->Nenc * c->kper,
                     c->cv + (size_t)l * c->Nenc * c->vper, NULL, &c->xs, task, task + 1);
    }
  team_wait(&s->bar, nt);
  product(s, t, nt, P->co, Q ? &Q->co : NULL, w->tmp, w->ctx, D, rows, L->co.b, GEMM_ACT_NONE, x);
  layernorm(s, x, w->tmp, &L->ln_cross, rows);

  /* MLP */
  product(s, t, nt, P->fc1, Q ? &Q->fc1 : NULL, w->h, x, D, rows, L->fc1.b, GEMM_ACT_GELU_ERF,
          NULL);
  product(s, t, nt, P->fc2, Q ? &Q->fc2 : NULL, w->tmp, w->h, m->c.mlp, rows, L->fc2.b,
          GEMM_ACT_NONE, x);
  layernorm(s, x, w->tmp, &L->ln_out, rows);
}

static void run(step *s, int t, int nt) {
  const bert_model *m = s->m;
  bert_cache *c = s->c;
  const int D = m->c.hidden, T = s->T, N = c->N;
  float *x = stream_of(s, t);
  /* the embeddings were written before the region */
  if (t) memcpy(x, c->s.x, (size_t)s->rows * D * sizeof *x);
  for (int l = 0; l < m->c.layers; l++) layer(s, t, nt, l);
  /* LM head on each row's last position (rows T D apart in x), or on every position; the
   * dense output's layernorm goes to each thread's own stream, no longer needed after that
   * product. The dense output goes to s.q, not s.tmp: a thread still in the last layer's
   * layernorm may be reading s.tmp while the others start this product (no barrier
   * between them). */
  const int all = s->kind == STEP_ALL, n = all ? s->rows : N;
  product(s, t, nt, c->plan->lm_dense, s->draft ? &s->draft->lm_dense : NULL, c->s.q,
          all ? x : x + (size_t)(T - 1) * D, all ? D : T * D, n, m->lm_dense.b, GEMM_ACT_GELU_ERF,
          NULL);
  layernorm(s, x, c->s.q, &m->lm_ln, n);
  if (!s->est) {
    product(s, t, nt, c->plan->lm_w, NULL, s->logits, x, D, N, m->lm_b, GEMM_ACT_NONE, NULL);
    return;
  }
  /* each thread quantises the rows for itself, then takes its share of the int8 panels */
  const gemm_bound *b = m->lm_bound;
  unsigned char *u = c->xq + (size_t)t * c->hrows * gemm_bound_row_bytes(b);
  gemm_bound_row *st = c->qst + (size_t)t * c->hrows;
  if (s->draft)
    gemm_bound_quantize_est(b, x, D, n, u, st);
  else
    gemm_bound_quantize(b, x, D, n, u, st);
  long p0, p1, chunk = b->panels >= 32 * nt ? 4 : 1;
  while (team_next(&s->bar, t, nt, b->panels, chunk, &p0, &p1))
    gemm_bound_part(b, s->est, s->rad, b->out, u, st, n, m->lm_b, (int)p0, (int)p1);
  team_wait(&s->bar, nt);
}

void bert_step_fused(const bert_model *m, bert_cache *c, int T, bert_step_kind kind, float *logits,
                     float *est, float *rad) {
  const int draft = kind == STEP_DRAFT;
  step s = {.m = m,
            .c = c,
            .T = T,
            .rows = c->N * T,
            .kind = kind,
            .draft = draft ? c->draft : NULL,
            .k = draft ? c->dk : c->k,
            .v = draft ? c->dv : c->v,
            .len = draft ? c->dlen : c->len,
            .kv_per = (size_t)c->N * c->cap * c->D,
            .logits = logits,
            .est = est,
            .rad = draft ? NULL : rad};
  team_init(&s.bar);
  int nt = vlp_threads_current();
  if (nt > c->threads) nt = c->threads;
#pragma omp parallel num_threads(nt) if (nt > 1)
  run(&s, omp_get_thread_num(), omp_get_num_threads());
}
