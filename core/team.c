/* team: a spin-then-sleep barrier for the threads of one parallel region (team.h). */
#include "core/team.h"

#include <sched.h>
#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define RELAX() _mm_pause()
#else
#define RELAX() ((void)0)
#endif

/* Pause rounds before sleeping: ~20 us on the development VM's Zen 5 (2000 pauses took
 * 39 us), about what waking a sleeping thread costs there, so a wait costs at most about
 * twice what the best choice made knowing its length would. */
#define SPIN 1000

/* The share counters of the pass after the current one (last used two passes ago). */
static void reset_next(team_barrier *b, int round) {
  for (int i = 0; i < TEAM_MAX; i++)
    atomic_store_explicit(&b->next[(round + 1) & 1][i].taken, 0, memory_order_relaxed);
}

void team_init(team_barrier *b) {
  atomic_init(&b->arrived, 0);
  atomic_init(&b->round, 0);
  atomic_init(&b->sleepers, 0);
  for (int p = 0; p < 2; p++)
    for (int i = 0; i < TEAM_MAX; i++) atomic_init(&b->next[p][i].taken, 0);
}

/* Sleep while b->round is still `round` (Linux: a futex on it; elsewhere: yield). */
static void sleep_on(team_barrier *b, int round) {
#ifdef __linux__
  syscall(SYS_futex, (int *)&b->round, FUTEX_WAIT_PRIVATE, round, NULL, NULL, 0);
#else
  (void)b, (void)round;
  sched_yield();
#endif
}

static void wake_all(team_barrier *b) {
#ifdef __linux__
  syscall(SYS_futex, (int *)&b->round, FUTEX_WAKE_PRIVATE, 0x7fffffff, NULL, NULL, 0);
#else
  (void)b;
#endif
}

int team_next(team_barrier *b, int t, int nt, long n, long chunk, long *lo, long *hi) {
  int round = atomic_load_explicit(&b->round, memory_order_acquire);
  team_share_count *c = b->next[round & 1];
  for (int i = 0; i < nt; i++) {
    int v = (t + i) % nt;
    long s0 = team_share_start(n, v, nt), size = team_share_start(n, v + 1, nt) - s0;
    if (atomic_load_explicit(&c[v].taken, memory_order_relaxed) >= size) continue;
    long at = atomic_fetch_add_explicit(&c[v].taken, chunk, memory_order_relaxed);
    if (at >= size) continue;
    *lo = s0 + at;
    *hi = s0 + (at + chunk < size ? at + chunk : size);
    return 1;
  }
  return 0;
}

void team_wait(team_barrier *b, int n) {
  if (n <= 1) { /* alone: still a new pass */
    int round = atomic_load_explicit(&b->round, memory_order_relaxed);
    reset_next(b, round);
    atomic_store_explicit(&b->round, round + 1, memory_order_relaxed);
    return;
  }
  int round = atomic_load_explicit(&b->round, memory_order_acquire);
  if (atomic_fetch_add_explicit(&b->arrived, 1, memory_order_acq_rel) == n - 1) {
    /* every thread is done with this pass: the next pass's counter (last used two passes
     * ago) starts again from 0 */
    reset_next(b, round);
    atomic_store_explicit(&b->arrived, 0, memory_order_relaxed);
    atomic_fetch_add(&b->round, 1); /* seq_cst: against a sleeper's check below */
    if (atomic_load(&b->sleepers)) wake_all(b);
    return;
  }
  /* Spin a little; then sleep, so that next to a busy process a thread waiting for a
   * descheduled one gives its core away instead of taking turns with it. */
  for (int i = 0; i < SPIN; i++) {
    if (atomic_load_explicit(&b->round, memory_order_acquire) != round) return;
    RELAX();
  }
  atomic_fetch_add(&b->sleepers, 1);
  while (atomic_load(&b->round) == round) sleep_on(b, round);
  atomic_fetch_sub(&b->sleepers, 1);
}
