/* gemm_bound: int8 estimates of a product's outputs with rigorous bounds (gemm_bound.h). */
#include "core/gemm_bound.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/gemm_backend.h"
#include "core/threads.h"

#define COLS GEMM_PANEL_COLS
#define ROWS 4  /* rows per pass over a panel: 16 accumulators */
#define AHEAD 8 /* groups of 4 inputs (256 bytes each) prefetched ahead, as gemm_panel.c */

/* x rounded up by a relative 2^-20: covers the float conversions of bounds kept in float. */
static double up(double x) {
  return x * (1.0 + 0x1p-20);
}
static double max2(double a, double b) {
  return a > b ? a : b;
}
/* x as a float no smaller than x. */
static float float_up(double x) {
  float f = (float)x;
  return (double)f < x ? nextafterf(f, INFINITY) : f;
}
/* gamma_n of a chain of n fused multiply-adds in f32: n u / (1 - n u), u = 2^-24. */
static double gamma_of(int n) {
  return n * 0x1p-24 / (1 - n * 0x1p-24);
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define TVNNI __attribute__((target("avx512f,avx512bw,avx512vnni")))

int gemm_bound_available(void) {
  __builtin_cpu_init();
  return gemm_panel_wanted() && __builtin_cpu_supports("avx512vnni") &&
         __builtin_cpu_supports("avx512bw");
}

/* int32 sums acc (R, 64) of R <= ROWS rows of u (stride ldu bytes) over a panel's in4 / 4
 * groups; R a constant after inlining. */
static inline TVNNI __attribute__((always_inline)) void sums(int32_t *acc, const uint8_t *u,
                                                             size_t ldu, const int8_t *q,
                                                             int groups, const int R) {
  __m512i a[ROWS][4];
  for (int r = 0; r < R; r++)
    for (int j = 0; j < 4; j++) a[r][j] = _mm512_setzero_si512();
  for (int k = 0; k < groups; k++) {
    const int8_t *qk = q + (size_t)k * COLS * 4;
    _mm_prefetch((const char *)(qk + AHEAD * COLS * 4), _MM_HINT_NTA);
    _mm_prefetch((const char *)(qk + AHEAD * COLS * 4 + 64), _MM_HINT_NTA);
    _mm_prefetch((const char *)(qk + AHEAD * COLS * 4 + 128), _MM_HINT_NTA);
    _mm_prefetch((const char *)(qk + AHEAD * COLS * 4 + 192), _MM_HINT_NTA);
    __m512i w0 = _mm512_load_si512(qk), w1 = _mm512_load_si512(qk + 64);
    __m512i w2 = _mm512_load_si512(qk + 128), w3 = _mm512_load_si512(qk + 192);
    for (int r = 0; r < R; r++) {
      int32_t four;
      memcpy(&four, u + (size_t)r * ldu + 4 * (size_t)k, 4);
      __m512i xv = _mm512_set1_epi32(four);
      a[r][0] = _mm512_dpbusd_epi32(a[r][0], xv, w0);
      a[r][1] = _mm512_dpbusd_epi32(a[r][1], xv, w1);
      a[r][2] = _mm512_dpbusd_epi32(a[r][2], xv, w2);
      a[r][3] = _mm512_dpbusd_epi32(a[r][3], xv, w3);
    }
  }
  for (int r = 0; r < R; r++)
    for (int j = 0; j < 4; j++) _mm512_storeu_si512(acc + (size_t)r * COLS + 16 * j, a[r][j]);
}

TVNNI static void panel_sums(int32_t *acc, const uint8_t *u, size_t ldu, const int8_t *q,
                             int groups, int R) {
  switch (R) {
    case 1:
      sums(acc, u, ldu, q, groups, 1);
      return;
    case 2:
      sums(acc, u, ldu, q, groups, 2);
      return;
    case 3:
      sums(acc, u, ldu, q, groups, 3);
      return;
    default:
      sums(acc, u, ldu, q, groups, 4);
      return;
  }
}
/* One row's estimates and radii of outputs [o, o + cols) (cols <= 64) from its int32 sums
 * acc, in float: est = p.q t s + b as an fma, rad = (the bound of gemm_bound.h + 2^-20
 * (|p.q t s| + |b|)) (1 + 2^-19). The 2^-20 term covers the float arithmetic of est (five
 * roundings of at most 2^-24 of those magnitudes); the last factor the roundings of the
 * radius's own sums and products (at most seven, all of non-negative terms). */
TVNNI static void ends(float *est, float *rad, const int32_t *acc, const gemm_bound *b, int o,
                       int cols, const float *bias, const gemm_bound_row *s) {
  const __m512 t = _mm512_set1_ps(s->t), l1 = _mm512_set1_ps(s->l1);
  const __m512 l2 = _mm512_set1_ps(s->l2), ex = _mm512_set1_ps(s->ex);
  const __m512 ex2 = _mm512_set1_ps(s->ex2), gl = _mm512_set1_ps(s->glinf);
  const __m512 small = _mm512_set1_ps(0x1p-20f), grow = _mm512_set1_ps(1.0f + 0x1p-19f);
  const __m512 inf = _mm512_set1_ps(INFINITY);
  for (int j = 0; j < cols; j += 16) {
    const __mmask16 k = cols - j >= 16 ? 0xffff : (__mmask16)((1u << (cols - j)) - 1);
    const int at = o + j;
    __m512i pq = _mm512_sub_epi32(_mm512_maskz_loadu_epi32(k, acc + j),
                                  _mm512_slli_epi32(_mm512_maskz_loadu_epi32(k, b->qsum + at), 7));
    __m512 ts = _mm512_mul_ps(t, _mm512_maskz_loadu_ps(k, b->scale + at));
    __m512 m = _mm512_mul_ps(_mm512_cvtepi32_ps(pq), ts);
    __m512 bj = bias ? _mm512_maskz_loadu_ps(k, bias + at) : _mm512_setzero_ps();
    __m512 v = _mm512_add_ps(m, bj);
    _mm512_mask_storeu_ps(est + j, k, v);
    if (!rad) continue; /* estimates only */
    __m512 w1 = _mm512_min_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(k, b->werr + at), l1),
                              _mm512_mul_ps(_mm512_maskz_loadu_ps(k, b->werr2 + at), l2));
    __m512 w2 = _mm512_min_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(k, b->qabs + at), ex),
                              _mm512_mul_ps(_mm512_maskz_loadu_ps(k, b->q2 + at), ex2));
    __m512 w = _mm512_add_ps(_mm512_add_ps(w1, w2),
                             _mm512_mul_ps(_mm512_maskz_loadu_ps(k, b->wabs + at), gl));
    __m512 mag = _mm512_add_ps(_mm512_abs_ps(m), _mm512_abs_ps(bj));
    w = _mm512_mul_ps(_mm512_fmadd_ps(mag, small, w), grow);
    _mm512_mask_storeu_ps(rad + j, k, s->finite ? w : inf);
  }
}
#else
int gemm_bound_available(void) {
  return 0;
}
/* (never called: gemm_bound_available() is 0) */
static void panel_sums(int32_t *acc, const uint8_t *u, size_t ldu, const int8_t *q, int groups,
                       int R) {
  (void)acc, (void)u, (void)ldu, (void)q, (void)groups, (void)R;
}
static void ends(float *est, float *rad, const int32_t *acc, const gemm_bound *b, int o, int cols,
                 const float *bias, const gemm_bound_row *s) {
  (void)est, (void)rad, (void)acc, (void)b, (void)o, (void)cols, (void)bias, (void)s;
}
#endif

