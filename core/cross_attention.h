/* cross_attention: a few query rows attending to keys and values that are computed once
 * and read again at every decoding step (BLIP's text decoder over its image tokens). They
 * are packed per head so a step streams them: keys in blocks of 16 with the head dimension
 * outer (a block's 16 scores in one vector, no horizontal sums), values row after row.
 * Same result as op_attention (core/ops.h) with Tk = Te, no causal mask;
 * tests/test_attention.c compares them. */
#ifndef VLP_CORE_CROSS_ATTENTION_H
#define VLP_CORE_CROSS_ATTENTION_H

#include <stddef.h>

/* Largest key count and head size the packed path takes (its rows live on the stack). */
#define XATTN_MAX_KEYS 8192
#define XATTN_MAX_HEAD 1024

typedef struct {
  int H, hd, Te; /* heads, head size, keys per item */
} xattn_shape;

/* 1 when the packed path takes this shape: within the limits above, and not turned off by
 * VLP_XATTN=rows (read at the first call; tests run the decoders on the row layout with it). */
int xattn_packs(const xattn_shape *s);
/* Floats of one item's packed keys and values. */
size_t xattn_k_floats(const xattn_shape *s);
size_t xattn_v_floats(const xattn_shape *s);
/* Pack one item's keys k and values v, rows (Te, H * hd), into kp and vp. */
void xattn_pack(float *kp, float *vp, const float *k, const float *v, const xattn_shape *s);
/* out (rows, H * hd) = softmax(q k^T / sqrt(hd) + mask) v for query rows q (rows, H * hd):
 * row r belongs to sequence r / T, which reads item item_of_seq[r / T] (NULL: item r / T)
 * of the packed kp, vp (items one after another); mask additive (items, Te) or NULL. */
void xattn_run(float *out, const float *q, int rows, int T, const int *item_of_seq, const float *kp,
               const float *vp, const float *mask, const xattn_shape *s);
/* Tasks [t0, t1) of xattn_run's rows * H (task t: query row t / H, head t % H) on the
 * calling thread (code that splits them between the threads of its own region). */
void xattn_run_part(float *out, const float *q, int T, const int *item_of_seq, const float *kp,
                    const float *vp, const float *mask, const xattn_shape *s, long t0, long t1);

#endif
