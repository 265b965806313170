/* fuzz_safetensors: st_open on arbitrary bytes (header length, JSON header, tensor table,
 * offsets), then every tensor's data read end to end: whatever st_open accepts must be
 * consistent with the file. */
#include <stdlib.h>

#include "core/safetensors.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *path = fuzz_write("model.safetensors", data, size);
  if (!path) return 0;
  st_file *f = NULL;
  if (st_open(path, &f) == VLP_OK) {
    volatile uint8_t sum = 0;
    for (int i = 0; i < f->n; i++) {
      const st_tensor *t = &f->tensors[i];
      if (st_find(f, t->name) == NULL) abort();  // every listed tensor can be found
      const uint8_t *p = t->data;
      for (size_t k = 0; k < t->nbytes; k += 61) sum += p[k];
      if (t->nbytes) sum += p[t->nbytes - 1];
    }
    (void)sum;
    st_close(f);
  }
  free(path);
  return 0;
}
