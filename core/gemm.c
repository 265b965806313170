/* gemm: backend choice, the registry of prepared weights, per-thread scratch (gemm.h). */
#include "core/gemm.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/error.h"
#include "core/gemm_backend.h"
#include "core/gemm_panel.h"
#include "core/kernels.h"
#include "core/ops.h"
#include "core/threads.h"

/* ---- backend choice ------------------------------------------------------------- */

static const gemm_backend *g_backend;
static pthread_once_t g_choose_once = PTHREAD_ONCE_INIT;

/* oneDNN when it is built in and finds AVX2 or better (it reads cpuid itself), else
 * OpenBLAS; VLP_GEMM names one explicitly. */
static void choose_backend(void) {
  const char *env = getenv("VLP_GEMM");
  if (env && strcmp(env, "openblas") == 0) {
    g_backend = &gemm_backend_blas;
    return;
  }
  if (gemm_backend_dnnl && gemm_backend_dnnl->supports(VLP_PRECISION_F32, NULL)) {
    g_backend = gemm_backend_dnnl;
    return;
  }
  g_backend = &gemm_backend_blas;
}

static const gemm_backend *backend(void) {
  pthread_once(&g_choose_once, choose_backend);
  return g_backend;
}

const char *gemm_backend_name(void) {
  return backend()->name;
}

int gemm_supports(vlp_precision prec, const char **why) {
  return backend()->supports(prec, why);
}

int gemm_select(const char *name) {
  backend();
  const gemm_backend *b = NULL;
  if (strcmp(name, "openblas") == 0) b = &gemm_backend_blas;
  if (strcmp(name, "dnnl") == 0 && gemm_backend_dnnl &&
      gemm_backend_dnnl->supports(VLP_PRECISION_F32, NULL))
    b = gemm_backend_dnnl;
  if (!b) return 0;
  g_backend = b;
  return 1;
}

const char *gemm_precision_name(vlp_precision p) {
  return p == VLP_PRECISION_BF16 ? "bf16" : p == VLP_PRECISION_INT8 ? "int8" : "f32";
}

int gemm_precision_parse(const char *s) {
  if (!s) return -1;
  if (strcmp(s, "f32") == 0) return VLP_PRECISION_F32;
  if (strcmp(s, "bf16") == 0) return VLP_PRECISION_BF16;
  if (strcmp(s, "int8") == 0) return VLP_PRECISION_INT8;
  return -1;
}

/* ---- registry: open addressing on the weight's address ---------------------------- */

#define TOMB ((gemm_packed *)(uintptr_t)1)

static pthread_rwlock_t g_lock = PTHREAD_RWLOCK_INITIALIZER;
static gemm_packed **g_tab;  /* NULL, TOMB or an entry */
static size_t g_cap, g_used; /* g_used counts entries and tombstones */

static size_t slot_of(const float *W, size_t cap) {
  uint64_t h = (uint64_t)(uintptr_t)W * 0x9E3779B97F4A7C15ull;
  return (size_t)(h >> 20) & (cap - 1);
}

/* Caller holds the lock (read or write). */
static gemm_packed *lookup(const float *W) {
  if (!g_cap) return NULL;
  for (size_t i = slot_of(W, g_cap), k = 0; k < g_cap; i = (i + 1) & (g_cap - 1), k++) {
    gemm_packed *e = g_tab[i];
    if (!e) return NULL;
    if (e != TOMB && e->W == W) return e;
  }
  return NULL;
}

/* Caller holds the write lock. 0 on allocation failure. */
static int insert(gemm_packed *p) {
  if ((g_used + 1) * 2 > g_cap) { /* grow (and drop tombstones) at half full */
    size_t cap = g_cap ? g_cap * 2 : 256;
    gemm_packed **t = calloc(cap, sizeof *t);
    if (!t) return 0;
    size_t used = 0;
    for (size_t i = 0; i < g_cap; i++) {
      gemm_packed *e = g_tab[i];
      if (!e || e == TOMB) continue;
      size_t j = slot_of(e->W, cap);
      while (t[j]) j = (j + 1) & (cap - 1);
      t[j] = e;
      used++;
    }
    free(g_tab);
    g_tab = t, g_cap = cap, g_used = used;
  }
  size_t j = slot_of(p->W, g_cap);
  while (g_tab[j] && g_tab[j] != TOMB) j = (j + 1) & (g_cap - 1);
  if (!g_tab[j]) g_used++;
  g_tab[j] = p;
  return 1;
}

