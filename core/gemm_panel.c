/* gemm_panel: the 64-column panel backend for few-row f32 products (gemm_panel.h). */
#include "core/gemm_panel.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/gemm_backend.h"
#include "core/kernels.h"
#include "core/threads.h"

#define COLS GEMM_PANEL_COLS
/* Rows that share one pass over a panel (their sums fill 16 of the 32 vector registers).
 * More rows (a batch-8 step) go over the panel in slices of KC inputs, each group of ROWS
 * rows in turn from L1, each prefetching its share of the next slice's lines (a pass from
 * cache does not stream by itself), so the memory streams while any group computes; the
 * partial sums wait in a small buffer between slices, stored and reloaded exactly, so
 * every sum still runs over k in order. The products of a batch-8 step of BLIP-base (alone,
 * 2 threads, team barriers): 43 GB/s when the last group alone prefetched the next 128-input
 * slice; shared prefetches, 128 inputs: 46; 64: 46-48; 32: 52-53; 16: 50-52. */
#define ROWS 4
#define BLOCK 16
#define LINES (COLS / 16) /* 64-byte lines in a panel's row of weights */
#define KC 32
/* Up to ROWS rows stream the panel from memory and prefetch AHEAD rows (2 KiB) in front
 * of them, into the next panel at its end: a batch-1 decoder step 7-10% faster than with
 * the hardware prefetcher alone (paired runs; 4 and 6 rows did as well, 12 less, 16 not),
 * which restarts at every panel. The prefetches are non-temporal (the weights are read
 * once per step; likely they then push less of what the step reads again, the image's
 * cross-attention keys and values, out of the outer caches): 20-token captions at batch 1
 * 2.2-2.6% faster than with T0 (in-process ABBA, medians of 10-12 quadruples; T1, and NTA
 * 4, 12 or 16 rows ahead, were slower), batch 8 the same. */
#define AHEAD 8

int gemm_panel_wanted(void) {
  return strcmp(vk_get()->name, "avx512") == 0;
}

vlp_status gemm_panel_pack(gemm_panel *g, const float *W, int out, int in) {
  memset(g, 0, sizeof *g);
  if (!W || out <= 0 || in <= 0) return vlp_fail(VLP_ERR_INVALID, "gemm: bad weight shape");
  g->out = out, g->in = in, g->panels = (out + COLS - 1) / COLS;
  const int np = g->panels;
  size_t bytes = (size_t)np * gemm_panel_bytes(g);
  float *P = gemm_weights_alloc(bytes);
  if (!P) {
    memset(g, 0, sizeof *g);
    return vlp_fail(VLP_ERR_NOMEM, "gemm: out of memory packing a %d x %d weight", out, in);
  }
  int nt = vlp_threads_current();
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1 && np > 1)
  for (int p = 0; p < np; p++) {
    float *pp = P + (size_t)p * in * COLS;
    for (int j = 0; j < COLS; j++) {
      int o = p * COLS + j;
      const float *w = W + (size_t)o * in;
      for (int k = 0; k < in; k++) pp[(size_t)k * COLS + j] = o < out ? w[k] : 0.0f;
    }
  }
  g->P = P;
  return VLP_OK;
}

void gemm_panel_free(gemm_panel *g) {
  if (g->P) gemm_weights_free(g->P, (size_t)g->panels * gemm_panel_bytes(g));
  memset(g, 0, sizeof *g);
}

/* ---- kernels: sums acc (R, 64) of R <= ROWS rows of x over in rows of a panel --------- */

/* more != 0: add onto the sums in acc (the panel's next slice), else start from zero;
 * pf: in rows to prefetch meanwhile, pfl 16-float lines from pf of each (NULL: none). */
typedef void (*panel_fn)(float *acc, const float *x, int ldx, const float *w, int in, int R,
                         int more, const float *pf, int pfl);

