/* attention_body: the inner kernels of core/attention.c, included there once per instruction
 * set and block width with VK_NAME (the core/kernels.h path), VK_TARGET (a function
 * attribute), VK_SUFFIX (name suffix), VA_W (floats per vector), VA_QV (vectors of query
 * rows per block), VA_KR (keys per register tile of the scores) and VA_CR (head columns per
 * register tile of P.V) defined, and for the short kernel (wide blocks only) VA_SKR and
 * VA_SQT (keys x vectors of query rows per register tile of its scores), VA_PR and VA_PCV
 * (rows x vectors of head columns per register tile of its P.V); it undefines all but VK_NAME
 * and VK_TARGET. Written with GCC vector extensions, which the compiler lowers to the
 * target's registers (zmm, ymm, xmm).
 *
 * One call handles VA_QV * VA_W query rows of one (batch item, head): the rows are held
 * transposed (column c of the block is one row of vectors), so the scores of a key, the
 * running max, the running sum and the rescaling factors are vectors over query rows. */
#define VK_CAT2(a, b) a##_##b
#define VK_CAT(a, b) VK_CAT2(a, b)
#define VK(name) VK_CAT(name, VK_SUFFIX)

#define VA_QB (VA_QV * VA_W) /* query rows per block */
typedef float VK(vf) __attribute__((vector_size(VA_W * 4)));
typedef int32_t VK(vi) __attribute__((vector_size(VA_W * 4)));

VK_TARGET static inline VK(vf) VK(ld)(const float *p) {
  VK(vf) x;
  memcpy(&x, p, sizeof x);
  return x;
}

VK_TARGET static inline void VK(st)(float *p, VK(vf) x) {
  memcpy(p, &x, sizeof x);
}

/* Lanewise max of x and y; y where x is NaN, as the scalar loops' x > y ? x : y. */
VK_TARGET static inline VK(vf) VK(vmax)(VK(vf) x, VK(vf) y) {
  VK(vi) gt = x > y;
  return (VK(vf))(((VK(vi))x & gt) | ((VK(vi))y & ~gt));
}

/* st rows jj.. jj+KR-1 (of the block from j0) = the scores of those keys against the block
 * qt (hd, QB), mask added; mv = the larger of mv and each row's largest score. KR is a
 * constant at every call. */
VK_TARGET static inline __attribute__((always_inline)) void VK(score_tile)(
    float *st, VK(vf) * mv, const float *qt, const attn_head *a, int j0, int jj, const int KR) {
  const float *kp[VA_KR];
  for (int t = 0; t < KR; t++) kp[t] = a->k + (size_t)(j0 + jj + t) * a->ld;
  VK(vf) acc[VA_KR][VA_QV];
  for (int t = 0; t < KR; t++)
    for (int u = 0; u < VA_QV; u++) acc[t][u] = (VK(vf)){0};
  for (int c = 0; c < a->hd; c++) {
    VK(vf) qv[VA_QV];
    for (int u = 0; u < VA_QV; u++) qv[u] = VK(ld)(qt + (size_t)c * VA_QB + u * VA_W);
    for (int t = 0; t < KR; t++) {
      float kc = kp[t][c];
      for (int u = 0; u < VA_QV; u++) acc[t][u] += kc * qv[u];
    }
  }
  for (int t = 0; t < KR; t++) {
    if (a->mask) {
      float mk = a->mask[j0 + jj + t];
      for (int u = 0; u < VA_QV; u++) acc[t][u] += mk;
    }
    for (int u = 0; u < VA_QV; u++) {
      VK(st)(st + (size_t)(jj + t) * VA_QB + u * VA_W, acc[t][u]);
      mv[u] = VK(vmax)(acc[t][u], mv[u]);
    }
  }
}

/* st (nk, QB) = scores of keys j0.. j0+nk-1 against the block qt (hd, QB), mask added;
 * mx (QB) = the larger of mx and each row's largest score. Whole tiles of VA_KR keys, then
 * the keys left one at a time (no padding keys computed). */