size_t gemm_bound_row_bytes(const gemm_bound *b) {
  return ((size_t)b->in4 + 63) / 64 * 64;
}

static size_t q_bytes(const gemm_bound *b) {
  return (size_t)b->panels * b->in4 * COLS;
}

size_t gemm_bound_bytes(const gemm_bound *b) {
  return q_bytes(b) + (size_t)b->out * (6 * sizeof(float) + sizeof(int32_t));
}

/* Panel p's int8 weights, scales and sums only, in float arithmetic (rounding ties away
 * from zero), its factors infinite. */
static void make_estimates(gemm_bound *b, const gemm_panel *g, int p) {
  const float *pp = gemm_panel_at(g, p);
  int8_t *qp = b->Q + (size_t)p * b->in4 * COLS;
  float mx[COLS] = {0}, inv[COLS];
  int32_t qsum[COLS] = {0};
  for (int k = 0; k < b->in; k++)
#pragma omp simd
    for (int c = 0; c < COLS; c++) {
      float a = fabsf(pp[(size_t)k * COLS + c]);
      mx[c] = a > mx[c] ? a : mx[c];
    }
  for (int c = 0; c < COLS; c++) inv[c] = mx[c] > 0 ? 127.0f / mx[c] : 0.0f;
  for (int k = 0; k < b->in; k++) {
    int8_t *qk = qp + (size_t)(k / 4) * COLS * 4 + k % 4;
#pragma omp simd
    for (int c = 0; c < COLS; c++) {
      float x = pp[(size_t)k * COLS + c] * inv[c];
      int q = (int)(x + (x >= 0 ? 0.5f : -0.5f));
      q = q > 127 ? 127 : q < -127 ? -127 : q;
      qk[c * 4] = (int8_t)q;
      qsum[c] += q;
    }
  }
  for (int c = 0; c < COLS && p * COLS + c < b->out; c++) {
    const int j = p * COLS + c;
    b->scale[j] = mx[c] > 0 ? mx[c] / 127.0f : 1.0f;
    b->werr[j] = b->qabs[j] = b->wabs[j] = b->werr2[j] = b->q2[j] = INFINITY;
    b->qsum[j] = qsum[c];
  }
}

