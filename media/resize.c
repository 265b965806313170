/* resize: Pillow 9.4-exact resampling of 8-bit RGB images (Image.resize, reducing_gap=None)
 * and crop.
 *
 * The algorithm (Pillow's separable convolution resampler, re-implemented here):
 *   - per axis, scale = in / out; the filter is stretched by max(scale, 1) so downscaling
 *     averages (antialiasing); output pixel i is centred at (i + 0.5) * scale in input
 *     coordinates and takes input pixels [(int)(c - support + 0.5), (int)(c + support + 0.5))
 *     clamped to the image, weighted by filter((j - c + 0.5) / filterscale), normalised to
 *     sum 1 in double precision;
 *   - weights become fixed point with 22 fractional bits (rounded half away from zero);
 *   - each output value = (2^21 + sum(pixel * weight)) >> 22, clamped to 0..255, summed in
 *     32-bit integers as Pillow does (exact: the sums cannot overflow), so in any order;
 *   - the horizontal pass runs first (only over the rows the vertical pass will read) into
 *     an 8-bit intermediate image, then the vertical pass; an axis whose size does not change
 *     is skipped.
 * The double-precision expressions are evaluated in the same order as Pillow so the weights,
 * and hence the uint8 results, are bit-identical. NEAREST follows Pillow's affine scaling. */
#include "media/resize.h"

#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/kernels.h"
#include "core/threads.h"
#include "media/image.h"

#define PREC_BITS 22  // fractional bits of the fixed-point weights (32 - 8 - 2)
/* A pass of fewer multiply-adds runs on one thread (a team costs ~10-50 us to wake). */
#define PASS_PAR_MIN ((size_t)1 << 20)

static double f_box(double x) {
  return (x > -0.5 && x <= 0.5) ? 1.0 : 0.0;
}

