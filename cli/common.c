/* common: option scanning, JSON Lines output and error reporting for the subcommands. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "caption_tool.h"
#include "cli.h"

void cli_args_init(cli_args *a, int argc, char **argv, const char *cmd) {
  memset(a, 0, sizeof *a);
  a->argc = argc;
  a->argv = argv;
  a->i = 1;
  a->cmd = cmd;
}

void cli_usage_error(cli_args *a, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "vlp %s: ", a->cmd);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, " (vlp %s --help)\n", a->cmd);
  a->failed = 1;
}

int cli_next(cli_args *a, const char **opt, const char **pos) {
  *opt = NULL;
  *pos = NULL;
  a->opt = NULL;
  a->inline_v = NULL;
  if (a->i >= a->argc) return 0;
  const char *s = a->argv[a->i++];
  if (a->only_positional || s[0] != '-' || !strcmp(s, "-")) {
    *pos = s;
    return 1;
  }
  if (!strcmp(s, "--")) {
    a->only_positional = 1;
    return cli_next(a, opt, pos);
  }
  static _Thread_local char name[64];
  const char *eq = strchr(s, '=');
  if (eq && s[1] == '-') {
    size_t n = (size_t)(eq - s) < sizeof name - 1 ? (size_t)(eq - s) : sizeof name - 1;
    memcpy(name, s, n);
    name[n] = 0;
    a->inline_v = eq + 1;
    s = name;
  }
  a->opt = s;
  *opt = s;
  return 1;
}

const char *cli_value(cli_args *a) {
  if (a->inline_v) return a->inline_v;
  if (a->i >= a->argc) {
    cli_usage_error(a, "%s needs a value", a->opt);
    return NULL;
  }
  return a->argv[a->i++];
}

int cli_int(cli_args *a, int lo, int hi, int *out) {
  const char *v = cli_value(a);
  if (!v) return 0;
  char *end;
  errno = 0;
  long x = strtol(v, &end, 10);
  if (errno || *end || end == v || x < lo || x > hi) {
    cli_usage_error(a, "%s takes a whole number from %d to %d, not '%s'", a->opt, lo, hi, v);
    return 0;
  }
  *out = (int)x;
  return 1;
}

int cli_float(cli_args *a, float *out) {
  const char *v = cli_value(a);
  if (!v) return 0;
  char *end;
  errno = 0;
  double x = strtod(v, &end);
  if (errno || *end || end == v || !isfinite(x)) {
    cli_usage_error(a, "%s takes a number, not '%s'", a->opt, v);
    return 0;
  }
  *out = (float)x;
  return 1;
}

/* -m may name a cached model ("NAME", "ORG/NAME", "...@REV"): every command then sees its
 * folder. When it resolves to nothing the name stays, and loading it reports why. */
static const char *resolve_model(const char *m) {
  static char path[4096];
  if (m && vlp_resolve_model(m, path, sizeof path) == VLP_OK) return path;
  return m;
}

int cli_precision_parse(const char *s) {
  if (!strcmp(s, "f32")) return VLP_PRECISION_F32;
  if (!strcmp(s, "bf16")) return VLP_PRECISION_BF16;
  if (!strcmp(s, "int8")) return VLP_PRECISION_INT8;
  return -1;
}

int cli_precision_opt(cli_args *a) {
  const char *v = cli_value(a);
  int p = v ? cli_precision_parse(v) : -1;
  if (v && p < 0) cli_usage_error(a, "--precision %s: use f32, bf16 or int8", v);
  return p + 1; /* 0 = not given */
}

int cli_precision(const char *cmd, int given) {
  if (given) return given - 1;
  const char *env = getenv("VLP_PRECISION");
  if (!env || !*env) return VLP_PRECISION_F32;
  int p = cli_precision_parse(env);
  if (p < 0) fprintf(stderr, "vlp %s: VLP_PRECISION=%s: use f32, bf16 or int8\n", cmd, env);
  return p;
}

