/* attention: the blocked one-pass attention (see attention.h). The driver splits the work
 * into (batch item, head, block of query rows) tasks; attention_body.h holds the per-block
 * kernels (online softmax over blocks of keys; all keys at once for short sequences; one
 * row alone), compiled once per instruction set like core/kernels.c. */
#include "core/attention.h"

/* Lets the compiler fuse a * b + c into FMA instructions (the targets that have them) and
 * if-convert the float compares; neither changes the tested accuracy. */
#if defined(__clang__)
#pragma clang fp contract(fast)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=fast", "no-trapping-math")
#endif

#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "core/fast_exp.h"
#include "core/kernels.h"
#include "core/team.h"
#include "core/threads.h"
#include "core/transpose16.h"

/* Keys per step of the online softmax (the score tile is ATTN_KBLK x block rows, 16 KiB
 * with AVX-512). 128 rather than 64 halves the rescaling of the running sums: T = 577,
 * ~3% faster; 192 and 256 were no faster. */
#define ATTN_KBLK 128

/* A block of at most this many query rows runs row by row (attn_row): cheaper than a block
 * whose vectors would be mostly padding. */
#define ATTN_ROWS_ALONE 2

/* One (batch item, head) of call s: q, k, v, out point at the head's slice of row 0; rows
 * of q, k, v are ld floats apart, rows of out D. mask: additive (Tk) or NULL. */
typedef struct {
  const float *q, *k, *v, *mask;
  float *out;
  const op_attn_shape *s;
  int Tk, hd, ld, D;
  float scale;
} attn_head;

typedef struct {
  const char *name; /* the core/kernels.h path it belongs to */
  int rows;         /* query rows per block */
  void (*block)(const attn_head *a, int i0, int n);
  void (*row)(const attn_head *a, int i); /* one query row, vectors along the head */
  /* up to ATTN_SHORT_ROWS query rows over all of at most ATTN_SHORT_TK keys (wide only) */
  void (*short_block)(const attn_head *a, int i0, int n);
} attn_kernel;

/* Keys query row i of head a sees: [0, attn_visible). */
static inline int attn_visible(const attn_head *a, int i) {
  return op_attn_visible(a->s, i);
}

/* Per instruction set a wide kernel (2 vectors of query rows per block) for long query
 * sequences and a narrow one (one 8- or 4-float vector) for a few query rows. */
#if defined(__x86_64__) || defined(__i386__)
#define VA_X86 1

#define VK_NAME "avx512"
#define VK_TARGET __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")))
#define VK_SUFFIX avx512
#define VA_W 16
#define VA_QV 2
#define VA_KR 8
#define VA_CR 8
#define VA_SKR 6
#define VA_SQT 4
/* 5 x 4 P.V sums: with 6 x 4, GCC 12 kept one V vector on the stack and read it back six
 * times a key; 5 also divides CLIP B/32's 50 rows. T = 50: 10% faster (T = 197 the same). */
#define VA_PR 5
#define VA_PCV 4
#include "core/attention_body.h"
#define VK_SUFFIX avx512_narrow
#define VA_W 8
#define VA_QV 1
#define VA_KR 8
#define VA_CR 8
#include "core/attention_body.h"
#undef VK_NAME
#undef VK_TARGET

#define VK_NAME "avx2"
#define VK_TARGET __attribute__((target("avx2,fma")))
#define VK_SUFFIX avx2
#define VA_W 8
#define VA_QV 2
#define VA_KR 4
#define VA_CR 4
#define VA_SKR 4
#define VA_SQT 2
#define VA_PR 4
#define VA_PCV 2
#include "core/attention_body.h"
#define VK_SUFFIX avx2_narrow
#define VA_W 8
#define VA_QV 1
#define VA_KR 8
#define VA_CR 8
#include "core/attention_body.h"
#undef VK_NAME
#undef VK_TARGET
#endif

#define VK_NAME "generic"
#define VK_TARGET
#define VK_SUFFIX generic
#define VA_W 4
#define VA_QV 2
#define VA_KR 4
#define VA_CR 4
#define VA_SKR 4
#define VA_SQT 2
#define VA_PR 4
#define VA_PCV 2
#include "core/attention_body.h"
#define VK_SUFFIX generic_narrow
#define VA_W 4
#define VA_QV 1
#define VA_KR 4
#define VA_CR 4
#include "core/attention_body.h"
#undef VK_NAME
#undef VK_TARGET

/* The wide and narrow kernels of the path core/kernels.h selected. */
static const attn_kernel *const kernels[][2] = {
#ifdef VA_X86
    {&attn_kernel_avx512, &attn_kernel_avx512_narrow},
    {&attn_kernel_avx2, &attn_kernel_avx2_narrow},
#endif
    {&attn_kernel_generic, &attn_kernel_generic_narrow},
};

static const attn_kernel *kernel(int narrow) {
  const char *name = vk_get()->name;
  size_t n = sizeof kernels / sizeof kernels[0];
  for (size_t i = 0; i + 1 < n; i++)
    if (strcmp(name, kernels[i][0]->name) == 0) return kernels[i][narrow];
  return kernels[n - 1][narrow];
}

