/* fast_exp: e^x for the hot loops (activations, softmax, attention), branch-free so that
 * the compiler vectorises it for whatever target includes it (glibc's expf is a call per
 * element). Always inlined, so each instruction-set copy of a kernel gets its own. */
#ifndef VLP_CORE_FAST_EXP_H
#define VLP_CORE_FAST_EXP_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* e^xc for xc in [-86.9, 88.72]: xc = n ln 2 + r with n = round(xc / ln 2), |r| <= ln2 / 2,
 * e^r by its Taylor series to r^7 (truncation < 6e-9); 2^n goes straight into the exponent
 * bits. Within ~2 ulp of expf. */
static inline __attribute__((always_inline)) float vlp_expf_in_range(float xc) {
  const float shift = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
  float t = xc * 1.44269504088896341f + shift;
  float nf = t - shift;
  int32_t ti, pi;
  memcpy(&ti, &t, 4);
  int32_t n = ti - 0x4B400000;      /* the integer in t's low mantissa bits */
  float r = xc - nf * 0.693359375f; /* ln 2 split in a short high part ... */
  r = r - nf * -2.12194440e-4f;     /* ... and the rest, so n ln 2 is exact enough */
  float p = 1.0f / 5040;
  p = p * r + 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  memcpy(&pi, &p, 4);
  pi += (int32_t)((uint32_t)n << 23); /* p in [0.7, 1.42]: exponent stays in range */
  float y;
  memcpy(&y, &pi, 4);
  return y;
}

#define VLP_EXPF_LO -86.9f /* below: 0 (results under 2^-125 are flushed) */
#define VLP_EXPF_HI 88.72f /* above: infinity */

/* e^x for any x (NaN gives NaN). */
static inline __attribute__((always_inline)) float vlp_fast_expf(float x) {
  float xc = x < VLP_EXPF_LO ? VLP_EXPF_LO : x;
  xc = xc > VLP_EXPF_HI ? VLP_EXPF_HI : xc;
  float y = vlp_expf_in_range(xc);
  y = x < VLP_EXPF_LO ? 0.0f : y;
  y = x > VLP_EXPF_HI ? INFINITY : y;
  return x != x ? x : y;
}

/* e^x for x <= 0 or -infinity (a softmax's score minus its maximum), the same value as
 * vlp_fast_expf with the checks that cannot trigger there left out; a NaN x still gives
 * NaN. */
static inline __attribute__((always_inline)) float vlp_fast_expf_nonpos(float x) {
  float y = vlp_expf_in_range(x < VLP_EXPF_LO ? VLP_EXPF_LO : x);
  return x < VLP_EXPF_LO ? 0.0f : y;
}

#endif
