/* gemm_dnnl: the oneDNN backend. Weights are reordered once into the blocked layout
 * oneDNN's matmul picks for this CPU (f32, bf16, or int8 with per-output-channel scales);
 * a small cache per weight keeps the matmul primitives by row count and epilogue.
 * f32 / bf16: bias and activation are post-ops, "accumulate" is a sum post-op; a bf16 MLP's
 * first product writes bf16 for the second (dn_run_mlp).
 * int8: activations are quantised per row (symmetric, scale = max|x| / 127), the product
 * is int32, and the dequantisation, bias and activation run in one pass here.
 * oneDNN runs OpenMP threads: it is called from outside our parallel regions, with the
 * thread count of vlp_threads_current(), or from one region of ours in which each thread
 * runs it on one thread: over chunks of rows of the column parts of an f32 weight packed in
 * parts (one per thread of the load; its own part first), or over its own rows (f32
 * products of a few hundred rows per thread on weights packed whole). */
#include "core/gemm_backend.h"

#ifdef VLP_HAVE_DNNL

#include <math.h>
#include <omp.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/dnnl_guard.h"
#include "core/error.h"
#include "core/kernels.h"
#include "core/team.h"
#include "core/threads.h"

/* ---- engine and per-thread streams ------------------------------------------------ */

static dnnl_engine_t g_engine;
static pthread_once_t g_engine_once = PTHREAD_ONCE_INIT;
static pthread_key_t g_stream_key;

static void stream_free(void *s) {
  dnnl_stream_destroy(s);
}

static void engine_init(void) {
  if (guarded_engine_create(&g_engine, dnnl_cpu, 0) != dnnl_success) g_engine = NULL;
  if (g_engine && pthread_key_create(&g_stream_key, stream_free)) {
    dnnl_engine_destroy(g_engine);
    g_engine = NULL;
  }
}

static dnnl_engine_t engine(void) {
  pthread_once(&g_engine_once, engine_init);
  return g_engine;
}

/* A stream for the calling thread (oneDNN streams are not shared between threads). */
static dnnl_stream_t stream(void) {
  dnnl_stream_t s = pthread_getspecific(g_stream_key);
  if (s) return s;
  if (guarded_stream_create(&s, engine(), dnnl_stream_default_flags) != dnnl_success) return NULL;
  if (pthread_setspecific(g_stream_key, s)) {
    dnnl_stream_destroy(s);
    return NULL;
  }
  return s;
}

static int isa_has(dnnl_cpu_isa_t want) {
  return ((unsigned)dnnl_get_effective_cpu_isa() & (unsigned)want) == (unsigned)want;
}

static int dn_supports(vlp_precision p, const char **why) {
  if (!engine()) {
    if (why) *why = "oneDNN could not create a CPU engine";
    return 0;
  }
  if (!isa_has(dnnl_cpu_isa_avx2)) {
    if (why) *why = "this CPU has no AVX2 (vlp uses OpenBLAS in f32 here)";
    return 0;
  }
  if (p == VLP_PRECISION_BF16 && !isa_has(dnnl_cpu_isa_avx512_core)) {
    if (why) *why = "bf16 products need AVX-512 (this CPU has AVX2 only); use f32";
    return 0;
  }
  /* Without VNNI oneDNN's int8 kernels multiply u8 x s8 pairs into saturating 16-bit sums
   * (vpmaddubsw), which loses whole products on our symmetric s8 activations. */
  if (p == VLP_PRECISION_INT8 && !isa_has(dnnl_cpu_isa_avx512_core_vnni) &&
      !isa_has(dnnl_cpu_isa_avx2_vnni)) {
    if (why) *why = "int8 products need AVX-512 VNNI or AVX-VNNI (this CPU has neither); use f32";
    return 0;
  }
  return 1;
}

/* ---- packed weights and their kernels ---------------------------------------------- */

#define KCACHE 12
/* Products below this many multiply-adds run on one thread. A decoder step's 768 x 768
 * products (M = 1) are above it: streaming their weights on both cores took a BLIP caption
 * step from 27 to 20 ms (threshold 2^20 before), alone and no slower next to a busy process. */
#define SMALL_PRODUCT (1 << 16)

typedef struct {
  int used;
  int n, act, accumulate, bias;
  int dst16; /* writes bf16 (an MLP's intermediate) instead of f32 */
  dnnl_primitive_t prim;
  dnnl_memory_desc_t pad_md; /* its scratchpad */
  size_t scratch;
  unsigned long last;
} dn_kernel;

