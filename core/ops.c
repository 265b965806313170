/* ops: float32 kernels (see ops.h). Fast versions use OpenBLAS for the matrix products and
 * OpenMP for everything else; the *_naive versions are plain loops with double
 * accumulation, used by the tests as references. op_linear goes through core/gemm.h
 * (oneDNN on packed weights, or OpenBLAS). The thread count of a call is
 * vlp_threads_current(), set per call by the caller's session. */
#include "core/ops.h"

/* Lets GCC if-convert the float compares in vlp_fast_expf and vectorise those loops;
 * it changes no result (only assumes floating-point exception flags are not inspected). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/attention.h"
#include "core/fast_exp.h"
#include "core/gemm.h"
#include "core/kernels.h"
#include "core/threads.h"
#include "vlp.h"

/* OpenBLAS's own pool would compete with OpenMP's: the attention products below run one
 * OpenBLAS thread per call inside our parallel region, set once (documented in vlp.h as
 * libvlp's one process-wide setting). */
static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static void blas_single_thread(void) {
  openblas_set_num_threads(1);
}

/* ---- linear ---------------------------------------------------------------------- */

void op_linear(float *y, const float *x, const float *W, const float *b, int n, int in, int out) {
  gemm_linear(y, x, W, b, n, in, out, GEMM_ACT_NONE, 0);
}

void op_linear_naive(float *y, const float *x, const float *W, const float *b, int n, int in,
                     int out) {
  for (int i = 0; i < n; i++) {
    for (int o = 0; o < out; o++) {
      double acc = b ? b[o] : 0.0;
      const float *xr = x + (size_t)i * in, *wr = W + (size_t)o * in;
      for (int k = 0; k < in; k++) acc += (double)xr[k] * wr[k];
      y[(size_t)i * out + o] = (float)acc;
    }
  }
}

/* ---- layernorm ------------------------------------------------------------------ */

void op_layernorm(float *y, const float *x, const float *g, const float *b, int n, int d,
                  float eps) {
  if (n <= 0 || d <= 0) return;
  void (*row)(float *, const float *, const float *, const float *, int, float) =
      vk_get()->layernorm_row;
  int nt = vlp_threads_current();
#pragma omp parallel for num_threads(nt) schedule(static) if ((size_t)n * d >= PAR_MIN)
  for (int i = 0; i < n; i++) row(y + (size_t)i * d, x + (size_t)i * d, g, b, d, eps);
}

void op_layernorm_naive(float *y, const float *x, const float *g, const float *b, int n, int d,
                        float eps) {
  for (int i = 0; i < n; i++) {
    const float *xr = x + (size_t)i * d;
    float *yr = y + (size_t)i * d;
    double mean = 0, var = 0;
    for (int j = 0; j < d; j++) mean += xr[j];
    mean /= d;
    for (int j = 0; j < d; j++) var += (xr[j] - mean) * (xr[j] - mean);
    var /= d;
    double inv = 1.0 / sqrt(var + eps);
    for (int j = 0; j < d; j++)
      yr[j] = (float)((xr[j] - mean) * inv * (g ? g[j] : 1.0) + (b ? b[j] : 0.0));
  }
}

/* ---- activations ---------------------------------------------------------------- */

/* f over n floats, in slices (multiples of 16) over the call's threads. */
static void elementwise(void (*f)(float *, size_t), float *x, size_t n) {
  int nt = vlp_threads_current();
  if (nt <= 1 || n < PAR_MIN) {
    f(x, n);
    return;
  }
#pragma omp parallel num_threads(nt)
  {
    size_t team = (size_t)omp_get_num_threads(), t = (size_t)omp_get_thread_num();
    size_t chunk = ((n + team - 1) / team + 15) / 16 * 16, a = t * chunk;
    if (a < n) f(x + a, n - a < chunk ? n - a : chunk);
  }
}

void op_gelu(float *x, size_t n) {
  elementwise(vk_get()->gelu, x, n);
}
void op_quick_gelu(float *x, size_t n) {
  elementwise(vk_get()->quick_gelu, x, n);
}
void op_gelu_tanh(float *x, size_t n) {
  elementwise(vk_get()->gelu_tanh, x, n);
}

void op_gelu_tanh_naive(float *x, size_t n) {
  for (size_t i = 0; i < n; i++) {
    double v = x[i];
    x[i] = (float)(0.5 * v * (1.0 + tanh(0.7978845608028654 * (v + 0.044715 * v * v * v))));
  }
}