/* Pack W for backend be (which supports prec) and register it. */
static vlp_status prepare_on(const gemm_backend *be, const float *W, int out, int in,
                             vlp_precision prec, size_t *packed_bytes) {
  if (packed_bytes) *packed_bytes = 0;
  if (!W || out <= 0 || in <= 0) return vlp_fail(VLP_ERR_INVALID, "gemm: bad weight shape");
  const char *why = NULL;
  if (!be->supports(prec, &why))
    return vlp_fail(VLP_ERR_UNSUPPORTED, "precision %s: %s", gemm_precision_name(prec), why);
  pthread_rwlock_rdlock(&g_lock);
  gemm_packed *have = lookup(W);
  pthread_rwlock_unlock(&g_lock);
  if (have) {
    if (packed_bytes) *packed_bytes = have->bytes;
    return VLP_OK;
  }
  gemm_packed *p = calloc(1, sizeof *p);
  if (!p) return vlp_fail(VLP_ERR_NOMEM, "gemm: out of memory");
  p->W = W, p->out = out, p->in = in, p->prec = prec, p->be = be;
  vlp_status st = be->pack(p);
  if (st) {
    free(p);
    return st;
  }
  pthread_rwlock_wrlock(&g_lock);
  int ok = lookup(W) == NULL && insert(p);
  pthread_rwlock_unlock(&g_lock);
  if (!ok) { /* prepared meanwhile by another thread, or no memory for the table */
    be->release(p);
    free(p);
    return VLP_OK;
  }
  if (packed_bytes) *packed_bytes = p->bytes;
  return VLP_OK;
}

/* The backend for weights multiplied by a few rows at a time: panels in f32 where they are
 * faster (and the selected backend is not OpenBLAS, which tests and benchmarks force),
 * else the selected backend. */
static const gemm_backend *few_rows_backend(vlp_precision prec) {
  const gemm_backend *be = backend();
  if (prec == VLP_PRECISION_F32 && be != &gemm_backend_blas && gemm_panel_wanted())
    return &gemm_backend_panel;
  return be;
}

vlp_status gemm_prepare(const float *W, int out, int in, vlp_precision prec, size_t *packed_bytes) {
  return prepare_on(backend(), W, out, in, prec, packed_bytes);
}

vlp_status gemm_prepare_few_rows(const float *W, int out, int in, vlp_precision prec,
                                 size_t *packed_bytes) {
  return prepare_on(few_rows_backend(prec), W, out, in, prec, packed_bytes);
}

const gemm_panel *gemm_panel_of(const float *W) {
  pthread_rwlock_rdlock(&g_lock);
  const gemm_packed *p = lookup(W);
  pthread_rwlock_unlock(&g_lock);
  return p && p->be == &gemm_backend_panel ? p->impl : NULL;
}

void gemm_forget(const float *W) {
  pthread_rwlock_wrlock(&g_lock);
  gemm_packed *p = NULL;
  for (size_t i = g_cap ? slot_of(W, g_cap) : 0, k = 0; k < g_cap; i = (i + 1) & (g_cap - 1), k++) {
    gemm_packed *e = g_tab[i];
    if (!e) break;
    if (e != TOMB && e->W == W) {
      p = e;
      g_tab[i] = TOMB;
      break;
    }
  }
  pthread_rwlock_unlock(&g_lock);
  if (p) {
    p->be->release(p);
    free(p);
  }
}

/* ---- products ------------------------------------------------------------------- */

/* W's prepared entry, or NULL. An entry lives until gemm_forget, which runs only when its
 * model is freed. */
static const gemm_packed *find(const float *W) {
  pthread_rwlock_rdlock(&g_lock);
  const gemm_packed *p = lookup(W);
  pthread_rwlock_unlock(&g_lock);
  return p;
}

