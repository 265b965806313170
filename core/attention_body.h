/* attention_body: the inner kernel of core/attention.c, included there once per instruction
 * set and block width with VK_NAME (the core/kernels.h path), VK_TARGET (a function
 * attribute), VK_SUFFIX (name suffix), VA_W (floats per vector), VA_QV (vectors of query
 * rows per block), VA_KR (keys per register tile of the scores) and VA_CR (head columns per
 * register tile of P.V) defined; it undefines all but VK_NAME and VK_TARGET. Written with GCC
 * vector extensions, which the compiler lowers to the target's registers (zmm, ymm, xmm).
 *
 * One call handles VA_QV * VA_W query rows of one (batch item, head): the rows are held
 * transposed (column c of the block is one row of vectors), so the scores of a key, the
 * running max, the running sum and the rescaling factors are vectors over query rows. */
#define VK_CAT2(a, b) a##_##b
#define VK_CAT(a, b) VK_CAT2(a, b)
#define VK(name) VK_CAT(name, VK_SUFFIX)

#define VA_QB (VA_QV * VA_W) /* query rows per block */
typedef float VK(vf) __attribute__((vector_size(VA_W * 4)));

VK_TARGET static inline VK(vf) VK(ld)(const float *p) {
  VK(vf) x;
  memcpy(&x, p, sizeof x);
  return x;
}

VK_TARGET static inline void VK(st)(float *p, VK(vf) x) {
  memcpy(p, &x, sizeof x);
}

/* st (nk, QB) = scores of keys j0.. j0+nk-1 against the block qt (hd, QB), mask added. */
VK_TARGET static void VK(scores)(float *st, const float *qt, const attn_head *a, int j0, int nk) {
  for (int jj = 0; jj < nk; jj += VA_KR) {
    int kr = nk - jj < VA_KR ? nk - jj : VA_KR;
    const float *kp[VA_KR];
    for (int t = 0; t < VA_KR; t++) kp[t] = a->k + (size_t)(j0 + jj + (t < kr ? t : 0)) * a->D;
    VK(vf) acc[VA_KR][VA_QV];
    for (int t = 0; t < VA_KR; t++)
      for (int u = 0; u < VA_QV; u++) acc[t][u] = (VK(vf)){0};
    for (int c = 0; c < a->hd; c++) {
      VK(vf) qv[VA_QV];
      for (int u = 0; u < VA_QV; u++) qv[u] = VK(ld)(qt + (size_t)c * VA_QB + u * VA_W);
      for (int t = 0; t < VA_KR; t++) {
        float kc = kp[t][c];
        for (int u = 0; u < VA_QV; u++) acc[t][u] += kc * qv[u];
      }
    }
    for (int t = 0; t < kr; t++) {
      float mk = a->mask ? a->mask[j0 + jj + t] : 0.0f;
      for (int u = 0; u < VA_QV; u++)
        VK(st)(st + (size_t)(jj + t) * VA_QB + u * VA_W, acc[t][u] + mk);
    }
  }
}

/* ot (hd, QB) = ot * alpha + P^T V over keys j0.. j0+nk-1, P = st (nk, QB). */
VK_TARGET static void VK(accumulate)(float *ot, const float *alpha, const float *st,
                                     const attn_head *a, int j0, int nk) {
  VK(vf) al[VA_QV];
  for (int u = 0; u < VA_QV; u++) al[u] = VK(ld)(alpha + u * VA_W);
  const float *vb = a->v + (size_t)j0 * a->D;
  int c = 0;
  for (; c + VA_CR <= a->hd; c += VA_CR) {
    VK(vf) o[VA_CR][VA_QV];
    for (int r = 0; r < VA_CR; r++)
      for (int u = 0; u < VA_QV; u++)
        o[r][u] = VK(ld)(ot + (size_t)(c + r) * VA_QB + u * VA_W) * al[u];
    for (int t = 0; t < nk; t++) {
      VK(vf) p[VA_QV];
      for (int u = 0; u < VA_QV; u++) p[u] = VK(ld)(st + (size_t)t * VA_QB + u * VA_W);
      const float *vr = vb + (size_t)t * a->D + c;
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
      float vc = vb[(size_t)t * a->D + c];
      for (int u = 0; u < VA_QV; u++) o[u] += vc * VK(ld)(st + (size_t)t * VA_QB + u * VA_W);
    }
    for (int u = 0; u < VA_QV; u++) VK(st)(ot + (size_t)c * VA_QB + u * VA_W, o[u]);
  }
}

/* Query rows i0.. i0+n-1 (n <= QB) of one head, one pass over the keys in blocks of
 * ATTN_KBLK with the running max m and sum l per row (online softmax). */
