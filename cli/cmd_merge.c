/* vlp merge: join the outputs of `vlp caption --shard K/N` runs (or of resumed runs) into one
 * file: one record per path (the latest), sorted by path, written atomically. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "caption_tool.h"
#include "cli.h"

static const char usage[] =
    "usage: vlp merge -o OUT IN...\n"
    "       vlp merge OUT IN...\n\n"
    "Joins vlp caption outputs (JSON Lines, CSV or TSV; all inputs in one format) into OUT:\n"
    "one record per path, sorted by path (byte order). When a path has several records\n"
    "(shards that overlap, or a resumed run that captioned a changed file again) the latest\n"
    "wins: the later input given, and within one input the later line; a caption is never\n"
    "replaced by an error record. The summary says how many records were replaced. A\n"
    "partial last record (a killed run) is left out. Every IN must exist (exit 2 before\n"
    "anything is written). OUT is written to a temp file and renamed, so it may also be one\n"
    "of the inputs.\n\n"
    "  -o FILE                 the output (else the first argument)\n"
    "  --format F              jsonl, csv or tsv (default: from OUT's .csv/.tsv/.jsonl\n"
    "                          extension, else the inputs' format); records are converted\n"
    "  -q, --quiet             no summary on stderr\n";

typedef struct {
  ct_parsed *r;
  int order; /* position over all inputs: the highest (latest) wins */
} entry;

/* By path; within a path the winner first: captions before errors, then the latest. */
static int cmp_entry(const void *a, const void *b) {
  const entry *x = a, *y = b;
  int c = strcmp(x->r->path, y->r->path);
  if (c) return c;
  if (x->r->captioned != y->r->captioned) return y->r->captioned - x->r->captioned;
  return (x->order < y->order) - (x->order > y->order);
}

static int parse_format(const char *v, ct_format *f) {
  if (!strcmp(v, "jsonl") || !strcmp(v, "json"))
    *f = CT_JSONL;
  else if (!strcmp(v, "csv"))
    *f = CT_CSV;
  else if (!strcmp(v, "tsv"))
    *f = CT_TSV;
  else
    return -1;
  return 0;
}

/* The format OUT's extension names; -1 for none. */
static int format_of_name(const char *path) {
  const char *dot = strrchr(path, '.');
  ct_format f;
  if (!dot || strchr(dot, '/') || parse_format(dot + 1, &f)) return -1;
  return (int)f;
}

int cmd_merge(int argc, char **argv) {
  cli_args a;
  const char *opt, *pos, *out = NULL, *out_opt = NULL;
  const char **ins = calloc((size_t)argc + 1, sizeof *ins);
  int n_in = 0, help = 0, quiet = 0, rc = EXIT_USAGE, out_fmt = -1;
  if (!ins) return EXIT_USAGE;
  cli_args_init(&a, argc, argv, "merge");
  while (!a.failed && cli_next(&a, &opt, &pos)) {
    if (pos)
      ins[n_in++] = pos;
    else if (!strcmp(opt, "-o") || !strcmp(opt, "--output"))
      out_opt = cli_value(&a);
    else if (!strcmp(opt, "--format")) {
      const char *v = cli_value(&a);
      ct_format f;
      if (v && parse_format(v, &f))
        cli_usage_error(&a, "--format takes jsonl, csv or tsv, not '%s'", v);
      else if (v)
        out_fmt = (int)f;
    } else if (!strcmp(opt, "-h") || !strcmp(opt, "--help"))
      help = 1;
    else if (!strcmp(opt, "-q") || !strcmp(opt, "--quiet"))
      quiet = 1;
    else
      cli_usage_error(&a, "unknown option %s", opt);
  }
  if (help) {
    fputs(usage, stdout);
    free(ins);
    return EXIT_ALL_OK;
  }
  if (!a.failed && !out_opt && n_in) { /* the old form: OUT IN... */
    out = ins[0];
    memmove(ins, ins + 1, (size_t)n_in * sizeof *ins);
    n_in--;
  } else {
    out = out_opt;
  }
  if (!a.failed && !n_in) cli_usage_error(&a, "give -o OUT and at least one IN");
  for (int i = 0; !a.failed && i < n_in; i++) {
    struct stat st;
    const char *why = stat(ins[i], &st) != 0 ? strerror(errno)
                      : S_ISDIR(st.st_mode)  ? "is a folder, not a caption output"
                                             : NULL;
    if (why) {
      fprintf(stderr, "vlp merge: %s: %s; nothing written\n", ins[i], why);
      a.failed = 1;
    }
  }
  if (!a.failed && out_fmt < 0) out_fmt = format_of_name(out);
  if (a.failed) {
    free(ins);
    return EXIT_USAGE;
  }
  ct_parsed **recs = calloc((size_t)n_in, sizeof *recs);
  int *counts = calloc((size_t)n_in, sizeof *counts), total = 0, have_fmt = 0;
  ct_format fmt = CT_JSONL;
  entry *all = NULL;
  char *buf = NULL;
  size_t len = 0;
  if (!recs || !counts) goto done;
  for (int i = 0; i < n_in; i++) {
    char err[4400];
    ct_format f;
    int known;
    long valid;
    if (ct_read_records(ins[i], 1, &f, &known, &recs[i], &counts[i], &valid, err, sizeof err)) {
      fprintf(stderr, "vlp merge: %s\n", err);
      goto done;
    }
    if (known && have_fmt && f != fmt) {
      fprintf(stderr, "vlp merge: %s is in another format than %s\n", ins[i], ins[0]);
      goto done;
    }
    if (known) fmt = f, have_fmt = 1;
    total += counts[i];
  }
  all = malloc((size_t)(total ? total : 1) * sizeof *all);
  if (!all) goto done;
  int k = 0;
  for (int i = 0; i < n_in; i++)
    for (int j = 0; j < counts[i]; j++) all[k] = (entry){&recs[i][j], k}, k++;
  if (total) qsort(all, (size_t)total, sizeof *all, cmp_entry);
  FILE *f = open_memstream(&buf, &len);
  if (!f) goto done;
  ct_format ofmt = out_fmt >= 0 ? (ct_format)out_fmt : fmt;
  const char *h = ct_header(ofmt);
  if (h && (have_fmt || out_fmt >= 0)) fputs(h, f);
  int kept = 0, bad = 0;
  for (int i = 0; i < total; i++) {
    if (i && !strcmp(all[i].r->path, all[i - 1].r->path)) continue;
    if (ofmt == fmt) {
      fwrite(all[i].r->raw, 1, all[i].r->raw_len, f);
    } else {
      ct_record r = ct_parsed_record(all[i].r);
      size_t n;
      char *text = ct_format_record(ofmt, &r, &n);
      if (!text) bad = 1;
      if (text) fwrite(text, 1, n, f);
      free(text);
    }
    kept++;
  }
  if (fclose(f) || bad) {
    fprintf(stderr, "vlp merge: out of memory\n");
    goto done;
  }
  char err[4400];
  if (ct_write_atomic(out, buf, len, err, sizeof err)) {
    fprintf(stderr, "vlp merge: %s\n", err);
    goto done;
  }
  if (!quiet)
    fprintf(stderr,
            "vlp merge: %d records from %d files (%d duplicates dropped: older records replaced "
            "by the latest of their path) -> %s\n",
            kept, n_in, total - kept, out);
  rc = EXIT_ALL_OK;
done:
  for (int i = 0; recs && i < n_in; i++) ct_parsed_free(recs[i], counts[i]);
  free(recs);
  free(counts);
  free(all);
  free(buf);
  free(ins);
  return rc;
}