vlp_status gemm_bound_make(gemm_bound *b, const gemm_panel *g, int radii) {
  memset(b, 0, sizeof *b);
  if (!g || !g->P) return vlp_fail(VLP_ERR_INVALID, "gemm: no panels to bound");
  b->out = g->out, b->in = g->in, b->in4 = (g->in + 3) / 4 * 4, b->panels = g->panels;
  const int out = b->out, in = b->in, in4 = b->in4;
  b->Q = gemm_weights_alloc(q_bytes(b));
  b->scale = malloc((size_t)out * sizeof(float));
  b->werr = malloc((size_t)out * sizeof(float));
  b->qabs = malloc((size_t)out * sizeof(float));
  b->wabs = malloc((size_t)out * sizeof(float));
  b->werr2 = malloc((size_t)out * sizeof(float));
  b->q2 = malloc((size_t)out * sizeof(float));
  b->qsum = malloc((size_t)out * sizeof(int32_t));
  if (!b->Q || !b->scale || !b->werr || !b->qabs || !b->wabs || !b->werr2 || !b->q2 || !b->qsum) {
    gemm_bound_free(b);
    return vlp_fail(VLP_ERR_NOMEM, "gemm: out of memory for the int8 copy of a %d x %d weight", out,
                    in);
  }
  /* a panel at a time, its 64 columns side by side in the inner loops (the panel's rows
   * are contiguous): each column's scale, its int8 weights and its factors */
  int nt = vlp_threads_current();
#pragma omp parallel for num_threads(nt) schedule(dynamic) if (nt > 1 && b->panels > 1)
  for (int p = 0; p < b->panels; p++) {
    if (!radii) {
      make_estimates(b, g, p);
      continue;
    }
    const float *pp = gemm_panel_at(g, p);
    int8_t *qp = b->Q + (size_t)p * in4 * COLS;
    double mx[COLS] = {0}, werr[COLS] = {0}, qabs[COLS] = {0}, wabs[COLS] = {0};
    double werr2[COLS] = {0}, q2[COLS] = {0};
    float sc[COLS];
    int32_t qsum[COLS] = {0};
    for (int k = 0; k < in; k++)
      for (int c = 0; c < COLS; c++) mx[c] = max2(mx[c], fabs(pp[(size_t)k * COLS + c]));
    for (int c = 0; c < COLS; c++) sc[c] = mx[c] > 0 ? (float)(mx[c] / 127.0) : 1.0f;
    for (int k = 0; k < in4; k++)
      for (int c = 0; c < COLS; c++) {
        int8_t q = 0;
        if (k < in) {
          const double w = pp[(size_t)k * COLS + c], s = sc[c];
          double r = w == w ? nearbyint(w / s) : 0; /* (a NaN: wabs carries it to the radii) */
          q = (int8_t)(r > 127 ? 127 : r < -127 ? -127 : r);
          const double d = w - s * q, sq = s * q; /* exact in double */
          werr[c] = max2(werr[c], fabs(d));
          werr2[c] += d * d;
          qabs[c] += fabs(sq);
          q2[c] += sq * sq;
          wabs[c] += fabs(w);
          qsum[c] += q;
        }
        qp[(size_t)(k / 4) * COLS * 4 + (size_t)c * 4 + k % 4] = q;
      }
    for (int c = 0; c < COLS && p * COLS + c < out; c++) {
      const int j = p * COLS + c;
      b->scale[j] = sc[c];
      b->werr[j] = (float)up(werr[c]);
      b->qabs[j] = (float)up(qabs[c]);
      b->wabs[j] = (float)up(wabs[c]);
      b->werr2[j] = (float)up(sqrt(werr2[c]));
      b->q2[j] = (float)up(sqrt(q2[c]));
      b->qsum[j] = qsum[c];
    }
  }
  return VLP_OK;
}

