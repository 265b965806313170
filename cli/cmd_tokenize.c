/* vlp tokenize: the token ids the model's text encoder receives, one JSON line per text. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "usage: vlp tokenize -m MODEL_DIR [TEXT...]\n\n"
    "Prints {\"text\", \"ids\"} per text: the ids the text encoder receives (special tokens\n"
    "included, truncated to the model's maximum, no padding). Without TEXT, reads one text per\n"
    "line from standard input.\n";

static int tokenize_one(FILE *out, const vlp_tokenizer *t, const char *text) {
  int *ids = NULL, n = 0;
  if (vlp_tokenize(t, text, &ids, &n)) {
    cli_report_error(out, "tokenize", "text", text, vlp_last_error());
    return 1;
  }
  fputs("{\"text\": ", out);
  json_write_str(out, text);
  fputs(", \"ids\": ", out);
  json_write_ints(out, ids, n);
  fputs("}\n", out);
  cli_flush(out);
  free(ids);
  return 0;
}

int cmd_tokenize(int argc, char **argv) {
  cli_args a;
  cli_common c = {0};
  const char *opt, *pos;
  cli_args_init(&a, argc, argv, "tokenize");
  const char **texts = calloc((size_t)argc, sizeof *texts);
  int n = 0;
  while (!a.failed && cli_next(&a, &opt, &pos)) {
    if (pos)
      texts[n++] = pos;
    else if (!cli_common_opt(&a, opt, &c))
      cli_usage_error(&a, "unknown option %s", opt);
  }
  if (c.help) {
    fputs(usage, stdout);
    free(texts);
    return EXIT_ALL_OK;
  }
  if (!a.failed && !c.model && !(c.model = cli_default_model())) {
    cli_no_model("tokenize");
    a.failed = 1;
  }
  if (a.failed) {
    free(texts);
    return EXIT_USAGE;
  }
  vlp_tokenizer *t = NULL;
  if (vlp_tokenizer_load(c.model, &t)) {
    fprintf(stderr, "vlp tokenize: %s\n", vlp_last_error());
    free(texts);
    return EXIT_USAGE;
  }
  FILE *out = cli_open_output("tokenize", c.output);
  int failed = 0;
  if (!out) {
    failed = -1;
  } else if (n) {
    for (int i = 0; i < n; i++) failed += tokenize_one(out, t, texts[i]);
  } else {
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, stdin)) >= 0) {
      while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
      failed += tokenize_one(out, t, line);
    }
    free(line);
  }
  if (cli_close_output(out)) failed = -1;
  vlp_tokenizer_free(t);
  free(texts);
  return failed < 0 ? EXIT_USAGE : failed ? EXIT_SOME_FAILED : EXIT_ALL_OK;
}
