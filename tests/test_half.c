/* test_half: f16 / bf16 <-> f32 conversion: known values, all 65536 f16 patterns, and
 * round-to-nearest-even of f32 -> f16 / bf16 against a brute-force nearest search. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/half.h"
#include "testlib.h"

static uint32_t bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

static float fbits(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static uint32_t rng_state = 0x12345678u;
static uint32_t rng(void) { /* xorshift32 */
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state;
}

/* Reference f32 -> f16 for finite x: binary search the positive halves (monotone in their
 * bits), pick the nearer neighbour, ties to the even pattern. */
static uint16_t ref_f16(float x) {
  uint16_t sign = signbit(x) ? 0x8000 : 0;
  double a = fabs((double)x);
  if (a >= 65520.0) return sign | 0x7c00;
  int lo = 0, hi = 0x7bff; /* largest h with value <= a */
  while (lo < hi) {
    int mid = (lo + hi + 1) / 2;
    if ((double)f16_to_f32((uint16_t)mid) <= a)
      lo = mid;
    else
      hi = mid - 1;
  }
  if (lo == 0x7bff) return sign | 0x7bff; /* a in [65504, 65520) */
  double d0 = a - f16_to_f32((uint16_t)lo), d1 = f16_to_f32((uint16_t)(lo + 1)) - a;
  int h = d0 < d1 ? lo : d1 < d0 ? lo + 1 : (lo & 1 ? lo + 1 : lo);
  return sign | (uint16_t)h;
}

/* Reference f32 -> bf16 for finite x: truncate, then compare both neighbours in double. */
static uint16_t ref_bf16(float x) {
  uint32_t u = bits(x);
  uint16_t t = (uint16_t)(u >> 16);
  double a = fabs((double)x);
  double lo = fabs((double)bf16_to_f32(t));
  uint16_t up = (uint16_t)(t + 1);
  double hi = (up & 0x7f80) == 0x7f80 ? ldexp(1.0, 128) : fabs((double)bf16_to_f32(up));
  double d0 = a - lo, d1 = hi - a;
  return d0 < d1 ? t : d1 < d0 ? up : (t & 1 ? up : t);
}

static void test_known(void) {
  CHECK(f16_to_f32(0x3c00) == 1.0f);
  CHECK(f16_to_f32(0xc000) == -2.0f);
  CHECK(f16_to_f32(0x7bff) == 65504.0f);
  CHECK(f16_to_f32(0x0001) == ldexpf(1.0f, -24));           /* smallest subnormal */
  CHECK(f16_to_f32(0x03ff) == 1023.0f * ldexpf(1.0f, -24)); /* largest subnormal */
  CHECK(f16_to_f32(0x0400) == ldexpf(1.0f, -14));           /* smallest normal */
  CHECK(f16_to_f32(0x3555) == 0.333251953125f);
  CHECK(f16_to_f32(0x0000) == 0.0f && !signbit(f16_to_f32(0x0000)));
  CHECK(f16_to_f32(0x8000) == 0.0f && signbit(f16_to_f32(0x8000)));
  CHECK(isinf(f16_to_f32(0x7c00)) && f16_to_f32(0x7c00) > 0);
  CHECK(isinf(f16_to_f32(0xfc00)) && f16_to_f32(0xfc00) < 0);
  CHECK(isnan(f16_to_f32(0x7e00)));
  CHECK(isnan(f16_to_f32(0x7c01)));
  CHECK(isnan(f16_to_f32(0xfe00)) && signbit(f16_to_f32(0xfe00)));

  CHECK(f32_to_f16(1.0f) == 0x3c00);
  CHECK(f32_to_f16(-2.0f) == 0xc000);
  CHECK(f32_to_f16(65504.0f) == 0x7bff);
  CHECK(f32_to_f16(65519.996f) == 0x7bff);
  CHECK(f32_to_f16(65520.0f) == 0x7c00); /* tie with odd 0x7bff rounds to inf */
  CHECK(f32_to_f16(1e6f) == 0x7c00);
  CHECK(f32_to_f16(-1e30f) == 0xfc00);
  CHECK(f32_to_f16(INFINITY) == 0x7c00);
  CHECK(f32_to_f16(-INFINITY) == 0xfc00);
  CHECK((f32_to_f16(NAN) & 0x7c00) == 0x7c00 && (f32_to_f16(NAN) & 0x3ff) != 0);
  CHECK((f32_to_f16(fbits(0x7f800001u)) & 0x3ff) != 0); /* low-payload NaN stays NaN */
  CHECK(f32_to_f16(1.0f / 3.0f) == 0x3555);
  CHECK(f32_to_f16(ldexpf(1.0f, -24)) == 0x0001);
  CHECK(f32_to_f16(ldexpf(1.0f, -25)) == 0x0000);                     /* tie -> even 0 */
  CHECK(f32_to_f16(fbits(0x33000001u)) == 0x0001);                    /* just above the tie */
  CHECK(f32_to_f16(3.0f * ldexpf(1.0f, -25)) == 0x0002);              /* 1.5 units -> even 2 */
  CHECK(f32_to_f16(5.0f * ldexpf(1.0f, -25)) == 0x0002);              /* 2.5 units -> even 2 */
  CHECK(f32_to_f16(1.0f + ldexpf(1.0f, -11)) == 0x3c00);              /* tie -> even */
  CHECK(f32_to_f16(1.0f + 3 * ldexpf(1.0f, -11)) == 0x3c02);          /* tie -> even (up) */
  CHECK(f32_to_f16(ldexpf(1.0f, -14) - ldexpf(1.0f, -26)) == 0x0400); /* rounds up to normal */
  CHECK(f32_to_f16(-0.0f) == 0x8000);
  CHECK(f32_to_f16(1e-10f) == 0x0000);

  CHECK(bf16_to_f32(0x3f80) == 1.0f);
  CHECK(bf16_to_f32(0xc000) == -2.0f);
  CHECK(isinf(bf16_to_f32(0x7f80)));
  CHECK(isnan(bf16_to_f32(0x7fc0)));
  CHECK(f32_to_bf16(1.0f) == 0x3f80);
  CHECK(f32_to_bf16(fbits(0x3f808000u)) == 0x3f80); /* tie -> even */
  CHECK(f32_to_bf16(fbits(0x3f818000u)) == 0x3f82); /* tie -> even (up) */
  CHECK(f32_to_bf16(fbits(0x3f808001u)) == 0x3f81);
  CHECK(f32_to_bf16(fbits(0x7f7fffffu)) == 0x7f80); /* max float rounds to inf */
  CHECK(f32_to_bf16(INFINITY) == 0x7f80);
  CHECK(f32_to_bf16(-INFINITY) == 0xff80);
  uint16_t nb = f32_to_bf16(fbits(0x7f800001u)); /* NaN with payload only in the low bits */
  CHECK((nb & 0x7f80) == 0x7f80 && (nb & 0x7f) != 0);
  CHECK(isnan(bf16_to_f32(f32_to_bf16(NAN))));
}