void gemm_bound_free(gemm_bound *b) {
  if (b->Q) gemm_weights_free(b->Q, q_bytes(b));
  free(b->scale);
  free(b->werr);
  free(b->qabs);
  free(b->wabs);
  free(b->werr2);
  free(b->q2);
  free(b->qsum);
  memset(b, 0, sizeof *b);
}

/* Row xr (in) into ur (in ints p_i + 128, the rest 128) and its factors *st. */
static void quantize_row_est(const gemm_bound *b, const float *xr, uint8_t *ur,
                             gemm_bound_row *st) {
  float linf = 0;
#pragma omp simd reduction(max : linf)
  for (int k = 0; k < b->in; k++) linf = fabsf(xr[k]) > linf ? fabsf(xr[k]) : linf;
  const float inv = linf > 0 ? 127.0f / linf : 0.0f;
#pragma omp simd
  for (int k = 0; k < b->in; k++) {
    float y = xr[k] * inv;
    int p = (int)(y + (y >= 0 ? 0.5f : -0.5f));
    p = p > 127 ? 127 : p < -127 ? -127 : p;
    ur[k] = (uint8_t)(p + 128);
  }
  memset(st, 0, sizeof *st);
  st->t = linf > 0 ? linf / 127.0f : 1.0f;
  st->finite = 1;
}

static void quantize_row_bound(const gemm_bound *b, const float *xr, uint8_t *ur,
                               gemm_bound_row *st) {
  double linf = 0, l1 = 0, l2 = 0, ex = 0, ex2 = 0;
  int finite = 1;
  for (int k = 0; k < b->in; k++) {
    finite &= isfinite(xr[k]) != 0;
    linf = max2(linf, fabs(xr[k]));
    l1 += fabs(xr[k]);
    l2 += (double)xr[k] * xr[k];
  }
  const double t = linf > 0 ? linf / 127.0 : 1.0;
  for (int k = 0; k < b->in; k++) {
    double p = finite ? nearbyint(xr[k] / t) : 0;
    p = p > 127 ? 127 : p < -127 ? -127 : p;
    const double d = xr[k] - t * p;
    ex = max2(ex, fabs(d));
    ex2 += d * d;
    ur[k] = (uint8_t)(p + 128); /* dpbusd multiplies unsigned bytes: p + 128 */
  }
  st->t = (float)t, st->finite = finite;
  st->l1 = float_up(l1), st->l2 = float_up(up(sqrt(l2)));
  st->ex = float_up(ex), st->ex2 = float_up(up(sqrt(ex2)));
  st->glinf = float_up(gamma_of(b->in) * linf);
}

static void quantize_rows(const gemm_bound *b, const float *x, int ldx, int n, uint8_t *u,
                          gemm_bound_row *st, int bound) {
  const size_t ldu = gemm_bound_row_bytes(b);
  for (int r = 0; r < n; r++) {
    uint8_t *ur = u + (size_t)r * ldu;
    if (bound)
      quantize_row_bound(b, x + (size_t)r * ldx, ur, &st[r]);
    else
      quantize_row_est(b, x + (size_t)r * ldx, ur, &st[r]);
    memset(ur + b->in, 128, ldu - (size_t)b->in);
  }
}

void gemm_bound_quantize_est(const gemm_bound *b, const float *x, int ldx, int n, uint8_t *u,
                             gemm_bound_row *st) {
  quantize_rows(b, x, ldx, n, u, st, 0);
}

void gemm_bound_quantize(const gemm_bound *b, const float *x, int ldx, int n, uint8_t *u,
                         gemm_bound_row *st) {
  quantize_rows(b, x, ldx, n, u, st, 1);
}

void gemm_bound_part(const gemm_bound *b, float *est, float *rad, int ld, const uint8_t *u,
                     const gemm_bound_row *st, int n, const float *bias, int p0, int p1) {
  _Alignas(64) int32_t acc[ROWS * COLS];
  const size_t ldu = gemm_bound_row_bytes(b);
  for (int p = p0; p < p1; p++) {
    const int8_t *q = b->Q + (size_t)p * b->in4 * COLS;
    const int c0 = p * COLS, cols = b->out - c0 < COLS ? b->out - c0 : COLS;
    for (int r0 = 0; r0 < n; r0 += ROWS) {
      const int R = n - r0 < ROWS ? n - r0 : ROWS;
      panel_sums(acc, u + (size_t)r0 * ldu, ldu, q, b->in4 / 4, R);
      for (int r = 0; r < R; r++)
        ends(est + (size_t)(r0 + r) * ld + c0, rad ? rad + (size_t)(r0 + r) * ld + c0 : NULL,
             acc + (size_t)r * COLS, b, c0, cols, bias, &st[r0 + r]);
    }
  }
}