VK_TARGET static void VK(scores)(float *st, float *mx, const float *qt, const attn_head *a, int j0,
                                 int nk) {
  VK(vf) mv[VA_QV];
  for (int u = 0; u < VA_QV; u++) mv[u] = VK(ld)(mx + u * VA_W);
  int jj = 0;
  for (; jj + VA_KR <= nk; jj += VA_KR) VK(score_tile)(st, mv, qt, a, j0, jj, VA_KR);
  for (; jj < nk; jj++) VK(score_tile)(st, mv, qt, a, j0, jj, 1);
  for (int u = 0; u < VA_QV; u++) VK(st)(mx + u * VA_W, mv[u]);
}

/* ot (hd, QB) = ot * alpha + P^T V over keys j0.. j0+nk-1, P = st (nk, QB). */
VK_TARGET static void VK(accumulate)(float *ot, const float *alpha, const float *st,
                                     const attn_head *a, int j0, int nk) {
  VK(vf) al[VA_QV];
  for (int u = 0; u < VA_QV; u++) al[u] = VK(ld)(alpha + u * VA_W);
  const float *vb = a->v + (size_t)j0 * a->ld;
  int c = 0;
  for (; c + VA_CR <= a->hd; c += VA_CR) {
    VK(vf) o[VA_CR][VA_QV];
    for (int r = 0; r < VA_CR; r++)
      for (int u = 0; u < VA_QV; u++)
        o[r][u] = VK(ld)(ot + (size_t)(c + r) * VA_QB + u * VA_W) * al[u];
    for (int t = 0; t < nk; t++) {
      VK(vf) p[VA_QV];
      for (int u = 0; u < VA_QV; u++) p[u] = VK(ld)(st + (size_t)t * VA_QB + u * VA_W);
      const float *vr = vb + (size_t)t * a->ld + c;
      for (int r = 0; r < VA_CR; r++)
        for (int u = 0; u < VA_QV; u++) o[r][u] += vr[r] * p[u];
    }
    for (int r = 0; r < VA_CR; r++)
      for (int u = 0; u < VA_QV; u++) VK(st)(ot + (size_t)(c + r) * VA_QB + u * VA_W, o[r][u]);
  }
  for (; c < a->hd; c++) { /* columns past the last full tile */
    VK(vf) o[VA_QV];
    for (int u = 0; u < VA_QV; u++) o[u] = VK(ld)(ot + (size_t)c * VA_QB + u * VA_W) * al[u];
    for (int t = 0; t < nk; t++) {
      float vc = vb[(size_t)t * a->ld + c];
      for (int u = 0; u < VA_QV; u++) o[u] += vc * VK(ld)(st + (size_t)t * VA_QB + u * VA_W);
    }
    for (int u = 0; u < VA_QV; u++) VK(st)(ot + (size_t)c * VA_QB + u * VA_W, o[u]);
  }
}

/* qt (hd, nqp) = the block's query rows i0.. i0+n-1 transposed and scaled, rows from n on
 * zero. With 16-float vectors in 16 x 16 tiles in registers. */
VK_TARGET static void VK(load_qt)(float *qt, int nqp, const attn_head *a, int i0, int n) {
  int c0 = 0;
#if VA_W == 16
  for (; c0 + 16 <= a->hd; c0 += 16)
    for (int r0 = 0; r0 < nqp; r0 += 16) {
      VK(vf) x[16];
      for (int r = 0; r < 16; r++)
        x[r] =
            r0 + r < n ? VK(ld)(a->q + (size_t)(i0 + r0 + r) * a->ld + c0) * a->scale : (VK(vf)){0};
      T16_TRANSPOSE(VK(vf), x);
      for (int c = 0; c < 16; c++) VK(st)(qt + (size_t)(c0 + c) * nqp + r0, x[c]);
    }
#endif
  for (int r = 0; r < nqp; r++) { /* the columns left */
    const float *qr = a->q + (size_t)(i0 + (r < n ? r : 0)) * a->ld;
    float sc = r < n ? a->scale : 0.0f;
    for (int c = c0; c < a->hd; c++) qt[c * nqp + r] = qr[c] * sc;
  }
}