/* Plain C (the AVX2 and baseline paths): each (row, column) sum runs over k in order. */
#define PANEL_C(name, target)                                                                 \
  target static void name(float *acc, const float *x, int ldx, const float *w, int in, int R, \
                          int more, const float *pf, int pfl) {                               \
    (void)pf, (void)pfl;                                                                      \
    for (int r = 0; r < R; r++) {                                                             \
      float a[COLS] = {0};                                                                    \
      if (more) memcpy(a, acc + (size_t)r * COLS, sizeof a);                                  \
      const float *xr = x + (size_t)r * ldx;                                                  \
      for (int k = 0; k < in; k++) {                                                          \
        const float *wk = w + (size_t)k * COLS, xv = xr[k];                                   \
        for (int j = 0; j < COLS; j++) a[j] += xv * wk[j];                                    \
      }                                                                                       \
      memcpy(acc + (size_t)r * COLS, a, sizeof a);                                            \
    }                                                                                         \
  }

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

PANEL_C(panel_avx2, __attribute__((target("avx2,fma"))))

#define T512 __attribute__((target("avx512f,avx2,fma")))
/* R rows at once, R a constant after inlining: 4 R sums, the panel's 64 weights of input k
 * loaded once for all rows. */
static inline T512 __attribute__((always_inline)) void panel_rows512(float *acc, const float *x,
                                                                     int ldx, const float *w,
                                                                     int in, const int R, int more,
                                                                     const float *pf, int pfl) {
  __m512 a[ROWS][4];
  for (int r = 0; r < R; r++)
    for (int j = 0; j < 4; j++)
      a[r][j] = more ? _mm512_loadu_ps(acc + (size_t)r * COLS + 16 * j) : _mm512_setzero_ps();
  for (int k = 0; k < in; k++) {
    const float *wk = w + (size_t)k * COLS;
    if (pf)
      for (int j = 0; j < pfl; j++)
        _mm_prefetch((const char *)(pf + (size_t)k * COLS + 16 * j), _MM_HINT_NTA);
    __m512 w0 = _mm512_load_ps(wk), w1 = _mm512_load_ps(wk + 16);
    __m512 w2 = _mm512_load_ps(wk + 32), w3 = _mm512_load_ps(wk + 48);
    for (int r = 0; r < R; r++) {
      __m512 xv = _mm512_set1_ps(x[(size_t)r * ldx + k]);
      a[r][0] = _mm512_fmadd_ps(xv, w0, a[r][0]);
      a[r][1] = _mm512_fmadd_ps(xv, w1, a[r][1]);
      a[r][2] = _mm512_fmadd_ps(xv, w2, a[r][2]);
      a[r][3] = _mm512_fmadd_ps(xv, w3, a[r][3]);
    }
  }
  for (int r = 0; r < R; r++)
    for (int j = 0; j < 4; j++) _mm512_storeu_ps(acc + (size_t)r * COLS + 16 * j, a[r][j]);
}

T512 static void panel_avx512(float *acc, const float *x, int ldx, const float *w, int in, int R,
                              int more, const float *pf, int pfl) {
  switch (R) {
    case 1:
      panel_rows512(acc, x, ldx, w, in, 1, more, pf, pfl);
      return;
    case 2:
      panel_rows512(acc, x, ldx, w, in, 2, more, pf, pfl);
      return;
    case 3:
      panel_rows512(acc, x, ldx, w, in, 3, more, pf, pfl);
      return;
    default:
      panel_rows512(acc, x, ldx, w, in, 4, more, pf, pfl);
      return;
  }
}
#endif

PANEL_C(panel_generic, )

static panel_fn kernel(void) {
  const char *path = vk_get()->name;
#if defined(__x86_64__) || defined(__i386__)
  if (strcmp(path, "avx512") == 0) return panel_avx512;
  if (strcmp(path, "avx2") == 0) return panel_avx2;
#endif
  (void)path;
  return panel_generic;
}