static double f_bilinear(double x) {
  if (x < 0.0) x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

static double f_bicubic(double x) {  // cubic convolution, a = -0.5
  const double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

static double f_hamming(double x) {
  if (x < 0.0) x = -x;
  if (x == 0.0) return 1.0;
  if (x >= 1.0) return 0.0;
  x = x * M_PI;
  return sin(x) / x * (0.54f + 0.46f * cos(x));  // float constants, as Pillow has them
}

static double sinc(double x) {
  if (x == 0.0) return 1.0;
  x = x * M_PI;
  return sin(x) / x;
}

static double f_lanczos(double x) {  // 3-lobed
  return (-3.0 <= x && x < 3.0) ? sinc(x) * sinc(x / 3) : 0.0;
}

typedef struct {
  double (*fn)(double);
  double support;
} filter_def;

static int get_filter(resample_filter f, filter_def *d) {
  switch (f) {
    case RESAMPLE_BOX:
      *d = (filter_def){f_box, 0.5};
      return 1;
    case RESAMPLE_BILINEAR:
      *d = (filter_def){f_bilinear, 1.0};
      return 1;
    case RESAMPLE_HAMMING:
      *d = (filter_def){f_hamming, 1.0};
      return 1;
    case RESAMPLE_BICUBIC:
      *d = (filter_def){f_bicubic, 2.0};
      return 1;
    case RESAMPLE_LANCZOS:
      *d = (filter_def){f_lanczos, 3.0};
      return 1;
    default:
      return 0;
  }
}

/* Weights of one axis: for output i, first input index start[i], count n[i], and
 * ksize fixed-point weights at k[i * ksize]. */
typedef struct {
  int ksize;
  int *start, *n;  // (out)
  int32_t *k;      // (out, ksize)
} axis_coeffs;

static void coeffs_free(axis_coeffs *a) {
  free(a->start);
  free(a->n);
  free(a->k);
  memset(a, 0, sizeof *a);
}

static vlp_status coeffs_make(int in_size, int out_size, const filter_def *fd, axis_coeffs *a) {
  memset(a, 0, sizeof *a);
  double scale = (double)(float)in_size / out_size;  // Pillow: (double)(box1 - box0) in float
  double filterscale = scale < 1.0 ? 1.0 : scale;
  double support = fd->support * filterscale;
  double ks = ceil(support) * 2 + 1;
  if (ks > 1e6 || ks * out_size > 1e9) return vlp_fail(VLP_ERR_NOMEM, "resize: filter too large");
  int ksize = (int)ks;
  double *w = malloc(sizeof(double) * ksize);
  a->ksize = ksize;
  a->start = malloc(sizeof(int) * out_size);
  a->n = malloc(sizeof(int) * out_size);
  a->k = malloc(sizeof(int32_t) * (size_t)ksize * out_size);
  if (!w || !a->start || !a->n || !a->k) {
    free(w);
    coeffs_free(a);
    return vlp_fail(VLP_ERR_NOMEM, "resize: out of memory for filter weights");
  }
  for (int i = 0; i < out_size; i++) {
    double center = (i + 0.5) * scale;
    double inv = 1.0 / filterscale;
    int lo = (int)(center - support + 0.5);  // truncation toward zero, as Pillow
    if (lo < 0) lo = 0;
    int hi = (int)(center + support + 0.5);
    if (hi > in_size) hi = in_size;
    int cnt = hi - lo;
    if (cnt > ksize) cnt = ksize;  // cannot happen; keeps writes in bounds
    if (cnt < 0) cnt = 0;
    double sum = 0.0;
    for (int j = 0; j < cnt; j++) {
      w[j] = fd->fn((j + lo - center + 0.5) * inv);
      sum += w[j];
    }
    int32_t *k = a->k + (size_t)i * ksize;
    for (int j = 0; j < ksize; j++) {
      double v = j < cnt ? (sum != 0.0 ? w[j] / sum : w[j]) : 0.0;
      k[j] = (int32_t)(v < 0 ? -0.5 + v * (1 << PREC_BITS) : 0.5 + v * (1 << PREC_BITS));
    }
    a->start[i] = lo;
    a->n[i] = cnt;
  }
  free(w);
  return VLP_OK;
}

/* Pillow accumulates in 32-bit ints: |pixel * weight| summed stays below 2^31 (weights
 * have 22 fractional bits and sum to 1 with small negative lobes). */
static inline uint8_t clip_fixed(int32_t acc) {
  if (acc < 0) return 0;
  int32_t v = acc >> PREC_BITS;
  return v > 255 ? 255 : (uint8_t)v;
}

/* Vertical pass over output rows [y0, y1): src rows are shifted by row0 (the horizontal
 * pass kept only those used). acc: one row of sums, taps outermost so the row loop
 * vectorises. */
static inline __attribute__((always_inline)) void pass_v_body(const vlp_image *src, int row0,
                                                              const axis_coeffs *a, vlp_image *dst,
                                                              int32_t *acc, int y0, int y1) {
  size_t stride = (size_t)src->w * 3;
  for (int y = y0; y < y1; y++) {
    const int32_t *k = a->k + (size_t)y * a->ksize;
    const uint8_t *s = src->rgb + (size_t)(a->start[y] - row0) * stride;
    uint8_t *d = dst->rgb + (size_t)y * stride;
    for (size_t x = 0; x < stride; x++) acc[x] = 1 << (PREC_BITS - 1);
    for (int j = 0; j < a->n[y]; j++) {
      const uint8_t *sj = s + j * stride;
      int32_t kj = k[j];
      for (size_t x = 0; x < stride; x++) acc[x] += sj[x] * kj;
    }
    for (size_t x = 0; x < stride; x++) d[x] = clip_fixed(acc[x]);
  }
}

/* The same loops compiled for each kernel path of core/kernels.h (not target_clones: its
 * ifunc resolvers run before a sanitizer's runtime is up). */
static void pass_v_generic(const vlp_image *src, int row0, const axis_coeffs *a, vlp_image *dst,
                           int32_t *acc, int y0, int y1) {
  pass_v_body(src, row0, a, dst, acc, y0, y1);
}

#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_PASS_V_X86 1
__attribute__((target("avx2"))) static void pass_v_avx2(const vlp_image *src, int row0,
                                                        const axis_coeffs *a, vlp_image *dst,
                                                        int32_t *acc, int y0, int y1) {
  pass_v_body(src, row0, a, dst, acc, y0, y1);
}

__attribute__((target("avx512f,avx512bw"))) static void pass_v_avx512(const vlp_image *src,
                                                                      int row0,
                                                                      const axis_coeffs *a,
                                                                      vlp_image *dst, int32_t *acc,
                                                                      int y0, int y1) {
  pass_v_body(src, row0, a, dst, acc, y0, y1);
}
#endif

/* Threads for a pass of `macs` multiply-adds over `rows` output rows: the call's threads
 * (core/threads.h) for a large image resized alone; one inside a parallel region (the images
 * of a batch are already prepared in parallel) or for small work. */
static int pass_threads(size_t macs, int rows) {
  int nt = vlp_threads_current();
  if (omp_in_parallel() || macs < PASS_PAR_MIN) return 1;
  return nt < rows ? nt : rows;
}

/* Rows [y0, y1) of thread t of nt over `rows`. */
static void row_range(int rows, int t, int nt, int *y0, int *y1) {
  *y0 = (int)((long)rows * t / nt);
  *y1 = (int)((long)rows * (t + 1) / nt);
}

static vlp_status pass_v(const vlp_image *src, int row0, const axis_coeffs *a, vlp_image *dst) {
  int nt = pass_threads((size_t)dst->h * dst->w * 3 * (size_t)a->ksize, dst->h);
  int32_t *acc = malloc((size_t)nt * dst->w * 3 * sizeof *acc);
  if (!acc) return vlp_fail(VLP_ERR_NOMEM, "resize: out of memory");
#ifdef HAVE_PASS_V_X86
  const char *path = vk_get()->name;
  void (*f)(const vlp_image *, int, const axis_coeffs *, vlp_image *, int32_t *, int, int) =
      strcmp(path, "avx512") == 0 ? pass_v_avx512
      : strcmp(path, "avx2") == 0 ? pass_v_avx2
                                  : pass_v_generic;
#else
  void (*f)(const vlp_image *, int, const axis_coeffs *, vlp_image *, int32_t *, int, int) =
      pass_v_generic;
#endif
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    int t = omp_get_thread_num(), y0, y1;
    row_range(dst->h, t, omp_get_num_threads(), &y0, &y1);
    f(src, row0, a, dst, acc + (size_t)t * dst->w * 3, y0, y1);
  }
  free(acc);
  return VLP_OK;
}

/* Horizontal pass over output rows [y0, y1) (source rows shifted by row0), one pixel at a
 * time (any CPU). */
static void pass_h_scalar(const vlp_image *src, int row0, const axis_coeffs *a, vlp_image *dst,
                          int y0, int y1) {
  for (int y = y0; y < y1; y++) {
    const uint8_t *s = src->rgb + (size_t)(y + row0) * src->w * 3;
    uint8_t *d = dst->rgb + (size_t)y * dst->w * 3;
    for (int x = 0; x < dst->w; x++) {
      const int32_t *k = a->k + (size_t)x * a->ksize;
      const uint8_t *p = s + (size_t)a->start[x] * 3;
      int32_t r = 1 << (PREC_BITS - 1), g = r, b = r;
      for (int j = 0; j < a->n[x]; j++) {
        r += p[3 * j] * k[j];
        g += p[3 * j + 1] * k[j];
        b += p[3 * j + 2] * k[j];
      }
      d[3 * x] = clip_fixed(r);
      d[3 * x + 1] = clip_fixed(g);
      d[3 * x + 2] = clip_fixed(b);
    }
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_PASS_H_AVX512 1
/* Source rows filtered at once by pass_h_avx512: each weight vector is loaded once for all
 * of them (the weights of a row of output pixels, 4 x 4 bytes per tap, outgrow L1). */
#define PASS_H_ROWS 4

/* The same with AVX-512: each row widened to 4 bytes per pixel (zeros after its end) and
 * the weights to 4 per tap, padded with zero taps to a multiple of 4, so one 16-lane
 * multiply-add covers 4 taps x 4 channels. Integer sums: the same values in any order. */

/* Four pixels' partial sums a, b, c, d -> their (r, g, b, 0) totals in 128-bit lanes 0..3. */
__attribute__((target("avx512f"))) static inline __m512i pixel_totals(__m512i a, __m512i b,
                                                                      __m512i c, __m512i d) {
  __m512i ab = _mm512_add_epi32(_mm512_shuffle_i32x4(a, b, 0x44), _mm512_shuffle_i32x4(a, b, 0xEE));
  __m512i cd = _mm512_add_epi32(_mm512_shuffle_i32x4(c, d, 0x44), _mm512_shuffle_i32x4(c, d, 0xEE));
  return _mm512_add_epi32(_mm512_shuffle_i32x4(ab, cd, 0x88), _mm512_shuffle_i32x4(ab, cd, 0xDD));
}

/* The 4 x (r, g, b, 0) partial sums of one output pixel in each of R source rows (widened,
 * its taps from offset o in each): each weight vector is loaded once for all the rows. R is
 * a constant at every call. */
__attribute__((target("avx512f"))) static inline __attribute__((always_inline)) void
pixel_sums_rows(uint8_t *const *rows, size_t o, const int32_t *k, int n4, __m512i *sum,
                const int R) {
  for (int r = 0; r < R; r++) sum[r] = _mm512_setzero_si512();
  for (int j = 0; j < n4 * 4; j += 16) {
    __m512i kk = _mm512_loadu_si512(k + j);
    for (int r = 0; r < R; r++) {
      __m512i px = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(rows[r] + o + j)));
      sum[r] = _mm512_add_epi32(sum[r], _mm512_mullo_epi32(px, kk));
    }
  }
}

/* Source row s (w pixels of RGB) as (r, g, b, 0) x 4 bytes in row4 (zeros after its end). */
__attribute__((target("avx512f"))) static void widen_row(uint8_t *row4, const uint8_t *s, int w) {
  /* 12 bytes of RGB -> (r, g, b, 0) x 4 */
  const __m128i wide = _mm_setr_epi8(0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1);
  int x = 0;
  for (; 3 * x + 16 <= 3 * w; x += 4) /* 4 pixels per shuffle, no read past the row */
    _mm_storeu_si128((__m128i *)(row4 + 4 * x),
                     _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(s + 3 * x)), wide));
  for (; x < w; x++)
    row4[4 * x] = s[3 * x], row4[4 * x + 1] = s[3 * x + 1], row4[4 * x + 2] = s[3 * x + 2];
}