/* f32 weights are packed in column parts, one per thread, when there are 2 to COL_PARTS_MAX
 * threads and each part keeps at least COL_PART_MIN columns. */
#define COL_PARTS_MAX 4
#define COL_PART_MIN 128
/* Products of more rows run the parts one after the other on all threads: BLIP's vision
 * tower at batch 8 (4616 rows) took 1-2% more time with each thread's part over all rows. */
#define PARTS_ROWS 1024

typedef struct {
  dnnl_memory_desc_t wmd; /* packed (in, out) weights */
  void *wdata;
  size_t wbytes; /* of wdata */
  float *wscale; /* int8: per output channel, W ~ q * wscale */
  int ldy;       /* floats between rows of y: out, or the whole weight's out for a part */
  /* parts > 1: no wdata of its own; part[j] is columns [c0[j], c0[j + 1]) of the weight as
   * a packed weight of its own (impl: its dn_weight, ldy the whole's out) */
  int parts;
  int c0[COL_PARTS_MAX + 1];
  gemm_packed part[COL_PARTS_MAX];
  pthread_mutex_t mu;
  unsigned long tick;
  dn_kernel k[KCACHE];
} dn_weight;

static dnnl_data_type_t wtype(vlp_precision p) {
  return p == VLP_PRECISION_BF16 ? dnnl_bf16 : p == VLP_PRECISION_INT8 ? dnnl_s8 : dnnl_f32;
}

/* The output's type: int32 sums for int8 products, else f32, or bf16 when asked (dst16). */
static dnnl_data_type_t ytype(vlp_precision p, int dst16) {
  return p == VLP_PRECISION_INT8 ? dnnl_s32 : dst16 ? dnnl_bf16 : dnnl_f32;
}

static dnnl_alg_kind_t act_alg(gemm_act a) {
  return a == GEMM_ACT_GELU_ERF    ? dnnl_eltwise_gelu_erf
         : a == GEMM_ACT_GELU_TANH ? dnnl_eltwise_gelu_tanh
                                   : dnnl_eltwise_swish;
}

/* A matmul primitive descriptor for n rows; weights desc w (may be format "any").
 * int8 products give int32 with no post-ops (the epilogue is ours). */
static dnnl_status_t make_pd(dnnl_primitive_desc_t *pd, const gemm_packed *p,
                             const dnnl_memory_desc_t *w, int n, int ldy, gemm_act act,
                             int accumulate, int bias, int dst16) {
  int q8 = p->prec == VLP_PRECISION_INT8;
  dnnl_dims_t sd = {n, p->in}, dd = {n, p->out}, bd = {1, p->out}, ds = {ldy, 1};
  dnnl_memory_desc_t smd, dmd, bmd;
  dnnl_status_t st;
  if ((st = dnnl_memory_desc_init_by_tag(&smd, 2, sd, wtype(p->prec), dnnl_ab)) ||
      (st = dnnl_memory_desc_init_by_strides(&dmd, 2, dd, ytype(p->prec, dst16), ds)) ||
      (st = dnnl_memory_desc_init_by_tag(&bmd, 2, bd, dnnl_f32, dnnl_ab)))
    return st;
  dnnl_matmul_desc_t md;
  if ((st = dnnl_matmul_desc_init(&md, &smd, w, bias && !q8 ? &bmd : NULL, &dmd))) return st;
  dnnl_primitive_attr_t attr;
  if ((st = guarded_primitive_attr_create(&attr))) return st;
  st = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
  if (!st && !q8 && (act != GEMM_ACT_NONE || accumulate)) {
    dnnl_post_ops_t po;
    st = guarded_post_ops_create(&po);
    if (!st) {
      if (act != GEMM_ACT_NONE)
        st = guarded_post_ops_append_eltwise(po, 1.0f, act_alg(act),
                                             act == GEMM_ACT_QUICK_GELU ? 1.702f : 0.0f, 0.0f);
      if (!st && accumulate) st = guarded_post_ops_append_sum(po, 1.0f);
      if (!st) st = guarded_primitive_attr_set_post_ops(attr, po);
      dnnl_post_ops_destroy(po);
    }
  }
  if (!st) st = guarded_primitive_desc_create(pd, &md, attr, engine(), NULL);
  dnnl_primitive_attr_destroy(attr);
  return st;
}

/* oneDNN's reference kernels are far slower than OpenBLAS: refuse them. */
static int is_reference(dnnl_primitive_desc_t pd) {
  const char *impl = NULL;
  if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) != dnnl_success || !impl)
    return 1;
  return strncmp(impl, "ref", 3) == 0;
}

