/* half: float16 / bfloat16 <-> float32 conversion by bit manipulation (see half.h).
 * f16 -> f32 and bf16 -> f32 are exact; f32 -> f16 / bf16 round to nearest, ties to even,
 * overflow to infinity, and keep NaN a (quiet) NaN with the sign and top payload bits. */
#include "core/half.h"

#include <string.h>

static uint32_t f32_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

static float bits_f32(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

float f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  if (exp == 0x1f) return bits_f32(sign | 0x7f800000u | (mant << 13));      /* inf / nan */
  if (exp != 0) return bits_f32(sign | ((exp + 112) << 23) | (mant << 13)); /* 127 - 15 */
  if (mant == 0) return bits_f32(sign);
  /* Subnormal: mant * 2^-24; normalise so the leading 1 becomes the implicit bit. */
  int e = -14;
  while (!(mant & 0x400u)) {
    mant <<= 1;
    e--;
  }
  mant &= 0x3ffu;
  return bits_f32(sign | ((uint32_t)(e + 127) << 23) | (mant << 13));
}

uint16_t f32_to_f16(float f) {
  uint32_t x = f32_bits(f);
  uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
  x &= 0x7fffffffu;
  if (x > 0x7f800000u) return sign | 0x7e00u | (uint16_t)((x >> 13) & 0x3ffu); /* NaN */
  if (x >= 0x477ff000u) return sign | 0x7c00u; /* >= 65520 rounds (ties to even) to inf */
  int e = (int)(x >> 23) - 127;
  uint32_t mant = x & 0x7fffffu;
  if (e >= -14) { /* normal half */
    uint32_t h = ((uint32_t)(e + 15) << 10) | (mant >> 13);
    uint32_t rem = mant & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) h++; /* carry into exponent is right */
    return sign | (uint16_t)h;
  }
  if (x <= 0x33000000u) return sign; /* <= 2^-25: rounds to zero (2^-25 is a tie -> even 0) */
  /* Subnormal half: value = m * 2^(e-23) with m the 24-bit significand; in units of 2^-24
   * that is m >> shift with shift = -(e + 1), in [14, 24]. */
  uint32_t m = mant | 0x800000u;
  int shift = -(e + 1);
  uint32_t h = m >> shift;
  uint32_t rem = m & ((1u << shift) - 1u);
  uint32_t half = 1u << (shift - 1);
  if (rem > half || (rem == half && (h & 1u))) h++;
  return sign | (uint16_t)h;
}

float bf16_to_f32(uint16_t h) {
  return bits_f32((uint32_t)h << 16);
}

uint16_t f32_to_bf16(float f) {
  uint32_t x = f32_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x0040u); /* quiet NaN */
  x += 0x7fffu + ((x >> 16) & 1u); /* round to nearest even; overflow carries to inf */
  return (uint16_t)(x >> 16);
}

void f16_to_f32_array(float *dst, const uint16_t *src, size_t n) {
  for (size_t i = 0; i < n; i++) dst[i] = f16_to_f32(src[i]);
}

void bf16_to_f32_array(float *dst, const uint16_t *src, size_t n) {
  for (size_t i = 0; i < n; i++) dst[i] = bf16_to_f32(src[i]);
}