/* Output rows i0.. i0+n-1 = the block's ot (hd, QB) transposed back, row r scaled by inv[r].
 * With 16-float vectors in 16 x 16 tiles in registers. */
VK_TARGET static void VK(store_out)(const attn_head *a, const float *ot, const float *inv, int i0,
                                    int n) {
  int r0 = 0;
#if VA_W == 16
  for (; r0 + 16 <= n; r0 += 16) {
    int c0 = 0;
    for (; c0 + 16 <= a->hd; c0 += 16) {
      VK(vf) x[16];
      for (int c = 0; c < 16; c++) x[c] = VK(ld)(ot + (size_t)(c0 + c) * VA_QB + r0);
      T16_TRANSPOSE(VK(vf), x);
      for (int r = 0; r < 16; r++)
        VK(st)(a->out + (size_t)(i0 + r0 + r) * a->D + c0, x[r] * inv[r0 + r]);
    }
    for (int r = r0; r < r0 + 16; r++) /* the columns left */
      for (int c = c0; c < a->hd; c++)
        a->out[(size_t)(i0 + r) * a->D + c] = ot[c * VA_QB + r] * inv[r];
  }
#endif
  for (int r = r0; r < n; r++) /* the rows left */
    for (int c = 0; c < a->hd; c++)
      a->out[(size_t)(i0 + r) * a->D + c] = ot[c * VA_QB + r] * inv[r];
}

/* Query rows i0.. i0+n-1 (n <= QB) of one head, one pass over the keys in blocks of
 * ATTN_KBLK with the running max m and sum l per row (online softmax). */
VK_TARGET static void VK(attn_block)(const attn_head *a, int i0, int n) {
  _Alignas(64) float qt[ATTN_HD_MAX * VA_QB], ot[ATTN_HD_MAX * VA_QB], st[ATTN_KBLK * VA_QB];
  float m[VA_QB], l[VA_QB], alpha[VA_QB];
  int lim[VA_QB];
  const int hd = a->hd;
  VK(load_qt)(qt, VA_QB, a, i0, n);
  memset(ot, 0, (size_t)hd * VA_QB * sizeof *ot);
  int lo = a->Tk, hi = 0; /* keys below lo are visible to every row, none from hi on */
  for (int r = 0; r < VA_QB; r++) {
    lim[r] = attn_visible(a, i0 + (r < n ? r : n - 1));
    lo = lim[r] < lo ? lim[r] : lo;
    hi = lim[r] > hi ? lim[r] : hi;
    m[r] = -INFINITY;
    l[r] = 0.0f;
  }
  for (int j0 = 0; j0 < hi; j0 += ATTN_KBLK) {
    int nk = hi - j0 < ATTN_KBLK ? hi - j0 : ATTN_KBLK;
    float mx[VA_QB];
    memcpy(mx, m, sizeof mx);
    VK(scores)(st, mx, qt, a, j0, nk);
    if (j0 + nk > lo) { /* causal: hide the keys a row cannot see, then take the max again */
      memcpy(mx, m, sizeof mx);
      for (int t = 0; t < nk; t++)
        for (int r = 0; r < VA_QB; r++) {
          if (j0 + t >= lim[r]) st[t * VA_QB + r] = -INFINITY;
          mx[r] = st[t * VA_QB + r] > mx[r] ? st[t * VA_QB + r] : mx[r];
        }
    }
    for (int u = 0; u < VA_QB; u += VA_W) { /* one vector of rows at a time, in registers */
      float mv[VA_W], lu[VA_W];
#pragma omp simd
      for (int w = 0; w < VA_W; w++) {
        mv[w] = mx[u + w] == -INFINITY ? 0.0f : mx[u + w]; /* nothing visible yet: exp finite */
        alpha[u + w] = vlp_fast_expf_nonpos(m[u + w] - mv[w]);
        m[u + w] = mx[u + w];
        lu[w] = l[u + w] * alpha[u + w];
      }
      for (int t = 0; t < nk; t++)
#pragma omp simd
        for (int w = 0; w < VA_W; w++) {
          float p = vlp_fast_expf_nonpos(st[t * VA_QB + u + w] - mv[w]);
          st[t * VA_QB + u + w] = p;
          lu[w] += p;
        }
      memcpy(l + u, lu, sizeof lu);
    }
    VK(accumulate)(ot, alpha, st, a, j0, nk);
  }
  float inv[VA_QB];
  for (int r = 0; r < VA_QB; r++) inv[r] = l[r] > 0 ? 1.0f / l[r] : 0.0f; /* none: zeros */
  VK(store_out)(a, ot, inv, i0, n);
}