/* Four output pixels' (r, g, b) from their partial sums: one rounding, shift, clamp. */
__attribute__((target("avx512f"))) static inline void store4(uint8_t *d, __m512i s0, __m512i s1,
                                                             __m512i s2, __m512i s3) {
  const int32_t half = 1 << (PREC_BITS - 1);
  /* (r, g, b, 0) x 4 bytes -> 12 bytes of RGB */
  const __m128i rgb = _mm_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
  __m512i v = pixel_totals(s0, s1, s2, s3);
  v = _mm512_srai_epi32(_mm512_add_epi32(v, _mm512_set1_epi32(half)), PREC_BITS);
  v = _mm512_max_epi32(v, _mm512_setzero_si512());              /* clip_fixed: < 0 -> 0 */
  __m128i b = _mm_shuffle_epi8(_mm512_cvtusepi32_epi8(v), rgb); /* > 255 -> 255 */
  _mm_storel_epi64((__m128i *)d, b);
  uint32_t last = (uint32_t)_mm_extract_epi32(b, 2);
  memcpy(d + 8, &last, 4);
}

/* One output pixel's (r, g, b) from its partial sums. */
__attribute__((target("avx512f"))) static inline void store1(uint8_t *d, __m512i sum) {
  const int32_t half = 1 << (PREC_BITS - 1);
  int32_t t[16];
  _mm512_storeu_si512(t, sum);
  d[0] = clip_fixed(half + t[0] + t[4] + t[8] + t[12]);
  d[1] = clip_fixed(half + t[1] + t[5] + t[9] + t[13]);
  d[2] = clip_fixed(half + t[2] + t[6] + t[10] + t[14]);
}

