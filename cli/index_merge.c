/* vlp index merge: join indexes built separately (the shards of a job array, each built with
 * `vlp index build` on its part of the files) into one index. The inputs must have been
 * made with the same model (folder, architecture, embedding width); a path found in several
 * inputs keeps the row of the last input that has it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_index.h"

static const char usage[] =
    "usage: vlp index merge -o INDEX_DIR SHARD_INDEX_DIR...\n\n"
    "Joins indexes built separately into INDEX_DIR (created or replaced; the inputs are\n"
    "left alone). Every input must come from the same model (folder, architecture and\n"
    "embedding width) or the merge is refused. A path in several inputs keeps the row of\n"
    "the last input given. Prints {\"index\", \"count\", \"inputs\", \"replaced\"}.\n";

/* One row of one input. */
typedef struct {
  const vlp_index_entry *e;
  int input;
  int64_t row;
} merge_row;

static int cmp_row(const void *a, const void *b) {
  const merge_row *x = a, *y = b;
  int c = strcmp(x->e->path, y->e->path);
  return c ? c : (x->input > y->input) - (x->input < y->input);
}

/* Opens every input and checks they agree; 0 or EXIT_USAGE (message printed). */
static int open_inputs(const char *cmd, char **dirs, int n, vlp_index **ix, int64_t *total) {
  *total = 0;
  for (int i = 0; i < n; i++) {
    if (vlp_index_open(dirs[i], &ix[i])) {
      fprintf(stderr, "vlp %s: %s\n", cmd, vlp_last_error());
      return EXIT_USAGE;
    }
    const vlp_index *a = ix[0], *b = ix[i];
    if (strcmp(a->model, b->model) || strcmp(a->arch, b->arch) || a->dim != b->dim) {
      fprintf(stderr,
              "vlp %s: %s was built with %s (%s, %d-d embeddings) but %s with %s (%s, %d-d): "
              "indexes of different models cannot be merged\n",
              cmd, dirs[i], b->model, b->arch, b->dim, dirs[0], a->model, a->arch, a->dim);
      return EXIT_USAGE;
    }
    *total += b->count;
  }
  return 0;
}

/* Joins the inputs' rows (last input wins per path) and commits them to out. */
static int merge(const char *cmd, const char *out, vlp_index **ix, int n, int64_t total) {
  size_t cap = (size_t)(total ? total : 1);
  int dim = ix[0]->dim;
  merge_row *rows = malloc(cap * sizeof *rows);
  vlp_index_entry *kept_e = malloc(cap * sizeof *kept_e);
  float *emb = malloc(cap * (size_t)dim * sizeof *emb); /* (kept, dim) */
  int rc = EXIT_USAGE, fd = -1;
  if (!rows || !kept_e || !emb) {
    fprintf(stderr, "vlp %s: out of memory for %lld rows\n", cmd, (long long)total);
    goto done;
  }
  int64_t k = 0, kept = 0, replaced = 0;
  for (int i = 0; i < n; i++)
    for (int64_t r = 0; r < ix[i]->count; r++) rows[k++] = (merge_row){&ix[i]->entries[r], i, r};
  if (total) qsort(rows, (size_t)total, sizeof *rows, cmp_row);
  for (int64_t j = 0; j < total; j++) {
    if (j + 1 < total && !strcmp(rows[j].e->path, rows[j + 1].e->path)) {
      replaced++; /* a later input has this path too */
      continue;
    }
    kept_e[kept] = *rows[j].e;
    memcpy(emb + kept * dim, ix[rows[j].input]->emb + rows[j].row * dim, (size_t)dim * sizeof *emb);
    kept++;
  }
  if (vlp_index_lock(out, &fd) ||
      vlp_index_commit(out, ix[0]->model, ix[0]->arch, dim, kept_e, kept, emb)) {
    fprintf(stderr, "vlp %s: %s\n", cmd, vlp_last_error());
    goto done;
  }
  printf("{\"index\": ");
  json_write_str(stdout, out);
  printf(", \"count\": %lld, \"inputs\": %d, \"replaced\": %lld}\n", (long long)kept, n,
         (long long)replaced);
  rc = cli_close_output(stdout) ? EXIT_USAGE : EXIT_ALL_OK;
done:
  if (fd >= 0) vlp_index_unlock(fd);
  free(rows);
  free(kept_e);
  free(emb);
  return rc;
}

int index_merge(int argc, char **argv) {
  const char *cmd = "index merge";
  cli_args a;
  cli_common c = {0};
  const char *opt, *pos, *out = NULL;
  char **dirs = calloc((size_t)argc, sizeof *dirs);
  int n = 0;
  if (!dirs) return EXIT_USAGE;
  cli_args_init(&a, argc, argv, cmd);
  while (!a.failed && cli_next(&a, &opt, &pos)) {
    if (pos)
      dirs[n++] = (char *)pos;
    else if (!strcmp(opt, "-o") || !strcmp(opt, "--output"))
      out = cli_value(&a);
    else if (!cli_common_opt(&a, opt, &c))
      cli_usage_error(&a, "unknown option %s", opt);
  }
  if (c.help) {
    fputs(usage, stdout);
    free(dirs);
    return EXIT_ALL_OK;
  }
  if (!a.failed && (!out || !n)) cli_usage_error(&a, "needs -o INDEX_DIR and the indexes to merge");
  for (int i = 0; !a.failed && i < n; i++)
    if (!strcmp(dirs[i], out)) cli_usage_error(&a, "the output %s is also an input", out);
  if (a.failed) {
    free(dirs);
    return EXIT_USAGE;
  }
  vlp_index **ix = calloc((size_t)n, sizeof *ix);
  int64_t total = 0;
  int rc = !ix ? EXIT_USAGE : open_inputs(cmd, dirs, n, ix, &total);
  if (ix && !rc) rc = merge(cmd, out, ix, n, total);
  for (int i = 0; ix && i < n; i++) vlp_index_close(ix[i]);
  free(ix);
  free(dirs);
  return rc;
}