void op_gelu_naive(float *x, size_t n) {
  for (size_t i = 0; i < n; i++) x[i] = (float)(0.5 * x[i] * (1.0 + erf(x[i] / sqrt(2.0))));
}

void op_quick_gelu_naive(float *x, size_t n) {
  for (size_t i = 0; i < n; i++) x[i] = (float)(x[i] / (1.0 + exp(-1.702 * (double)x[i])));
}

/* ---- softmax -------------------------------------------------------------------- */

void op_softmax(float *x, int rows, int cols) {
  if (rows <= 0 || cols <= 0) return;
  void (*row)(float *, int) = vk_get()->softmax_row;
  int nt = vlp_threads_current();
#pragma omp parallel for num_threads(nt) schedule(static) if ((size_t)rows * cols >= PAR_MIN)
  for (int i = 0; i < rows; i++) row(x + (size_t)i * cols, cols);
}

void op_softmax_naive(float *x, int rows, int cols) {
  for (int i = 0; i < rows; i++) {
    float *r = x + (size_t)i * cols;
    double m = -INFINITY, s = 0;
    for (int j = 0; j < cols; j++) m = r[j] > m ? r[j] : m;
    if (m == -INFINITY) {
      for (int j = 0; j < cols; j++) r[j] = 0;
      continue;
    }
    for (int j = 0; j < cols; j++) s += exp(r[j] - m);
    for (int j = 0; j < cols; j++) r[j] = (float)(exp(r[j] - m) / s);
  }
}

/* ---- small elementwise ops ------------------------------------------------------ */

void op_add(float *y, const float *x, size_t n) {
  void (*add)(float *, const float *, size_t) = vk_get()->add;
  int nt = vlp_threads_current();
  if (nt <= 1 || n < PAR_MIN / 2) { /* two streams of memory per element: split sooner */
    add(y, x, n);
    return;
  }
#pragma omp parallel num_threads(nt)
  {
    size_t team = (size_t)omp_get_num_threads(), t = (size_t)omp_get_thread_num();
    size_t chunk = ((n + team - 1) / team + 15) / 16 * 16, a = t * chunk;
    if (a < n) add(y + a, x + a, n - a < chunk ? n - a : chunk);
  }
}

/* ids are trusted: the caller has checked them against the table's row count. */
void op_embedding(float *y, const float *table, const int *ids, int n, int d) {
  for (int i = 0; i < n; i++)
    memcpy(y + (size_t)i * d, table + (size_t)ids[i] * d, (size_t)d * sizeof *y);
}

void op_l2_normalize(float *x, int n, int d) {
  for (int i = 0; i < n; i++) {
    float *r = x + (size_t)i * d;
    double s = 0;
    for (int j = 0; j < d; j++) s += (double)r[j] * r[j];
    float norm = (float)sqrt(s);
    if (norm < 1e-12f) norm = 1e-12f;
    for (int j = 0; j < d; j++) r[j] /= norm;
  }
}

/* ---- attention ------------------------------------------------------------------ */

static float dot(const float *a, const float *b, int n) {
  float s = 0;
#pragma omp simd reduction(+ : s)
  for (int k = 0; k < n; k++) s += a[k] * b[k];
  return s;
}

/* Scores held on the stack per row up to this many keys; longer rows recompute the dot
 * products in a second pass instead of allocating. */
#define ROW_KEYS_MAX 2048

/* One query row of one head: o (hd) = softmax(q.K^T * scale + mask) V over keys [0, lim).
 * qr/o point at the head's slice; K/V at the head's first key row, rows ld floats apart. */
static void attn_row(float *o, const float *qr, const float *K, const float *V, const float *mask,
                     int lim, int hd, int ld, float scale) {
  float sc[ROW_KEYS_MAX];
  int keep = lim <= ROW_KEYS_MAX;
  float m = -INFINITY;
  for (int j = 0; j < lim; j++) {
    float t = dot(qr, K + (size_t)j * ld, hd) * scale + (mask ? mask[j] : 0.0f);
    if (keep) sc[j] = t;
    if (t > m) m = t;
  }
  memset(o, 0, (size_t)hd * sizeof *o);
  if (m == -INFINITY) return; /* nothing visible: zeros rather than NaN */
  double sum = 0;
  if (keep) { /* the weights, then their sum of value rows with the sums in registers */
    for (int j = 0; j < lim; j++) {
      sc[j] = vlp_fast_expf(sc[j] - m);
      sum += sc[j];
    }
    vk_get()->weighted_rows(o, sc, V, lim, hd, ld);
  } else {
    for (int j = 0; j < lim; j++) {
      float t = dot(qr, K + (size_t)j * ld, hd) * scale + (mask ? mask[j] : 0.0f);
      float p = vlp_fast_expf(t - m);
      sum += p;
      const float *vr = V + (size_t)j * ld;
      for (int c = 0; c < hd; c++) o[c] += p * vr[c];
    }
  }
  float inv = (float)(1.0 / sum);
  for (int c = 0; c < hd; c++) o[c] *= inv;
}