/* Output rows y.. y+R-1 from the widened source rows. R is a constant at every call. */
__attribute__((target("avx512f"))) static inline __attribute__((always_inline)) void h_rows(
    uint8_t *const *rows, const axis_coeffs *a, vlp_image *dst, const int32_t *k4, int n4, int y,
    const int R) {
  const size_t dw = (size_t)dst->w * 3;
  uint8_t *d = dst->rgb + (size_t)y * dw;
  int x = 0;
  for (; x + 4 <= dst->w; x += 4) { /* four pixels per step: one rounding, shift, clamp */
    __m512i sum[4][PASS_H_ROWS];
    for (int i = 0; i < 4; i++)
      pixel_sums_rows(rows, (size_t)a->start[x + i] * 4, k4 + (size_t)(x + i) * n4 * 4, n4, sum[i],
                      R);
    for (int r = 0; r < R; r++)
      store4(d + r * dw + 3 * x, sum[0][r], sum[1][r], sum[2][r], sum[3][r]);
  }
  for (; x < dst->w; x++) {
    __m512i sum[PASS_H_ROWS];
    pixel_sums_rows(rows, (size_t)a->start[x] * 4, k4 + (size_t)x * n4 * 4, n4, sum, R);
    for (int r = 0; r < R; r++) store1(d + r * dw + 3 * x, sum[r]);
  }
}

