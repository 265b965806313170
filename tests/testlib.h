/* testlib: the few checks every vlp test uses. A test is a main() that calls
 * CHECK()/CHECK_NEAR() and ends with `return test_done();`, which prints
 * "N passed, M failed" and returns non-zero when anything failed. */
#ifndef VLP_TESTLIB_H
#define VLP_TESTLIB_H
#include <stddef.h>
#include <stdint.h>

extern int test_passed, test_failed;

void test_check(int ok, const char *file, int line, const char *what);
#define CHECK(cond) test_check(!!(cond), __FILE__, __LINE__, #cond)
/* |got - want| <= atol + rtol * |want| for every element; reports the worst one. */
int test_allclose(const char *what, const float *got, const float *want, size_t n, double atol,
                  double rtol);
int test_done(void);

/* Random data: xorshift64, the same sequence on every machine. Each test program has one
 * state, seeded with 0x2545F4914F6CDD1D; test_seed() restarts it (tolerances tuned on a
 * sequence keep it). */
void test_seed(uint64_t seed);
float test_frand(void); /* uniform [-1, 1) */
/* malloc'ed buffers (n = 0 still allocates one float): n draws test_frand() * scale, and a
 * copy of x. */
float *test_rand_buf(size_t n, float scale);
float *test_copy_buf(const float *x, size_t n);
/* max |a[i] - b[i]|, NaN if any difference is NaN; max |a[i]| (NaNs skipped). */
double test_max_abs_diff(const float *a, const float *b, size_t n);
double test_max_abs(const float *a, size_t n);

#endif
