/* gemm_panel: f32 weights in 64-column panels for products of a few rows (a decoder step:
 * one row per sequence and beam). Such a product is bound by reading the weights once from
 * memory; a panel holds 64 output columns of every input row next to each other, (in, 64),
 * so each core streams its own panels front to back while the rows' 64 sums stay in
 * registers. oneDNN's blocked kernels reach ~40 GB/s on a batch-1 decoder step here, panels
 * ~50-59 GB/s (the read bandwidth) when the step runs in one parallel region
 * (text/bert_step.c).
 *
 * A row's result has the same bits whatever the other rows, their count and the threads
 * (columns are split, never the sum), so batches stay invariant. The kernel follows
 * core/kernels.h's path: AVX-512 intrinsics, or plain C for the AVX2 and baseline paths. */
#ifndef VLP_CORE_GEMM_PANEL_H
#define VLP_CORE_GEMM_PANEL_H

#include "core/gemm.h"

#define GEMM_PANEL_COLS 64

typedef struct gemm_panel {
  int out, in, panels; /* panels = ceil(out / 64); the last one is zero-padded */
  float *P;            /* (panels, in, 64) */
} gemm_panel;

/* Bytes of one panel's weights; where panel p's start. */
static inline size_t gemm_panel_bytes(const gemm_panel *g) {
  return (size_t)g->in * GEMM_PANEL_COLS * sizeof(float);
}
static inline const float *gemm_panel_at(const gemm_panel *g, long p) {
  return g->P + (size_t)p * g->in * GEMM_PANEL_COLS;
}

/* 1 when this CPU's kernel path makes panels the faster choice for few-row f32 products
 * (AVX-512); on AVX2 oneDNN's kernels are kept. */
int gemm_panel_wanted(void);

/* Pack W (out, in) row-major into *g (g->P allocated here, freed by gemm_panel_free). */
vlp_status gemm_panel_pack(gemm_panel *g, const float *W, int out, int in);
void gemm_panel_free(gemm_panel *g);

/* Columns of panels [p0, p1) of y (n, ldy) = act(x (n, ldx) W^T + b) + res (n, ldr); b and
 * res may be NULL, res may equal y. On the calling thread: callers split the panels between
 * their threads. */
void gemm_panel_part(const gemm_panel *g, float *y, int ldy, const float *x, int ldx, int n,
                     const float *b, gemm_act act, const float *res, int ldr, int p0, int p1);

/* out[i] = x (in) . W[cols[i]] + b[cols[i]] for n outputs (b may be NULL): the bits
 * gemm_panel_part gives that column of a one-row product without activation, reading
 * only the 64-byte lines of the panels that hold them (a greedy decoder's few candidate
 * logits, core/gemm_bound.h). On the calling thread. */
void gemm_panel_columns(const gemm_panel *g, float *out, const float *x, const float *b,
                        const int *cols, int n);

#endif
