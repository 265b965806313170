/* gemm_bound: a product's outputs estimated from int8 weights, each with a bound on how far
 * the exact product can be, for a greedy decoder's LM head.
 *
 * Greedy search needs only the largest logit, but a batch-1 step of BLIP-base reads the
 * f32 LM head (30524 x 768, 94 MB, a fifth of the step's weights) to find it. Here the step
 * reads an int8 copy instead (a quarter of the bytes, VNNI dot products) and gets for every
 * output j an estimate e_j and a bound r_j such that both the exact value of x w_j + b_j
 * and the f32 panel product's (core/gemm_panel.h) lie within e_j +- r_j. Outputs whose
 * upper end stays below the best lower end cannot be the maximum; the few others are
 * computed exactly from the f32 panels (gemm_panel_columns), with the bits the full
 * product gives, so the argmax is the full product's.
 *
 * The bound, for a row x and a weight row w_j with int8 q_j and scale s_j (symmetric, per
 * output), and x quantised to p with scale t (symmetric, per row):
 *   |x.w_j - t s_j p.q_j| <= |x.(w_j - s_j q_j)| + |(x - t p).s_j q_j|
 *                         <= min(ew_j ||x||_1, ||w_j - s_j q_j||_2 ||x||_2)
 *                          + min(ex ||s_j q_j||_1, ||x - t p||_2 ||s_j q_j||_2)
 * (Hoelder and Cauchy-Schwarz), where ew_j = max_i |w_ji - s_j q_ji| and ex = max_i |x_i -
 * t p_i|, all measured, not assumed; plus the f32 product's own rounding, at most gamma_in
 * ||x||_inf ||w_j||_1 with gamma_in = in u / (1 - in u), u = 2^-24 (a chain of fused
 * multiply-adds), and a relative margin for the float conversions. Needs AVX512_VNNI
 * (gemm_bound_available). */
#ifndef VLP_CORE_GEMM_BOUND_H
#define VLP_CORE_GEMM_BOUND_H

#include <stdint.h>

#include "core/gemm_panel.h"

typedef struct {
  int out, in, in4, panels; /* in4: in rounded up to 4; panels of 64 outputs as gemm_panel */
  int8_t *Q;                /* (panels, in4 / 4, 64, 4): 4 inputs of each output side by side */
  float *scale;             /* (out) s_j */
  float *werr;              /* (out) ew_j, rounded up */
  float *qabs;              /* (out) ||s_j q_j||_1, rounded up */
  float *wabs;              /* (out) ||w_j||_1, rounded up */
  float *werr2, *q2;        /* (out) ||w_j - s_j q_j||_2, ||s_j q_j||_2, rounded up */
  int32_t *qsum;            /* (out) sum_i q_ji */
} gemm_bound;

/* One input row quantised for gemm_bound_part: its factors in the bound, as floats rounded
 * up (t, the scale, rounded to nearest). */
typedef struct {
  float t;       /* the scale: x_i ~ t p_i */
  float l1, l2;  /* ||x||_1, ||x||_2 */
  float ex, ex2; /* max_i |x_i - t p_i|, ||x - t p||_2 */
  float glinf;   /* gamma_in ||x||_inf */
  int finite;    /* 0 if x holds an inf or NaN: every bound is then infinite */
} gemm_bound_row;

/* 1 when this CPU has the instructions (AVX512_VNNI with AVX-512 panels). */
int gemm_bound_available(void);
/* The int8 copy of the panels g (the weight they hold). Without radii, only what the
 * estimates need, made faster (a draft decoder's products, text/bert.h): every radius is
 * then infinite. */
vlp_status gemm_bound_make(gemm_bound *b, const gemm_panel *g, int radii);
void gemm_bound_free(gemm_bound *b);
/* Bytes the copy holds (the int8 weights and the per-output factors). */
size_t gemm_bound_bytes(const gemm_bound *b);
/* Bytes of one quantised row (a multiple of 64). */
size_t gemm_bound_row_bytes(const gemm_bound *b);
/* n rows of x (n, ldx) into u (n, gemm_bound_row_bytes) and their st (n). */
void gemm_bound_quantize(const gemm_bound *b, const float *x, int ldx, int n, uint8_t *u,
                         gemm_bound_row *st);
/* gemm_bound_quantize for estimates only (a draft decoder's products): faster, in float
 * (ties away from zero), without the factors of a bound (rows given to gemm_bound_part
 * with rad NULL only). */
void gemm_bound_quantize_est(const gemm_bound *b, const float *x, int ldx, int n, uint8_t *u,
                             gemm_bound_row *st);
/* Outputs of panels [p0, p1) for the n quantised rows: est (n, ld) and rad (n, ld) with
 * x.w_j + bias_j, exact or as the f32 panels compute it, within est +- rad (bias may be
 * NULL; rad NULL: the estimates only). On the calling thread: callers split the panels
 * between their threads. */
void gemm_bound_part(const gemm_bound *b, float *est, float *rad, int ld, const uint8_t *u,
                     const gemm_bound_row *st, int n, const float *bias, int p0, int p1);

#endif