/* One row's columns [c0, c0 + cols) from its sums: + b, act, + res. */
static void epilogue(const vk_table *vk, float *y, const float *acc, const float *b, gemm_act act,
                     const float *res, int cols) {
  float t[COLS];
  for (int j = 0; j < cols; j++) t[j] = acc[j] + (b ? b[j] : 0.0f);
  switch (act) {
    case GEMM_ACT_GELU_ERF:
      vk->gelu(t, (size_t)cols);
      break;
    case GEMM_ACT_GELU_TANH:
      vk->gelu_tanh(t, (size_t)cols);
      break;
    case GEMM_ACT_QUICK_GELU:
      vk->quick_gelu(t, (size_t)cols);
      break;
    case GEMM_ACT_NONE:
      break;
  }
  if (res)
    for (int j = 0; j < cols; j++) y[j] = t[j] + res[j];
  else
    memcpy(y, t, (size_t)cols * sizeof *y);
}

void gemm_panel_part(const gemm_panel *g, float *y, int ldy, const float *x, int ldx, int n,
                     const float *b, gemm_act act, const float *res, int ldr, int p0, int p1) {
  const vk_table *vk = vk_get();
  panel_fn fn = kernel();
  _Alignas(64) float acc[BLOCK * COLS];
  const int in = g->in;
  for (int p = p0; p < p1; p++) {
    const float *pp = gemm_panel_at(g, p);
    int c0 = p * COLS, cols = g->out - c0 < COLS ? g->out - c0 : COLS;
    for (int r0 = 0; r0 < n; r0 += BLOCK) {
      int nb = n - r0 < BLOCK ? n - r0 : BLOCK;
      const float *xb = x + (size_t)r0 * ldx;
      const int groups = (nb + ROWS - 1) / ROWS;
      if (nb <= ROWS) /* (a prefetch past the last panel's end does not fault) */
        fn(acc, xb, ldx, pp, in, nb, 0, pp + (size_t)AHEAD * COLS, LINES);
      else
        for (int k0 = 0; k0 < in; k0 += KC) {
          int kn = in - k0 < KC ? in - k0 : KC;
          /* each group of rows prefetches its share of the lines of the next slice (the
           * next panel's first after the last), so the memory streams while every group
           * computes (a prefetch past the last panel's end does not fault) */
          const float *next = pp + (size_t)(k0 + KC < in ? k0 + KC : in) * COLS;
          for (int q = 0, gi = 0; q < nb; q += ROWS, gi++) {
            int l0 = LINES * gi / groups, l1 = LINES * (gi + 1) / groups;
            fn(acc + (size_t)q * COLS, xb + (size_t)q * ldx + k0, ldx, pp + (size_t)k0 * COLS, kn,
               nb - q < ROWS ? nb - q : ROWS, k0 > 0, next + 16 * l0, l1 - l0);
          }
        }
      for (int r = 0; r < nb; r++)
        epilogue(vk, y + (size_t)(r0 + r) * ldy + c0, acc + (size_t)r * COLS, b ? b + c0 : NULL,
                 act, res ? res + (size_t)(r0 + r) * ldr + c0 : NULL, cols);
    }
  }
}

#if defined(__x86_64__) || defined(__i386__)
/* The 16 sums of each of 4 64-byte lines of panels (line[i]: a panel's column 16 c, its
 * lines 256 bytes apart), as panel_rows512 forms them: four streams at once, prefetched
 * well ahead (a prefetch past the end of the panels does not fault). */
T512 static void lines512(float *s64, const float *x, const float *const *line, int in) {
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t k = 0; k < (size_t)in; k++) {
    const size_t at = k * COLS, ahead = (k + 16) * COLS;
    for (int i = 0; i < 4; i++) _mm_prefetch((const char *)(line[i] + ahead), _MM_HINT_T0);
    __m512 xv = _mm512_set1_ps(x[k]);
    a0 = _mm512_fmadd_ps(xv, _mm512_load_ps(line[0] + at), a0);
    a1 = _mm512_fmadd_ps(xv, _mm512_load_ps(line[1] + at), a1);
    a2 = _mm512_fmadd_ps(xv, _mm512_load_ps(line[2] + at), a2);
    a3 = _mm512_fmadd_ps(xv, _mm512_load_ps(line[3] + at), a3);
  }
  _mm512_storeu_ps(s64, a0);
  _mm512_storeu_ps(s64 + 16, a1);
  _mm512_storeu_ps(s64 + 32, a2);
  _mm512_storeu_ps(s64 + 48, a3);
}
#endif

