/* testlib: pass/fail counting and random data shared by all tests (see testlib.h). */
#include "testlib.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int test_passed, test_failed;

void test_check(int ok, const char *file, int line, const char *what) {
  if (ok) {
    test_passed++;
  } else {
    test_failed++;
    fprintf(stderr, "FAIL %s:%d: %s\n", file, line, what);
  }
}

int test_allclose(const char *what, const float *got, const float *want, size_t n, double atol,
                  double rtol) {
  double worst = 0;
  size_t at = 0;
  int ok = 1;
  for (size_t i = 0; i < n; i++) {
    double d = fabs((double)got[i] - (double)want[i]);
    double lim = atol + rtol * fabs((double)want[i]);
    if (!(d <= lim)) ok = 0;
    if (!(d <= worst)) {
      worst = d;
      at = i;
    }
  }
  if (ok) {
    test_passed++;
  } else {
    test_failed++;
    fprintf(stderr, "FAIL %s: max |diff| %.3g at %zu (got %.7g want %.7g)\n", what, worst, at,
            n ? got[at] : 0.0, n ? want[at] : 0.0);
  }
  return ok;
}

int test_done(void) {
  printf("%d passed, %d failed\n", test_passed, test_failed);
  return test_failed ? 1 : 0;
}

static uint64_t rng = 0x2545F4914F6CDD1Dull;

void test_seed(uint64_t seed) {
  rng = seed;
}

float test_frand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (float)((rng >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}

float *test_rand_buf(size_t n, float scale) {
  float *p = malloc((n ? n : 1) * sizeof *p);
  for (size_t i = 0; p && i < n; i++) p[i] = test_frand() * scale;
  return p;
}

float *test_copy_buf(const float *x, size_t n) {
  float *p = malloc((n ? n : 1) * sizeof *p);
  if (p) memcpy(p, x, n * sizeof *p);
  return p;
}

double test_max_abs_diff(const float *a, const float *b, size_t n) {
  double w = 0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs((double)a[i] - (double)b[i]);
    if (isnan(d)) return d; /* a NaN anywhere is a difference, not skipped */
    if (d > w) w = d;
  }
  return w;
}

double test_max_abs(const float *a, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; i++)
    if (fabs((double)a[i]) > m) m = fabs((double)a[i]);
  return m;
}