/* Output rows [y0, y1), PASS_H_ROWS at a time (rows4: that many widened rows, r4 bytes
 * apart), then the rest one by one. */
__attribute__((target("avx512f"))) static void pass_h_avx512(const vlp_image *src, int row0,
                                                             const axis_coeffs *a, vlp_image *dst,
                                                             uint8_t *rows4, size_t r4,
                                                             const int32_t *k4, int n4, int y0,
                                                             int y1) {
  const size_t sw = (size_t)src->w * 3;
  uint8_t *rows[PASS_H_ROWS];
  for (int r = 0; r < PASS_H_ROWS; r++) rows[r] = rows4 + r * r4;
  int y = y0;
  for (; y + PASS_H_ROWS <= y1; y += PASS_H_ROWS) {
    for (int r = 0; r < PASS_H_ROWS; r++)
      widen_row(rows[r], src->rgb + (size_t)(y + r + row0) * sw, src->w);
    h_rows(rows, a, dst, k4, n4, y, PASS_H_ROWS);
  }
  for (; y < y1; y++) {
    widen_row(rows[0], src->rgb + (size_t)(y + row0) * sw, src->w);
    h_rows(rows, a, dst, k4, n4, y, 1);
  }
}
#endif

/* Horizontal pass: rows [row0, row0 + dst->h) of src into dst (dst->w wide). */
static vlp_status pass_h(const vlp_image *src, int row0, const axis_coeffs *a, vlp_image *dst) {
  int nt = pass_threads((size_t)dst->h * dst->w * 3 * (size_t)a->ksize, dst->h);
#ifdef HAVE_PASS_H_AVX512
  if (strcmp(vk_get()->name, "avx512") != 0) /* core/kernels.h's choice (VLP_KERNELS) */
#endif
  {
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
      int y0, y1;
      row_range(dst->h, omp_get_thread_num(), omp_get_num_threads(), &y0, &y1);
      pass_h_scalar(src, row0, a, dst, y0, y1);
    }
    return VLP_OK;
  }
  const int n4 = (a->ksize + 3) / 4 * 4; /* taps, padded */
  const size_t r4 = ((size_t)src->w + n4) * 4;
  uint8_t *row4 = calloc((size_t)nt * PASS_H_ROWS, r4); /* widened rows per thread */
  int32_t *k4 = calloc((size_t)dst->w * n4 * 4, sizeof *k4);
  if (!row4 || !k4) {
    free(row4), free(k4);
    return vlp_fail(VLP_ERR_NOMEM, "resize: out of memory");
  }
  for (int x = 0; x < dst->w; x++)
    for (int j = 0; j < a->n[x]; j++)
      for (int c = 0; c < 3; c++) k4[((size_t)x * n4 + j) * 4 + c] = a->k[(size_t)x * a->ksize + j];
