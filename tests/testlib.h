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

#endif