int attention_block_rows(int narrow) {
  return kernel(narrow != 0)->rows;
}

int attention_alone(long tasks, const op_attn_shape *s) {
  double flops = 4.0 * s->B * s->H * s->Tq * s->Tk * s->hd;
  return tasks * 0.5 + flops / 150e3 < 20.0; /* microseconds */
}

void attention_run(long tasks, const op_attn_shape *s, void (*task)(const void *ctx, long t),
                   const void *ctx) {
  int nt = vlp_threads_current();
  if (nt > tasks) nt = (int)tasks;
  if (attention_alone(tasks, s)) nt = 1;
  if (nt > TEAM_MAX) { /* more threads than a team takes: fixed shares */
#pragma omp parallel for num_threads(nt) schedule(static)
    for (long t = 0; t < tasks; t++) task(ctx, t);
    return;
  }
  team_barrier bar;
  team_init(&bar);
#pragma omp parallel num_threads(nt) if (nt > 1)
  attention_run_team(tasks, &bar, omp_get_thread_num(), omp_get_num_threads(), task, ctx);
}

void attention_run_team(long tasks, team_barrier *bar, int t, int n,
                        void (*task)(const void *ctx, long t), const void *ctx) {
  long lo, hi;
  while (team_next(bar, t, n, tasks, 1, &lo, &hi)) task(ctx, lo);
}

/* The shape of a blocked attention call and its kernels: task t is block qb of query rows
 * of head h of item b. */
typedef struct {
  const attn_kernel *wide, *narrow;
  const op_attn_shape *s;
  const float *q, *k, *v;
  float *out;
  int shrt, qbr, nqb;
  float scale;
} attn_tasks;

static void attn_task(const void *ctx, long t) {
  const attn_tasks *at = ctx;
  const op_attn_shape *s = at->s;
  const int H = s->H, Tq = s->Tq, D = H * s->hd, ld = op_attn_ld(s), nqb = at->nqb;
  int qb = (int)(t % nqb), h = (int)(t / nqb % H), b = (int)(t / nqb / H);
  size_t qo = (size_t)b * Tq * ld + (size_t)h * s->hd;
  size_t ko = (size_t)b * s->kv_cap * ld + (size_t)h * s->hd;
  attn_head a = {.q = at->q + qo,
                 .k = at->k + ko,
                 .v = at->v + ko,
                 .mask = s->mask ? s->mask + (size_t)b * s->Tk : NULL,
                 .out = at->out + (size_t)b * Tq * D + (size_t)h * s->hd,
                 .s = s,
                 .Tk = s->Tk,
                 .hd = s->hd,
                 .ld = ld,
                 .D = D,
                 .scale = at->scale};
  int i0 = qb * at->qbr, end = i0 + at->qbr < Tq ? i0 + at->qbr : Tq;
  if (end - i0 <= ATTN_ROWS_ALONE) { /* decoder steps: one row per head */
    for (int i = i0; i < end; i++) at->wide->row(&a, i);
    return;
  }
  if (at->shrt) {
    at->wide->short_block(&a, i0, end - i0);
    return;
  }
  for (int i = i0; i < end;) { /* a few rows left: narrow blocks, less padding */
    const attn_kernel *kn = end - i > 2 * at->narrow->rows ? at->wide : at->narrow;
    int n = end - i < kn->rows ? end - i : kn->rows;
    kn->block(&a, i, n);
    i += n;
  }
}

/* at = the tasks of an attention call (s->hd <= ATTN_HD_MAX); returns their count. */
static long tasks_of(attn_tasks *at, float *out, const float *q, const float *k, const float *v,
                     const op_attn_shape *s) {
  *at = (attn_tasks){
      .wide = kernel(0), .narrow = kernel(1), .s = s, .q = q, .k = k, .v = v, .out = out};
  at->shrt = s->Tk <= ATTN_SHORT_TK && s->hd <= ATTN_SHORT_HD && s->Tq > ATTN_ROWS_ALONE;
  at->qbr = at->shrt ? ATTN_SHORT_ROWS : at->wide->rows;
  at->nqb = (s->Tq + at->qbr - 1) / at->qbr;
  at->scale = 1.0f / sqrtf((float)s->hd);
  return (long)s->B * s->H * at->nqb;
}

int attention_blocked(float *out, const float *q, const float *k, const float *v,
                      const op_attn_shape *s) {
  if (s->hd > ATTN_HD_MAX) return 0;
  if (s->B <= 0 || s->H <= 0 || s->Tq <= 0 || s->hd <= 0) return 1;
  attn_tasks at;
  attention_run(tasks_of(&at, out, q, k, v, s), s, attn_task, &at);
  return 1;
}

int attention_blocked_team(float *out, const float *q, const float *k, const float *v,
                           const op_attn_shape *s, team_barrier *bar, int t, int n) {
  if (s->hd > ATTN_HD_MAX) return 0;
  if (s->B <= 0 || s->H <= 0 || s->Tq <= 0 || s->hd <= 0) return 1;
  attn_tasks at;
  attention_run_team(tasks_of(&at, out, q, k, v, s), bar, t, n, attn_task, &at);
  return 1;
}
