/* vlp selftest: run every case of a golden reference set (schema blip-clip-golden/v1) with
 * vlp_selftest and print one line per failing case, then "N passed, M failed[, K skipped]". */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

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

static void print_case(void *ctx, const char *name, int outcome, const char *message) {
  int verbose = *(const int *)ctx;
  if (outcome < 0)
    fprintf(stderr, "vlp selftest: %s: %s\n", name, message);
  else if (!outcome)
    printf("FAIL %s: %s\n", name, message);
  else if (verbose)
    printf(message[0] ? "ok   %s: %s\n" : "ok   %s\n", name, message);
  fflush(stdout);
}

int cmd_selftest(int argc, char **argv) {
  cli_args a;
  cli_common c = {0};
  const char *opt, *pos, *dir = NULL;
  int verbose = 0;
  vlp_selftest_options o = {.on_case = print_case, .ctx = &verbose};
  cli_args_init(&a, argc, argv, "selftest");
  while (!a.failed && cli_next(&a, &opt, &pos)) {
    if (pos && !dir)
      dir = pos;
    else if (pos)
      cli_usage_error(&a, "one golden folder at a time");
    else if (!strcmp(opt, "--case"))
      o.filter = cli_value(&a);
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
  o.n_threads = c.threads;
  vlp_selftest_counts t;
  if (vlp_selftest(dir ? dir : VLP_GOLDEN_DIR, &o, &t)) {
    fprintf(stderr, "vlp selftest: %s\n", vlp_last_error());
    return EXIT_USAGE;
  }
  if (t.skipped)
    printf("%d passed, %d failed, %d skipped\n", t.passed, t.failed, t.skipped);
  else
    printf("%d passed, %d failed\n", t.passed, t.failed);
  return t.failed ? EXIT_SOME_FAILED : EXIT_ALL_OK;
}
