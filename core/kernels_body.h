/* kernels_body: the kernel bodies, included by kernels.c once per instruction set with
 * VK_SUFFIX (name suffix) and VK_TARGET (a function attribute) defined. Written as plain
 * loops the compiler vectorises for the target (omp simd, branch-free math). */
#define VK_CAT2(a, b) a##_##b
#define VK_CAT(a, b) VK_CAT2(a, b)
#define VK(name) VK_CAT(name, VK_SUFFIX)

/* gelu(x) = x Phi(x), Phi(x) = erfc(-x / sqrt 2) / 2, erfc(z) for z >= 0 by Numerical
 * Recipes' Chebyshev fit t exp(-z^2 + P(t)), t = 1 / (1 + z / 2) (relative error
 * < 1.2e-7); for x < 0 this avoids the cancellation in 1 + erf(x). */
VK_TARGET static inline float VK(gelu1)(float x) {
  float z = (x < 0 ? -x : x) * 0.70710678118654752f;
  float t = 1.0f / (1.0f + 0.5f * z);
  float p = 0.17087277f;
  p = p * t - 0.82215223f;
  p = p * t + 1.48851587f;
  p = p * t - 1.13520398f;
  p = p * t + 0.27886807f;
  p = p * t - 0.18628806f;
  p = p * t + 0.09678418f;
  p = p * t + 0.37409196f;
  p = p * t + 1.00002368f;
  p = p * t - 1.26551223f;
  float half_erfc = 0.5f * t * vlp_fast_expf(p - z * z);
  return x * (x < 0 ? half_erfc : 1.0f - half_erfc);
}

VK_TARGET static void VK(gelu)(float *x, size_t n) {
#pragma omp simd
  for (size_t i = 0; i < n; i++) x[i] = VK(gelu1)(x[i]);
}

/* 0.5 x (1 + tanh(u)) = x sigmoid(2u), u = sqrt(2 / pi) (x + 0.044715 x^3) */
VK_TARGET static void VK(gelu_tanh)(float *x, size_t n) {
#pragma omp simd
  for (size_t i = 0; i < n; i++) {
    float v = x[i], u = 0.7978845608028654f * (v + 0.044715f * v * v * v);
    x[i] = v / (1.0f + vlp_fast_expf(-2.0f * u));
  }
}

VK_TARGET static void VK(quick_gelu)(float *x, size_t n) {
#pragma omp simd
  for (size_t i = 0; i < n; i++) x[i] = x[i] / (1.0f + vlp_fast_expf(-1.702f * x[i]));
}

VK_TARGET static void VK(add)(float *y, const float *x, size_t n) {
#pragma omp simd
  for (size_t i = 0; i < n; i++) y[i] += x[i];
}

/* Two passes (mean, then biased variance), accumulated in double as the reference. */
VK_TARGET static void VK(layernorm_row)(float *y, const float *x, const float *g, const float *b,
                                        int d, float eps) {
  double s = 0;
#pragma omp simd reduction(+ : s)
  for (int j = 0; j < d; j++) s += x[j];
  double mean = s / d, v = 0;
#pragma omp simd reduction(+ : v)
  for (int j = 0; j < d; j++) {
    double t = x[j] - mean;
    v += t * t;
  }
  float m = (float)mean;
  float rstd = (float)(1.0 / sqrt(v / d + (double)eps));
  if (g && b) {
#pragma omp simd
    for (int j = 0; j < d; j++) y[j] = (x[j] - m) * rstd * g[j] + b[j];
  } else {
    for (int j = 0; j < d; j++) y[j] = (x[j] - m) * rstd * (g ? g[j] : 1.0f) + (b ? b[j] : 0.0f);
  }
}

VK_TARGET static void VK(softmax_row)(float *x, int n) {
  float m = -INFINITY;
#pragma omp simd reduction(max : m)
  for (int j = 0; j < n; j++) m = x[j] > m ? x[j] : m;
  if (m == -INFINITY) {
    memset(x, 0, (size_t)n * sizeof *x);
    return;
  }
  float s = 0;
#pragma omp simd reduction(+ : s)
  for (int j = 0; j < n; j++) {
    x[j] = vlp_fast_expf_nonpos(x[j] - m);
    s += x[j];
  }
  float inv = 1.0f / s;
#pragma omp simd
  for (int j = 0; j < n; j++) x[j] *= inv;
}

/* Symmetric int8: s = max|x| / 127 (1 for a zero row), q = round(x / s) with ties to even
 * (adding 1.5 * 2^23 rounds as lrintf does in the default mode, and vectorises). */
VK_TARGET static float VK(quantize_row)(int8_t *q, const float *x, int n) {
  float amax = 0;
#pragma omp simd reduction(max : amax)
  for (int k = 0; k < n; k++) {
    float a = fabsf(x[k]);
    amax = a > amax ? a : amax;
  }
  float s = amax > 0 ? amax / 127.0f : 1.0f, inv = 1.0f / s;
  const float shift = 12582912.0f;
#pragma omp simd
  for (int k = 0; k < n; k++) {
    float t = x[k] * inv;
    t = (t + shift) - shift;
    q[k] = (int8_t)(int32_t)t;
  }
  return s;
}