VK_TARGET static void VK(attn_block)(const attn_head *a, int i0, int n) {
  _Alignas(64) float qt[ATTN_HD_MAX * VA_QB], ot[ATTN_HD_MAX * VA_QB], st[ATTN_KBLK * VA_QB];
  float m[VA_QB], l[VA_QB], mu[VA_QB], alpha[VA_QB];
  int lim[VA_QB];
  const int hd = a->hd;
  for (int c = 0; c < hd; c++)
    for (int r = 0; r < VA_QB; r++)
      qt[c * VA_QB + r] = r < n ? a->q[(size_t)(i0 + r) * a->D + c] * a->scale : 0.0f;
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
    VK(scores)(st, qt, a, j0, nk);
    if (j0 + nk > lo)
      for (int t = 0; t < nk; t++)
        for (int r = 0; r < VA_QB; r++)
          if (j0 + t >= lim[r]) st[t * VA_QB + r] = -INFINITY;
    float mx[VA_QB];
    memcpy(mx, m, sizeof mx);
    for (int t = 0; t < nk; t++)
#pragma omp simd
      for (int r = 0; r < VA_QB; r++) mx[r] = st[t * VA_QB + r] > mx[r] ? st[t * VA_QB + r] : mx[r];
#pragma omp simd
    for (int r = 0; r < VA_QB; r++) {
      mu[r] = mx[r] == -INFINITY ? 0.0f : mx[r]; /* nothing visible yet: keep exp finite */
      alpha[r] = vlp_fast_expf(m[r] - mu[r]);
      m[r] = mx[r];
      l[r] *= alpha[r];
    }
    for (int t = 0; t < nk; t++)
#pragma omp simd
      for (int r = 0; r < VA_QB; r++) {
        float p = vlp_fast_expf(st[t * VA_QB + r] - mu[r]);
        st[t * VA_QB + r] = p;
        l[r] += p;
      }
    VK(accumulate)(ot, alpha, st, a, j0, nk);
  }
  for (int r = 0; r < n; r++) {
    float inv = l[r] > 0 ? 1.0f / l[r] : 0.0f; /* nothing visible: zeros rather than NaN */
    float *o = a->out + (size_t)(i0 + r) * a->D;
    for (int c = 0; c < hd; c++) o[c] = ot[c * VA_QB + r] * inv;
  }
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
  for (int c = 0; c < hd; c++) qs[c] = a->q[(size_t)i * a->D + c] * a->scale, ot[c] = 0.0f;
  float m = -INFINITY, l = 0.0f;
  for (int j0 = 0; j0 < lim; j0 += ATTN_KBLK) {
    int nk = lim - j0 < ATTN_KBLK ? lim - j0 : ATTN_KBLK;
    float mx = m;
    for (int t = 0; t < nk; t++) {
      const float *kr = a->k + (size_t)(j0 + t) * a->D;
      VK(vf) acc = {0};
      for (int c = 0; c < hv; c += VA_W) acc += VK(ld)(qs + c) * VK(ld)(kr + c);
      float s = VK(hsum)(acc);
      for (int c = hv; c < hd; c++) s += qs[c] * kr[c];
      st[t] = s + (a->mask ? a->mask[j0 + t] : 0.0f);
      mx = st[t] > mx ? st[t] : mx;
    }
    float mu = mx == -INFINITY ? 0.0f : mx, alpha = vlp_fast_expf(m - mu);
    m = mx;
    l *= alpha;
#pragma omp simd reduction(+ : l)
    for (int t = 0; t < nk; t++) {
      st[t] = vlp_fast_expf(st[t] - mu);
      l += st[t];
    }
    const float *vb = a->v + (size_t)j0 * a->D;
    for (int c = 0; c < hv; c += VA_W) {
      VK(vf) o = VK(ld)(ot + c) * alpha;
      for (int t = 0; t < nk; t++) o += st[t] * VK(ld)(vb + (size_t)t * a->D + c);
      VK(st)(ot + c, o);
    }
    for (int c = hv; c < hd; c++) {
      float o = ot[c] * alpha;
      for (int t = 0; t < nk; t++) o += st[t] * vb[(size_t)t * a->D + c];
      ot[c] = o;
    }
  }
  float inv = l > 0 ? 1.0f / l : 0.0f; /* nothing visible: zeros rather than NaN */
  for (int c = 0; c < hd; c++) a->out[(size_t)i * a->D + c] = ot[c] * inv;
}

static const attn_kernel VK(attn_kernel) = {VK_NAME, VA_QB, VK(attn_block), VK(attn_row)};

#undef VA_QB
#undef VA_QV
#undef VA_W
#undef VA_KR
#undef VA_CR
#undef VK_SUFFIX
#undef VK
#undef VK_CAT
#undef VK_CAT2