/* Set once a matmul kernel other than brgemm ("brg:...", the AVX-512 kernels) was chosen.
 * brgemm sums each output over K in one order whatever the row count, the row's place and
 * the thread count (tests/test_batch_invariance.c); the AVX2 "gemm:jit" kernels do not. */
static atomic_int g_variant;

static void note_impl(dnnl_primitive_desc_t pd) {
  const char *impl = NULL;
  if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) != dnnl_success || !impl ||
      strncmp(impl, "brg", 3) != 0)
    atomic_store(&g_variant, 1);
}

static int dn_batch_invariant(void) {
  return !atomic_load(&g_variant);
}

/* One reorder: src (plain (in, out) seen from W (out, in)) into the packed layout. */
static dnnl_status_t reorder_into(const dnnl_memory_desc_t *src_md, const void *src,
                                  const dnnl_memory_desc_t *dst_md, void *dst) {
  dnnl_primitive_desc_t rpd = NULL;
  dnnl_primitive_t r = NULL;
  dnnl_memory_t ms = NULL, md = NULL;
  dnnl_stream_t s = stream();
  dnnl_status_t st = s ? dnnl_success : dnnl_runtime_error;
  if (!st)
    st = guarded_reorder_primitive_desc_create(&rpd, src_md, engine(), dst_md, engine(), NULL);
  if (!st) st = guarded_primitive_create(&r, rpd);
  if (!st) st = guarded_memory_create(&ms, src_md, engine(), (void *)src);
  if (!st) st = guarded_memory_create(&md, dst_md, engine(), dst);
  if (!st) {
    omp_set_num_threads(vlp_threads_current());
    dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, ms}, {DNNL_ARG_TO, md}};
    st = guarded_primitive_execute(r, s, 2, a);
    if (!st) st = guarded_stream_wait(s);
  }
  if (ms) dnnl_memory_destroy(ms);
  if (md) dnnl_memory_destroy(md);
  if (r) dnnl_primitive_destroy(r);
  if (rpd) dnnl_primitive_desc_destroy(rpd);
  return st;
}

/* int8 weights: q[o][k] = round(W[o][k] / s[o]), s[o] = max_k |W[o][k]| / 127. */
static void quantize_weights(int8_t *q, float *scale, const float *W, int out, int in) {
  const vk_table *vk = vk_get();
  int nt = vlp_threads_current();
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
  for (int o = 0; o < out; o++)
    scale[o] = vk->quantize_row(q + (size_t)o * in, W + (size_t)o * in, in);
}

static void dn_release(gemm_packed *p) {
  dn_weight *d = p->impl;
  if (!d) return;
  for (int j = 0; j < d->parts; j++) dn_release(&d->part[j]);
  for (int i = 0; i < KCACHE; i++)
    if (d->k[i].used) dnnl_primitive_destroy(d->k[i].prim);
  pthread_mutex_destroy(&d->mu);
  gemm_weights_free(d->wdata, d->wbytes);
  free(d->wscale);
  free(d);
  p->impl = NULL;
}

/* An empty dn_weight for p (p->impl), rows of y ldy floats apart; NULL when out of memory. */
static dn_weight *weight_new(gemm_packed *p, int ldy) {
  dn_weight *d = calloc(1, sizeof *d);
  if (!d) return NULL;
  pthread_mutex_init(&d->mu, NULL);
  d->ldy = ldy;
  p->impl = d;
  return d;
}

