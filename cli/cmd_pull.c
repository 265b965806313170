/* vlp pull: download a model from a Hugging Face-compatible hub into the model cache. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_pull.h"

static const char usage[] =
    "usage: vlp pull REPO_ID... [--revision REV] [--quiet]\n\n"
    "Downloads what vlp needs of a Hugging Face repository (config.json, model.safetensors or\n"
    "its shards, tokenizer and preprocessor files) into the model cache, e.g.\n"
    "  vlp pull Salesforce/blip-image-captioning-base\n"
    "  vlp caption -m blip-image-captioning-base photos/\n"
    "Partial downloads resume; files are checked against the hub's sha256 where it gives one.\n"
    "Prints {\"repo\", \"revision\", \"commit\", \"path\", \"files\", \"downloaded_bytes\"} per\n"
    "repository.\n\n"
    "options:\n"
    "  --revision REV  branch, tag or commit (default main)\n"
    "  -q, --quiet     no progress bar (there is none either when stderr is not a terminal)\n"
    "  -o FILE         write the JSON lines to FILE\n\n"
    "environment: VLP_HOME (cache folder, default ~/.cache/vlp), HF_ENDPOINT (default\n"
    "https://huggingface.co), HF_TOKEN (for gated or private repositories).\n";

typedef struct {
  double last; /* time of the last redraw */
  int shown;   /* a bar is on the current line */
  int draw;    /* a bar at all (stderr is a terminal, no --quiet) */
} bar_state;

/* Ctrl-C (SIGINT) or SIGTERM stops the download through the progress callback, so the
 * partial file is kept for the next vlp pull to resume. */
static volatile sig_atomic_t stop_asked;
static void on_stop_signal(int sig) {
  (void)sig;
  stop_asked = 1;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* "  model.safetensors  [##########----------]  52%   4.5 / 8.6 MB" on stderr. */
static int draw_bar(void *ctx, const char *file, uint64_t done, uint64_t total) {
  bar_state *b = ctx;
  if (stop_asked) return 1;
  if (!b->draw) return 0;
  int finished = total && done == total;
  double t = now_s();
  if (!finished && b->shown && t - b->last < 0.1) return 0;
  b->last = t;
  char bar[21];
  int fill = total ? (int)(20.0 * (double)done / (double)total) : 0;
  for (int i = 0; i < 20; i++) bar[i] = i < fill ? '#' : '-';
  bar[20] = 0;
  fprintf(stderr, "\r  %-28.28s [%s] %3d%% %8.1f / %.1f MB\033[K", file, bar,
          total ? (int)(100.0 * (double)done / (double)total) : 0, (double)done / 1e6,
          (double)total / 1e6);
  b->shown = 1;
  if (finished) {
    fputc('\n', stderr);
    b->shown = 0;
  }
  fflush(stderr);
  return 0;
}

static void write_result(FILE *out, const char *repo, const char *rev, const vlp_pull_result *r) {
  fputs("{\"repo\": ", out);
  json_write_str(out, repo);
  fputs(", \"revision\": ", out);
  json_write_str(out, rev);
  fputs(", \"commit\": ", out);
  json_write_str(out, r->commit);
  fputs(", \"path\": ", out);
  json_write_str(out, r->path);
  fputs(", \"files\": [", out);
  for (int i = 0; i < r->n_files; i++) {
    if (i) fputs(", ", out);
    json_write_str(out, r->files[i]);
  }
  fprintf(out, "], \"downloaded_bytes\": %llu}\n", (unsigned long long)r->bytes_downloaded);
  cli_flush(out);
}

int cmd_pull(int argc, char **argv) {
  cli_args a;
  cli_common c = {0};
  const char *opt, *pos, *revision = NULL;
  int quiet = 0, n = 0;
  cli_args_init(&a, argc, argv, "pull");
  const char **repos = calloc((size_t)argc, sizeof *repos);
  if (!repos) return EXIT_USAGE;
  while (!a.failed && cli_next(&a, &opt, &pos)) {
    if (pos)
      repos[n++] = pos;
    else if (!strcmp(opt, "--revision"))
      revision = cli_value(&a);
    else if (!strcmp(opt, "-q") || !strcmp(opt, "--quiet"))
      quiet = 1;
    else if (!strcmp(opt, "-o") || !strcmp(opt, "--output") || !strcmp(opt, "-h") ||
             !strcmp(opt, "--help"))
      cli_common_opt(&a, opt, &c);
    else
      cli_usage_error(&a, "unknown option %s", opt);
  }
  if (c.help) {
    fputs(usage, stdout);
    free(repos);
    return EXIT_ALL_OK;
  }
  if (!a.failed && !n)
    cli_usage_error(&a, "needs a REPO_ID such as Salesforce/blip-image-captioning-base");
  FILE *out = a.failed ? NULL : cli_open_output("pull", c.output);
  if (!out) {
    free(repos);
    return EXIT_USAGE;
  }
  bar_state bar = {.draw = !quiet && isatty(STDERR_FILENO)};
  vlp_pull_options o = {.revision = revision, .progress = draw_bar, .progress_ctx = &bar};
  struct sigaction sa = {.sa_handler = on_stop_signal}, old_int, old_term;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  int failed = 0, cancelled = 0;
  for (int i = 0; i < n && !cancelled; i++) {
    vlp_pull_result r;
    if (bar.draw) fprintf(stderr, "%s\n", repos[i]);
    vlp_status st = vlp_pull(repos[i], &o, &r);
    if (bar.shown) fputc('\n', stderr), bar.shown = 0;
    if (st) {
      cli_report_error(out, "pull", "repo", repos[i], vlp_last_error());
      failed++;
      cancelled = st == VLP_ERR_CANCELLED;
      continue;
    }
    write_result(out, repos[i], revision ? revision : "main", &r);
    vlp_pull_result_free(&r);
  }
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  int bad_out = cli_close_output(out);
  free(repos);
  if (cancelled) return 128 + SIGINT; /* as a shell reports an interrupted command */
  return bad_out ? EXIT_USAGE : failed ? EXIT_SOME_FAILED : EXIT_ALL_OK;
}