/* Row task r of B * H * Tq: query row i of head h of item b. */
static void attention_row_task(float *out, const float *q, const float *k, const float *v,
                               const op_attn_shape *s, float scale, long r) {
  const int H = s->H, Tq = s->Tq, hd = s->hd, D = H * hd, ld = op_attn_ld(s);
  int i = (int)(r % Tq), h = (int)(r / Tq % H), b = (int)(r / Tq / H);
  size_t oo = ((size_t)b * Tq + i) * D + (size_t)h * hd;
  size_t qo = ((size_t)b * Tq + i) * ld + (size_t)h * hd;
  size_t ko = (size_t)b * s->kv_cap * ld + (size_t)h * hd;
  attn_row(out + oo, q + qo, k + ko, v + ko, s->mask ? s->mask + (size_t)b * s->Tk : NULL,
           op_attn_visible(s, i), hd, ld, scale);
}

/* One query row over few keys (decoding): every (b, h, i) row is independent, plain C in
 * parallel. */
static void attention_rows(float *out, const float *q, const float *k, const float *v,
                           const op_attn_shape *s, float scale) {
  const long total = (long)s->B * s->H * s->Tq;
  int nt = vlp_threads_current();
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1 && !attention_alone(total, s))
  for (long r = 0; r < total; r++) attention_row_task(out, q, k, v, s, scale, r);
}

void op_attention_rows_part(float *out, const float *q, const float *k, const float *v,
                            const op_attn_shape *s, long r0, long r1) {
  float scale = 1.0f / sqrtf((float)s->hd);
  for (long r = r0; r < r1; r++) attention_row_task(out, q, k, v, s, scale, r);
}

/* Masked, causal-aware softmax of a (Tq, Tk) score block (already scaled). */
static void attn_softmax_block(float *S, const op_attn_shape *s, const float *mask) {
  const int Tq = s->Tq, Tk = s->Tk;
  for (int i = 0; i < Tq; i++) {
    float *r = S + (size_t)i * Tk;
    int lim = op_attn_visible(s, i);
    if (mask)
      for (int j = 0; j < lim; j++) r[j] += mask[j];
    for (int j = lim; j < Tk; j++) r[j] = -INFINITY; /* exp -> exactly 0 */
    vk_get()->softmax_row(r, Tk);
  }
}

/* The GEMM path (forced with op_attention_force, or for head sizes beyond the blocked
 * kernel): the (b, h) pairs in parallel, each with two single-threaded OpenBLAS GEMMs
 * (scores, weighted sum) around the softmax, in a (Tq, Tk) block per thread.
 * Returns 0 when the blocks cannot be allocated. */
static int attention_gemm(float *out, const float *q, const float *k, const float *v,
                          const op_attn_shape *s, float scale) {
  const int Tq = s->Tq, Tk = s->Tk, hd = s->hd, H = s->H, D = H * hd, ld = op_attn_ld(s);
  const int pairs = s->B * H;
  pthread_once(&blas_once, blas_single_thread);
  int nt = vlp_threads_current();
  if (nt > pairs) nt = pairs;
  size_t blk = (size_t)Tq * Tk;
  if (blk > SIZE_MAX / sizeof(float) / (size_t)nt) return 0;
  float *S = malloc(blk * (size_t)nt * sizeof *S); /* nt x (Tq, Tk) */
  if (!S) return 0;
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int p = 0; p < pairs; p++) {
    int b = p / H, h = p % H;
    float *Sb = S + blk * (size_t)omp_get_thread_num();
    const float *qb = q + (size_t)b * Tq * ld + (size_t)h * hd;
    const float *kb = k + (size_t)b * s->kv_cap * ld + (size_t)h * hd;
    const float *vb = v + (size_t)b * s->kv_cap * ld + (size_t)h * hd;
    float *ob = out + (size_t)b * Tq * D + (size_t)h * hd;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Tq, Tk, hd, scale, qb, ld, kb, ld, 0.0f,
                Sb, Tk);
    attn_softmax_block(Sb, s, s->mask ? s->mask + (size_t)b * Tk : NULL);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Tq, hd, Tk, 1.0f, Sb, Tk, vb, ld, 0.0f,
                ob, D);
  }
  free(S);
  return 1;
}