static vlp_status pack_one(gemm_packed *p, int ldy) {
  dn_weight *d = weight_new(p, ldy);
  if (!d) return vlp_fail(VLP_ERR_NOMEM, "gemm: out of memory");
  const char *what = gemm_precision_name(p->prec);
  int q8 = p->prec == VLP_PRECISION_INT8;

  /* The layout oneDNN wants for these weights (the same for every row count). */
  dnnl_dims_t wd = {p->in, p->out};
  dnnl_memory_desc_t any, plain;
  dnnl_primitive_desc_t pd = NULL;
  dnnl_status_t st = dnnl_memory_desc_init_by_tag(&any, 2, wd, wtype(p->prec), dnnl_format_tag_any);
  if (!st) st = make_pd(&pd, p, &any, 64, ldy, GEMM_ACT_NONE, 0, 1, 0);
  if (st || is_reference(pd)) {
    if (pd) dnnl_primitive_desc_destroy(pd);
    dn_release(p);
    return vlp_fail(VLP_ERR_UNSUPPORTED, "gemm: oneDNN has no fast %s matmul on this CPU", what);
  }
  note_impl(pd);
  d->wmd = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
  dnnl_primitive_desc_destroy(pd);
  size_t bytes = dnnl_memory_desc_get_size(&d->wmd);
  d->wdata = gemm_weights_alloc(bytes);
  d->wbytes = bytes;
  if (!d->wdata) {
    dn_release(p);
    return vlp_fail(VLP_ERR_NOMEM, "gemm: out of memory packing a %dx%d weight", p->out, p->in);
  }

  /* From W (out, in) row-major = (in, out) with tag "ba". */
  const void *src = p->W;
  int8_t *q = NULL;
  if (q8) {
    q = malloc((size_t)p->out * p->in);
    d->wscale = malloc((size_t)p->out * sizeof *d->wscale);
    if (!q || !d->wscale) {
      free(q);
      dn_release(p);
      return vlp_fail(VLP_ERR_NOMEM, "gemm: out of memory quantising a %dx%d weight", p->out,
                      p->in);
    }
    quantize_weights(q, d->wscale, p->W, p->out, p->in);
    src = q;
  }
  st = dnnl_memory_desc_init_by_tag(&plain, 2, wd, q8 ? dnnl_s8 : dnnl_f32, dnnl_ba);
  if (!st) st = reorder_into(&plain, src, &d->wmd, d->wdata);
  free(q);
  if (st) {
    dn_release(p);
    return vlp_fail(VLP_ERR_UNSUPPORTED, "gemm: oneDNN could not pack a %dx%d %s weight (%d)",
                    p->out, p->in, what, (int)st);
  }
  p->bytes = bytes + (q8 ? (size_t)p->out * sizeof(float) : 0);
  return VLP_OK;
}

/* Column parts for an f32 weight at the current thread count (1: packed whole), only when
 * VLP_GEMM_PARTS=1 at load. With one part per thread each thread streams only its share of
 * the weights: at 50-800 rows (CLIP B/32 at batch 1-16, BLIP's 577) oneDNN's own division
 * of a product took 4-14% more time than the threads running their halves (all of a ViT-B
 * layer's products, 2 threads). But a part writes every other stretch of its output rows,
 * and oneDNN 2.6 has no brgemm kernel for such an output: it then runs "gemm:jit", whose
 * sums depend on the row count, so embeddings would depend on their batch (and `index
 * build` would run one image at a time). */
static int col_parts(const gemm_packed *p) {
  int nt = vlp_threads_current();
  const char *want = getenv("VLP_GEMM_PARTS");
  if (!want || strcmp(want, "1") != 0) return 1;
  if (p->prec != VLP_PRECISION_F32 || nt < 2 || nt > COL_PARTS_MAX) return 1;
  return p->out / nt >= COL_PART_MIN ? nt : 1;
}

static vlp_status dn_pack(gemm_packed *p) {
  int parts = col_parts(p);
  if (parts == 1) return pack_one(p, p->out);
  dn_weight *d = weight_new(p, p->out);
  if (!d) return vlp_fail(VLP_ERR_NOMEM, "gemm: out of memory");
  p->bytes = 0;
  for (int j = 0; j < parts; j++) {
    int c0 = (int)((long)p->out * j / parts), c1 = (int)((long)p->out * (j + 1) / parts);
    d->c0[j] = c0, d->c0[j + 1] = c1;
    d->part[j] = (gemm_packed){
        .W = p->W + (size_t)c0 * p->in, .out = c1 - c0, .in = p->in, .prec = p->prec, .be = p->be};
    vlp_status st = pack_one(&d->part[j], p->out);
    d->parts = j + 1; /* released with the rest if it failed */
    if (st) {
      dn_release(p);
      return st;
    }
    p->bytes += d->part[j].bytes;
  }
  return VLP_OK;
}

/* The cached primitive for this call shape, made on first use (least recently used one
 * replaced). NULL if oneDNN cannot make it. */