/* Sum of the lanes of x. */
VK_TARGET static inline float VK(hsum)(VK(vf) x) {
  float t[VA_W];
  memcpy(t, &x, sizeof t);
  for (int w = VA_W / 2; w > 0; w /= 2)
    for (int j = 0; j < w; j++) t[j] += t[j + w];
  return t[0];
}

/* Query row i alone, with vectors along the head dimension: a decoder step has one query row
 * per (sequence, head), which would fill one lane of the blocks above. Same online softmax
 * over blocks of ATTN_KBLK keys. */
VK_TARGET static void VK(attn_row)(const attn_head *a, int i) {
  _Alignas(64) float qs[ATTN_HD_MAX], ot[ATTN_HD_MAX], st[ATTN_KBLK];
  const int hd = a->hd, hv = hd - hd % VA_W, lim = attn_visible(a, i);
  for (int c = 0; c < hd; c++) qs[c] = a->q[(size_t)i * a->ld + c] * a->scale, ot[c] = 0.0f;
  float m = -INFINITY, l = 0.0f;
  for (int j0 = 0; j0 < lim; j0 += ATTN_KBLK) {
    int nk = lim - j0 < ATTN_KBLK ? lim - j0 : ATTN_KBLK;
    float mx = m;
    for (int t = 0; t < nk; t++) {
      const float *kr = a->k + (size_t)(j0 + t) * a->ld;
      VK(vf) acc = {0};
      for (int c = 0; c < hv; c += VA_W) acc += VK(ld)(qs + c) * VK(ld)(kr + c);
      float s = VK(hsum)(acc);
      for (int c = hv; c < hd; c++) s += qs[c] * kr[c];
      st[t] = s + (a->mask ? a->mask[j0 + t] : 0.0f);
      mx = st[t] > mx ? st[t] : mx;
    }
    float mu = mx == -INFINITY ? 0.0f : mx, alpha = vlp_fast_expf_nonpos(m - mu);
    m = mx;
    l *= alpha;
#pragma omp simd reduction(+ : l)
    for (int t = 0; t < nk; t++) {
      st[t] = vlp_fast_expf_nonpos(st[t] - mu);
      l += st[t];
    }
    const float *vb = a->v + (size_t)j0 * a->ld;
    for (int c = 0; c < hv; c += VA_W) {
      VK(vf) o = VK(ld)(ot + c) * alpha;
      for (int t = 0; t < nk; t++) o += st[t] * VK(ld)(vb + (size_t)t * a->ld + c);
      VK(st)(ot + c, o);
    }
    for (int c = hv; c < hd; c++) {
      float o = ot[c] * alpha;
      for (int t = 0; t < nk; t++) o += st[t] * vb[(size_t)t * a->ld + c];
      ot[c] = o;
    }
  }
  float inv = l > 0 ? 1.0f / l : 0.0f; /* nothing visible: zeros rather than NaN */
  for (int c = 0; c < hd; c++) a->out[(size_t)i * a->D + c] = ot[c] * inv;
}

#ifdef VA_SKR
/* Short key sequences (Tk <= ATTN_SHORT_TK): every key at once, so the softmax is exact in
 * one pass and no running rescale is needed. Block of n <= ATTN_SHORT_ROWS query rows, rows
 * padded to nqp (a multiple of VA_W). The scores are held transposed, st (keys,
 * nqp), as in attn_block, so the softmax runs down the columns with no horizontal sums; P.V
 * then runs with vectors along the head (no padding there), VA_PR rows x VA_PCV vectors of
 * columns per register tile, reading each row's weights as broadcasts from st. */