void gemm_panel_columns(const gemm_panel *g, float *out, const float *x, const float *b,
                        const int *cols, int n) {
  panel_fn fn = kernel();
  _Alignas(64) float acc[COLS];
#if defined(__x86_64__) || defined(__i386__)
  if (fn == panel_avx512) {
    /* the ids in runs of at most 4 distinct lines (16 columns each), each run at once */
    for (int i = 0, e; i < n; i = e) {
      const float *line[4];
      long id[4];
      int nl = 0;
      for (e = i; e < n; e++) {
        long l = cols[e] / 16;
        if (nl && l == id[nl - 1]) continue;
        if (nl == 4) break;
        id[nl] = l, line[nl++] = gemm_panel_at(g, cols[e] / COLS) + cols[e] % COLS / 16 * 16;
      }
      for (int k = nl; k < 4; k++) line[k] = line[nl - 1];
      lines512(acc, x, line, g->in);
      for (int k = i, m = 0; k < e; k++) {
        while (cols[k] / 16 != id[m]) m++;
        /* the epilogue's sum */
        out[k] = acc[16 * m + cols[k] % 16] + (b ? b[cols[k]] : 0.0f);
      }
    }
    return;
  }
#endif
  long have = -1; /* the panel whose sums acc holds */
  for (int i = 0; i < n; i++) {
    const int j = cols[i];
    if (j / COLS != have) fn(acc, x, g->in, gemm_panel_at(g, j / COLS), g->in, 1, 0, NULL, 0);
    have = j / COLS;
    out[i] = acc[j % COLS] + (b ? b[j] : 0.0f); /* the epilogue's sum */
  }
}

/* ---- the backend ------------------------------------------------------------------- */

/* Products reading fewer weight bytes than this run on the calling thread (waking the
 * second costs ~20 us, core/threads.h; one core streams ~17 GB/s). */
#define PANEL_PAR_BYTES ((size_t)256 << 10)

static int pn_supports(vlp_precision p, const char **why) {
  if (p == VLP_PRECISION_F32) return 1;
  if (why) *why = "panels hold f32 weights only";
  return 0;
}

static vlp_status pn_pack(gemm_packed *p) {
  gemm_panel *g = malloc(sizeof *g);
  if (!g) return vlp_fail(VLP_ERR_NOMEM, "gemm: out of memory");
  vlp_status st = gemm_panel_pack(g, p->W, p->out, p->in);
  if (st) {
    free(g);
    return st;
  }
  p->impl = g;
  p->bytes = (size_t)g->panels * gemm_panel_bytes(g);
  return VLP_OK;
}

static void pn_release(gemm_packed *p) {
  if (!p->impl) return;
  gemm_panel_free(p->impl);
  free(p->impl);
  p->impl = NULL;
}

static int pn_run(float *y, const float *x, const float *W, const gemm_packed *p, const float *b,
                  int n, int in, int out, gemm_act act, int accumulate) {
  (void)W;
  const gemm_panel *g = p->impl;
  if (!g || in != g->in || out != g->out) return 0;
  const float *res = accumulate ? y : NULL;
  int nt = vlp_threads_current();
  if (nt > g->panels) nt = g->panels;
  size_t bytes = (size_t)g->in * g->out * sizeof(float);
  if (nt > 1 && bytes >= PANEL_PAR_BYTES) {
#pragma omp parallel num_threads(nt)
    {
      int t = omp_get_thread_num(), k = omp_get_num_threads();
      gemm_panel_part(g, y, out, x, in, n, b, act, res, out, g->panels * t / k,
                      g->panels * (t + 1) / k);
    }
  } else {
    gemm_panel_part(g, y, out, x, in, n, b, act, res, out, 0, g->panels);
  }
  return 1;
}

static int pn_batch_invariant(void) {
  return 1;
}

const gemm_backend gemm_backend_panel = {"panel", pn_supports,        pn_pack, pn_release,
                                         pn_run,  pn_batch_invariant, NULL,    NULL};
