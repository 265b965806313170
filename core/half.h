/* half: float16 / bfloat16 <-> float32 conversion (IEEE binary16; bfloat16 = top half of
 * a float32). bf16 rounding is round-to-nearest-even, as torch's .to(bfloat16). */
#ifndef VLP_CORE_HALF_H
#define VLP_CORE_HALF_H

#include <stddef.h>
#include <stdint.h>

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);
float bf16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f);
void f16_to_f32_array(float *dst, const uint16_t *src, size_t n);
void bf16_to_f32_array(float *dst, const uint16_t *src, size_t n);

#endif
