/* bench_util: timing helpers shared by vlp's benchmarks. */
#ifndef VLP_BENCH_UTIL_H
#define VLP_BENCH_UTIL_H

/* Monotonic clock in seconds. */
double bench_now(void);
/* GFLOP/s of one OpenBLAS sgemm C (m, n) = A (m, k) B^T with B (n, k) (the op_linear layout),
 * best of reps runs after one warm-up, at the current OpenBLAS thread count (vlp keeps it
 * at 1: see core/threads.c). < 0 on malloc failure. */
double bench_sgemm_gflops(int m, int n, int k, int reps);

#endif
