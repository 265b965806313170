/* attention_bf16: attention on bf16 q, k, v with AVX512_BF16 dot products (see
 * attention_bf16.h).
 *
 * One task is one (batch item, head). Its keys are transposed once into k2 (word c of key j
 * at k2[c][j], a word being two adjacent head columns) and its values interleaved by pairs
 * of keys into v2 (word (jp, c) = keys 2jp and 2jp + 1 of column c). Then for each tile of
 * ROWS query rows: the scores with vectors along the keys (each sum a vdpbf16ps of a key
 * vector by the row's word broadcast), the softmax of each row in f32 from L1, its weights
 * rounded to bf16 pairs, and P.V with vectors along the head (a value vector by the row's
 * weight pair broadcast). Keys past Tk are zero in k2 and v2 and get weight 0. Meanwhile
 * the thread's next task's rows are asked for, a part per tile. */
#include "core/attention_bf16.h"

/* As core/attention.c: a * b + c fused into FMA instructions, float compares if-converted
 * (the softmax's exp is a polynomial). */
#if defined(__clang__)
#pragma clang fp contract(fast)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=fast", "no-trapping-math")
#endif

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/attention.h"
#include "core/fast_exp.h"
#include "core/half.h"
#include "core/kernels.h"
#include "core/threads.h"

/* Query rows per register tile, each with VECS vectors of sums (of 16 keys in the scores,
 * of 16 head columns in P.V): 20 of the 32 vector registers. 5 divides CLIP B/32's 50 rows. */
#define ROWS 5
#define VECS 4

/* ---- the scalar reference -------------------------------------------------------- */

int attention_bf16_reference(uint16_t *out, const uint16_t *q, const uint16_t *k, const uint16_t *v,
                             const op_attn_shape *s) {
  const int H = s->H, hd = s->hd, Tk = s->Tk, ld = op_attn_ld(s), D = H * hd;
  const float scale = 1.0f / sqrtf((float)hd);
  float *w = malloc((size_t)(Tk > 0 ? Tk : 1) * sizeof *w); /* one row's scores, weights */
  if (!w) return 0;
  for (int b = 0; b < s->B; b++)
    for (int h = 0; h < H; h++)
      for (int i = 0; i < s->Tq; i++) {
        const uint16_t *qi = q + ((size_t)b * s->Tq + i) * ld + (size_t)h * hd;
        const uint16_t *kb = k + (size_t)b * s->kv_cap * ld + (size_t)h * hd;
        const uint16_t *vb = v + (size_t)b * s->kv_cap * ld + (size_t)h * hd;
        uint16_t *o = out + ((size_t)b * s->Tq + i) * D + (size_t)h * hd;
        const int lim = op_attn_visible(s, i);
        float m = -INFINITY, l = 0.0f;
        for (int j = 0; j < lim; j++) {
          float dot = 0.0f;
          for (int c = 0; c < hd; c++)
            dot += bf16_to_f32(qi[c]) * bf16_to_f32(kb[(size_t)j * ld + c]);
          w[j] = dot * scale + (s->mask ? s->mask[(size_t)b * Tk + j] : 0.0f);
          m = w[j] > m ? w[j] : m;
        }
        if (m == -INFINITY) m = 0.0f; /* every score -inf, or no key */
        for (int j = 0; j < lim; j++) {
          float e = vlp_fast_expf_nonpos(w[j] - m);
          l += e;
          w[j] = bf16_to_f32(f32_to_bf16(e));
        }
        const float inv = l > 0.0f ? 1.0f / l : 0.0f;
        for (int c = 0; c < hd; c++) {
          float acc = 0.0f;
          for (int j = 0; j < lim; j++) acc += w[j] * bf16_to_f32(vb[(size_t)j * ld + c]);
          o[c] = f32_to_bf16(acc * inv);
        }
      }
  free(w);
  return 1;
}

/* ---- the AVX512_BF16 kernels ----------------------------------------------------- */

#if defined(__x86_64__) && (defined(__clang__) || __GNUC__ >= 12)
#include <immintrin.h>

#include "core/transpose16.h"

#define BF16_TARGET \
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx2,fma")))

typedef int32_t v16i __attribute__((vector_size(64)));

/* One (batch item, head): q, k, v, mask, out at its slice of row 0. */
typedef struct {
  const uint16_t *q, *k, *v;
  const float *mask; /* (Tk) or NULL */
  uint16_t *out;
  const op_attn_shape *s;
  int ld, D;
  float scale;
} head16;

