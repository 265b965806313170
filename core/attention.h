/* attention: multi-head attention in one pass over the keys per block of query rows (the
 * flash-attention scheme): scores of a block of keys, the running max and sum per query row
 * (online softmax) and the weighted sum of values stay in registers and L1; the (Tq, Tk)
 * score matrix is never materialised. Same contract as op_attention (core/ops.h), which
 * calls it; op_attention_naive is its reference (tests/test_attention.c). The inner kernel
 * is compiled for AVX-512, AVX2+FMA and the baseline and follows core/kernels.h's choice
 * (VLP_KERNELS forces a path). */
#ifndef VLP_CORE_ATTENTION_H
#define VLP_CORE_ATTENTION_H

#include "core/ops.h"
#include "core/team.h"

/* Largest head size the blocked kernel takes (its blocks live on the stack). */
#define ATTN_HD_MAX 256

/* Key sequences up to ATTN_SHORT_TK long with head sizes up to ATTN_SHORT_HD (CLIP's 50
 * image tokens, text encoders) take a one-shot kernel instead, all keys at once and
 * ATTN_SHORT_ROWS query rows per block; its blocks (on the stack) are about
 * ATTN_SHORT_ROWS x (ATTN_SHORT_HD + ATTN_SHORT_TK) floats. */
#define ATTN_SHORT_TK 128
#define ATTN_SHORT_HD 128
#define ATTN_SHORT_ROWS 64

/* out = attention(q, k, v) as op_attention; returns 0 (and does nothing) when
 * s->hd > ATTN_HD_MAX. Parallel over (batch item, head, block of query rows) with
 * vlp_threads_current() threads, in one parallel region. */
int attention_blocked(float *out, const float *q, const float *k, const float *v,
                      const op_attn_shape *s);

/* attention_blocked's tasks shared out among the n threads of a parallel region of the
 * caller's, t being this thread's number: every thread calls it with the same arguments and
 * bar (its pass counters fresh: after team_init or a team_wait), then waits (team_wait)
 * before out is read. Each query row gets the bits attention_blocked gives it. 0 (nothing
 * done, on every thread) when s->hd > ATTN_HD_MAX. */
int attention_blocked_team(float *out, const float *q, const float *k, const float *v,
                           const op_attn_shape *s, team_barrier *bar, int t, int n);

/* Query rows per block of the current kernel path: the wide blocks the work is split in, or
 * (narrow != 0) the narrow ones used for the last few rows of a wide block. */
int attention_block_rows(int narrow);

/* 1 when an attention call of `tasks` independent pieces (blocks of query rows, or rows)
 * should run on the calling thread alone: its estimated time on one core (~0.5 us per task
 * plus the two products at ~150 GFLOP/s, measured on the development VM) is under the ~20 us
 * of waking a sleeping thread (core/threads.h). A decoder's prompt step or a short text
 * query; not a batch-8 decoder step's 96 rows. */
int attention_alone(long tasks, const op_attn_shape *s);

/* Runs task(ctx, t) for t in [0, tasks), the pieces of attention call s (a kernel's driver):
 * on the calling thread alone when attention_alone, else on vlp_threads_current() threads
 * (at most one per task), each running its own share front to back, then what is left of
 * the others' (a thread slowed by the host does fewer); with more threads than a team takes
 * (TEAM_MAX), in fixed shares. */
void attention_run(long tasks, const op_attn_shape *s, void (*task)(const void *ctx, long t),
                   const void *ctx);

/* attention_run's sharing inside a parallel region of the caller's: thread t of n takes
 * its tasks through bar (its pass counters fresh: after team_init or a team_wait). */
void attention_run_team(long tasks, team_barrier *bar, int t, int n,
                        void (*task)(const void *ctx, long t), const void *ctx);

#endif
