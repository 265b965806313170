/* vlp embed: projected, L2-normalised image or text embeddings (CLIP, BLIP retrieval). */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const char usage[] =
    "usage: vlp embed -m MODEL_DIR [--image PATH...] [--text TEXT...] [--npy OUT.npy]\n\n"
    "Prints {\"input\", \"embedding\"} per input: CLIP image_embeds / text_embeds, or BLIP\n"
    "image_feat / text_feat. --image and --text switch what the following arguments are;\n"
    "a folder after --image adds its files. --npy also writes all embeddings, in input\n"
    "order, as one float32 array (N, dim); inputs that failed are left out of it.\n\n"
    "options:\n"
    "  --image-size N          run the vision tower at N x N (interpolated positions)\n"
    "  -o FILE                 write the JSON lines to FILE instead of stdout\n"
    "  --threads N             threads (default: VLP_THREADS or all cores)\n";

static void write_embedding(FILE *out, const char *input, const float *e, int dim) {
  fputs("{\"input\": ", out);
  json_write_str(out, input);
  fputs(", \"embedding\": ", out);
  json_write_floats(out, e, dim);
  fputs("}\n", out);
  fflush(out);
}

int cmd_embed(int argc, char **argv) {
  cli_args a;
  cli_common c = {0};
  cli_paths images = {0};
  const char *opt, *pos, *npy = NULL;
  const char **texts = calloc((size_t)argc, sizeof *texts);
  int nt = 0, size = 0, mode = 0; /* 1 images, 2 texts */
  cli_args_init(&a, argc, argv, "embed");
  while (!a.failed && cli_next(&a, &opt, &pos)) {
    if (pos && mode == 1) cli_paths_add_input(&images, pos);
    else if (pos && mode == 2) texts[nt++] = pos;
    else if (pos) cli_usage_error(&a, "say --image or --text before '%s'", pos);
    else if (!strcmp(opt, "--image")) {
      mode = 1;
      if (a.inline_v) cli_paths_add_input(&images, a.inline_v);
    } else if (!strcmp(opt, "--text")) {
      mode = 2;
      if (a.inline_v) texts[nt++] = a.inline_v;
    } else if (!strcmp(opt, "--npy")) npy = cli_value(&a);
    else if (!strcmp(opt, "--image-size")) cli_int(&a, 1, 8192, &size);
    else if (!cli_common_opt(&a, opt, &c)) cli_usage_error(&a, "unknown option %s", opt);
  }
  if (c.help) {
    fputs(usage, stdout);
    free(texts);
    cli_paths_free(&images);
    return EXIT_ALL_OK;
  }
  if (!a.failed && !images.n && !nt) cli_usage_error(&a, "no --image or --text inputs given");
  if (a.failed) {
    free(texts);
    cli_paths_free(&images);
    return EXIT_USAGE;
  }
  cli_apply_threads(&c);
  vlp_model *m;
  FILE *out = cli_start("embed", &c, ARCH(VLP_ARCH_CLIP) | ARCH(VLP_ARCH_BLIP_ITM), &m);
  if (!out) {
    free(texts);
    cli_paths_free(&images);
    return EXIT_USAGE;
  }
  int dim = vlp_model_embed_dim(m), failed = 0, done = 0;
  float *all = malloc(((size_t)images.n + (size_t)nt) * (size_t)dim * sizeof *all);
  for (int i = 0; all && i < images.n; i++) {
    vlp_image img = {0};
    float *e = all + (size_t)done * (size_t)dim;
    if (vlp_image_load(images.paths[i], &img) || vlp_embed_images(m, &img, 1, size, e)) {
      cli_report_error(out, "embed", "input", images.paths[i], vlp_last_error());
      failed++;
    } else {
      write_embedding(out, images.paths[i], e, dim);
      done++;
    }
    vlp_image_free(&img);
  }
  for (int i = 0; all && i < nt; i++) {
    float *e = all + (size_t)done * (size_t)dim;
    if (!texts[i][0] || vlp_embed_texts(m, &texts[i], 1, e)) {
      cli_report_error(out, "embed", "input", texts[i], texts[i][0] ? vlp_last_error() : "the text is empty");
      failed++;
    } else {
      write_embedding(out, texts[i], e, dim);
      done++;
    }
  }
  int bad_out = !all || cli_close_output(out);
  if (all && npy && vlp_write_npy_f32(npy, all, 2, (const int64_t[]){done, dim})) {
    fprintf(stderr, "vlp embed: %s\n", vlp_last_error());
    bad_out = 1;
  }
  free(all);
  vlp_model_free(m);
  free(texts);
  cli_paths_free(&images);
  return bad_out ? EXIT_USAGE : failed ? EXIT_SOME_FAILED : EXIT_ALL_OK;
}
