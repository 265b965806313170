/* gemm_backend: what a GEMM backend provides to gemm.c (private to core/). */
#ifndef VLP_CORE_GEMM_BACKEND_H
#define VLP_CORE_GEMM_BACKEND_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "core/gemm.h"

/* A weight prepared for one backend and precision. */
typedef struct gemm_packed {
  const float *W; /* the original (out, in) weights: the registry key */
  int out, in;
  vlp_precision prec;
  const struct gemm_backend *be;
  void *impl;   /* the backend's packed data and cached kernels */
  size_t bytes; /* bytes held by impl */
} gemm_packed;

typedef struct gemm_backend {
  const char *name;
  /* 1 if this backend runs on this CPU at precision p; else 0 and *why says why not. */
  int (*supports)(vlp_precision p, const char **why);
  /* Fill p->impl / p->bytes from p->W. */
  vlp_status (*pack)(gemm_packed *p);
  void (*release)(gemm_packed *p);
  /* y = act(x W^T + b) (+ y). p is NULL for weights that were never prepared (f32 W as
   * it is). Returns 0 when it could not run (the caller falls back to OpenBLAS). */
  int (*run)(float *y, const float *x, const float *W, const gemm_packed *p, const float *b, int n,
             int in, int out, gemm_act act, int accumulate);
  /* 1 while every kernel this backend chose gives a row of y the same bits whatever the
   * other rows of x, their count and the thread count (see gemm_batch_invariant). */
  int (*batch_invariant)(void);
  /* y += act(x W1^T + b1) W2^T + b2 with p1 (mid, in) and p2 (in, mid) of this backend,
   * when it can keep the intermediate in its kernels' own type; 0 (y untouched) when not
   * (gemm_mlp then runs the two products). x16: x holds bf16 rows (as run_bf16), else f32.
   * May be NULL. */
  int (*run_mlp)(float *y, const void *x, int x16, const gemm_packed *p1, const float *b1,
                 const gemm_packed *p2, const float *b2, int n, gemm_act act);
  /* run, for a bf16 weight, on input rows x (n, p->in) already in bf16; y is f32, or bf16
   * with dst16 (then accumulate is 0). 0 when it could not (nothing written). May be NULL. */
  int (*run_bf16)(void *y, const uint16_t *x, const gemm_packed *p, const float *b, int n,
                  gemm_act act, int accumulate, int dst16);
} gemm_backend;

extern const gemm_backend gemm_backend_blas;
/* OpenBLAS's y = x W^T + b with y's rows ldy floats apart (ldy >= out): a stacked product's
 * parts written side by side when it has no packed copy. */
void gemm_blas_linear_ld(float *y, int ldy, const float *x, const float *W, const float *b, int n,
                         int in, int out);
/* 64-column panels for few-row f32 products (gemm_panel.h): weights prepared by
 * gemm_prepare_few_rows on CPUs where gemm_panel_wanted(). */
extern const gemm_backend gemm_backend_panel;
/* NULL when vlp was built without oneDNN. */
extern const gemm_backend *const gemm_backend_dnnl;

/* Per-thread scratch buffers for the backends (index 0..GEMM_SCRATCH_N-1), 64-byte
 * aligned, grown as needed and kept until the thread ends. NULL on allocation failure. */
#define GEMM_SCRATCH_N 3
void *gemm_scratch(int which, size_t bytes);

/* Memory for packed weights: 64 KiB and more are mmap'ed from a 2 MiB boundary with
 * MADV_HUGEPAGE and their pages mapped at once (first touch of 4 KiB pages costs ~12 us each
 * on some machines, seconds for a whole model); 64-byte aligned. Call outside parallel
 * regions (the pages are zeroed on the call's threads). Free with the same size. */
void *gemm_weights_alloc(size_t bytes);
void gemm_weights_free(void *p, size_t bytes);

/* The element-wise end of a product done in pieces: y = act(y) + (res ? res : 0), n
 * floats (res may equal NULL). */
void gemm_epilogue(float *y, const float *res, size_t n, gemm_act act);

#endif
