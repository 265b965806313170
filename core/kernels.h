/* kernels: the element-wise and row kernels of core/ops.c, compiled three times (AVX-512,
 * AVX2+FMA, and plain x86-64 / the build's baseline) from one body (kernels_body.h) and
 * chosen at run time from the CPU's instruction sets, so one binary runs everywhere and
 * uses the widest vectors available. The double-accumulating *_naive references stay in
 * ops.c; test_kernels forces each path here and compares it with them. */
#ifndef VLP_CORE_KERNELS_H
#define VLP_CORE_KERNELS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  const char *name; /* "avx512", "avx2", "generic" */
  /* One row of LayerNorm: y (d) = (x - mean) / sqrt(var + eps) * g + b; g, b may be NULL;
   * y may equal x. */
  void (*layernorm_row)(float *y, const float *x, const float *g, const float *b, int d, float eps);
  /* One row of softmax in place; an all -inf row becomes zeros. */
  void (*softmax_row)(float *x, int n);
  /* In place over n floats. */
  void (*gelu)(float *x, size_t n);
  void (*gelu_tanh)(float *x, size_t n);
  void (*quick_gelu)(float *x, size_t n);
  /* y += x */
  void (*add)(float *y, const float *x, size_t n);
  /* One row to symmetric int8: s = max|x| / 127 (1 for a zero row), q = round(x / s), ties
   * to even; returns s. */
  float (*quantize_row)(int8_t *q, const float *x, int n);
  /* One row of int32 products back to float: y = acc * rs * ws + b (b may be NULL), added
   * onto y if accumulate. */
  void (*dequantize_row)(float *y, const int32_t *acc, float rs, const float *ws, const float *b,
                         int n, int accumulate);
  /* f32 to bf16, rounded to nearest even; NaN stays NaN. */
  void (*to_bf16)(uint16_t *dst, const float *src, size_t n);
  /* Scores of one query row q (hd) against nblk blocks of 16 keys stored (nblk, hd, 16):
   * s[16 b + l] = sum_c q[c] k[b][c][l]. */
  void (*scores16)(float *s, const float *q, const float *k, int hd, int nblk);
  /* o (hd) = sum_j p[j] v[j] over n value rows of hd floats, ldv floats apart; each o[c] is
   * summed in row order without contraction, the bits of a plain loop. */
  void (*weighted_rows)(float *o, const float *p, const float *v, int n, int hd, int ldv);
} vk_table;

/* The kernels for this CPU (VLP_KERNELS=avx512|avx2|generic forces one the CPU has). */
const vk_table *vk_get(void);
/* Use the named path from now on; 0 if unknown or the CPU lacks its instructions. */
int vk_force(const char *name);
/* Every path this CPU can run, widest first; returns how many (at most 3). */
int vk_available(const char **names, int cap);

#endif
