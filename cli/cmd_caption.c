/* vlp caption: captions for images with a BLIP captioning model, one JSON line per image. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const char usage[] =
    "usage: vlp caption -m MODEL_DIR [options] IMAGE|FOLDER...\n\n"
    "Prints {\"path\", \"caption\", \"tokens\"} per image; tokens is the whole generated\n"
    "sequence ([DEC], prompt ids, generated ids, final [SEP]). A folder adds its files.\n"
    "A file that cannot be read is reported as {\"path\", \"error\"} and the run goes on.\n\n"
    "options:\n"
    "  --prompt P              start every caption with P (e.g. \"a picture of\")\n"
    "  --batch N               images per forward pass (default 1)\n"
    "  -o FILE                 write the JSON lines to FILE instead of stdout\n"
    "  --threads N             threads (default: VLP_THREADS or all cores)\n";

static void write_caption(FILE *out, const char *path, const vlp_text_result *r) {
  fputs("{\"path\": ", out);
  json_write_str(out, path);
  fputs(", \"caption\": ", out);
  json_write_str(out, r->text);
  fputs(", \"tokens\": ", out);
  json_write_ints(out, r->ids, r->n_ids);
  fputs("}\n", out);
  fflush(out);
}

/* Caption the n decoded images of one batch; returns how many failed. */
static int run_batch(FILE *out, vlp_model *m, const vlp_gen_params *p, vlp_image *imgs,
                     char **paths, int n) {
  if (!n) return 0;
  vlp_text_result *res = calloc((size_t)n, sizeof *res);
  int failed = 0;
  if (!res || vlp_caption(m, imgs, n, p, res)) {
    const char *msg = res ? vlp_last_error() : "out of memory";
    for (int i = 0; i < n; i++) cli_report_error(out, "caption", "path", paths[i], msg);
    failed = n;
  } else {
    for (int i = 0; i < n; i++) write_caption(out, paths[i], &res[i]);
  }
  for (int i = 0; res && i < n; i++) vlp_text_result_free(&res[i]);
  free(res);
  return failed;
}

int cmd_caption(int argc, char **argv) {
  cli_args a;
  cli_common c = {0};
  vlp_gen_params p = vlp_gen_default_params();
  cli_paths in = {0};
  const char *opt, *pos;
  int batch = 1;
  cli_args_init(&a, argc, argv, "caption");
  while (!a.failed && cli_next(&a, &opt, &pos)) {
    if (pos) cli_paths_add_input(&in, pos);
    else if (!strcmp(opt, "--batch")) cli_int(&a, 1, 256, &batch);
    else if (!cli_gen_opt(&a, opt, &p) && !cli_common_opt(&a, opt, &c))
      cli_usage_error(&a, "unknown option %s", opt);
  }
  if (c.help) {
    printf("%s\n%s", usage, cli_gen_usage);
    cli_paths_free(&in);
    return EXIT_ALL_OK;
  }
  if (!a.failed && !in.n) cli_usage_error(&a, "no images given");
  if (!a.failed && p.prompt && !p.prompt[0]) cli_usage_error(&a, "--prompt is empty");
  if (a.failed) {
    cli_paths_free(&in);
    return EXIT_USAGE;
  }
  cli_apply_threads(&c);
  vlp_model *m;
  FILE *out = cli_start("caption", &c, ARCH(VLP_ARCH_BLIP_CAPTION), &m);
  if (!out) {
    cli_paths_free(&in);
    return EXIT_USAGE;
  }
  vlp_image *imgs = calloc((size_t)batch, sizeof *imgs);
  char **names = calloc((size_t)batch, sizeof *names);
  int failed = 0, k = 0;
  for (int i = 0; i < in.n; i++) {
    if (vlp_image_load(in.paths[i], &imgs[k])) {
      cli_report_error(out, "caption", "path", in.paths[i], vlp_last_error());
      failed++;
      continue;
    }
    names[k++] = in.paths[i];
    if (k == batch) {
      failed += run_batch(out, m, &p, imgs, names, k);
      for (int j = 0; j < k; j++) vlp_image_free(&imgs[j]);
      k = 0;
    }
  }
  failed += run_batch(out, m, &p, imgs, names, k);
  for (int j = 0; j < k; j++) vlp_image_free(&imgs[j]);
  free(imgs);
  free(names);
  int bad_out = cli_close_output(out);
  vlp_model_free(m);
  cli_paths_free(&in);
  return bad_out ? EXIT_USAGE : failed ? EXIT_SOME_FAILED : EXIT_ALL_OK;
}