static atomic_ulong g_fallbacks;

unsigned long gemm_fallbacks(void) {
  return atomic_load(&g_fallbacks);
}

int gemm_batch_invariant(void) {
  return backend()->batch_invariant() && atomic_load(&g_fallbacks) == 0;
}

void gemm_linear(float *y, const float *x, const float *W, const float *b, int n, int in, int out,
                 gemm_act act, int accumulate) {
  if (n <= 0 || out <= 0) return;
  const gemm_packed *p = find(W);
  if (p && in > 0) {
    if (p->be->run(y, x, W, p, b, n, in, out, act, accumulate)) return;
    if (p->be != &gemm_backend_blas) atomic_fetch_add(&g_fallbacks, 1);
  }
  gemm_backend_blas.run(y, x, W, NULL, b, n, in, out, act, accumulate);
}

/* 1 when p1 (mid, in) and p2 (in, mid) are of one backend that runs MLPs itself. */
static int mlp_backend(const gemm_packed *p1, const gemm_packed *p2, int in, int mid) {
  return p1 && p2 && p1->be == p2->be && p1->be->run_mlp && p1->in == in && p1->out == mid &&
         p2->in == mid && p2->out == in;
}

void gemm_mlp(float *y, const float *x, float *h, const float *W1, const float *b1, const float *W2,
              const float *b2, int n, int in, int mid, gemm_act act) {
  if (n <= 0 || in <= 0 || mid <= 0) return;
  const gemm_packed *p1 = find(W1), *p2 = find(W2);
  if (mlp_backend(p1, p2, in, mid) && p1->be->run_mlp(y, x, 0, p1, b1, p2, b2, n, act)) return;
  gemm_linear(h, x, W1, b1, n, in, mid, act, 0);
  gemm_linear(y, h, W2, b2, n, mid, in, GEMM_ACT_NONE, 1);
}

/* ---- products of normalised rows ------------------------------------------------- */

/* Widest row normalised straight to bf16 (one f32 row on the stack per thread). */
#define NORM_ROW_MAX 8192

/* xn (n, in) = LayerNorm(x) in bf16 when p's kernels take bf16 rows (its own conversion,
 * vk->to_bf16, of the rows op_layernorm writes); 0 (nothing written) when not. */
static int norm_bf16(uint16_t *xn, const float *x, const gemm_norm *ln, int n, int in,
                     const gemm_packed *p) {
  if (!p || p->prec != VLP_PRECISION_BF16 || !p->be->run_bf16 || p->in != in || in > NORM_ROW_MAX)
    return 0;
  const vk_table *vk = vk_get();
  int nt = vlp_threads_current();
#pragma omp parallel for num_threads(nt) schedule(static) if ((size_t)n * in >= PAR_MIN)
  for (int i = 0; i < n; i++) {
    _Alignas(64) float row[NORM_ROW_MAX];
    vk->layernorm_row(row, x + (size_t)i * in, ln->g, ln->b, in, ln->eps);
    vk->to_bf16(xn + (size_t)i * in, row, (size_t)in);
  }
  return 1;
}

/* y = act(LayerNorm(x) p^T + b) (+ y) through xn in bf16 when p takes bf16 rows; 0 when
 * not (the caller then normalises in f32). */
static int linear_norm_bf16(float *y, const float *x, const gemm_norm *ln, float *xn,
                            const gemm_packed *p, const float *b, int n, int in, int out,
                            gemm_act act, int accumulate) {
  uint16_t *x16 = (uint16_t *)xn;
  return p && p->out == out && norm_bf16(x16, x, ln, n, in, p) &&
         p->be->run_bf16(y, x16, p, b, n, act, accumulate, 0);
}

void gemm_linear_norm(float *y, const float *x, const gemm_norm *ln, float *xn, const float *W,
                      const float *b, int n, int in, int out, gemm_act act, int accumulate) {
  if (n <= 0 || out <= 0 || in <= 0) return;
  if (linear_norm_bf16(y, x, ln, xn, find(W), b, n, in, out, act, accumulate)) return;
  op_layernorm(xn, x, ln->g, ln->b, n, in, ln->eps);
  gemm_linear(y, xn, W, b, n, in, out, act, accumulate);
}