/* st[j][u0 * W ...] for keys j0.. j0+kr-1 and QT <= VA_SQT vectors of rows from u0 on. QT
 * is a constant at every call. */
VK_TARGET static inline __attribute__((always_inline)) void VK(short_scores)(
    float *st, const float *qt, int nqp, int sp, const attn_head *a, int j0, int kr, int u0,
    const int QT) {
  const float *kp[VA_SKR];
  for (int t = 0; t < VA_SKR; t++) kp[t] = a->k + (size_t)(j0 + (t < kr ? t : 0)) * a->ld;
  VK(vf) acc[VA_SKR][VA_SQT];
  for (int t = 0; t < VA_SKR; t++)
    for (int u = 0; u < QT; u++) acc[t][u] = (VK(vf)){0};
  const float *qc = qt + (size_t)u0 * VA_W;
  for (int c = 0; c < a->hd; c++, qc += nqp) {
    VK(vf) qv[VA_SQT];
    for (int u = 0; u < QT; u++) qv[u] = VK(ld)(qc + u * VA_W);
    for (int t = 0; t < VA_SKR; t++) {
      float kc = kp[t][c];
      for (int u = 0; u < QT; u++) acc[t][u] += kc * qv[u];
    }
  }
  for (int t = 0; t < kr; t++) {
    float mk = a->mask ? a->mask[j0 + t] : 0.0f;
    for (int u = 0; u < QT; u++)
      VK(st)(st + (size_t)(j0 + t) * sp + (u0 + u) * VA_W, acc[t][u] + mk);
  }
}

/* out rows i0.. i0+nr-1 (nr <= VA_PR), columns c0.. c0+CV*W-1, = inv * sum over keys
 * [0, nk) of st[j][r] V[j][c]; st and inv start at row i0's lane, st has VA_PR lanes per key
 * (those past nr are summed, not stored). CV is a constant at every call. */
VK_TARGET static inline __attribute__((always_inline)) void VK(short_pv)(const attn_head *a,
                                                                         const float *st, int sp,
                                                                         const float *inv, int i0,
                                                                         int nr, int nk, int c0,
                                                                         const int CV) {
  VK(vf) acc[VA_PR][VA_PCV];
  for (int r = 0; r < VA_PR; r++)
    for (int v = 0; v < CV; v++) acc[r][v] = (VK(vf)){0};
  const float *vj = a->v + c0;
  for (int j = 0; j < nk; j++, vj += a->ld, st += sp) {
    VK(vf) vv[VA_PCV];
    for (int v = 0; v < CV; v++) vv[v] = VK(ld)(vj + v * VA_W);
    for (int r = 0; r < VA_PR; r++) {
      float p = st[r];
      for (int v = 0; v < CV; v++) acc[r][v] += p * vv[v];
    }
  }
  for (int r = 0; r < nr; r++) {
    float *o = a->out + (size_t)(i0 + r) * a->D + c0;
    for (int v = 0; v < CV; v++) VK(st)(o + v * VA_W, acc[r][v] * inv[r]);
  }
}

/* the last P.V tile's rows fit in one vector of padding */
_Static_assert(VA_PR <= VA_W, "P.V tile taller than a vector");