VK_TARGET static void VK(dequantize_row)(float *y, const int32_t *acc, float rs, const float *ws,
                                         const float *b, int n, int accumulate) {
  if (accumulate && b) {
#pragma omp simd
    for (int j = 0; j < n; j++) y[j] += (float)acc[j] * rs * ws[j] + b[j];
  } else if (accumulate) {
#pragma omp simd
    for (int j = 0; j < n; j++) y[j] += (float)acc[j] * rs * ws[j];
  } else if (b) {
#pragma omp simd
    for (int j = 0; j < n; j++) y[j] = (float)acc[j] * rs * ws[j] + b[j];
  } else {
#pragma omp simd
    for (int j = 0; j < n; j++) y[j] = (float)acc[j] * rs * ws[j];
  }
}

/* bf16 = the upper half of the f32 rounded to nearest even; a NaN stays a (quiet) NaN. */
VK_TARGET static void VK(to_bf16)(uint16_t *dst, const float *src, size_t n) {
#pragma omp simd
  for (size_t i = 0; i < n; i++) {
    uint32_t u;
    memcpy(&u, &src[i], 4);
    uint16_t r = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
    dst[i] = (u & 0x7fffffffu) > 0x7f800000u ? (uint16_t)((u >> 16) | 0x40) : r;
  }
}

VK_TARGET static void VK(scores16)(float *s, const float *q, const float *k, int hd, int nblk) {
  int b = 0;
  for (; b + 4 <= nblk; b += 4) { /* four blocks at once: independent sums in flight */
    float a0[16] = {0}, a1[16] = {0}, a2[16] = {0}, a3[16] = {0};
    const float *k0 = k + (size_t)b * hd * 16, *k1 = k0 + hd * 16, *k2 = k1 + hd * 16,
                *k3 = k2 + hd * 16;
    for (int c = 0; c < hd; c++) {
      float qc = q[c];
#pragma omp simd
      for (int l = 0; l < 16; l++) {
        a0[l] += qc * k0[c * 16 + l];
        a1[l] += qc * k1[c * 16 + l];
        a2[l] += qc * k2[c * 16 + l];
        a3[l] += qc * k3[c * 16 + l];
      }
    }
    memcpy(s + (size_t)b * 16, a0, sizeof a0);
    memcpy(s + (size_t)b * 16 + 16, a1, sizeof a1);
    memcpy(s + (size_t)b * 16 + 32, a2, sizeof a2);
    memcpy(s + (size_t)b * 16 + 48, a3, sizeof a3);
  }
  for (; b < nblk; b++) {
    float a[16] = {0};
    const float *kb = k + (size_t)b * hd * 16;
    for (int c = 0; c < hd; c++) {
      float qc = q[c];
#pragma omp simd
      for (int l = 0; l < 16; l++) a[l] += qc * kb[c * 16 + l];
    }
    memcpy(s + (size_t)b * 16, a, sizeof a);
  }
}

/* 64 columns at a time with their sums in registers, the row 16 ahead prefetched. Summed in
 * o itself (which may alias v, as far as the compiler knows), every row's sums went through
 * memory: cross-attention at batch 8 took ~20% longer. Each column's sum runs in row order,
 * as in a plain loop. */
VK_TARGET static void VK(weighted_rows)(float *o, const float *p, const float *v, int n, int hd,
                                        int ldv) {
  int c0 = 0;
  for (; c0 + 64 <= hd; c0 += 64) {
    float a0[16] = {0}, a1[16] = {0}, a2[16] = {0}, a3[16] = {0};
    const float *vr = v + c0;
    for (int j = 0; j < n; j++, vr += ldv) {
      const float pj = p[j];
      __builtin_prefetch(vr + (size_t)16 * ldv); /* past the end: no fault */
#pragma omp simd
      for (int l = 0; l < 16; l++) {
        a0[l] += pj * vr[l];
        a1[l] += pj * vr[16 + l];
        a2[l] += pj * vr[32 + l];
        a3[l] += pj * vr[48 + l];
      }
    }
    memcpy(o + c0, a0, sizeof a0);
    memcpy(o + c0 + 16, a1, sizeof a1);
    memcpy(o + c0 + 32, a2, sizeof a2);
    memcpy(o + c0 + 48, a3, sizeof a3);
  }
  for (; c0 + 16 <= hd; c0 += 16) {
    float a[16] = {0};
    for (int j = 0; j < n; j++) {
      const float pj = p[j], *vr = v + (size_t)j * ldv + c0;
#pragma omp simd
      for (int l = 0; l < 16; l++) a[l] += pj * vr[l];
    }
    memcpy(o + c0, a, sizeof a);
  }
  for (; c0 < hd; c0++) {
    float a = 0.0f;
    for (int j = 0; j < n; j++) a += p[j] * v[(size_t)j * ldv + c0];
    o[c0] = a;
  }
}

static const vk_table VK(table) = {
    VK_NAME, VK(layernorm_row), VK(softmax_row),    VK(gelu),    VK(gelu_tanh), VK(quick_gelu),
    VK(add), VK(quantize_row),  VK(dequantize_row), VK(to_bf16), VK(scores16),  VK(weighted_rows)};

#undef VK
#undef VK_CAT
#undef VK_CAT2
