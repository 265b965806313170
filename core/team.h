/* team: the threads of one OpenMP region working through several dependent passes (a
 * decoder step: products, attention, layernorms) without a region per pass. A sleeping
 * OpenMP worker takes ~20 us to wake on the development VM (core/threads.h) and libgomp's
 * own barrier sleeps at once under OMP_WAIT_POLICY=passive, so between passes the threads
 * meet at team_wait, which spins a short while (the wait between two passes of a step is
 * usually a few microseconds) before it sleeps on a futex. */
#ifndef VLP_CORE_TEAM_H
#define VLP_CORE_TEAM_H

#include <stdatomic.h>

/* Threads a team can have. */
#define TEAM_MAX 16

/* Items taken so far from one thread's share of a pass (a cache line each). */
typedef struct {
  _Alignas(64) atomic_long taken;
} team_share_count;

typedef struct {
  atomic_int arrived;
  atomic_int round;                   /* passes completed: the current pass's number */
  atomic_int sleepers;                /* threads asleep in team_wait */
  team_share_count next[2][TEAM_MAX]; /* per share, of the current pass (round & 1) */
} team_barrier;

/* Zeroed before the region (team_barrier b = {0} works). */
void team_init(team_barrier *b);
/* Wait until all n threads of the region (omp_get_num_threads()) have arrived. */
void team_wait(team_barrier *b, int n);

/* Thread t's (of nt <= TEAM_MAX) next chunk [*lo, *hi) of the current pass's n items:
 * first from its own share (the contiguous n / nt items at n * t / nt), front to back, a
 * chunk at a time; once that is used up, from the other threads' shares, so a thread slowed
 * by the host takes fewer. Returns 0 when none is left. Contiguous shares keep each thread
 * reading its weights as one stream (a stream that jumps every panel restarts the
 * hardware prefetcher: 5-25% slower here) and say where a thread starts the next pass.
 * Every thread of a pass calls it with the same n and nt. */
int team_next(team_barrier *b, int t, int nt, long n, long chunk, long *lo, long *hi);

/* Where thread t of nt starts in a pass of n items. */
static inline long team_share_start(long n, int t, int nt) {
  return n * t / nt;
}

#endif