void gemm_mlp_norm(float *y, const float *x, const gemm_norm *ln, float *xn, float *h,
                   const float *W1, const float *b1, const float *W2, const float *b2, int n,
                   int in, int mid, gemm_act act) {
  if (n <= 0 || in <= 0 || mid <= 0) return;
  const gemm_packed *p1 = find(W1), *p2 = find(W2);
  if (mlp_backend(p1, p2, in, mid) && norm_bf16((uint16_t *)xn, x, ln, n, in, p1) &&
      p1->be->run_mlp(y, xn, 1, p1, b1, p2, b2, n, act))
    return;
  op_layernorm(xn, x, ln->g, ln->b, n, in, ln->eps);
  gemm_mlp(y, xn, h, W1, b1, W2, b2, n, in, mid, act);
}

/* ---- products with bf16 rows in or out ------------------------------------------- */

/* p is held in bf16 by a backend whose kernels take bf16 rows, rows norm_bf16 can write. */
static int bf16_rows(const gemm_packed *p) {
  return p && p->prec == VLP_PRECISION_BF16 && p->be->run_bf16 && p->in <= NORM_ROW_MAX;
}

int gemm_bf16_rows(const float *W) {
  return bf16_rows(find(W));
}

/* y (n, p->out) in bf16 = LayerNorm(x) p^T + b, through xn in bf16. */
static int norm_to_bf16(uint16_t *y, const float *x, const gemm_norm *ln, float *xn,
                        const gemm_packed *p, const float *b, int n) {
  uint16_t *x16 = (uint16_t *)xn;
  return bf16_rows(p) && norm_bf16(x16, x, ln, n, p->in, p) &&
         p->be->run_bf16(y, x16, p, b, n, GEMM_ACT_NONE, 0, 1);
}

int gemm_linear_norm_to_bf16(uint16_t *y, const float *x, const gemm_norm *ln, float *xn,
                             const float *W, const float *b, int n, int in, int out) {
  const gemm_packed *p = find(W);
  if (n <= 0) return 1;
  return p && p->in == in && p->out == out && norm_to_bf16(y, x, ln, xn, p, b, n);
}

int gemm_linear_from_bf16(float *y, const uint16_t *x, const float *W, const float *b, int n,
                          int in, int out, gemm_act act, int accumulate) {
  const gemm_packed *p = find(W);
  if (n <= 0) return 1;
  return bf16_rows(p) && p->in == in && p->out == out &&
         p->be->run_bf16(y, x, p, b, n, act, accumulate, 0);
}

/* ---- stacked products ------------------------------------------------------------ */

struct gemm_stack {
  gemm_packed p; /* of the (parts * rows, in) stack once prepared (p.W is then NULL) */
  int prepared;
  int parts, rows, in;
  const float *W[GEMM_STACK_MAX];
  float *b; /* the stacked biases, NULL when no part has one */
};

vlp_status gemm_stack_new(const float *const *W, const float *const *b, int parts, int rows, int in,
                          gemm_stack **out) {
  *out = NULL;
  if (parts < 1 || parts > GEMM_STACK_MAX || rows <= 0 || in <= 0 ||
      (size_t)parts * rows > INT32_MAX)
    return vlp_fail(VLP_ERR_INVALID, "gemm: bad stacked weight shape");
  gemm_stack *s = calloc(1, sizeof *s);
  if (!s) return vlp_fail(VLP_ERR_NOMEM, "gemm: out of memory");
  s->parts = parts, s->rows = rows, s->in = in;
  for (int i = 0; i < parts; i++) {
    if (!W[i]) {
      free(s->b);
      free(s);
      return vlp_fail(VLP_ERR_INVALID, "gemm: a stacked weight has no data");
    }
    s->W[i] = W[i];
    if (b && b[i] && !s->b && !(s->b = calloc((size_t)parts * rows, sizeof *s->b))) {
      free(s);
      return vlp_fail(VLP_ERR_NOMEM, "gemm: out of memory");
    }
    if (b && b[i]) memcpy(s->b + (size_t)i * rows, b[i], (size_t)rows * sizeof *s->b);
  }
  *out = s;
  return VLP_OK;
}