#ifdef HAVE_PASS_H_AVX512
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    int t = omp_get_thread_num(), y0, y1;
    row_range(dst->h, t, omp_get_num_threads(), &y0, &y1);
    pass_h_avx512(src, row0, a, dst, row4 + (size_t)t * PASS_H_ROWS * r4, r4, k4, n4, y0, y1);
  }
#endif
  free(row4), free(k4);
  return VLP_OK;
}

/* Pillow's NEAREST resize (an affine scale): source index = (int)(offset), where the offset
 * starts at scale / 2 and is advanced by repeated addition of scale. */
static void nearest_index(int in_size, int out_size, int *idx) {
  double scale = (double)(float)in_size / out_size;
  double o = scale * 0.5;
  for (int i = 0; i < out_size; i++) {
    int v = o < 0.0 ? -1 : (int)o;
    idx[i] = v < 0 ? 0 : (v >= in_size ? in_size - 1 : v);
    o += scale;
  }
}

static vlp_status resize_nearest(const vlp_image *src, vlp_image *dst) {
  int *xi = malloc(sizeof(int) * dst->w), *yi = malloc(sizeof(int) * dst->h);
  if (!xi || !yi) {
    free(xi);
    free(yi);
    return vlp_fail(VLP_ERR_NOMEM, "resize: out of memory");
  }
  nearest_index(src->w, dst->w, xi);
  nearest_index(src->h, dst->h, yi);
  for (int y = 0; y < dst->h; y++)
    for (int x = 0; x < dst->w; x++)
      memcpy(dst->rgb + ((size_t)y * dst->w + x) * 3,
             src->rgb + ((size_t)yi[y] * src->w + xi[x]) * 3, 3);
  free(xi);
  free(yi);
  return VLP_OK;
}

/* Axis weights a seen from output index i0 on: the weights of a window that starts there. */
static axis_coeffs coeffs_from(const axis_coeffs *a, int i0) {
  return (axis_coeffs){a->ksize, a->start + i0, a->n + i0, a->k + (size_t)i0 * a->ksize};
}

vlp_status image_resize(const vlp_image *src, int w, int h, resample_filter f, vlp_image *dst) {
  if (!src || !src->rgb || src->w <= 0 || src->h <= 0 || !dst)
    return vlp_fail(VLP_ERR_INVALID, "resize: empty source image");
  vlp_image out;
  vlp_status st = image_alloc(&out, w, h);
  if (st != VLP_OK) return vlp_fail_prefix(st, "resize to %dx%d", w, h);
  if (w == src->w && h == src->h) {  // Pillow returns a copy
    memcpy(out.rgb, src->rgb, (size_t)w * h * 3);
    *dst = out;
    return VLP_OK;
  }
  if (f == RESAMPLE_NEAREST) {
    st = resize_nearest(src, &out);
    if (st != VLP_OK) {
      vlp_image_free(&out);
      return st;
    }
    *dst = out;
    return VLP_OK;
  }
  filter_def fd;
  if (!get_filter(f, &fd)) {
    vlp_image_free(&out);
    return vlp_fail(VLP_ERR_INVALID, "resize: unknown resampling filter %d", (int)f);
  }
  axis_coeffs ax = {0}, ay = {0};
  vlp_image tmp = {0};
  int need_h = w != src->w, need_v = h != src->h;
  st = coeffs_make(src->h, h, &fd, &ay);
  if (st != VLP_OK) goto fail;
  const vlp_image *cur = src;
  int row0 = 0;
  if (need_h) {
    st = coeffs_make(src->w, w, &fd, &ax);
    if (st != VLP_OK) goto fail;
    // Only rows the vertical pass reads: [first used, last used).
    row0 = ay.start[0];
    int row1 = ay.start[h - 1] + ay.n[h - 1];
    if (!need_v) row0 = 0, row1 = src->h;
    if (need_v) {
      st = image_alloc(&tmp, w, row1 - row0);
      if (st != VLP_OK) goto fail;
      st = pass_h(src, row0, &ax, &tmp);
      if (st != VLP_OK) goto fail;
      cur = &tmp;
    } else {
      st = pass_h(src, 0, &ax, &out);
      if (st != VLP_OK) goto fail;
    }
  }
  if (need_v) {
    st = pass_v(cur, cur == src ? 0 : row0, &ay, &out);
    if (st != VLP_OK) goto fail;
  }
  coeffs_free(&ax);
  coeffs_free(&ay);
  vlp_image_free(&tmp);
  *dst = out;
  return VLP_OK;
fail:
  coeffs_free(&ax);
  coeffs_free(&ay);
  vlp_image_free(&tmp);
  vlp_image_free(&out);
  return st;
}

