/* threads: the thread count of the current compute call.
 *
 * Nothing here is process-wide: a session sets the count for its own thread on entry to
 * each compute call (threads_enter) and restores the previous value on exit
 * (threads_leave); kernels (core/ops.c) open their OpenMP regions with
 * vlp_threads_current() threads. A thread that never entered a session gets the default:
 * VLP_THREADS when set (1..4096), else the number of online cores. */
#ifndef VLP_CORE_THREADS_H
#define VLP_CORE_THREADS_H

/* Below this many elements (or rows x columns) an OpenMP region costs more than it saves:
 * the kernels run such passes on the calling thread alone. Waking a sleeping worker costs
 * ~20 us on our 2-vCPU development VM (OMP_WAIT_POLICY=passive), about what one core takes
 * to layernorm 100-150 rows of 768 or convert 300 rows of 768 floats to bf16. */
#define PAR_MIN (1 << 17)

/* Threads for the calling thread's current compute call (>= 1). */
int vlp_threads_current(void);
/* VLP_THREADS when set and valid, else the number of online cores (read once). */
int vlp_threads_default(void);
/* Set the calling thread's count (n <= 0: the default); returns the previous setting for
 * threads_leave. */
int threads_enter(int n);
void threads_leave(int previous);

#endif
