/* fuzz_preprocessor: preprocessor_config.json as the input, read by prep_config_load; an
 * accepted configuration then preprocesses a small image (when its output is at most
 * 1024 x 1024: a config may legitimately ask for huge outputs, which only cost time). */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_util.h"
#include "media/preprocess.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char *dir;
  if (!dir) {
    static const char *const except[] = {"preprocessor_config.json", NULL};
    if (!(dir = fuzz_model_dir("prep", "blip-caption-tiny", except))) abort();
  }
  if (fuzz_put(dir, "preprocessor_config.json", data, size)) return 0;
  prep_config c;
  if (prep_config_load(dir, &c) != VLP_OK) return 0;
  int h = prep_out_h(&c), w = prep_out_w(&c);
  if (h <= 0 || w <= 0) abort();  // an accepted config has a real output size
  if (h > 1024 || w > 1024) return 0;
  uint8_t px[7 * 5 * 3];
  for (size_t i = 0; i < sizeof px; i++) px[i] = (uint8_t)(i * 37);
  vlp_image img = {7, 5, px};
  float *out = malloc((size_t)3 * h * w * sizeof(float));
  if (out) prep_run(&c, &img, out);
  free(out);
  return 0;
}