/* Pack the stack for backend be (as prepare_on does for one weight). */
static vlp_status stack_prepare_on(const gemm_backend *be, gemm_stack *s, vlp_precision prec,
                                   size_t *packed_bytes) {
  if (packed_bytes) *packed_bytes = 0;
  const char *why = NULL;
  if (!be->supports(prec, &why))
    return vlp_fail(VLP_ERR_UNSUPPORTED, "precision %s: %s", gemm_precision_name(prec), why);
  if (s->prepared || be == &gemm_backend_blas) { /* OpenBLAS: the parts as they are */
    if (packed_bytes && s->prepared) *packed_bytes = s->p.bytes;
    return VLP_OK;
  }
  size_t part = (size_t)s->rows * s->in;
  float *cat = malloc((size_t)s->parts * part * sizeof *cat);
  if (!cat) return vlp_fail(VLP_ERR_NOMEM, "gemm: out of memory stacking %d weights", s->parts);
  for (int i = 0; i < s->parts; i++) memcpy(cat + i * part, s->W[i], part * sizeof *cat);
  s->p = (gemm_packed){.W = cat, .out = s->parts * s->rows, .in = s->in, .prec = prec, .be = be};
  vlp_status st = be->pack(&s->p);
  free(cat);
  s->p.W = NULL; /* the backend keeps its own copy */
  if (st) return st;
  s->prepared = 1;
  if (packed_bytes) *packed_bytes = s->p.bytes;
  return VLP_OK;
}

vlp_status gemm_stack_prepare(gemm_stack *s, vlp_precision prec, size_t *packed_bytes) {
  return stack_prepare_on(backend(), s, prec, packed_bytes);
}

vlp_status gemm_stack_prepare_few_rows(gemm_stack *s, vlp_precision prec, size_t *packed_bytes) {
  return stack_prepare_on(few_rows_backend(prec), s, prec, packed_bytes);
}

const gemm_panel *gemm_stack_panel(const gemm_stack *s, const float **bias) {
  if (!s->prepared || s->p.be != &gemm_backend_panel) return NULL;
  *bias = s->b;
  return s->p.impl;
}

void gemm_stack_linear(float *y, const float *x, const gemm_stack *s, int n) {
  if (n <= 0) return;
  const int out = s->parts * s->rows;
  if (s->prepared) {
    if (s->p.be->run(y, x, NULL, &s->p, s->b, n, s->in, out, GEMM_ACT_NONE, 0)) return;
    atomic_fetch_add(&g_fallbacks, 1);
  }
  for (int i = 0; i < s->parts; i++)
    gemm_blas_linear_ld(y + (size_t)i * s->rows, out, x, s->W[i],
                        s->b ? s->b + (size_t)i * s->rows : NULL, n, s->in, s->rows);
}

void gemm_stack_linear_norm(float *y, const float *x, const gemm_norm *ln, float *xn,
                            const gemm_stack *s, int n) {
  if (n <= 0) return;
  if (s->prepared &&
      linear_norm_bf16(y, x, ln, xn, &s->p, s->b, n, s->in, s->p.out, GEMM_ACT_NONE, 0))
    return;
  op_layernorm(xn, x, ln->g, ln->b, n, s->in, ln->eps);
  gemm_stack_linear(y, xn, s, n);
}

int gemm_stack_bf16_rows(const gemm_stack *s) {
  return s->prepared && bf16_rows(&s->p);
}

int gemm_stack_linear_norm_to_bf16(uint16_t *y, const float *x, const gemm_norm *ln, float *xn,
                                   const gemm_stack *s, int n) {
  if (n <= 0) return 1;
  return s->prepared && norm_to_bf16(y, x, ln, xn, &s->p, s->b, n);
}

void gemm_stack_free(gemm_stack *s) {
  if (!s) return;
  if (s->prepared) s->p.be->release(&s->p);
  free(s->b);
  free(s);
}

/* gemm_weights_alloc maps weights of this many bytes and more (smaller ones: malloc). */
#define WEIGHTS_MAPPED ((size_t)64 << 10)
#define HUGE_PAGE ((size_t)2 << 20)

