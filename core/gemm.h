/* gemm: the one matrix-product interface of vlp (nn.Linear: y = x W^T + b).
 *
 * Backends (one file each: gemm_blas.c, gemm_dnnl.c) sit behind this interface and are
 * chosen at run time from the CPU's instruction sets, so one binary runs on AVX2-only and
 * on AVX-512 CPUs:
 *   - "dnnl":     oneDNN's matmul on weights packed once into its blocked layout (f32,
 *                 bf16 and int8 kernels, bias and activation fused); the default when
 *                 oneDNN finds AVX2 or better. It dispatches on the CPU's instruction sets
 *                 whatever OPENBLAS_CORETYPE says.
 *   - "openblas": sgemm / sgemv on the weights as they are (f32 only); the fallback.
 *   - "panel":    for weights marked as multiplied by a few rows at a time (a decoder's,
 *                 gemm_prepare_few_rows) in f32 on AVX-512 CPUs: 64-column panels streamed
 *                 at the memory's read bandwidth (gemm_panel.h).
 * VLP_GEMM=openblas|dnnl overrides the choice (for benchmarks and tests).
 *
 * Weights are prepared once at load (gemm_prepare): the packed copy is kept in a registry
 * keyed by the weight's address, and every later product with that address uses it, so
 * model code passes the same `const float *W` it always did. Products with weights that
 * were never prepared run on OpenBLAS. Thread-safe: lookups from any thread; prepare and
 * forget at load / free time. */
#ifndef VLP_CORE_GEMM_H
#define VLP_CORE_GEMM_H

#include <stddef.h>
#include <stdint.h>

#include "vlp.h"

/* Activation applied to x W^T + b in the same pass. */
typedef enum {
  GEMM_ACT_NONE,
  GEMM_ACT_GELU_ERF,   /* 0.5 x (1 + erf(x / sqrt 2)) */
  GEMM_ACT_GELU_TANH,  /* 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))) */
  GEMM_ACT_QUICK_GELU, /* x sigmoid(1.702 x) */
} gemm_act;

/* y (n, out) = act(x (n, in) W^T + b) + (accumulate ? y : 0). W is (out, in) row-major
 * (Hugging Face's nn.Linear layout); b may be NULL. y must not alias x. */
void gemm_linear(float *y, const float *x, const float *W, const float *b, int n, int in, int out,
                 gemm_act act, int accumulate);

/* A transformer's MLP with its residual: y (n, in) += act(x W1^T + b1) W2^T + b2, W1 (mid,
 * in), W2 (in, mid); h (n, mid) is scratch for the intermediate (a backend may keep it in its
 * kernels' own type instead: bf16 products). x must not alias y or h. */
void gemm_mlp(float *y, const float *x, float *h, const float *W1, const float *b1, const float *W2,
              const float *b2, int n, int in, int mid, gemm_act act);

/* A layernorm over a product's input rows (the _norm products below): gains g and biases b
 * over the row's `in` values. */
typedef struct {
  const float *g, *b;
  float eps;
} gemm_norm;
/* gemm_linear, gemm_mlp and gemm_stack_linear of LayerNorm(x) instead of x: xn (n, in) is
 * scratch for the normalised rows. Where W's kernels take bf16 rows, the pass that
 * normalises writes them there in bf16 (the same bits as normalising, then converting,
 * without the f32 rows and the second pass); else they are normalised in f32, then
 * multiplied. xn must not alias x; y may (the MLP's residual). */
void gemm_linear_norm(float *y, const float *x, const gemm_norm *ln, float *xn, const float *W,
                      const float *b, int n, int in, int out, gemm_act act, int accumulate);
void gemm_mlp_norm(float *y, const float *x, const gemm_norm *ln, float *xn, float *h,
                   const float *W1, const float *b1, const float *W2, const float *b2, int n,
                   int in, int mid, gemm_act act);

/* For a caller that keeps activations in bf16 between products (vision/vit.c's attention
 * in bf16): 1 when W is held in bf16 by a backend whose kernels take and give bf16 rows (of
 * at most 8192 inputs). Then gemm_linear_norm_to_bf16 writes y (n, out) = LayerNorm(x) W^T
 * + b in bf16 (gemm_linear_norm's f32 rows rounded to nearest even), and
 * gemm_linear_from_bf16 is gemm_linear on the f32 values of bf16 rows x. Each returns 0
 * (y untouched) when W is not held so or the backend failed (no memory for its scratch). */
int gemm_bf16_rows(const float *W);
int gemm_linear_norm_to_bf16(uint16_t *y, const float *x, const gemm_norm *ln, float *xn,
                             const float *W, const float *b, int n, int in, int out);
