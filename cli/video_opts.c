/* video_opts: sampling options, the frame loop, progress and JSON fields shared by
 * `vlp video`, `vlp embed --video` and `vlp index` (see cli_video.h). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_video.h"

const char cli_video_usage[] =
    "sampling (default: --every 1s; a sample at time T takes the first frame shown at or\n"
    "after T; every frame at most once):\n"
    "  --every N[s]            a frame every N seconds, from --start\n"
    "  --fps F                 F frames per second (e.g. 0.5)\n"
    "  --keyframes             the key frames only\n"
    "  --scenes [THRESHOLD]    the first frame and each shot change: mean absolute\n"
    "                          difference of 32x32 grayscale thumbnails of consecutive\n"
    "                          frames above THRESHOLD (0..1, default 0.1)\n"
    "  --all-frames            every frame\n"
    "  --start S, --end S      only frames with S <= t < end (seconds)\n"
    "  --max-frames N          at most N frames per video\n"
    "  --progress              progress on stderr even when it is not a terminal\n";

vlp_video_sampling cli_video_default_sampling(void) {
  vlp_video_sampling s = vlp_video_default_sampling();
  s.mode = VLP_SAMPLE_EVERY;
  s.every = 1;
  return s;
}

/* A number of seconds, "2", "2s" or "2.5s". */
static int parse_seconds(const char *v, double *out) {
  char *end;
  errno = 0;
  double x = strtod(v, &end);
  if (end != v && *end == 's') end++;
  if (errno || end == v || *end || !isfinite(x)) return 0;
  *out = x;
  return 1;
}

static int seconds_opt(cli_args *a, double *out, int positive) {
  const char *v = cli_value(a);
  double x;
  if (!v) return 0;
  if (!parse_seconds(v, &x) || (positive ? !(x > 0) : x < 0)) {
    cli_usage_error(a, "%s takes %s number of seconds, not '%s'", a->opt,
                    positive ? "a positive" : "a", v);
    return 0;
  }
  *out = x;
  return 1;
}

int cli_video_opt(cli_args *a, const char *opt, vlp_video_sampling *s, int *progress) {
  if (!strcmp(opt, "--every")) {
    if (seconds_opt(a, &s->every, 1)) s->mode = VLP_SAMPLE_EVERY;
  } else if (!strcmp(opt, "--fps")) {
    if (seconds_opt(a, &s->fps, 1)) s->mode = VLP_SAMPLE_FPS;
  } else if (!strcmp(opt, "--keyframes")) {
    s->mode = VLP_SAMPLE_KEYFRAMES;
  } else if (!strcmp(opt, "--all-frames")) {
    s->mode = VLP_SAMPLE_ALL;
  } else if (!strcmp(opt, "--scenes")) {
    s->mode = VLP_SAMPLE_SCENES;
    /* optional value: --scenes=0.2, or a following argument that is a number */
    const char *v = a->inline_v;
    double x;
    char *end;
    if (!v && a->i < a->argc) {
      strtod(a->argv[a->i], &end);
      if (end != a->argv[a->i] && !*end) v = a->argv[a->i++];
    }
    if (v) {
      x = strtod(v, &end);
      if (end == v || *end || !(x >= 0 && x <= 1))
        cli_usage_error(a, "--scenes takes a threshold from 0 to 1, not '%s'", v);
      else
        s->scene_threshold = x;
    }
  } else if (!strcmp(opt, "--start")) {
    seconds_opt(a, &s->start, 0);
  } else if (!strcmp(opt, "--end")) {
    seconds_opt(a, &s->end, 1);
  } else if (!strcmp(opt, "--max-frames")) {
    int n;
    if (cli_int(a, 1, 1 << 30, &n)) s->max_frames = n;
  } else if (!strcmp(opt, "--progress")) {
    *progress = 1;
  } else {
    return 0;
  }
  return 1;
}

/* Where the last frame's span of a video ends: the video's end (or --end), else one frame on. */
static double video_end(const vlp_video_info *in, const vlp_video_sampling *s, double last_t) {
  double end = in->duration > 0 ? in->duration : last_t + (in->fps > 0 ? 1 / in->fps : 0);
  if (s->end >= 0 && s->end < end) end = s->end;
  return end > last_t ? end : last_t;
}

/* The frames of one batch: images (fitted when the loop says so), times, frame numbers. */
typedef struct {
  vlp_image *img;
  double *t;
  int64_t *index;
} frame_batch;

static int batch_alloc(frame_batch *b, int n) {
  b->img = calloc((size_t)n, sizeof *b->img);
  b->t = calloc((size_t)n, sizeof *b->t);
  b->index = calloc((size_t)n, sizeof *b->index);
  return b->img && b->t && b->index ? 0 : -1;
}

static void batch_free(frame_batch *b, int n) {
  for (int k = 0; b->img && k < n; k++) vlp_image_free(&b->img[k]);
  free(b->img);
  free(b->t);
  free(b->index);
}

