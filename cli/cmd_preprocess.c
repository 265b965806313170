/* vlp preprocess: an image's pixel values, as the model's image processor makes them, to .npy. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "usage: vlp preprocess -m MODEL_DIR IMAGE -o OUT.npy [--image-size N]\n\n"
    "Decodes IMAGE and writes the float32 pixel values [1, 3, S, S] that the model folder's\n"
    "image processor (preprocessor_config.json) produces. --image-size N resizes to N instead.\n";

int cmd_preprocess(int argc, char **argv) {
  cli_args a;
  cli_common c = {0};
  const char *opt, *pos, *image = NULL;
  int size = 0;
  cli_args_init(&a, argc, argv, "preprocess");
  while (!a.failed && cli_next(&a, &opt, &pos)) {
    if (pos) {
      if (image) cli_usage_error(&a, "one image at a time (got '%s' and '%s')", image, pos);
      image = pos;
    } else if (!strcmp(opt, "--image-size")) {
      cli_int(&a, 1, 8192, &size);
    } else if (!cli_common_opt(&a, opt, &c)) {
      cli_usage_error(&a, "unknown option %s", opt);
    }
  }
  if (c.help) {
    fputs(usage, stdout);
    return EXIT_ALL_OK;
  }
  if (!a.failed && (!image || !c.output || !c.model))
    cli_usage_error(&a, "needs -m MODEL_DIR, an IMAGE and -o OUT.npy");
  if (a.failed) return EXIT_USAGE;

  vlp_image img;
  if (vlp_image_load(image, &img)) {
    fprintf(stderr, "vlp preprocess: %s\n", vlp_last_error());
    return EXIT_SOME_FAILED;
  }
  float *pixels = NULL;
  int S = 0;
  vlp_status st = vlp_preprocess(c.model, &img, size, &pixels, &S);
  vlp_image_free(&img);
  if (st) {
    fprintf(stderr, "vlp preprocess: %s\n", vlp_last_error());
    return st == VLP_ERR_INVALID ? EXIT_SOME_FAILED : EXIT_USAGE;
  }
  st = vlp_write_npy_f32(c.output, pixels, 4, (const int64_t[]){1, 3, S, S});
  free(pixels);
  if (st) {
    fprintf(stderr, "vlp preprocess: %s\n", vlp_last_error());
    return EXIT_SOME_FAILED;
  }
  return EXIT_ALL_OK;
}