int cli_common_opt(cli_args *a, const char *opt, cli_common *c) {
  if (!strcmp(opt, "-m") || !strcmp(opt, "--model")) {
    c->model = resolve_model(cli_value(a));
  } else if (!strcmp(opt, "-o") || !strcmp(opt, "--output")) {
    c->output = cli_value(a);
  } else if (!strcmp(opt, "--threads")) {
    cli_int(a, 1, 1024, &c->threads);
  } else if (!strcmp(opt, "--precision")) {
    c->precision = cli_precision_opt(a);
  } else if (!strcmp(opt, "-h") || !strcmp(opt, "--help")) {
    c->help = 1;
  } else {
    return 0;
  }
  return 1;
}

void json_write_str(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
    switch (*p) {
      case '"':
        fputs("\\\"", f);
        break;
      case '\\':
        fputs("\\\\", f);
        break;
      case '\n':
        fputs("\\n", f);
        break;
      case '\r':
        fputs("\\r", f);
        break;
      case '\t':
        fputs("\\t", f);
        break;
      default:
        if (*p < 0x20)
          fprintf(f, "\\u%04x", *p);
        else
          fputc(*p, f);
    }
  }
  fputc('"', f);
}

void json_write_float(FILE *f, float v) {
  if (!isfinite(v)) {
    fputs("null", f);
    return;
  }
  fprintf(f, "%.9g", (double)v);
}

void json_write_floats(FILE *f, const float *v, int n) {
  fputc('[', f);
  for (int i = 0; i < n; i++) {
    if (i) fputs(", ", f);
    json_write_float(f, v[i]);
  }
  fputc(']', f);
}

void json_write_ints(FILE *f, const int *v, int n) {
  fputc('[', f);
  for (int i = 0; i < n; i++) fprintf(f, i ? ", %d" : "%d", v[i]);
  fputc(']', f);
}

void cli_report_error(FILE *out, const char *cmd, const char *key, const char *name,
                      const char *message) {
  fprintf(stderr, "vlp %s: %s\n", cmd, message);
  if (!out) return;
  fputc('{', out);
  json_write_str(out, key);
  fputs(": ", out);
  json_write_str(out, name);
  fputs(", \"error\": ", out);
  json_write_str(out, message);
  fputs("}\n", out);
  cli_flush(out);
}

vlp_model *cli_load_model(const char *cmd, const cli_common *c) {
  const char *model = c->model ? c->model : cli_default_model();
  if (!model) {
    cli_no_model(cmd);
    return NULL;
  }
  vlp_model *m = NULL;
  vlp_model_params mp = vlp_model_default_params();
  mp.n_threads = c->threads;
  if (c->parts) mp.parts = c->parts;
  int p = cli_precision(cmd, c->precision);
  if (p < 0) return NULL;
  mp.precision = (vlp_precision)p;
  if (vlp_model_load_with(model, &mp, &m) != VLP_OK) {
    fprintf(stderr, "vlp %s: %s\n", cmd, vlp_last_error());
    return NULL;
  }
  return m;
}

vlp_session *cli_new_session(const char *cmd, const vlp_model *m) {
  vlp_session *s = NULL;
  if (vlp_session_new(m, NULL, &s) != VLP_OK) {
    fprintf(stderr, "vlp %s: %s\n", cmd, vlp_last_error());
    return NULL;
  }
  return s;
}

const char cli_gen_usage[] =
    "generation options (as transformers' generate()):\n"
    "  --beams N               beam search with N beams (default 1: greedy)\n"
    "  --max-length N          longest whole sequence, [DEC] and prompt included (default 20)\n"
    "  --max-new-tokens N      at most N generated tokens (overrides --max-length)\n"
    "  --min-length N          shortest whole sequence (default 0)\n"
    "  --repetition-penalty X  CTRL-style penalty on tokens already present (default 1)\n"
    "  --length-penalty X      beam score = sum of log-probs / length^X (default 1)\n"
    "  --image-size N          run the vision tower at N x N (interpolated positions)\n";