int gemm_linear_from_bf16(float *y, const uint16_t *x, const float *W, const float *b, int n,
                          int in, int out, gemm_act act, int accumulate);

/* Pack W (out, in) for the selected backend at precision `prec` and register it. A weight
 * already prepared is left as it is. bf16 / int8 need a backend with those kernels (error
 * VLP_ERR_UNSUPPORTED saying why not otherwise). *packed_bytes (may be NULL) receives the
 * bytes the packed copy holds (0 when the backend uses W as it is). */
vlp_status gemm_prepare(const float *W, int out, int in, vlp_precision prec, size_t *packed_bytes);
/* The same for a weight that is multiplied by a few rows at a time (a decoder's: one row
 * per sequence and beam): in f32, on CPUs where they are faster, it goes into 64-column
 * panels (core/gemm_panel.h) instead of the backend's layout. */
vlp_status gemm_prepare_few_rows(const float *W, int out, int in, vlp_precision prec,
                                 size_t *packed_bytes);
/* W's panels when it was prepared into them, else NULL (code that runs the panels
 * itself, inside its own parallel region: text/bert_step.c). */
struct gemm_panel;
const struct gemm_panel *gemm_panel_of(const float *W);
/* Drop W's packed copy (before the memory behind W goes away). */
void gemm_forget(const float *W);

/* The selected backend's name ("dnnl" or "openblas") and whether it supports a precision
 * (*why, may be NULL, then says why not). */
const char *gemm_backend_name(void);
int gemm_supports(vlp_precision prec, const char **why);
/* Select a backend by name for this process (benchmarks, tests); prepared weights are not
 * re-packed, so call it before loading a model. Returns 0 if the name is unknown or that
 * backend is not available here. */
int gemm_select(const char *name);
/* Products with prepared weights that the backend could not run (no memory for its
 * scratch, a shape oneDNN refused) and that OpenBLAS did in f32 instead. */
unsigned long gemm_fallbacks(void);
/* 1 when each row of a product on prepared weights comes out with the same bits whatever
 * the other rows, their count and the thread count: the backend's kernels so far are of
 * that kind (oneDNN's brgemm on AVX-512; not its AVX2 kernels, nor OpenBLAS) and no
 * product fell back to OpenBLAS. Then an image's embedding does not depend on its batch. */
int gemm_batch_invariant(void);
/* Several nn.Linear weights over the same input run as one product on their row-wise
 * stack (attention's q, k, v): one larger product instead of several small ones, which
 * matters most for a decoder step's one-row products. y (n, parts * rows) holds each
 * row's parts side by side: y[i] = [x_i W0^T + b0, x_i W1^T + b1, ...]. */
#define GEMM_STACK_MAX 4
typedef struct gemm_stack gemm_stack;
/* parts weights W[i] (rows, in) and biases b[i] (rows; b or any b[i] may be NULL: zeros),
 * kept by reference (they must outlive the stack); not prepared yet. */
vlp_status gemm_stack_new(const float *const *W, const float *const *b, int parts, int rows, int in,
                          gemm_stack **out);
/* Pack the stack for the selected backend at `prec` (as gemm_prepare does for one weight):
 * the packed copy is built from a temporary concatenation of the parts. Until then, and on
 * the OpenBLAS backend, the parts are multiplied one by one as they are. */
vlp_status gemm_stack_prepare(gemm_stack *s, vlp_precision prec, size_t *packed_bytes);
/* gemm_prepare_few_rows for a stack; and its panels (NULL when it is not in panels) with
 * its stacked biases (*bias, NULL for none). */
vlp_status gemm_stack_prepare_few_rows(gemm_stack *s, vlp_precision prec, size_t *packed_bytes);
const struct gemm_panel *gemm_stack_panel(const gemm_stack *s, const float **bias);
void gemm_stack_linear(float *y, const float *x, const gemm_stack *s, int n);
void gemm_stack_linear_norm(float *y, const float *x, const gemm_norm *ln, float *xn,
                            const gemm_stack *s, int n);
/* gemm_bf16_rows and gemm_linear_norm_to_bf16 for a stack. */
int gemm_stack_bf16_rows(const gemm_stack *s);
int gemm_stack_linear_norm_to_bf16(uint16_t *y, const float *x, const gemm_norm *ln, float *xn,
                                   const gemm_stack *s, int n);
void gemm_stack_free(gemm_stack *s);

/* Name of a precision ("f32", "bf16", "int8"); and the reverse (-1 if unknown). */
const char *gemm_precision_name(vlp_precision p);
int gemm_precision_parse(const char *s);

#endif
