/* threads: the per-thread thread count of the current compute call (see threads.h). */
#include "core/threads.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

static _Thread_local int t_threads; /* 0: not inside a session call -> the default */
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_default;

static void read_default(void) {
  const char *env = getenv("VLP_THREADS");
  if (env && *env) {
    char *end = NULL;
    long v = strtol(env, &end, 10);
    if (end != env && *end == 0 && v > 0 && v <= 4096) {
      g_default = (int)v;
      return;
    }
  }
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  if (cores < 1) cores = 1;
  if (cores > 4096) cores = 4096;
  g_default = (int)cores;
}

int vlp_threads_default(void) {
  pthread_once(&g_once, read_default);
  return g_default;
}

int vlp_threads_current(void) {
  return t_threads > 0 ? t_threads : vlp_threads_default();
}

int threads_enter(int n) {
  int prev = t_threads;
  t_threads = n > 0 ? (n > 4096 ? 4096 : n) : 0;
  return prev;
}

void threads_leave(int previous) {
  t_threads = previous;
}