static dn_kernel *kernel(dn_weight *d, const gemm_packed *p, int n, gemm_act act, int accumulate,
                         int bias, int dst16, dn_kernel *out) {
  pthread_mutex_lock(&d->mu);
  dn_kernel *hit = NULL, *lru = &d->k[0];
  for (int i = 0; i < KCACHE && !hit; i++) {
    dn_kernel *k = &d->k[i];
    if (k->used && k->n == n && k->act == (int)act && k->accumulate == accumulate &&
        k->bias == bias && k->dst16 == dst16)
      hit = k;
    else if (!k->used || (lru->used && k->last < lru->last))
      lru = k;
  }
  if (!hit) {
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t prim = NULL;
    dnnl_status_t st = make_pd(&pd, p, &d->wmd, n, d->ldy, act, accumulate, bias, dst16);
    if (!st) st = guarded_primitive_create(&prim, pd);
    if (!st) note_impl(pd);
    dnnl_memory_desc_t pad_md;
    if (!st) pad_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (!st) {
      if (lru->used) dnnl_primitive_destroy(lru->prim);
      *lru = (dn_kernel){
          1, n, (int)act, accumulate, bias, dst16, prim, pad_md, dnnl_memory_desc_get_size(&pad_md),
          0};
      hit = lru;
    }
  }
  if (hit) {
    hit->last = ++d->tick;
    *out = *hit; /* a copy: the slot may be replaced by another thread after unlock */
  }
  pthread_mutex_unlock(&d->mu);
  return hit ? out : NULL;
}

/* The input rows in the kernel's type: bf16, or int8 with per-row scales (scale[i]). */
static void convert_rows(void *dst, float *scale, const float *x, int n, int in, int q8) {
  const vk_table *vk = vk_get();
  int nt = vlp_threads_current();
  if ((size_t)n * in < PAR_MIN) nt = 1;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
  for (int i = 0; i < n; i++) {
    if (q8)
      scale[i] = vk->quantize_row((int8_t *)dst + (size_t)i * in, x + (size_t)i * in, in);
    else
      vk->to_bf16((uint16_t *)dst + (size_t)i * in, x + (size_t)i * in, (size_t)in);
  }
}

/* y = act(acc * rs[i] * ws[j] + b[j]) (+ y): the int8 product's dequantisation, bias and
 * activation in one pass per row; z (n, out) is scratch when there are both an activation
 * and a residual. acc may be y itself (a product without a residual is dequantised in
 * place). */
static void dequantize_rows(float *y, float *z, const int32_t *acc, const float *rs,
                            const float *ws, const float *b, int n, int out, gemm_act act,
                            int accumulate) {
  const vk_table *vk = vk_get();
  void (*f)(float *, size_t) = act == GEMM_ACT_GELU_ERF     ? vk->gelu
                               : act == GEMM_ACT_GELU_TANH  ? vk->gelu_tanh
                               : act == GEMM_ACT_QUICK_GELU ? vk->quick_gelu
                                                            : NULL;
  int nt = vlp_threads_current();
  if ((size_t)n * out < PAR_MIN) nt = 1;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
  for (int i = 0; i < n; i++) {
    size_t o = (size_t)i * out;
    if (!f) {
      vk->dequantize_row(y + o, acc + o, rs[i], ws, b, out, accumulate);
    } else if (!accumulate) {
      vk->dequantize_row(y + o, acc + o, rs[i], ws, b, out, 0);
      f(y + o, (size_t)out);
    } else {
      vk->dequantize_row(z + o, acc + o, rs[i], ws, b, out, 0);
      f(z + o, (size_t)out);
      vk->add(y + o, z + o, (size_t)out);
    }
  }
}

