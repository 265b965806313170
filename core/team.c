/* team: a spin-then-yield barrier for the threads of one parallel region (team.h). */
#include "core/team.h"

#include <sched.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define RELAX() _mm_pause()
#else
#define RELAX() ((void)0)
#endif

/* Pause rounds before yielding: a few microseconds, about the imbalance between two
 * threads' shares of a pass. */
#define SPIN 2000

void team_init(team_barrier *b) {
  atomic_init(&b->arrived, 0);
  atomic_init(&b->round, 0);
  atomic_init(&b->next[0], 0);
  atomic_init(&b->next[1], 0);
}

int team_next(team_barrier *b, long n, long chunk, long *lo, long *hi) {
  int round = atomic_load_explicit(&b->round, memory_order_acquire);
  long at = atomic_fetch_add_explicit(&b->next[round & 1], chunk, memory_order_relaxed);
  if (at >= n) return 0;
  *lo = at;
  *hi = at + chunk < n ? at + chunk : n;
  return 1;
}

void team_wait(team_barrier *b, int n) {
  if (n <= 1) { /* alone: still a new pass */
    int round = atomic_load_explicit(&b->round, memory_order_relaxed);
    atomic_store_explicit(&b->next[(round + 1) & 1], 0, memory_order_relaxed);
    atomic_store_explicit(&b->round, round + 1, memory_order_relaxed);
    return;
  }
  int round = atomic_load_explicit(&b->round, memory_order_acquire);
  if (atomic_fetch_add_explicit(&b->arrived, 1, memory_order_acq_rel) == n - 1) {
    /* every thread is done with this pass: the next pass's counter (last used two passes
     * ago) starts again from 0 */
    atomic_store_explicit(&b->next[(round + 1) & 1], 0, memory_order_relaxed);
    atomic_store_explicit(&b->arrived, 0, memory_order_relaxed);
    atomic_fetch_add_explicit(&b->round, 1, memory_order_release);
    return;
  }
  for (int i = 0; atomic_load_explicit(&b->round, memory_order_acquire) == round; i++) {
    if (i < SPIN)
      RELAX();
    else
      sched_yield();
  }
}