vlp_status image_resize_window(const vlp_image *src, int w, int h, resample_filter f, int left,
                               int top, int cw, int ch, vlp_image *dst) {
  if (!src || !src->rgb || src->w <= 0 || src->h <= 0 || !dst)
    return vlp_fail(VLP_ERR_INVALID, "resize: empty source image");
  if (left < 0 || top < 0 || cw <= 0 || ch <= 0 || left > w - cw || top > h - ch)
    return vlp_fail(VLP_ERR_INVALID, "resize: window (%d, %d, %dx%d) outside %dx%d", left, top, cw,
                    ch, w, h);
  if (w == src->w && h == src->h) return image_crop(src, left, top, cw, ch, dst);
  filter_def fd;
  /* Both axes filtered: each pass computes the window's pixels only. Otherwise (NEAREST,
   * one axis) the whole image, then the window. */
  if (w == src->w || h == src->h || f == RESAMPLE_NEAREST || !get_filter(f, &fd)) {
    vlp_image full;
    vlp_status st = image_resize(src, w, h, f, &full);
    if (st != VLP_OK) return st;
    st = image_crop(&full, left, top, cw, ch, dst);
    vlp_image_free(&full);
    return st;
  }
  axis_coeffs ax = {0}, ay = {0};
  vlp_image tmp = {0}, out = {0};
  vlp_status st = coeffs_make(src->w, w, &fd, &ax);
  if (st == VLP_OK) st = coeffs_make(src->h, h, &fd, &ay);
  if (st == VLP_OK) {
    axis_coeffs wx = coeffs_from(&ax, left), wy = coeffs_from(&ay, top);
    int row0 = wy.start[0], row1 = wy.start[ch - 1] + wy.n[ch - 1];
    st = image_alloc(&tmp, cw, row1 - row0);
    if (st == VLP_OK) st = pass_h(src, row0, &wx, &tmp);
    if (st == VLP_OK) st = image_alloc(&out, cw, ch);
    if (st == VLP_OK) st = pass_v(&tmp, row0, &wy, &out);
  }
  coeffs_free(&ax);
  coeffs_free(&ay);
  vlp_image_free(&tmp);
  if (st != VLP_OK) {
    vlp_image_free(&out);
    return st;
  }
  *dst = out;
  return VLP_OK;
}

vlp_status image_crop(const vlp_image *src, int left, int top, int w, int h, vlp_image *dst) {
  if (!src || !src->rgb || !dst) return vlp_fail(VLP_ERR_INVALID, "crop: empty source image");
  if (left < 0 || top < 0 || w <= 0 || h <= 0 || left > src->w - w || top > src->h - h)
    return vlp_fail(VLP_ERR_INVALID, "crop: box (%d, %d, %dx%d) outside the %dx%d image", left, top,
                    w, h, src->w, src->h);
  vlp_image out;
  vlp_status st = image_alloc(&out, w, h);
  if (st != VLP_OK) return vlp_fail_prefix(st, "crop");
  for (int y = 0; y < h; y++)
    memcpy(out.rgb + (size_t)y * w * 3, src->rgb + ((size_t)(top + y) * src->w + left) * 3,
           (size_t)w * 3);
  *dst = out;
  return VLP_OK;
}