/* Runs kernel k over rows [r0, r0 + n) of src / dst on stream s with scratchpad pad. */
static dnnl_status_t execute_rows(const dn_kernel *k, const dn_weight *d, const gemm_packed *p,
                                  dnnl_stream_t s, void *pad, const void *src, void *dst,
                                  const float *b, int r0, int n) {
  int q8 = p->prec == VLP_PRECISION_INT8;
  size_t xsize = q8 ? 1 : p->prec == VLP_PRECISION_BF16 ? 2 : 4, ysize = k->dst16 ? 2 : 4;
  dnnl_dims_t sd = {n, p->in}, dd = {n, p->out}, bd = {1, p->out}, ds = {d->ldy, 1};
  dnnl_memory_desc_t smd, dmd, bmd;
  dnnl_memory_t m[5] = {0};
  dnnl_exec_arg_t a[5];
  int na = 0;
  const char *x = (const char *)src + (size_t)r0 * p->in * xsize;
  char *y = (char *)dst + (size_t)r0 * d->ldy * ysize;
  dnnl_status_t st = dnnl_memory_desc_init_by_tag(&smd, 2, sd, wtype(p->prec), dnnl_ab);
  if (!st) st = dnnl_memory_desc_init_by_strides(&dmd, 2, dd, ytype(p->prec, k->dst16), ds);
  if (!st) st = dnnl_memory_desc_init_by_tag(&bmd, 2, bd, dnnl_f32, dnnl_ab);
  if (!st && !(st = guarded_memory_create(&m[na], &smd, engine(), (void *)x)))
    a[na] = (dnnl_exec_arg_t){DNNL_ARG_SRC, m[na]}, na++;
  if (!st && !(st = guarded_memory_create(&m[na], &d->wmd, engine(), d->wdata)))
    a[na] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, m[na]}, na++;
  if (!st && !(st = guarded_memory_create(&m[na], &dmd, engine(), y)))
    a[na] = (dnnl_exec_arg_t){DNNL_ARG_DST, m[na]}, na++;
  if (!st && b && !q8 && !(st = guarded_memory_create(&m[na], &bmd, engine(), (void *)b)))
    a[na] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, m[na]}, na++;
  if (!st && pad && !(st = guarded_memory_create(&m[na], &k->pad_md, engine(), pad)))
    a[na] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, m[na]}, na++;
  if (!st) st = guarded_primitive_execute(k->prim, s, na, a);
  if (!st) st = guarded_stream_wait(s);
  for (int i = 0; i < na; i++) dnnl_memory_destroy(m[i]);
  return st;
}

/* f32 products of 256-511 rows per thread run as one oneDNN call per thread over its own
 * rows instead of one call that oneDNN divides: at 577 and 578 rows (a 384-pixel ViT-B/16
 * image and its class token) oneDNN's own division ran 7-13% slower than at 576 rows with the
 * weights coming from memory, and the split recovers it (the vision tower at batch 1: 3-4%
 * less time, paired runs). Outside that range, and in bf16, splitting was no faster or
 * slower (each thread then reads the whole weight). Only with the AVX-512 (brgemm)
 * kernels, whose sums do not depend on the row count. */
static int split_rows(const gemm_packed *p, int n, int nt) {
  return nt > 1 && p->prec == VLP_PRECISION_F32 && n >= 256 * nt && n < 512 * nt &&
         !omp_in_parallel() && isa_has(dnnl_cpu_isa_avx512_core) && dn_batch_invariant();
}

/* Inside a region of ours, before this thread runs its share of a product: its stream in *s
 * and a scratchpad of pad_bytes (returned; NULL when none is needed). No thread writes its
 * share unless all can (a product with a residual must not be half added when the caller
 * falls back to another backend): every thread of the region calls this once, with ok = 0
 * if it has no kernel, and none runs a kernel once *unready is set. From here oneDNN runs
 * on this thread only. */
static void *share_begin(size_t pad_bytes, int ok, dnnl_stream_t *s, atomic_int *unready) {
  *s = stream();
  void *pad = pad_bytes ? gemm_scratch(0, pad_bytes) : NULL;
  if (!ok || !*s || (pad_bytes && !pad)) atomic_store(unready, 1);
#pragma omp barrier
  omp_set_num_threads(1);
  return pad;
}

/* This thread's share of a product in a region of ours: kernel k (NULL: none) on its rows
 * [r0, r0 + n) (share_begin's rule); *failed set if oneDNN failed. */
static void run_share(const dn_kernel *k, const dn_weight *d, const gemm_packed *p, const void *src,
                      void *dst, const float *b, int r0, int n, atomic_int *unready,
                      atomic_int *failed) {
  dnnl_stream_t s;
  void *pad = share_begin(k ? k->scratch : 0, k != NULL, &s, unready);
  if (!atomic_load(unready) && execute_rows(k, d, p, s, pad, src, dst, b, r0, n))
    atomic_store(failed, 1);
}

