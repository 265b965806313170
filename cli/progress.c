/* progress: how far a long `vlp caption` run is, on stderr — a bar redrawn in place when
 * stderr is a terminal (done/total, images/s, ETA), a plain line every 10 s when it is not
 * (logs, Slurm output files; VLP_PROGRESS_EVERY=S changes the 10 s), nothing with --quiet. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "caption_tool.h"

double ct_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void ct_progress_start(ct_progress *p, int total, int quiet) {
  p->mode = quiet ? 0 : isatty(STDERR_FILENO) ? 1 : 2;
  p->total = total;
  p->done = 0;
  p->t0 = p->last_draw = ct_now();
  p->drawn = 0;
}

static void fmt_eta(char *buf, size_t n, double s) {
  if (s < 0 || s > 1e8)
    snprintf(buf, n, "?");
  else if (s >= 3600)
    snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
  else if (s >= 60)
    snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)s % 60);
  else
    snprintf(buf, n, "%ds", (int)s);
}

static void draw(ct_progress *p, double now) {
  double el = now - p->t0;
  double rate = el > 0 ? p->done / el : 0;
  char eta[32];
  fmt_eta(eta, sizeof eta, rate > 0 ? (p->total - p->done) / rate : -1);
  int pct = p->total ? (int)(100.0 * p->done / p->total) : 100;
  if (p->mode == 1) {
    enum { W = 30 };
    char bar[W + 1];
    int fill = p->total ? (int)((double)W * p->done / p->total) : W;
    for (int i = 0; i < W; i++) bar[i] = i < fill ? '#' : '.';
    bar[W] = 0;
    fprintf(stderr, "\r[%s] %d/%d %3d%% %.2f img/s ETA %s\033[K", bar, p->done, p->total, pct, rate,
            eta);
    p->drawn = 1;
  } else {
    fprintf(stderr, "vlp %s: %d/%d (%d%%), %.2f images/s, ETA %s\n", p->cmd ? p->cmd : "caption",
            p->done, p->total, pct, rate, eta);
  }
  fflush(stderr);
  p->last_draw = now;
}

void ct_progress_update(ct_progress *p, int done) {
  p->done = done;
  if (!p->mode) return;
  double now = ct_now();
  const char *env = getenv("VLP_PROGRESS_EVERY"); /* seconds between lines off a terminal */
  double every = p->mode == 1 ? 0.1 : env && *env ? atof(env) : 10.0;
  if (now - p->last_draw >= every || (p->mode == 1 && done == p->total)) draw(p, now);
}

void ct_progress_clear(ct_progress *p) {
  if (p->mode == 1 && p->drawn) {
    fputs("\r\033[K", stderr);
    p->drawn = 0;
  }
}

void ct_progress_end(ct_progress *p) {
  if (p->mode == 1 && p->done > 0) draw(p, ct_now());
  if (p->mode == 1 && p->drawn) fputc('\n', stderr);
  p->drawn = 0;
}