/* The next sampled frame into slot k of b, fitted to L->fit's input size when set. */
static vlp_status next_frame(const cli_frame_loop *L, vlp_video *v, frame_batch *b, int k,
                             int *got) {
  vlp_image img;
  vlp_status st = vlp_video_next(v, L->fit ? &img : &b->img[k], &b->t[k], &b->index[k], got);
  if (st || !*got || !L->fit) return st;
  st = vlp_model_fit_image(L->fit, &img, L->fit_size, &b->img[k]);
  vlp_image_free(&img);
  return st;
}

int cli_video_each_frame(const cli_frame_loop *L, const char *path, cli_frames_fn fn,
                         cli_frame_end_fn end, void *ctx) {
  vlp_video *v = NULL;
  int batch = L->batch > 0 ? L->batch : 1;
  frame_batch b = {0};
  if (batch_alloc(&b, batch) ? vlp_set_error(VLP_ERR_NOMEM, "out of memory")
                             : vlp_video_open(path, &L->s, &v)) {
    cli_report_error(L->out, L->cmd, L->key, path, vlp_last_error());
    batch_free(&b, batch);
    return 1;
  }
  vlp_video_info in = vlp_video_get_info(v);
  cli_progress p;
  cli_progress_begin(&p, L->cmd, path, L->progress);
  double last_t = 0;
  int failed = 0, n = 0, got = 0;
  for (;;) {
    vlp_status st = next_frame(L, v, &b, n, &got);
    n += !st && got;
    int last = st || !got;
    if (n < batch && !last) continue;
    /* a full batch, the end, or an error: the frames so far go through fn first */
    int done = n;
    if (n) {
      char msg[2048];
      snprintf(msg, sizeof msg, "%s", vlp_last_error());
      done = fn(ctx, path, b.img, b.t, b.index, n);
      for (int k = 0; k < done; k++) {
        last_t = b.t[k];
        cli_progress_frame(&p, b.t[k]);
      }
      for (int k = 0; k < n; k++) vlp_image_free(&b.img[k]);
      if (done == n && st) vlp_set_error(st, msg); /* fn's error comes first, else the video's */
    }
    if (done < n || st) {
      if (end) end(ctx, last_t + (in.fps > 0 ? 1 / in.fps : 0));
      cli_report_error(L->out, L->cmd, L->key, path, vlp_last_error());
      failed = 1;
    } else if (last && end) {
      end(ctx, video_end(&in, &L->s, last_t));
    }
    n = 0;
    if (last || failed) break;
    if (L->out && ferror(L->out)) break; /* the output failed (reported): stop decoding */
  }
  cli_progress_end(&p);
  vlp_video_close(v);
  batch_free(&b, batch);
  return failed;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cli_progress_begin(cli_progress *p, const char *cmd, const char *path, int forced) {
  memset(p, 0, sizeof *p);
  p->on = forced || isatty(STDERR_FILENO);
  p->cmd = cmd;
  p->path = path;
  p->t_start = p->t_last = now();
}

static void progress_line(cli_progress *p, double t, int final) {
  double el = now() - p->t_start;
  fprintf(stderr, "%svlp %s: %s: %ld frames, %.1f s of video in %.1f s (%.2f s of video/s)%s",
          isatty(STDERR_FILENO) ? "\r" : "", p->cmd, p->path, p->frames, t, el,
          el > 0 ? t / el : 0.0, final || !isatty(STDERR_FILENO) ? "\n" : "");
  fflush(stderr);
}

void cli_progress_frame(cli_progress *p, double t) {
  p->frames++;
  p->t_video = t;
  if (!p->on) return;
  double n = now();
  if (n - p->t_last < 1.0) return;
  p->t_last = n;
  progress_line(p, t, 0);
}

void cli_progress_end(cli_progress *p) {
  if (p->on && p->frames) progress_line(p, p->t_video, 1);
}

void cli_write_time(FILE *out, double t) {
  /* to the microsecond, then the shortest text that reads back the same: 2 and 0.3, never
   * 2.0000000000000004 from a sum of frame durations */
  if (isfinite(t) && fabs(t) < 1e12) t = round(t * 1e6) / 1e6;
  char buf[64];
  for (int prec = 6; prec <= 17; prec++) {
    snprintf(buf, sizeof buf, "%.*g", prec, t);
    if (strtod(buf, NULL) == t) break;
  }
  fputs(buf, out);
}

void cli_video_write_frame_fields(FILE *out, const char *key, const char *path, double t,
                                  int64_t frame) {
  fputc('"', out);
  fputs(key, out);
  fputs("\": ", out);
  json_write_str(out, path);
  fputs(", \"t\": ", out);
  cli_write_time(out, t);
  fprintf(out, ", \"frame\": %lld", (long long)frame);
}