int cli_gen_opt(cli_args *a, const char *opt, vlp_gen_params *p, int *image_size) {
  if (!strcmp(opt, "--prompt"))
    p->prompt = cli_value(a);
  else if (!strcmp(opt, "--beams"))
    cli_int(a, 1, 64, &p->num_beams);
  else if (!strcmp(opt, "--max-length"))
    cli_int(a, 1, 512, &p->max_length);
  else if (!strcmp(opt, "--max-new-tokens"))
    cli_int(a, 1, 512, &p->max_new_tokens);
  else if (!strcmp(opt, "--min-length"))
    cli_int(a, 0, 512, &p->min_length);
  else if (!strcmp(opt, "--repetition-penalty")) {
    /* checked here, once, rather than by generate for every input */
    if (cli_float(a, &p->repetition_penalty) && !(p->repetition_penalty > 0))
      cli_usage_error(a, "--repetition-penalty must be > 0, not '%g'",
                      (double)p->repetition_penalty);
  } else if (!strcmp(opt, "--length-penalty"))
    cli_float(a, &p->length_penalty);
  else if (!strcmp(opt, "--image-size"))
    cli_int(a, 1, 8192, image_size);
  else
    return 0;
  return 1;
}

void cli_paths_add(cli_paths *p, const char *path) {
  if (p->n == p->cap) {
    p->cap = p->cap ? 2 * p->cap : 16;
    p->paths = realloc(p->paths, (size_t)p->cap * sizeof *p->paths);
    if (!p->paths) abort(); /* out of memory for a list of names: nothing sensible to do */
  }
  p->paths[p->n++] = strdup(path);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

void cli_paths_add_folder(cli_paths *p, const char *dir) {
  DIR *d = opendir(dir);
  if (!d) {
    cli_paths_add(p, dir); /* reported as unreadable when it is opened */
    return;
  }
  int first = p->n, skipped = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    size_t n = strlen(dir) + strlen(e->d_name) + 2;
    char *full = malloc(n);
    if (!full) abort();
    snprintf(full, n, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", e->d_name);
    struct stat st;
    int found = stat(full, &st) == 0;
    if (found && S_ISREG(st.st_mode)) {
      int kind = vlp_image_sniff_file(full);
      /* images by content, or by name (a corrupt photo is reported when it is opened) */
      if (kind != VLP_SNIFF_OTHER || ct_is_image_name(full))
        cli_paths_add(p, full);
      else
        skipped++;
    } else if (!found && lstat(full, &st) == 0 && S_ISLNK(st.st_mode)) {
      fprintf(stderr, "vlp: %s: dangling symlink (its target is missing), skipped\n", full);
    }
    free(full);
  }
  closedir(d);
  if (skipped) fprintf(stderr, "vlp: %s: %d files that are not images skipped\n", dir, skipped);
  if (p->n > first) qsort(p->paths + first, (size_t)(p->n - first), sizeof *p->paths, cmp_str);
}

void cli_paths_free(cli_paths *p) {
  for (int i = 0; i < p->n; i++) free(p->paths[i]);
  free(p->paths);
  memset(p, 0, sizeof *p);
}

void cli_paths_add_input(cli_paths *p, const char *path) {
  struct stat st;
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
    cli_paths_add_folder(p, path);
  else
    cli_paths_add(p, path);
}

FILE *cli_start(const char *cmd, const cli_common *c, unsigned arch_mask, vlp_model **m,
                vlp_session **s) {
  *s = NULL;
  *m = cli_load_model(cmd, c);
  if (!*m) return NULL;
  if (!(arch_mask & ARCH(vlp_model_arch(*m)))) {
    char wanted[256] = "";
    for (int a = 0; a < 32; a++) {
      if (!(arch_mask & ARCH(a))) continue;
      size_t len = strlen(wanted);
      snprintf(wanted + len, sizeof wanted - len, "%s%s", len ? " or " : "",
               vlp_arch_name((vlp_arch)a));
    }
    fprintf(stderr, "vlp %s: the model is %s; this command needs %s\n", cmd,
            vlp_arch_name(vlp_model_arch(*m)), wanted);
  } else if ((*s = cli_new_session(cmd, *m))) {
    FILE *out = cli_open_output(cmd, c->output);
    if (out) return out;
    vlp_session_free(*s);
    *s = NULL;
  }
  vlp_model_free(*m);
  *m = NULL;
  return NULL;
}