/* dst16: dst is bf16 (f32 weights are never split then). */
static dnnl_status_t execute(dn_weight *d, const gemm_packed *p, const void *src, void *dst,
                             const float *b, int n, gemm_act act, int accumulate, int dst16) {
  int nt = vlp_threads_current();
  if (dst16 || !split_rows(p, n, nt)) {
    dn_kernel kc, *k = kernel(d, p, n, act, accumulate, b != NULL, dst16, &kc);
    dnnl_stream_t s = stream();
    void *pad = k && k->scratch ? gemm_scratch(0, k->scratch) : NULL;
    if (!k || !s || (k->scratch && !pad)) return dnnl_out_of_memory;
    /* Small products on one thread: a team's barrier costs more than it saves there (and
     * much more when the cores are shared with other processes). */
    double macs = (double)n * p->in * p->out;
    omp_set_num_threads(macs < SMALL_PRODUCT ? 1 : nt);
    return execute_rows(k, d, p, s, pad, src, dst, b, 0, n);
  }
  /* Shares of n / nt or n / nt + 1 rows: at most two kernels. */
  dn_kernel kc[2], *k[2];
  k[0] = kernel(d, p, n / nt, act, accumulate, b != NULL, 0, &kc[0]);
  k[1] = n % nt ? kernel(d, p, n / nt + 1, act, accumulate, b != NULL, 0, &kc[1]) : k[0];
  if (!k[0] || !k[1]) return dnnl_unimplemented;
  atomic_int unready = 0, failed = 0;
#pragma omp parallel num_threads(nt)
  {
    int t = omp_get_thread_num(), nth = omp_get_num_threads();
    int r0 = (int)((long)n * t / nth), r1 = (int)((long)n * (t + 1) / nth);
    const dn_kernel *kt = r1 - r0 == n / nt ? k[0] : r1 - r0 == n / nt + 1 ? k[1] : NULL;
    run_share(kt, d, p, src, dst, b, r0, r1 - r0, &unready, &failed);
  }
  return unready || failed ? dnnl_runtime_error : dnnl_success;
}

/* Rows per chunk of a part when the threads share out the parts' rows (execute_parts). */
#define PART_CHUNK_ROWS 64

/* A weight in column parts (f32). With one thread per part and at most PARTS_ROWS rows,
 * the threads share out the parts in chunks of rows: each runs its own part's chunks first,
 * front to back, then takes the chunks left in the other parts (team_next), so a thread
 * slowed by the host does less and neither waits long for the other. Else the parts run
 * one after the other, each a whole product. */
static dnnl_status_t execute_parts(dn_weight *d, const float *src, float *dst, const float *b,
                                   int n, gemm_act act, int accumulate) {
  int nt = vlp_threads_current();
  double macs = (double)n * d->part[0].in * d->ldy;
  if (nt != d->parts || omp_in_parallel() || macs < SMALL_PRODUCT || n > PARTS_ROWS) {
    for (int j = 0; j < d->parts; j++) {
      int c0 = d->c0[j];
      dnnl_status_t st = execute(d->part[j].impl, &d->part[j], src, dst + c0, b ? b + c0 : NULL, n,
                                 act, accumulate, 0);
      if (st != dnnl_success) return st;
    }
    return dnnl_success;
  }
  /* Each part's rows: a head of `head` rows (0: none), then nc chunks, nc - 1 of rc rows and
   * the last of `last`; a kernel for each size and part, made before any thread writes
   * (share_begin's rule). */
  const int head = n >= 4 * PART_CHUNK_ROWS ? n / 2 : 0;
  const int nc = (n - head + PART_CHUNK_ROWS - 1) / PART_CHUNK_ROWS, rc = (n - head + nc - 1) / nc;
  const int last = n - head - (nc - 1) * rc, items = nc + (head > 0);
  const int rows[3] = {rc, last, head};
  dn_kernel kc[COL_PARTS_MAX][3];
  size_t pad_bytes = 0;
  for (int j = 0; j < nt; j++) {
    const gemm_packed *pt = &d->part[j];
    for (int e = 0; e < 3; e++) {
      if (!rows[e]) continue;
      if (!kernel(pt->impl, pt, rows[e], act, accumulate, b != NULL, 0, &kc[j][e]))
        return dnnl_unimplemented;
      if (kc[j][e].scratch > pad_bytes) pad_bytes = kc[j][e].scratch;
    }
  }
  team_barrier bar;
  team_init(&bar);
  atomic_int unready = 0, failed = 0;
#pragma omp parallel num_threads(nt)
  {
    int t = omp_get_thread_num();
    dnnl_stream_t s;
    void *pad = share_begin(pad_bytes, omp_get_num_threads() == nt, &s, &unready);
    long lo, hi;
    while (!atomic_load(&unready) && team_next(&bar, t, nt, (long)nt * items, 1, &lo, &hi)) {
      int j = (int)(lo / items), i = (int)(lo % items) - (head > 0), c0 = d->c0[j];
      int e = i < 0 ? 2 : i == nc - 1, r0 = i < 0 ? 0 : head + i * rc;
      const gemm_packed *pt = &d->part[j];
      if (execute_rows(&kc[j][e], pt->impl, pt, s, pad, src, dst + c0, b ? b + c0 : NULL, r0,
                       rows[e]))
        atomic_store(&failed, 1);
    }
  }
  return unready || failed ? dnnl_runtime_error : dnnl_success;
}

