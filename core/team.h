/* team: the threads of one OpenMP region working through several dependent passes (a
 * decoder step: products, attention, layernorms) without a region per pass. A sleeping
 * OpenMP worker takes ~20 us to wake on the development VM (core/threads.h) and libgomp's
 * own barrier sleeps at once under OMP_WAIT_POLICY=passive, so between passes the threads
 * meet at team_wait, which spins a short while (the wait between two passes of a step is
 * usually a few microseconds) before it sleeps on a futex. */
#ifndef VLP_CORE_TEAM_H
#define VLP_CORE_TEAM_H

#include <stdatomic.h>

typedef struct {
  atomic_int arrived;
  atomic_int round;    /* passes completed: the current pass's number */
  atomic_long next[2]; /* first item not yet taken of the current pass (round & 1) */
  atomic_int sleepers; /* threads asleep in team_wait */
} team_barrier;

/* Zeroed before the region (team_barrier b = {0} works). */
void team_init(team_barrier *b);
/* Wait until all n threads of the region (omp_get_num_threads()) have arrived. */
void team_wait(team_barrier *b, int n);

/* The next chunk [*lo, *hi) of the current pass's n items (chunk at a time), handed to the
 * threads as they ask, so a thread that runs slower (a busy core, a host's noise) takes
 * fewer; returns 0 when none is left. Every thread of a pass calls it with the same n. */
int team_next(team_barrier *b, long n, long chunk, long *lo, long *hi);

/* The share [*lo, *hi) of n items that thread t of nt takes (contiguous, sizes differ by at
 * most one). */
static inline void team_share(long n, int t, int nt, long *lo, long *hi) {
  *lo = n * t / nt;
  *hi = n * (t + 1) / nt;
}

#endif