/* A single query row attends row by row over fewer keys than this (the decoder's
 * self-attention); everything else goes through the blocked one-pass kernel
 * (core/attention.c), faster there than rows and than the GEMM path (bench_ops). */
#define ATTN_ROWS_MAX_TK 256

/* The forced attention path (op_attention_force, VLP_ATTN); ATTN_AUTO chooses by shape. */
enum { ATTN_AUTO, ATTN_BLOCKED, ATTN_GEMM, ATTN_ROWS };
static const char *const attn_paths[] = {"auto", "blocked", "gemm", "rows"};
static _Atomic int attn_path = -1; /* -1: VLP_ATTN not read yet */

int op_attention_force(const char *name) {
  for (int i = 0; i < 4; i++)
    if (name && strcmp(name, attn_paths[i]) == 0) {
      attn_path = i;
      return 1;
    }
  return 0;
}

/* The path op_attention takes for s (VLP_ATTN read at the first call). */
static int attention_path(const op_attn_shape *s) {
  if (attn_path < 0 && !op_attention_force(getenv("VLP_ATTN"))) attn_path = ATTN_AUTO;
  int path = attn_path;
  if (path == ATTN_AUTO) path = s->Tq == 1 && s->Tk < ATTN_ROWS_MAX_TK ? ATTN_ROWS : ATTN_BLOCKED;
  return path;
}

int op_attention_is_blocked(const op_attn_shape *s) {
  return s->Tk > 0 && s->hd <= ATTN_HD_MAX && attention_path(s) == ATTN_BLOCKED;
}

void op_attention(float *out, const float *q, const float *k, const float *v,
                  const op_attn_shape *s) {
  if (s->B <= 0 || s->H <= 0 || s->Tq <= 0 || s->hd <= 0) return;
  float scale = 1.0f / sqrtf((float)s->hd);
  if (s->Tk <= 0) { /* nothing to attend to */
    memset(out, 0, (size_t)s->B * s->Tq * s->H * s->hd * sizeof *out);
    return;
  }
  int path = attention_path(s);
  if (path == ATTN_BLOCKED && attention_blocked(out, q, k, v, s)) return;
  if (path != ATTN_ROWS && attention_gemm(out, q, k, v, s, scale)) return; /* hd too large */
  attention_rows(out, q, k, v, s, scale); /* also the fallback when malloc fails */
}

void op_attention_naive(float *out, const float *q, const float *k, const float *v,
                        const op_attn_shape *s) {
  const int H = s->H, Tq = s->Tq, Tk = s->Tk, hd = s->hd, D = H * hd, ld = op_attn_ld(s);
  double scale = 1.0 / sqrt((double)hd);
  double *p = malloc((size_t)(Tk > 0 ? Tk : 1) * sizeof *p);
  if (!p) return;
  for (int b = 0; b < s->B; b++)
    for (int h = 0; h < H; h++)
      for (int i = 0; i < Tq; i++) {
        const float *qr = q + ((size_t)b * Tq + i) * ld + (size_t)h * hd;
        float *o = out + ((size_t)b * Tq + i) * D + (size_t)h * hd;
        int lim = op_attn_visible(s, i);
        double m = -INFINITY;
        for (int j = 0; j < lim; j++) {
          const float *kr = k + ((size_t)b * s->kv_cap + j) * ld + (size_t)h * hd;
          double t = 0;
          for (int c = 0; c < hd; c++) t += (double)qr[c] * kr[c];
          t = t * scale + (s->mask ? s->mask[(size_t)b * Tk + j] : 0.0);
          p[j] = t;
          if (t > m) m = t;
        }
        double sum = 0;
        for (int j = 0; j < lim; j++) {
          p[j] = m == -INFINITY ? 0.0 : exp(p[j] - m);
          sum += p[j];
        }
        for (int c = 0; c < hd; c++) {
          double acc = 0;
          for (int j = 0; j < lim; j++)
            acc += p[j] * v[((size_t)b * s->kv_cap + j) * ld + (size_t)h * hd + c];
          o[c] = sum > 0 ? (float)(acc / sum) : 0.0f;
        }
      }
  free(p);
}