/* k2 (hp, Tkp): word c (columns 2c, 2c + 1) of key j at k2[c * Tkp + j], zeros from Tk on;
 * in 16 x 16 tiles transposed in registers. */
BF16_TARGET static void pack_keys(uint32_t *k2, const head16 *a, int hp, int Tkp) {
  const int Tk = a->s->Tk;
  for (int c0 = 0; c0 < hp; c0 += 16) {
    const int nc = hp - c0 < 16 ? hp - c0 : 16;
    const __mmask16 cm = (__mmask16)((1u << nc) - 1);
    for (int j0 = 0; j0 < Tkp; j0 += 16) {
      v16i x[16];
      for (int r = 0; r < 16; r++)
        x[r] = j0 + r < Tk
                   ? (v16i)_mm512_maskz_loadu_epi32(cm, a->k + (size_t)(j0 + r) * a->ld + 2 * c0)
                   : (v16i){0};
      T16_TRANSPOSE(v16i, x);
      for (int c = 0; c < nc; c++) memcpy(k2 + (size_t)(c0 + c) * Tkp + j0, &x[c], sizeof x[c]);
    }
  }
}

/* v2 (Tk2, hdp): word (jp, c) = value column c of keys 2jp (low half) and 2jp + 1 (high
 * half), zeros past Tk and hd. */
BF16_TARGET static void pack_values(uint32_t *v2, const head16 *a, int Tk2, int hdp) {
  const int Tk = a->s->Tk, hd = a->s->hd;
  /* vpermt2w indices: lane 2i from the first row, 2i + 1 from the second (32 + i) */
  _Alignas(64) int16_t lo[32], hi[32];
  for (int i = 0; i < 16; i++) {
    lo[2 * i] = (int16_t)i, lo[2 * i + 1] = (int16_t)(32 + i);
    hi[2 * i] = (int16_t)(16 + i), hi[2 * i + 1] = (int16_t)(48 + i);
  }
  const __m512i ilo = _mm512_load_si512(lo), ihi = _mm512_load_si512(hi);
  for (int jp = 0; jp < Tk2; jp++) {
    const uint16_t *r0 = a->v + (size_t)(2 * jp) * a->ld, *r1 = r0 + a->ld;
    for (int c0 = 0; c0 < hdp; c0 += 32) {
      const int nc = hd - c0 < 32 ? hd - c0 : 32;
      const __mmask32 cm = nc >= 32 ? 0xFFFFFFFFu : (__mmask32)((1u << nc) - 1);
      __m512i x0 = _mm512_maskz_loadu_epi16(cm, r0 + c0);
      __m512i x1 = 2 * jp + 1 < Tk ? _mm512_maskz_loadu_epi16(cm, r1 + c0) : _mm512_setzero_si512();
      uint32_t *w = v2 + (size_t)jp * hdp + c0;
      _mm512_storeu_si512(w, _mm512_permutex2var_epi16(x0, ilo, x1));
      if (c0 + 16 < hdp) _mm512_storeu_si512(w + 16, _mm512_permutex2var_epi16(x0, ihi, x1));
    }
  }
}

/* sr (ROWS, sp): the f32 sums q . k of the tile's rows (from row i0, past Tq the last row
 * again) with the keys of vectors v0.. v0+KV-1. KV is a constant at every call. */
BF16_TARGET static inline __attribute__((always_inline)) void score_tile(float *sr, int sp,
                                                                         const head16 *a,
                                                                         const uint32_t *k2,
                                                                         int Tkp, int hp, int i0,
                                                                         int v0, const int KV) {
  const uint16_t *qr[ROWS];
  for (int r = 0; r < ROWS; r++)
    qr[r] = a->q + (size_t)(i0 + r < a->s->Tq ? i0 + r : a->s->Tq - 1) * a->ld;
  __m512 acc[ROWS][VECS];
  for (int r = 0; r < ROWS; r++)
    for (int u = 0; u < KV; u++) acc[r][u] = _mm512_setzero_ps();
  const uint32_t *kc = k2 + (size_t)v0 * 16;
  for (int c = 0; c < hp; c++, kc += Tkp) {
    __m512i kv[VECS];
    for (int u = 0; u < KV; u++) kv[u] = _mm512_loadu_si512(kc + u * 16);
    for (int r = 0; r < ROWS; r++) {
      uint32_t w;
      memcpy(&w, qr[r] + 2 * c, sizeof w);
      __m512bh qb = (__m512bh)_mm512_set1_epi32((int)w);
      for (int u = 0; u < KV; u++) acc[r][u] = _mm512_dpbf16_ps(acc[r][u], (__m512bh)kv[u], qb);
    }
  }
  for (int r = 0; r < ROWS; r++)
    for (int u = 0; u < KV; u++) _mm512_storeu_ps(sr + (size_t)r * sp + (v0 + u) * 16, acc[r][u]);
}

