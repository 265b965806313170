/* test_kernels: every vectorised kernel path this CPU runs (core/kernels.h: AVX-512, AVX2,
 * generic), forced one after the other, against the double-precision references of
 * core/ops.c, on random rows with sizes that exercise the vector tails. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fast_exp.h"
#include "core/kernels.h"
#include "core/ops.h"
#include "testlib.h"

#define TOL 1e-5

typedef void (*act_fn)(float *, size_t);

static void check_act(const char *path, const char *what, act_fn fast, act_fn ref) {
  const size_t sizes[] = {1, 15, 16, 17, 100, 4099};
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    size_t n = sizes[s];
    float *x = test_rand_buf(n, 8); /* [-8, 8): both tails of the activations */
    float *y = test_copy_buf(x, n), *want = test_copy_buf(x, n);
    fast(y, n);
    ref(want, n);
    char label[96];
    snprintf(label, sizeof label, "%s %s n=%zu", path, what, n);
    test_allclose(label, y, want, n, TOL, TOL);
    free(x), free(y), free(want);
  }
}

static void check_path(const vk_table *k) {
  printf("path %s\n", k->name);
  check_act(k->name, "gelu", k->gelu, op_gelu_naive);
  check_act(k->name, "gelu_tanh", k->gelu_tanh, op_gelu_tanh_naive);
  check_act(k->name, "quick_gelu", k->quick_gelu, op_quick_gelu_naive);

  const int dims[] = {1, 7, 16, 33, 768, 1025};
  for (size_t s = 0; s < sizeof dims / sizeof dims[0]; s++) {
    int d = dims[s];
    char label[96];
    float *x = test_rand_buf((size_t)d, 3), *g = test_rand_buf((size_t)d, 1);
    for (int j = 0; j < d; j++) x[j] += 2.0f; /* non-zero mean */
    float *b = test_rand_buf((size_t)d, 1);
    float *y = malloc((size_t)d * sizeof *y), *want = malloc((size_t)d * sizeof *want);
    for (int gb = 0; gb < 4; gb++) { /* with and without gain / bias */
      const float *gg = gb & 1 ? g : NULL, *bb = gb & 2 ? b : NULL;
      k->layernorm_row(y, x, gg, bb, d, 1e-5f);
      op_layernorm_naive(want, x, gg, bb, 1, d, 1e-5f);
      snprintf(label, sizeof label, "%s layernorm d=%d g=%d b=%d", k->name, d, gb & 1, gb >> 1);
      test_allclose(label, y, want, (size_t)d, TOL, TOL);
    }
    float *sx = test_rand_buf((size_t)d, 20), *sw = test_copy_buf(sx, (size_t)d);
    if (d > 3) sx[3] = sw[3] = -INFINITY; /* a masked key */
    k->softmax_row(sx, d);
    op_softmax_naive(sw, 1, d);
    snprintf(label, sizeof label, "%s softmax n=%d", k->name, d);
    test_allclose(label, sx, sw, (size_t)d, TOL, TOL);
    for (int j = 0; j < d; j++) sx[j] = -INFINITY; /* nothing visible: zeros, not NaN */
    k->softmax_row(sx, d);
    CHECK(sx[0] == 0.0f && sx[d - 1] == 0.0f);
    float *ya = test_rand_buf((size_t)d, 1), *yw = test_copy_buf(ya, (size_t)d);
    k->add(ya, x, (size_t)d);
    for (int j = 0; j < d; j++) yw[j] += x[j];
    CHECK(memcmp(ya, yw, (size_t)d * sizeof *ya) == 0);
    free(x), free(g), free(b), free(y), free(want), free(sx), free(sw), free(ya), free(yw);
  }
}

