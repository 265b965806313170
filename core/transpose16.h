/* transpose16: a 16 x 16 transpose of 32-bit lanes in registers, for GCC vector types of
 * 16 lanes (float or int32): T16_TRANSPOSE(T, x) transposes the array T x[16] in place, in
 * four steps; step b pairs rows i and i + b (i & b == 0) and swaps their off-diagonal
 * b x b sub-blocks. */
#ifndef VLP_CORE_TRANSPOSE16_H
#define VLP_CORE_TRANSPOSE16_H

#define T16_LO8 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23
#define T16_HI8 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31
#define T16_LO4 0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27
#define T16_HI4 4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31
#define T16_LO2 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29
#define T16_HI2 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31
#define T16_LO1 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30
#define T16_HI1 1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31

#define T16_STEP(T, x, b)                                           \
  for (int i_ = 0; i_ < 16; i_++)                                   \
    if ((i_ & b) == 0) {                                            \
      T lo_ = __builtin_shufflevector(x[i_], x[i_ + b], T16_LO##b); \
      T hi_ = __builtin_shufflevector(x[i_], x[i_ + b], T16_HI##b); \
      x[i_] = lo_, x[i_ + b] = hi_;                                 \
    }

#define T16_TRANSPOSE(T, x) \
  do {                      \
    T16_STEP(T, x, 8);      \
    T16_STEP(T, x, 4);      \
    T16_STEP(T, x, 2);      \
    T16_STEP(T, x, 1);      \
  } while (0)

#endif