static void test_all_f16(void) {
  int bad_rt = 0, bad_nan = 0, bad_order = 0;
  for (uint32_t h = 0; h < 65536; h++) {
    float f = f16_to_f32((uint16_t)h);
    int is_nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
    if (is_nan) {
      uint16_t back = f32_to_f16(f);
      if (!isnan(f) || !isnan(f16_to_f32(back)) || (back & 0x8000) != (h & 0x8000)) bad_nan++;
    } else if (f32_to_f16(f) != h) {
      bad_rt++;
    }
    /* Positive finite halves increase with their bits, by exactly 2^-24 steps at first. */
    if (h > 0 && h <= 0x7c00 && !(f16_to_f32((uint16_t)(h - 1)) < f)) bad_order++;
  }
  CHECK(bad_rt == 0);
  CHECK(bad_nan == 0);
  CHECK(bad_order == 0);
  /* Exact values against the formula, independent of the bit layout code. */
  int bad_val = 0;
  for (uint32_t h = 0; h < 0x7c00; h++) {
    int e = (int)(h >> 10), m = (int)(h & 0x3ff);
    double want = e ? ldexp(1024 + m, e - 25) : ldexp(m, -24);
    if ((double)f16_to_f32((uint16_t)h) != want ||
        (double)f16_to_f32((uint16_t)(h | 0x8000)) != -want)
      bad_val++;
  }
  CHECK(bad_val == 0);
  if (bad_rt || bad_nan || bad_order || bad_val)
    fprintf(stderr, "f16 patterns: %d round trip, %d nan, %d order, %d value failures\n", bad_rt,
            bad_nan, bad_order, bad_val);
}

static void test_random_rounding(void) {
  int bad16 = 0, badb = 0;
  for (int i = 0; i < 2000000; i++) {
    uint32_t u = rng();
    if (i & 1) /* half the samples in the f16 range: exponents 2^-26 .. 2^16 */
      u = (u & 0x807fffffu) | ((uint32_t)(101 + (rng() % 43)) << 23);
    float x = fbits(u);
    if (!isfinite(x)) continue;
    if (f32_to_f16(x) != ref_f16(x)) {
      if (bad16++ < 5)
        fprintf(stderr, "f16 %08x: got %04x want %04x\n", u, f32_to_f16(x), ref_f16(x));
    }
    if (f32_to_bf16(x) != ref_bf16(x)) {
      if (badb++ < 5)
        fprintf(stderr, "bf16 %08x: got %04x want %04x\n", u, f32_to_bf16(x), ref_bf16(x));
    }
  }
  CHECK(bad16 == 0);
  CHECK(badb == 0);
  /* Every bf16 pattern round-trips. */
  int bad_rt = 0;
  for (uint32_t h = 0; h < 65536; h++) {
    float f = bf16_to_f32((uint16_t)h);
    if (isnan(f) ? !isnan(bf16_to_f32(f32_to_bf16(f))) : f32_to_bf16(f) != h) bad_rt++;
  }
  CHECK(bad_rt == 0);
}

static void test_arrays(void) {
  uint16_t src[4] = {0x3c00, 0xc000, 0x0001, 0x7bff};
  float dst[4];
  f16_to_f32_array(dst, src, 4);
  CHECK(dst[0] == 1.0f && dst[1] == -2.0f && dst[2] == ldexpf(1.0f, -24) && dst[3] == 65504.0f);
  uint16_t bsrc[3] = {0x3f80, 0xc000, 0x4049};
  bf16_to_f32_array(dst, bsrc, 3);
  CHECK(dst[0] == 1.0f && dst[1] == -2.0f && dst[2] == 3.140625f);
}

int main(void) {
  test_known();
  test_all_f16();
  test_random_rounding();
  test_arrays();
  return test_done();
}
