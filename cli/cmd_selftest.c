/* vlp selftest: run every case of a golden reference set (schema blip-clip-golden/v1) and
 * print one line per failing case, then "N passed, M failed[, K skipped]". */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/selftest.h"
#include "core/json.h"
#include "core/threads.h"

#ifndef VLP_GOLDEN_DIR
#define VLP_GOLDEN_DIR "tests/golden"
#endif

static const char usage[] =
    "usage: vlp selftest [GOLDEN_DIR] [--case TEXT] [-v]\n\n"
    "Runs every case of every manifest GOLDEN_DIR/cases/*.json (schema blip-clip-golden/v1)\n"
    "and compares every expected entry with the manifest's own comparison and tolerance.\n"
    "Prints one line per failing case and a last line \"N passed, M failed\" (with\n"
    "\", K skipped\" for manifests of a kind this vlp does not cover). GOLDEN_DIR defaults to\n"
    "the set shipped in the source tree (" VLP_GOLDEN_DIR
    ").\n\n"
    "options:\n"
    "  --case TEXT   only cases whose \"manifest/id\" contains TEXT\n"
    "  -v            also print a line per passing case\n";

static const struct {
  const char *kind; /* exact kind, or a prefix ending in '*' */
  st_runner run;
} runners[] = {
    {"preprocess", st_case_preprocess},
    {"tokenizer_bert", st_case_tokenizer},
    {"tokenizer_clip", st_case_tokenizer},
    {"tokenizer_siglip", st_case_tokenizer},
    {"siglip*", st_case_siglip},
    {"blip_caption*", st_case_blip_caption},
    {"blip_vqa*", st_case_blip_vqa},
    {"blip_itm*", st_case_blip_itm},
    {"clip*", st_case_clip},
    {"interpolate_pos_encoding", st_case_interp},
    {"video", st_case_video},
};

static st_runner runner_for(const char *kind) {
  for (size_t i = 0; i < sizeof runners / sizeof runners[0]; i++) {
    const char *k = runners[i].kind;
    size_t n = strlen(k);
    if (k[n - 1] == '*' ? !strncmp(kind, k, n - 1) : !strcmp(kind, k)) return runners[i].run;
  }
  return NULL;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct {
  int passed, failed, skipped;
} tally;

static void run_manifest(const char *dir, const char *file, const char *filter, int verbose,
                         tally *t) {
  char path[4096];
  snprintf(path, sizeof path, "%s/cases/%s", dir, file);
  cJSON *m = NULL;
  if (json_load_file(path, &m)) {
    printf("FAIL %s: %s\n", file, vlp_last_error());
    t->failed++;
    return;
  }
  const char *schema = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "schema"));
  const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "kind"));
  const cJSON *cases = cJSON_GetObjectItemCaseSensitive(m, "cases");
  if (!schema || strcmp(schema, "blip-clip-golden/v1") || !kind || !cJSON_IsArray(cases)) {
    printf("FAIL %s: not a blip-clip-golden/v1 manifest\n", file);
    t->failed++;
    cJSON_Delete(m);
    return;
  }
  st_runner run = runner_for(kind);
  if (!run) {
    int n = cJSON_GetArraySize(cases);
    fprintf(stderr, "vlp selftest: %s: kind '%s' is not covered by this vlp; %d cases skipped\n",
            file, kind, n);
    t->skipped += n;
    cJSON_Delete(m);
    return;
  }
  st_run r = {.dir = dir, .manifest = m, .kind = kind, .verbose = verbose};
  const cJSON *c;
  cJSON_ArrayForEach(c, cases) {
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "id"));
    char name[512];
    snprintf(name, sizeof name, "%.*s/%s", (int)(strlen(file) - 5), file, id ? id : "?");
    if (filter && !strstr(name, filter)) continue;
    r.case_id = id ? id : "?";
    r.expected = cJSON_GetObjectItemCaseSensitive(c, "expected");
    r.case_failed = 0;
    r.why[0] = 0;
    if (!r.expected)
      st_failf(&r, "case has no expected entries");
    else
      run(&r, c);
    if (r.case_failed) {
      printf("FAIL %s: %s\n", name, r.why);
      t->failed++;
    } else {
      if (verbose) printf("ok   %s\n", name);
      t->passed++;
    }
    fflush(stdout);
  }
  st_release_cache();
  cJSON_Delete(m);
}

int cmd_selftest(int argc, char **argv) {
  cli_args a;
  cli_common c = {0};
  const char *opt, *pos, *dir = NULL, *filter = NULL;
  int verbose = 0;
  cli_args_init(&a, argc, argv, "selftest");
  while (!a.failed && cli_next(&a, &opt, &pos)) {
    if (pos && !dir)
      dir = pos;
    else if (pos)
      cli_usage_error(&a, "one golden folder at a time");
    else if (!strcmp(opt, "--case"))
      filter = cli_value(&a);
    else if (!strcmp(opt, "-v") || !strcmp(opt, "--verbose"))
      verbose = 1;
    else if (!cli_common_opt(&a, opt, &c))
      cli_usage_error(&a, "unknown option %s", opt);
  }
  if (c.help) {
    fputs(usage, stdout);
    return EXIT_ALL_OK;
  }
  if (a.failed) return EXIT_USAGE;
  threads_enter(c.threads); /* this thread's kernels */
  if (!dir) dir = VLP_GOLDEN_DIR;
  char cases[4096];
  snprintf(cases, sizeof cases, "%s/cases", dir);
  DIR *d = opendir(cases);
  if (!d) {
    fprintf(stderr, "vlp selftest: %s: not a golden set (no cases/ folder)\n", dir);
    return EXIT_USAGE;
  }
  char **files = NULL;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t len = strlen(e->d_name);
    if (len < 6 || strcmp(e->d_name + len - 5, ".json")) continue;
    char **grown = realloc(files, (size_t)(n + 1) * sizeof *files);
    if (!grown) break;
    files = grown;
    files[n++] = strdup(e->d_name);
  }
  closedir(d);
  qsort(files, (size_t)n, sizeof *files, cmp_str);
  tally t = {0};
  for (int i = 0; i < n; i++) {
    run_manifest(dir, files[i], filter, verbose, &t);
    free(files[i]);
  }
  free(files);
  if (t.skipped)
    printf("%d passed, %d failed, %d skipped\n", t.passed, t.failed, t.skipped);
  else
    printf("%d passed, %d failed\n", t.passed, t.failed);
  return t.failed ? EXIT_SOME_FAILED : EXIT_ALL_OK;
}
