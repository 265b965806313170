/* vlp merge: join the outputs of `vlp caption --shard K/N` runs (or of resumed runs) into one
 * file: one record per path, sorted by path, written atomically. */
#include <stdlib.h>
#include <string.h>

#include "cli/caption_tool.h"
#include "cli/cli.h"

static const char usage[] =
    "usage: vlp merge OUT IN...\n\n"
    "Joins vlp caption outputs (JSON Lines, CSV or TSV; all inputs in one format) into OUT:\n"
    "one record per path, sorted by path (byte order). When several inputs hold the same\n"
    "path, a caption wins over an error, otherwise the first input given wins. A partial\n"
    "last record (a killed run) is left out. OUT is written to a temp file and renamed, so it\n"
    "may also be one of the inputs.\n\n"
    "  -q, --quiet             no summary on stderr\n";

typedef struct {
  ct_parsed *r;
  int order; /* position over all inputs: ties keep the first */
} entry;

static int cmp_entry(const void *a, const void *b) {
  const entry *x = a, *y = b;
  int c = strcmp(x->r->path, y->r->path);
  if (c) return c;
  if (x->r->captioned != y->r->captioned) return y->r->captioned - x->r->captioned;
  return (x->order > y->order) - (x->order < y->order);
}

int cmd_merge(int argc, char **argv) {
  cli_args a;
  const char *opt, *pos, *out = NULL;
  const char **ins = calloc((size_t)argc + 1, sizeof *ins);
  int n_in = 0, help = 0, quiet = 0, rc = EXIT_USAGE;
  if (!ins) return EXIT_USAGE;
  cli_args_init(&a, argc, argv, "merge");
  while (!a.failed && cli_next(&a, &opt, &pos)) {
    if (pos && !out)
      out = pos;
    else if (pos)
      ins[n_in++] = pos;
    else if (!strcmp(opt, "-h") || !strcmp(opt, "--help"))
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
  if (!a.failed && !n_in) cli_usage_error(&a, "give OUT and at least one IN");
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
  qsort(all, (size_t)total, sizeof *all, cmp_entry);
  FILE *f = open_memstream(&buf, &len);
  if (!f) goto done;
  const char *h = ct_header(fmt);
  if (h && have_fmt) fputs(h, f);
  int kept = 0;
  for (int i = 0; i < total; i++) {
    if (i && !strcmp(all[i].r->path, all[i - 1].r->path)) continue;
    fwrite(all[i].r->raw, 1, all[i].r->raw_len, f);
    kept++;
  }
  if (fclose(f)) goto done;
  char err[4400];
  if (ct_write_atomic(out, buf, len, err, sizeof err)) {
    fprintf(stderr, "vlp merge: %s\n", err);
    goto done;
  }
  if (!quiet)
    fprintf(stderr, "vlp merge: %d records from %d files (%d duplicates dropped) -> %s\n", kept,
            n_in, total - kept, out);
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
