/* bert_internal: the BERT text model's structures, shared by text/bert.c (loading, the
 * forward pass, the cache) and text/bert_step.c (a decoding step in one parallel region). */
#ifndef VLP_TEXT_BERT_INTERNAL_H
#define VLP_TEXT_BERT_INTERNAL_H

#include <pthread.h>

#include "core/cross_attention.h"
#include "core/gemm.h"
#include "core/gemm_bound.h"
#include "text/bert.h"

typedef struct {
  const float *w, *b;
} lin;
typedef struct {
  const float *g, *b;
} lnorm;

typedef struct {
  const gemm_stack *qkv; /* self-attention's query, key, value as one product */
  lin o;
  lnorm ln_attn;
  lin cq, ck, cv, co; /* cross-attention (ck/cv: encoder_hidden -> hidden) */
  lnorm ln_cross;
  lin fc1, fc2; /* intermediate.dense, output.dense */
  lnorm ln_out;
} bert_layer;

/* The draft decoder of speculative greedy steps (bert_prepare_draft): an int8 copy of
 * every weight a step multiplies but the LM head's (lm_bound), whose estimates
 * (core/gemm_bound.h) stand in for the products. */
typedef struct {
  gemm_bound qkv, o, cq, co, fc1, fc2;
} bert_draft_layer;
typedef struct {
  gemm_bound lm_dense;
  bert_draft_layer L[]; /* layers */
} bert_draft;

struct bert_model {
  bert_config c;
  const float *wte; /* (vocab, hidden) */
  const float *wpe; /* (max_pos, hidden) */
  lnorm ln_emb;
  bert_layer *L;
  int has_cross;
  int has_lm;
  lin lm_dense;
  lnorm lm_ln;
  const float *lm_w;    /* (vocab, hidden) */
  const float *lm_b;    /* (vocab) */
  gemm_bound *lm_bound; /* int8 copy of lm_w for greedy steps (NULL: none) */
  bert_draft *draft;    /* made on first use (NULL: none yet), under draft_lock */
  pthread_mutex_t draft_lock;
};

/* Work buffers for `rows` token rows (N * T), carved from a workspace slot. */
typedef struct {
  float *x;   /* (rows, D) the residual stream */
  float *q;   /* (rows, D) */
  float *ctx; /* (rows, D) */
  float *tmp; /* (rows, D) */
  float *h;   /* (rows, max(mlp, 3 D)): the MLP's inner rows, or the q, k, v product */
} scratch;

/* A decoding step's weights as panels (core/gemm_panel.h), one entry per layer. */
typedef struct {
  const struct gemm_panel *qkv, *o, *cq, *co, *fc1, *fc2;
  const float *qkv_b; /* the stacked q, k, v biases (NULL: none) */
} bert_step_layer;
typedef struct bert_step_plan {
  const struct gemm_panel *lm_dense, *lm_w;
  bert_step_layer L[]; /* layers */
} bert_step_plan;

/* Everything but the struct lives in the workspace's WS_DECODER slot. */
struct bert_cache {
  int N, cap, len, Nenc, Te, D, layers;
  float *k, *v;      /* (layers, N, cap, D) self-attention K/V */
  float *k2, *v2;    /* same size: reorder target */
  float *ck, *cv;    /* (layers, Nenc, kper / vper) cross-attention K/V */
  size_t kper, vper; /* floats per item: packed (core/cross_attention.h) or Te * D */
  int packed;
  xattn_shape xs;
  int *enc_of_row, *enc_tmp; /* (N) */
  float *last;               /* (N, D) last-position hidden states */
  scratch s;                 /* for N * cap rows */
  bert_step_plan *plan;      /* the decoder's panels, NULL when it has none */
  int threads;               /* threads a fused step may use (bert_step.c) */
  float *xpriv;              /* (threads - 1, N * cap, D): their residual streams */
  /* greedy steps on the LM head's bounds (model's lm_bound): each thread's quantised rows */
  unsigned char *xq;   /* (threads, hrows, gemm_bound_row_bytes) */
  gemm_bound_row *qst; /* (threads, hrows) */
  int hrows;           /* head rows a step may bound: N, or cap for a one-row cache */
  /* the draft's steps (one-row caches of a model with a draft): its own self-attention
   * K/V and length; each thread's quantised rows */
  const bert_draft *draft;
  float *dk, *dv; /* (layers, cap, D) */
  int dlen;
  unsigned char *dq;   /* (threads, cap, dq_row) */
  size_t dq_row;       /* bytes of a quantised row of mlp inputs */
  gemm_bound_row *dst; /* (threads, cap) */
};

/* The plan when every weight a step multiplies is in panels and the cross-attention keys
 * are packed, else NULL (malloc'd; the step then runs pass by pass). */
bert_step_plan *bert_step_plan_new(const bert_model *m, int packed_xattn);
/* What a fused step computes besides its layers. */
typedef enum {
  STEP_LAST,  /* the LM head on each row's last position (logits, or est / rad) */
  STEP_ALL,   /* the head's bounds on all N * T positions (est / rad (N * T, vocab)) */
  STEP_DRAFT, /* the draft (c->dk, c->dv, c->dlen; int8 products): est (vocab) of N = 1 */
} bert_step_kind;
/* One step of T tokens per row after embed() filled c->s.x: the layers and the LM head in
 * one parallel region of vlp_threads_current() threads, the passes split between them and
 * a team barrier (core/team.h) between passes. c->plan must be set. With est (then rad
 * too, and c->xq set) the LM head gives the bounds of core/gemm_bound.h instead of the
 * logits. A position's results have the same bits whatever T and kind (but STEP_DRAFT):
 * every product, attention row and layernorm works row by row. */
void bert_step_fused(const bert_model *m, bert_cache *c, int T, bert_step_kind kind, float *logits,
                     float *est, float *rad);

#endif