/* The int8 and bf16 conversions against their scalar definitions, bit for bit. */
static void check_conversions(const vk_table *k) {
  const int dims[] = {1, 15, 16, 17, 768, 1025};
  for (size_t s = 0; s < sizeof dims / sizeof dims[0]; s++) {
    int d = dims[s];
    float *x = test_rand_buf((size_t)d, 5), *ws = test_rand_buf((size_t)d, 0.01f);
    for (int j = 0; j < d; j++) ws[j] += 0.02f; /* positive weight scales */
    float *b = test_rand_buf((size_t)d, 1);
    if (d > 3) x[0] = 127.0f, x[1] = 2.5f, x[2] = -3.5f, x[3] = 0.5f; /* s = 1: ties to even */
    int8_t *q = malloc((size_t)d);
    float amax = 0;
    for (int j = 0; j < d; j++) amax = fmaxf(amax, fabsf(x[j]));
    float want_s = amax / 127.0f, inv = 1.0f / want_s;
    CHECK(k->quantize_row(q, x, d) == want_s);
    int bad = 0;
    for (int j = 0; j < d; j++) bad += q[j] != (int8_t)lrintf(x[j] * inv);
    CHECK(bad == 0);
    if (d > 3) CHECK(q[1] == 2 && q[2] == -4 && q[3] == 0);
    float zero[3] = {0, 0, 0};
    CHECK(k->quantize_row(q, zero, d < 3 ? d : 3) == 1.0f && q[0] == 0);

    int32_t *acc = malloc((size_t)d * sizeof *acc);
    for (int j = 0; j < d; j++) acc[j] = (int32_t)(test_frand() * 300000);
    float *y = test_rand_buf((size_t)d, 1), *want = test_copy_buf(y, (size_t)d);
    for (int mode = 0; mode < 4; mode++) { /* with and without bias / residual */
      const float *bb = mode & 1 ? b : NULL;
      int accumulate = mode >> 1;
      k->dequantize_row(y, acc, 0.37f, ws, bb, d, accumulate);
      for (int j = 0; j < d; j++) {
        float v = (float)acc[j] * 0.37f * ws[j] + (bb ? bb[j] : 0.0f);
        want[j] = accumulate ? want[j] + v : v;
      }
      bad = 0;
      for (int j = 0; j < d; j++) bad += y[j] != want[j];
      if (bad) printf("FAIL %s dequantize d=%d mode=%d: %d differ\n", k->name, d, mode, bad);
      CHECK(bad == 0);
    }

    uint16_t *h = malloc((size_t)d * sizeof *h);
    x[0] = NAN;
    if (d > 1) x[1] = INFINITY;
    k->to_bf16(h, x, (size_t)d);
    bad = 0;
    for (int j = 0; j < d; j++) {
      uint32_t u;
      memcpy(&u, &x[j], 4);
      uint16_t w = (u & 0x7fffffffu) > 0x7f800000u
                       ? (uint16_t)((u >> 16) | 0x40)
                       : (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
      bad += h[j] != w;
    }
    CHECK(bad == 0);
    CHECK((h[0] & 0x7f80) == 0x7f80 && (h[0] & 0x7f) != 0); /* NaN stays NaN */
    free(x), free(ws), free(b), free(q), free(acc), free(y), free(want), free(h);
  }
}

/* The exponential the kernels inline: close to exp over its range, 0 and infinity past it,
 * NaN kept; the softmax's version (x <= 0) gives the same bits wherever it applies. */
static void check_exp(void) {
  int far = 0, differ = 0;
  for (float x = -100.0f; x <= 100.0f; x += 0.01171875f) {
    float y = vlp_fast_expf(x);
    double want = exp((double)x);
    if (x < VLP_EXPF_LO)
      far += y != 0.0f;
    else if (x > VLP_EXPF_HI)
      far += y != INFINITY;
    else
      far += fabs(y - want) > 3e-7 * want;
    if (x <= 0.0f) {
      float z = vlp_fast_expf_nonpos(x);
      differ += memcmp(&y, &z, sizeof y) != 0;
    }
  }
  CHECK(far == 0);
  CHECK(differ == 0);
  CHECK(vlp_fast_expf(0.0f) == 1.0f && vlp_fast_expf_nonpos(0.0f) == 1.0f);
  CHECK(vlp_fast_expf(-INFINITY) == 0.0f && vlp_fast_expf_nonpos(-INFINITY) == 0.0f);
  CHECK(vlp_fast_expf(INFINITY) == INFINITY);
  CHECK(isnan(vlp_fast_expf(NAN)) && isnan(vlp_fast_expf_nonpos(NAN)));
}

/* The cross-attention kernels against plain loops, bit for bit: each sum runs in the order
 * of its loop (no FMA contraction in either), whatever the path keeps in registers. Head
 * sizes with 64-, 16- and 1-column tails; value rows packed and strided. */
static void check_cross_kernels(const vk_table *k) {
  const int hds[] = {1, 8, 16, 24, 64, 80, 136}, ns[] = {1, 17, 577};
  for (size_t a = 0; a < sizeof hds / sizeof hds[0]; a++)
    for (size_t b = 0; b < sizeof ns / sizeof ns[0]; b++) {
      int hd = hds[a], n = ns[b], nblk = (n + 15) / 16, ldv = b == 1 ? 3 * hd + 5 : hd;
      float *q = test_rand_buf((size_t)hd, 1), *p = test_rand_buf((size_t)n, 1);
      float *kb = test_rand_buf((size_t)nblk * hd * 16, 1), *v = test_rand_buf((size_t)n * ldv, 1);
      float *s = malloc((size_t)nblk * 16 * sizeof *s),
            *sw = malloc((size_t)nblk * 16 * sizeof *sw);
      float *o = malloc((size_t)hd * sizeof *o), *ow = malloc((size_t)hd * sizeof *ow);
      k->scores16(s, q, kb, hd, nblk);
      for (int j = 0; j < nblk * 16; j++) {
        float t = 0.0f;
        for (int c = 0; c < hd; c++) t += q[c] * kb[((size_t)(j / 16) * hd + c) * 16 + j % 16];
        sw[j] = t;
      }
      k->weighted_rows(o, p, v, n, hd, ldv);
      for (int c = 0; c < hd; c++) {
        float t = 0.0f;
        for (int j = 0; j < n; j++) t += p[j] * v[(size_t)j * ldv + c];
        ow[c] = t;
      }
      int same =
          !memcmp(s, sw, (size_t)nblk * 16 * sizeof *s) && !memcmp(o, ow, (size_t)hd * sizeof *o);
      if (!same)
        fprintf(stderr, "%s cross-attention kernels hd=%d n=%d ldv=%d differ from plain loops\n",
                k->name, hd, n, ldv);
      CHECK(same);
      free(q), free(p), free(kb), free(v), free(s), free(sw), free(o), free(ow);
    }
}

int main(void) {
  test_seed(0x9E3779B97F4A7C15ull); /* the seed this test has always drawn from */
  const char *names[3];
  int n = vk_available(names, 3);
  CHECK(n >= 1 && strcmp(names[n - 1], "generic") == 0);
  for (int i = 0; i < n; i++) {
    CHECK(vk_force(names[i]));
    CHECK(strcmp(vk_get()->name, names[i]) == 0);
    check_path(vk_get());
    check_conversions(vk_get());
    check_cross_kernels(vk_get());
  }
  CHECK(!vk_force("sse9"));
  check_exp();
  return test_done();
}
