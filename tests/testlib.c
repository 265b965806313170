/* testlib: pass/fail counting shared by all tests (see testlib.h). */
#include "testlib.h"

#include <math.h>
#include <stdio.h>

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