/* The softmax of the tile's nr rows from their sums in sr: weights in bf16 pairs into pr
 * (ROWS, pp words), 1 / sum into inv. kb (nkv vectors): the mask, -inf from Tk on. Vectors
 * along the keys, one max and one sum across lanes per row; each step for all the rows
 * before the next (their chains of dependent instructions overlap). */
BF16_TARGET static void softmax_tile(uint32_t *pr, int pp, float *inv, float *sr, int sp,
                                     const float *kb, const head16 *a, int i0, int nr, int nkv) {
  const __m512 sc = _mm512_set1_ps(a->scale), ninf = _mm512_set1_ps(-INFINITY);
  const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  float m[ROWS];
  for (int r = 0; r < nr; r++) {
    float *x = sr + (size_t)r * sp;
    const __m512i lim = _mm512_set1_epi32(op_attn_visible(a->s, i0 + r));
    __m512 mx = ninf;
    for (int v = 0; v < nkv; v++) {
      __m512 y = _mm512_fmadd_ps(_mm512_loadu_ps(x + v * 16), sc, _mm512_loadu_ps(kb + v * 16));
      if (a->s->causal) {
        __m512i j = _mm512_add_epi32(iota, _mm512_set1_epi32(v * 16));
        y = _mm512_mask_blend_ps(_mm512_cmplt_epi32_mask(j, lim), ninf, y);
      }
      _mm512_storeu_ps(x + v * 16, y);
      mx = _mm512_max_ps(mx, y);
    }
    m[r] = _mm512_reduce_max_ps(mx);
    if (m[r] == -INFINITY) m[r] = 0.0f; /* exp finite */
  }
  for (int r = 0; r < nr; r++)
    for (int v = 0; v < nkv; v++) {
      float *xv = sr + (size_t)r * sp + v * 16;
#pragma omp simd
      for (int w = 0; w < 16; w++) xv[w] = vlp_fast_expf_nonpos(xv[w] - m[r]);
    }
  __m512 sum[ROWS];
  for (int r = 0; r < nr; r++) {
    sum[r] = _mm512_loadu_ps(sr + (size_t)r * sp);
    for (int v = 1; v < nkv; v++)
      sum[r] = _mm512_add_ps(sum[r], _mm512_loadu_ps(sr + (size_t)r * sp + v * 16));
  }
  for (int r = 0; r < nr; r++) {
    const float l = _mm512_reduce_add_ps(sum[r]);
    inv[r] = l > 0.0f ? 1.0f / l : 0.0f; /* no key seen: zeros */
  }
  for (int r = 0; r < nr; r++) {
    const float *x = sr + (size_t)r * sp;
    uint32_t *p = pr + (size_t)r * pp;
    for (int v = 0; v < nkv; v += 2) { /* 32 weights, or the last 16 */
      __m512 lo = _mm512_loadu_ps(x + v * 16);
      __m512 hi = v + 1 < nkv ? _mm512_loadu_ps(x + v * 16 + 16) : _mm512_setzero_ps();
      __mmask16 wm = v + 1 < nkv ? 0xFFFF : 0x00FF;
      _mm512_mask_storeu_epi32(p + v * 8, wm, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
    }
  }
}

/* Output rows i0.. i0+nr-1, columns of vectors c0.. c0+CV-1 (16 each, stored up to hd),
 * = inv * the sums over the key pairs [0, np) of the weights pr by v2. CV is a constant at
 * every call. */
BF16_TARGET static inline __attribute__((always_inline)) void pv_tile(
    const head16 *a, const uint32_t *pr, int pp, const float *inv, const uint32_t *v2, int hdp,
    int i0, int nr, int np, int c0, const int CV) {
  __m512 acc[ROWS][VECS];
  for (int r = 0; r < ROWS; r++)
    for (int u = 0; u < CV; u++) acc[r][u] = _mm512_setzero_ps();
  const uint32_t *vp = v2 + c0;
  for (int jp = 0; jp < np; jp++, vp += hdp) {
    __m512i vv[VECS];
    for (int u = 0; u < CV; u++) vv[u] = _mm512_loadu_si512(vp + u * 16);
    for (int r = 0; r < ROWS; r++) {
      __m512bh pb = (__m512bh)_mm512_set1_epi32((int)pr[(size_t)r * pp + jp]);
      for (int u = 0; u < CV; u++) acc[r][u] = _mm512_dpbf16_ps(acc[r][u], (__m512bh)vv[u], pb);
    }
  }
  const int hd = a->s->hd;
  for (int r = 0; r < nr; r++) {
    uint16_t *o = a->out + (size_t)(i0 + r) * a->D;
    const __m512 s = _mm512_set1_ps(inv[r]);
    for (int u = 0; u < CV; u++) {
      const int c = c0 + u * 16, nc = hd - c < 16 ? hd - c : 16;
      __m256i h = (__m256i)_mm512_cvtneps_pbh(_mm512_mul_ps(acc[r][u], s));
      _mm256_mask_storeu_epi16(o + c, (__mmask16)((1u << nc) - 1), h);
    }
  }
}

/* The lines of n bf16 values from p into L2. */
BF16_TARGET static inline void prefetch_span(const uint16_t *p, int n) {
  const char *c = (const char *)((uintptr_t)p & ~(uintptr_t)63), *end = (const char *)(p + n);
  for (; c < end; c += 64) _mm_prefetch(c, _MM_HINT_T1);
}

/* Part `part` of `parts` of a's rows of q, k and v into L2: the next task's, a part per tile
 * of this one. The rows come from the product before, 3D values apart, a pattern the
 * hardware prefetchers do not follow: CLIP B/32's attention at batch 16 took 10% less time
 * on rows out of the caches, 5% less on cached ones (alternating runs, best of each). */
BF16_TARGET static void prefetch_head(const head16 *a, int part, int parts) {
  const op_attn_shape *s = a->s;
  for (int i = s->Tq * part / parts; i < s->Tq * (part + 1) / parts; i++)
    prefetch_span(a->q + (size_t)i * a->ld, s->hd);
  for (int j = s->Tk * part / parts; j < s->Tk * (part + 1) / parts; j++) {
    prefetch_span(a->k + (size_t)j * a->ld, s->hd);
    prefetch_span(a->v + (size_t)j * a->ld, s->hd);
  }
}

/* Task a; next (NULL: none) is the thread's next task, whose rows it asks for. */
BF16_TARGET static void head_bf16(const head16 *a, const head16 *next) {
  _Alignas(64) uint32_t k2[ATTN16_HD / 2 * ATTN16_TK];
  _Alignas(64) uint32_t v2[ATTN16_TK / 2 * ATTN16_HD];
  _Alignas(64) float kb[ATTN16_TK], sr[ROWS * ATTN16_TK], inv[ROWS];
  _Alignas(64) uint32_t pr[ROWS * ATTN16_TK / 2];
  const op_attn_shape *s = a->s;
  const int Tk = s->Tk, hp = s->hd / 2, Tkp = (Tk + 15) / 16 * 16, Tk2 = (Tk + 1) / 2;
  const int hdp = (s->hd + 15) / 16 * 16, nkv = Tkp / 16, ncv = hdp / 16, sp = Tkp, pp = Tkp / 2;
  for (int i = 0; i < s->Tq; i++) /* the query rows the tiles read after the packing */
    prefetch_span(a->q + (size_t)i * a->ld, s->hd);
  pack_keys(k2, a, hp, Tkp);
  pack_values(v2, a, Tk2, hdp);
  for (int j = 0; j < Tkp; j++) kb[j] = j >= Tk ? -INFINITY : a->mask ? a->mask[j] : 0.0f;
  memset(pr, 0, sizeof pr); /* rows past the last tile's: summed, not stored */
  const int tiles = (s->Tq + ROWS - 1) / ROWS;
  for (int i0 = 0; i0 < s->Tq; i0 += ROWS) {
    const int nr = s->Tq - i0 < ROWS ? s->Tq - i0 : ROWS;
    if (next) prefetch_head(next, i0 / ROWS, tiles);
    for (int v0 = 0; v0 < nkv; v0 += VECS) switch (nkv - v0) {
        case 1:
          score_tile(sr, sp, a, k2, Tkp, hp, i0, v0, 1);
          break;
        case 2:
          score_tile(sr, sp, a, k2, Tkp, hp, i0, v0, 2);
          break;
        case 3:
          score_tile(sr, sp, a, k2, Tkp, hp, i0, v0, 3);
          break;
        default:
          score_tile(sr, sp, a, k2, Tkp, hp, i0, v0, VECS);
      }
    softmax_tile(pr, pp, inv, sr, sp, kb, a, i0, nr, nkv);
    /* key pairs the tile sees: the last row sees the most (causal) */
    const int np = (op_attn_visible(s, i0 + nr - 1) + 1) / 2;
    for (int c0 = 0; c0 < ncv; c0 += VECS) switch (ncv - c0) {
        case 1:
          pv_tile(a, pr, pp, inv, v2, hdp, i0, nr, np, c0 * 16, 1);
          break;
        case 2:
          pv_tile(a, pr, pp, inv, v2, hdp, i0, nr, np, c0 * 16, 2);
          break;
        case 3:
          pv_tile(a, pr, pp, inv, v2, hdp, i0, nr, np, c0 * 16, 3);
          break;
        default:
          pv_tile(a, pr, pp, inv, v2, hdp, i0, nr, np, c0 * 16, VECS);
      }
  }
}

static int cpu_has_bf16(void) {
  return __builtin_cpu_supports("avx512bf16");
}
#define HAVE_BF16_KERNEL 1
#else
#define HAVE_BF16_KERNEL 0
#endif

/* ---- the driver ------------------------------------------------------------------- */

int attention_bf16_available(const op_attn_shape *s) {
#if HAVE_BF16_KERNEL
  return cpu_has_bf16() && strcmp(vk_get()->name, "avx512") == 0 && s->Tk > 0 &&
         s->Tk <= ATTN16_TK && s->Tk <= s->kv_cap && s->hd > 0 && s->hd % 2 == 0 &&
         s->hd <= ATTN16_HD;
#else
  (void)s;
  return 0;
#endif
}

#if HAVE_BF16_KERNEL
/* Task t of s: batch item t / H, head t % H. */
static head16 head_of(uint16_t *out, const uint16_t *q, const uint16_t *k, const uint16_t *v,
                      const op_attn_shape *s, long t) {
  const int H = s->H, ld = op_attn_ld(s), b = (int)(t / H), h = (int)(t % H);
  const size_t ko = (size_t)b * s->kv_cap * ld + (size_t)h * s->hd;
  return (head16){.q = q + (size_t)b * s->Tq * ld + (size_t)h * s->hd,
                  .k = k + ko,
                  .v = v + ko,
                  .mask = s->mask ? s->mask + (size_t)b * s->Tk : NULL,
                  .out = out + (size_t)b * s->Tq * H * s->hd + (size_t)h * s->hd,
                  .s = s,
                  .ld = ld,
                  .D = H * s->hd,
                  .scale = 1.0f / sqrtf((float)s->hd)};
}
#endif

/* An attention call's arguments, for its tasks. */
typedef struct {
  uint16_t *out;
  const uint16_t *q, *k, *v;
  const op_attn_shape *s;
} call16;

/* Task t of the call, the rows of task t + 1 asked for meanwhile (a thread's tasks mostly
 * run in order). */
static void task(const void *ctx, long t) {
#if HAVE_BF16_KERNEL
  const call16 *c = ctx;
  const op_attn_shape *s = c->s;
  head16 a = head_of(c->out, c->q, c->k, c->v, s, t),
         next = head_of(c->out, c->q, c->k, c->v, s, t + 1);
  head_bf16(&a, t + 1 < (long)s->B * s->H ? &next : NULL);
#else
  (void)ctx, (void)t;
#endif
}

int attention_bf16(uint16_t *out, const uint16_t *q, const uint16_t *k, const uint16_t *v,
                   const op_attn_shape *s) {
  if (!attention_bf16_available(s)) return 0;
  const long tasks = (long)s->B * s->H;
  if (s->Tq <= 0 || tasks <= 0) return 1;
  const call16 c = {out, q, k, v, s};
  attention_run(tasks, s, task, &c);
  return 1;
}

int attention_bf16_team(uint16_t *out, const uint16_t *q, const uint16_t *k, const uint16_t *v,
                        const op_attn_shape *s, team_barrier *bar, int t, int n) {
  if (!attention_bf16_available(s)) return 0;
  const long tasks = (long)s->B * s->H;
  if (s->Tq <= 0 || tasks <= 0) return 1;
  const call16 c = {out, q, k, v, s};
  attention_run_team(tasks, bar, t, n, task, &c);
  return 1;
}