VK_TARGET static void VK(attn_short)(const attn_head *a, int i0, int n) {
  _Alignas(64) float qt[ATTN_SHORT_HD * ATTN_SHORT_ROWS];
  _Alignas(64) float st[ATTN_SHORT_TK * (ATTN_SHORT_ROWS + VA_W)];
  float inv[ATTN_SHORT_ROWS];
  int lim[ATTN_SHORT_ROWS];
  /* nqp rows of scores computed; st rows sp apart (aligned vectors), the last P.V tile's
   * rows within them */
  const int hd = a->hd, nqv = (n + VA_W - 1) / VA_W, nqp = nqv * VA_W;
  const int npr = (n + VA_PR - 1) / VA_PR * VA_PR, sp = npr > nqp ? nqp + VA_W : nqp;
  VK(load_qt)(qt, nqp, a, i0, n);
  int lo = a->Tk, hi = 0; /* keys below lo are visible to every row, none from hi on */
  for (int r = 0; r < nqp; r++) {
    lim[r] = attn_visible(a, i0 + (r < n ? r : n - 1));
    lo = lim[r] < lo ? lim[r] : lo;
    hi = lim[r] > hi ? lim[r] : hi;
  }
  for (int j0 = 0; j0 < hi; j0 += VA_SKR) {
    int kr = hi - j0 < VA_SKR ? hi - j0 : VA_SKR, u0 = 0;
    while (lim[u0 * VA_W + VA_W - 1] <= j0) u0++; /* causal: vectors of rows seeing none */
    for (; u0 + VA_SQT <= nqv; u0 += VA_SQT)
      VK(short_scores)(st, qt, nqp, sp, a, j0, kr, u0, VA_SQT);
    for (; u0 < nqv; u0++) VK(short_scores)(st, qt, nqp, sp, a, j0, kr, u0, 1);
  }
  for (int j = lo; j < hi; j++)
    for (int r = 0; r < nqp; r++)
      if (j >= lim[r]) st[j * sp + r] = -INFINITY;
  for (int u = 0; u < nqp; u += VA_W) { /* a vector of rows at a time: max, sums in registers */
    float mu[VA_W], lu[VA_W] = {0};
    for (int w = 0; w < VA_W; w++) mu[w] = -INFINITY;
    float *sj = st + u;
    for (int j = 0; j < hi; j++, sj += sp)
#pragma omp simd
      for (int w = 0; w < VA_W; w++) mu[w] = sj[w] > mu[w] ? sj[w] : mu[w];
#pragma omp simd
    for (int w = 0; w < VA_W; w++) mu[w] = mu[w] == -INFINITY ? 0.0f : mu[w]; /* exp finite */
    sj = st + u;
    for (int j = 0; j < hi; j++, sj += sp)
#pragma omp simd
      for (int w = 0; w < VA_W; w++) {
        float p = vlp_fast_expf_nonpos(sj[w] - mu[w]);
        sj[w] = p;
        lu[w] += p;
      }
#pragma omp simd
    for (int w = 0; w < VA_W; w++) inv[u + w] = lu[w] > 0 ? 1.0f / lu[w] : 0.0f; /* none: 0 */
  }
  for (int j = 0; j < hi; j++) /* lanes read by the last P.V tile, not used */
    for (int r = nqp; r < sp; r++) st[j * sp + r] = 0.0f;
  const int cw = VA_PCV * VA_W, hw = hd - hd % VA_W;
  for (int r0 = 0; r0 < n; r0 += VA_PR) {
    /* keys the tile's rows see: the last row sees the most (causal) */
    int nr = n - r0 < VA_PR ? n - r0 : VA_PR, nk = lim[r0 + nr - 1], c0 = 0;
    for (; c0 + cw <= hd; c0 += cw)
      VK(short_pv)(a, st + r0, sp, inv + r0, i0 + r0, nr, nk, c0, VA_PCV);
    for (; c0 < hw; c0 += VA_W) VK(short_pv)(a, st + r0, sp, inv + r0, i0 + r0, nr, nk, c0, 1);
    for (; c0 < hd; c0++) /* columns past the last vector */
      for (int r = r0; r < r0 + nr; r++) {
        float o = 0.0f;
        for (int j = 0; j < nk; j++) o += st[j * sp + r] * a->v[(size_t)j * a->ld + c0];
        a->out[(size_t)(i0 + r) * a->D + c0] = o * inv[r];
      }
  }
}
#define VA_SHORT VK(attn_short)
#else
#define VA_SHORT NULL
#endif

static const attn_kernel VK(attn_kernel) = {VK_NAME, VA_QB, VK(attn_block), VK(attn_row), VA_SHORT};
#undef VA_SHORT
#undef VA_SKR
#undef VA_SQT
#undef VA_PR
#undef VA_PCV

#undef VA_QB
#undef VA_QV
#undef VA_W
#undef VA_KR
#undef VA_CR
#undef VK_SUFFIX
#undef VK
#undef VK_CAT
#undef VK_CAT2
