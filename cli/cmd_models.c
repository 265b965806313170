/* vlp models / vlp info: what is in the model cache, and a model's summary (architecture,
 * sizes, parameter count, dtype, the vlp commands it serves). */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_pull.h"

static const char models_usage[] =
    "usage: vlp models [-o FILE]\n\n"
    "Lists the models in the cache (VLP_HOME, default ~/.cache/vlp), one JSON line each:\n"
    "{\"name\", \"revision\", \"path\", \"architecture\", \"size\", \"dtype\", \"n_params\"};\n"
    "size is the bytes on disk. Use the name with -m (\"ORG/NAME\" or \"NAME\", \"@REV\" for a\n"
    "revision other than main).\n";

static const char info_usage[] =
    "usage: vlp info MODEL   (or vlp info -m MODEL)\n\n"
    "Prints one JSON object summarising a model folder or cached model: architecture, sizes\n"
    "(vision / text hidden size, layers, heads, image and patch size, vocabulary), parameter\n"
    "count (sum of the tensors' element counts), dtype, size on disk and the vlp commands\n"
    "(\"tasks\") it serves.\n";

/* The commands a model of this architecture serves. */
static const char *const *tasks_of(const vlp_model_summary *s) {
  static const char *const caption[] = {"caption", "tokenize", "preprocess", NULL};
  static const char *const vqa[] = {"vqa", "tokenize", "preprocess", NULL};
  static const char *const itm[] = {"itm",      "embed",      "index", "search",
                                    "tokenize", "preprocess", NULL};
  static const char *const clip[] = {"embed",    "tag",        "index", "search",
                                     "tokenize", "preprocess", NULL};
  static const char *const siglip[] = {"embed",  "tag",      "itm",        "index",
                                       "search", "tokenize", "preprocess", NULL};
  static const char *const none[] = {NULL};
  if (!s->supported) return none;
  switch (s->arch) {
    case VLP_ARCH_BLIP_CAPTION:
      return caption;
    case VLP_ARCH_BLIP_VQA:
      return vqa;
    case VLP_ARCH_BLIP_ITM:
      return itm;
    case VLP_ARCH_CLIP:
      return clip;
    case VLP_ARCH_SIGLIP:
      return siglip;
  }
  return none;
}

static void write_key_str(FILE *f, const char *key, const char *v) {
  fprintf(f, ", \"%s\": ", key);
  json_write_str(f, v);
}

static void write_info(FILE *f, const char *model, const char *path, const vlp_model_summary *s) {
  fputs("{\"model\": ", f);
  json_write_str(f, model);
  write_key_str(f, "path", path);
  write_key_str(f, "architecture", s->architecture);
  write_key_str(f, "model_type", s->model_type);
  fprintf(f, ", \"supported\": %s, \"tasks\": [", s->supported ? "true" : "false");
  const char *const *t = tasks_of(s);
  for (int i = 0; t[i]; i++) {
    if (i) fputs(", ", f);
    json_write_str(f, t[i]);
  }
  fputc(']', f);
  write_key_str(f, "dtype", s->dtype);
  fprintf(f,
          ", \"n_params\": %lld, \"n_tensors\": %d, \"weight_files\": %d, \"weight_bytes\": %llu, "
          "\"size\": %llu",
          (long long)s->n_params, s->n_tensors, s->n_weight_files,
          (unsigned long long)s->weight_bytes, (unsigned long long)s->disk_bytes);
  fprintf(f,
          ", \"vision\": {\"hidden_size\": %d, \"num_layers\": %d, \"num_heads\": %d, "
          "\"image_size\": %d, \"patch_size\": %d}",
          s->vision.hidden, s->vision.layers, s->vision.heads, s->vision.image_size,
          s->vision.patch_size);
  fprintf(f,
          ", \"text\": {\"hidden_size\": %d, \"num_layers\": %d, \"num_heads\": %d, "
          "\"vocab_size\": %d, \"max_positions\": %d}, \"projection_dim\": %d}\n",
          s->text.hidden, s->text.layers, s->text.heads, s->text.vocab_size, s->text.max_positions,
          s->projection_dim);
  cli_flush(f);
}

int cmd_info(int argc, char **argv) {
  cli_args a;
  cli_common c = {0};
  const char *opt, *pos;
  cli_args_init(&a, argc, argv, "info");
  while (!a.failed && cli_next(&a, &opt, &pos)) {
    if (pos && !c.model)
      c.model = pos;
    else if (pos)
      cli_usage_error(&a, "takes one MODEL");
    else if (!cli_common_opt(&a, opt, &c))
      cli_usage_error(&a, "unknown option %s", opt);
  }
  if (c.help) {
    fputs(info_usage, stdout);
    return EXIT_ALL_OK;
  }
  if (!a.failed && !c.model) cli_usage_error(&a, "needs a MODEL (a folder or a cached model name)");
  if (a.failed) return EXIT_USAGE;
  char path[4096];
  vlp_model_summary s;
  if (vlp_resolve_model(c.model, path, sizeof path) || vlp_model_info(path, &s)) {
    fprintf(stderr, "vlp info: %s\n", vlp_last_error());
    return EXIT_USAGE;
  }
  FILE *out = cli_open_output("info", c.output);
  if (!out) return EXIT_USAGE;
  write_info(out, c.model, path, &s);
  return cli_close_output(out) ? EXIT_USAGE : EXIT_ALL_OK;
}

int cmd_models(int argc, char **argv) {
  cli_args a;
  cli_common c = {0};
  const char *opt, *pos;
  cli_args_init(&a, argc, argv, "models");
  while (!a.failed && cli_next(&a, &opt, &pos)) {
    if (pos)
      cli_usage_error(&a, "takes no arguments");
    else if (!cli_common_opt(&a, opt, &c))
      cli_usage_error(&a, "unknown option %s", opt);
  }
  if (c.help) {
    fputs(models_usage, stdout);
    return EXIT_ALL_OK;
  }
  if (a.failed) return EXIT_USAGE;
  vlp_cached_model *list = NULL;
  int n = 0;
  if (vlp_cache_list(&list, &n)) {
    fprintf(stderr, "vlp models: %s\n", vlp_last_error());
    return EXIT_USAGE;
  }
  FILE *out = cli_open_output("models", c.output);
  if (!out) {
    vlp_cache_list_free(list, n);
    return EXIT_USAGE;
  }
  int failed = 0;
  for (int i = 0; i < n; i++) {
    vlp_model_summary s;
    if (vlp_model_info(list[i].path, &s)) {
      cli_report_error(out, "models", "name", list[i].name, vlp_last_error());
      failed++;
      continue;
    }
    fputs("{\"name\": ", out);
    json_write_str(out, list[i].name);
    write_key_str(out, "revision", list[i].revision);
    write_key_str(out, "path", list[i].path);
    write_key_str(out, "architecture", s.architecture);
    fprintf(out, ", \"size\": %llu", (unsigned long long)s.disk_bytes);
    write_key_str(out, "dtype", s.dtype);
    fprintf(out, ", \"n_params\": %lld}\n", (long long)s.n_params);
    cli_flush(out);
  }
  vlp_cache_list_free(list, n);
  int bad = cli_close_output(out);
  return bad ? EXIT_USAGE : failed ? EXIT_SOME_FAILED : EXIT_ALL_OK;
}