static int dn_run(float *y, const float *x, const float *W, const gemm_packed *p, const float *b,
                  int n, int in, int out, gemm_act act, int accumulate) {
  (void)W;
  if (!p || p->in != in || p->out != out) return 0; /* unprepared weights: OpenBLAS */
  dn_weight *d = p->impl;
  int q8 = p->prec == VLP_PRECISION_INT8;

  size_t len = (size_t)n * out;
  const void *src = x;
  void *dst = y;
  float *rscale = NULL;
  if (p->prec == VLP_PRECISION_BF16) {
    uint16_t *xb = gemm_scratch(1, (size_t)n * in * sizeof *xb);
    if (!xb) return 0;
    convert_rows(xb, NULL, x, n, in, 0);
    src = xb;
  } else if (q8) {
    /* int32 products in y itself unless y holds the residual (then in scratch 2): the
     * dequantisation then runs in place over lines the product just wrote. Row scales
     * after the products in scratch 2. */
    size_t abytes = accumulate ? (len * sizeof(int32_t) + 63) / 64 * 64 : 0;
    int8_t *xq = gemm_scratch(1, (size_t)n * in);
    char *s2 = xq ? gemm_scratch(2, abytes + (size_t)n * sizeof(float)) : NULL;
    if (!s2) return 0;
    dst = accumulate ? (void *)s2 : (void *)y;
    rscale = (float *)(s2 + abytes);
    convert_rows(xq, rscale, x, n, in, 1);
    src = xq;
  }
  dnnl_status_t st = d->parts > 1 ? execute_parts(d, src, dst, b, n, act, accumulate)
                                  : execute(d, p, src, dst, b, n, act, accumulate, 0);
  if (st != dnnl_success) return 0;

  if (q8) {
    float *z = NULL;
    if (accumulate && act != GEMM_ACT_NONE && !(z = gemm_scratch(1, len * sizeof *z))) return 0;
    dequantize_rows(y, z, dst, rscale, d->wscale, b, n, out, act, accumulate);
  }
  return 1;
}

/* dn_run for a bf16 weight on rows already in bf16 (gemm_linear_norm), writing f32 or
 * (dst16) bf16 rows. */
static int dn_run_bf16(void *y, const uint16_t *x, const gemm_packed *p, const float *b, int n,
                       gemm_act act, int accumulate, int dst16) {
  dn_weight *d = p->impl;
  if (p->prec != VLP_PRECISION_BF16 || d->parts > 1) return 0;
  return execute(d, p, x, y, b, n, act, accumulate, dst16) == dnnl_success;
}

/* A bf16 MLP, y += act(x W1^T + b1) W2^T + b2: the first product writes its output in bf16,
 * which the second reads as it is, instead of f32 that the second converts (one pass over
 * the widest activations less, and half the bytes written). 0 (nothing written) when the
 * weights are not both bf16 and whole, or without memory for the scratch. */
static int dn_run_mlp(float *y, const void *x, int x16, const gemm_packed *p1, const float *b1,
                      const gemm_packed *p2, const float *b2, int n, gemm_act act) {
  dn_weight *d1 = p1->impl, *d2 = p2->impl;
  if (p1->prec != VLP_PRECISION_BF16 || p2->prec != VLP_PRECISION_BF16 || d1->parts > 1 ||
      d2->parts > 1)
    return 0;
  const uint16_t *xb = x;
  if (!x16) {
    uint16_t *c = gemm_scratch(1, (size_t)n * p1->in * sizeof *c);
    if (!c) return 0;
    convert_rows(c, NULL, x, n, p1->in, 0);
    xb = c;
  }
  uint16_t *hb = gemm_scratch(2, (size_t)n * p1->out * sizeof *hb);
  if (!hb) return 0;
  if (execute(d1, p1, xb, hb, b1, n, act, 0, 1) != dnnl_success) return 0;
  return execute(d2, p2, hb, y, b2, n, GEMM_ACT_NONE, 1, 0) == dnnl_success;
}

static const gemm_backend backend = {"dnnl", dn_supports,        dn_pack,    dn_release,
                                     dn_run, dn_batch_invariant, dn_run_mlp, dn_run_bf16};
const gemm_backend *const gemm_backend_dnnl = &backend;

#else

const gemm_backend *const gemm_backend_dnnl = NULL;

#endif
