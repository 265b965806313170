/* fuzz_config: a model folder whose config.json is the input (after a first byte that picks
 * which golden tiny model lends the other files: weights, tokenizer, preprocessor), loaded
 * with vlp_model_load: every size read from the config must be checked against the
 * weights before use. */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_util.h"
#include "vlp.h"

static const char *const models[] = {"blip-caption-tiny", "blip-itm-tiny", "blip-vqa-tiny",
                                     "clip-tiny", "clip-tiny-f16"};
#define N_MODELS (sizeof models / sizeof models[0])

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  setenv("VLP_THREADS", "1", 1);  // one decoder thread: reproducible runs
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char *dirs[N_MODELS];
  if (size < 1) return 0;
  unsigned m = data[0] % N_MODELS;
  if (!dirs[m]) {
    static const char *const except[] = {"config.json", NULL};
    char sub[32];
    snprintf(sub, sizeof sub, "config%u", m);
    if (!(dirs[m] = fuzz_model_dir(sub, models[m], except))) abort();
  }
  if (fuzz_put(dirs[m], "config.json", data + 1, size - 1)) return 0;
  vlp_model *model = NULL;
  if (vlp_model_load(dirs[m], &model) == VLP_OK) vlp_model_free(model);
  return 0;
}
