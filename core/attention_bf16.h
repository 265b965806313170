/* attention_bf16: multi-head attention on bf16 q, k, v for short key sequences (CLIP
 * B/32's 50 image tokens), for models whose products run in bf16: the products around it
 * then write and read bf16 rows (core/gemm.h), and the attention's two products run as
 * AVX512_BF16 dot products (vdpbf16ps, f32 sums) instead of f32 FMAs on converted rows.
 *
 * Per query row: scores s_j = (q . k_j) scale + mask_j in f32 (keys j the row may not see:
 * -inf), softmax in f32 (p_j = e^(s_j - max), l = sum p_j), the weights p_j rounded to bf16,
 * out = (sum_j p_j v_j) / l rounded to bf16 (a row that sees no key: zeros).
 * attention_bf16_reference computes exactly that in plain C, one row at a time; the kernels
 * sum in another order. The shape is op_attention's (core/ops.h) with element strides:
 * rows of q, k, v op_attn_ld(s) bf16 values apart, rows of out H * hd. */
#ifndef VLP_CORE_ATTENTION_BF16_H
#define VLP_CORE_ATTENTION_BF16_H

#include <stdint.h>

#include "core/ops.h"
#include "core/team.h"

/* Longest key sequence and widest head the kernels take (their buffers are on the stack). */
#define ATTN16_TK 128
#define ATTN16_HD 128

/* 1 when attention_bf16 can run s here: a CPU with AVX512_BF16 on the AVX-512 kernel path
 * (core/kernels.h; VLP_KERNELS=avx2 turns it off), Tk <= ATTN16_TK, an even hd <=
 * ATTN16_HD. */
int attention_bf16_available(const op_attn_shape *s);

/* out = attention(q, k, v); 0 (nothing done) when not attention_bf16_available(s). In
 * parallel over (batch item, head) with vlp_threads_current() threads. */
int attention_bf16(uint16_t *out, const uint16_t *q, const uint16_t *k, const uint16_t *v,
                   const op_attn_shape *s);

/* The same shared out among the n threads of a parallel region of the caller's, as
 * attention_blocked_team (core/attention.h): every thread calls it with the same arguments
 * and bar, then waits (team_wait) before out is read. */
int attention_bf16_team(uint16_t *out, const uint16_t *q, const uint16_t *k, const uint16_t *v,
                        const op_attn_shape *s, team_barrier *bar, int t, int n);

/* The scalar reference (any CPU, any shape); 0 when out of memory. */
int attention_bf16_reference(uint16_t *out, const uint16_t *q, const uint16_t *k, const uint16_t *v,
                             const op_attn_shape *s);

#endif