void gemm_epilogue(float *y, const float *res, size_t n, gemm_act act) {
  switch (act) {
    case GEMM_ACT_GELU_ERF:
      op_gelu(y, n);
      break;
    case GEMM_ACT_GELU_TANH:
      op_gelu_tanh(y, n);
      break;
    case GEMM_ACT_QUICK_GELU:
      op_quick_gelu(y, n);
      break;
    case GEMM_ACT_NONE:
      break;
  }
  if (res) op_add(y, res, n);
}

/* Weights are written once, at load, all of them: their pages are mapped in one call per
 * weight and thread (MADV_POPULATE_WRITE, Linux 5.14+; elsewhere they fault in as the
 * packing writes). On the development VM a page fault costs ~12 us, and a CLIP B/32 load
 * took 72k of them (2.5k with this, and 20-30% less time). The mapping starts on a 2 MiB
 * boundary so that huge pages cover all of it but the tail. */
void *gemm_weights_alloc(size_t bytes) {
  if (bytes < WEIGHTS_MAPPED) return aligned_alloc(64, (bytes + 63) / 64 * 64);
  size_t len = (bytes + 4095) / 4096 * 4096;
  char *m = mmap(NULL, len + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return NULL;
  char *p = (char *)(((uintptr_t)m + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
  if (p > m) munmap(m, (size_t)(p - m));
  munmap(p + len, (size_t)(m + HUGE_PAGE - p)); /* m is page aligned: p < m + HUGE_PAGE */
#ifdef MADV_HUGEPAGE
  madvise(p, len, MADV_HUGEPAGE);
#endif
#ifdef MADV_POPULATE_WRITE
  int nt = vlp_threads_current(), parts = (int)(len / (4 * HUGE_PAGE)); /* zeroing, shared */
  if (parts > nt) parts = nt;
  if (parts < 1) parts = 1;
#pragma omp parallel for num_threads(parts) schedule(static) if (parts > 1)
  for (int i = 0; i < parts; i++) {
    size_t a = len / HUGE_PAGE * i / parts * HUGE_PAGE;
    size_t b = i == parts - 1 ? len : len / HUGE_PAGE * (i + 1) / parts * HUGE_PAGE;
    madvise(p + a, b - a, MADV_POPULATE_WRITE);
  }
#endif
  return p;
}

void gemm_weights_free(void *p, size_t bytes) {
  if (!p) return;
  if (bytes < WEIGHTS_MAPPED)
    free(p);
  else
    munmap(p, (bytes + 4095) / 4096 * 4096);
}

/* ---- per-thread scratch --------------------------------------------------------- */

typedef struct {
  void *p[GEMM_SCRATCH_N];
  size_t cap[GEMM_SCRATCH_N];
} scratch_set;

static pthread_key_t g_scratch_key;
static pthread_once_t g_scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *v) {
  scratch_set *s = v;
  for (int i = 0; i < GEMM_SCRATCH_N; i++) free(s->p[i]);
  free(s);
}

static void scratch_key(void) {
  (void)pthread_key_create(&g_scratch_key, scratch_free);
}

void *gemm_scratch(int which, size_t bytes) {
  pthread_once(&g_scratch_once, scratch_key);
  scratch_set *s = pthread_getspecific(g_scratch_key);
  if (!s) {
    s = calloc(1, sizeof *s);
    if (!s || pthread_setspecific(g_scratch_key, s)) {
      free(s);
      return NULL;
    }
  }
  if (bytes > s->cap[which]) {
    size_t cap = (bytes + 63) / 64 * 64;
    void *p = aligned_alloc(64, cap);
    if (!p) return NULL;
    free(s->p[which]);
    s->p[which] = p, s->cap[which] = cap;
  }
  return s->p[which];
}

/* ---- measurement (vlp.h) ---------------------------------------------------------- */

const char *vlp_gemm_backend(void) {
  return gemm_backend_name();
}

const char *vlp_kernel_isa(void) {
  return vk_get()->name;
}

int vlp_batch_invariant(void) {
  return gemm_batch_invariant();
}
