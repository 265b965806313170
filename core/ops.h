/* ops: the float32 kernels every model is built from. Row-major, contiguous unless a
 * stride is given. Each fast kernel has a plain reference (*_naive) beside it; the tests
 * compare the two. Nothing here allocates except where noted. Our own loops are OpenMP
 * parallel with vlp_threads_current() threads (core/threads.h); the GEMM backends get
 * the same count. */
#ifndef VLP_CORE_OPS_H
#define VLP_CORE_OPS_H

#include <stddef.h>

/* y (n, out) = x (n, in) @ W^T + b, with W in Hugging Face's nn.Linear layout (out, in),
 * used in place (no transposed copy). b may be NULL. y must not alias x. Runs through
 * core/gemm.h (gemm_linear adds fused activations and residuals; weights prepared with
 * gemm_prepare use the packed copy). */
void op_linear(float *y, const float *x, const float *W, const float *b, int n, int in, int out);
void op_linear_naive(float *y, const float *x, const float *W, const float *b, int n, int in,
                     int out);

/* y (n, d) = LayerNorm(x) * g + b over the last dim; y may equal x. */
void op_layernorm(float *y, const float *x, const float *g, const float *b, int n, int d,
                  float eps);
void op_layernorm_naive(float *y, const float *x, const float *g, const float *b, int n, int d,
                        float eps);

/* In place activations over n floats. */
void op_gelu(float *x, size_t n);       /* exact: 0.5 x (1 + erf(x / sqrt 2)) */
void op_quick_gelu(float *x, size_t n); /* x * sigmoid(1.702 x) */
void op_gelu_tanh(float *x, size_t n);  /* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
void op_gelu_tanh_naive(float *x, size_t n);
void op_gelu_naive(float *x, size_t n);
void op_quick_gelu_naive(float *x, size_t n);

/* Row-wise softmax in place over (rows, cols). */
void op_softmax(float *x, int rows, int cols);
void op_softmax_naive(float *x, int rows, int cols);

/* y += x over n floats. */
void op_add(float *y, const float *x, size_t n);
/* y (n, d) = table[ids[i]] rows. */
void op_embedding(float *y, const float *table, const int *ids, int n, int d);
/* L2-normalise each of the n rows of x (n, d) in place (x / max(||x||, 1e-12)). */
void op_l2_normalize(float *x, int n, int d);

/* Multi-head scaled dot-product attention.
 *   q   (B, Tq, H*hd)  query rows, contiguous per batch item: q + b*Tq*H*hd + t*H*hd + h*hd
 *   k,v (B, kv_cap, H*hd) only the first Tk rows of each batch item are used, so a KV
 *       cache with room for kv_cap tokens is passed as it is
 *   out (B, Tq, H*hd)
 *   mask: additive (B, Tk) added to every score of batch item b (e.g. (1 - m) * -10000),
 *       or NULL
 *   causal: query i (at absolute position Tk - Tq + i) sees keys j <= Tk - Tq + i
 *   ld: floats from one row of q, k and v to the next (0: H*hd). ld = 3*H*hd reads q, k, v
 *       where one product wrote them side by side (row i: q, then k, then v), no copies;
 *       out keeps rows of H*hd
 * scores = q.k / sqrt(hd) (+ mask), softmax over keys, weighted sum of v. */
typedef struct {
  int B, H, Tq, Tk, hd;
  int kv_cap; /* rows per batch item in k and v; >= Tk */
  const float *mask;
  int causal;
  int ld; /* row stride of q, k, v; 0: H*hd */
} op_attn_shape;

/* Keys query row i sees: [0, return). All Tk of them, or (causal) those up to its
 * absolute position Tk - Tq + i. */
static inline int op_attn_visible(const op_attn_shape *s, int i) {
  if (!s->causal) return s->Tk;
  int lim = s->Tk - s->Tq + i + 1;
  return lim < 0 ? 0 : lim > s->Tk ? s->Tk : lim;
}

/* The row stride of q, k and v. */
static inline int op_attn_ld(const op_attn_shape *s) {
  return s->ld > 0 ? s->ld : s->H * s->hd;
}

void op_attention(float *out, const float *q, const float *k, const float *v,
                  const op_attn_shape *s);
void op_attention_naive(float *out, const float *q, const float *k, const float *v,
                        const op_attn_shape *s);
/* 1 when op_attention runs s on the blocked kernels (core/attention.h), which callers with
 * a parallel region of their own may then run as attention_blocked_team. */
int op_attention_is_blocked(const op_attn_shape *s);
/* Row tasks [r0, r1) of the B * H * Tq query rows (row r: item r / (H Tq), head
 * r / Tq % H, query row r % Tq) of op_attention's row-by-row path, on the calling thread
 * (code that splits the rows between the threads of its own region). s->Tk >= 1. */
void op_attention_rows_part(float *out, const float *q, const float *k, const float *v,
                            const op_attn_shape *s, long r0, long r1);
/* Force op_attention's path: "blocked" (core/attention.h), "gemm" (per-head OpenBLAS
 * products around a materialised score block), "rows" (row by row) or "auto" (by shape,
 * the default). VLP_ATTN=name does the same at the first call. For benchmarks and tests;
 * returns 0 if the name is unknown. */
int op_attention_force(const char *name);

#endif
