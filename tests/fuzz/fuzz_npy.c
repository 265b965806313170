/* fuzz_npy: npy_load on arbitrary bytes (magic, version, header dict, shape, dtype, data
 * size); every element of an accepted array is read. */
#include <stdlib.h>

#include "core/npy.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *path = fuzz_write("a.npy", data, size);
  if (!path) return 0;
  npy_array a;
  if (npy_load(path, &a) == VLP_OK) {
    volatile double sum = 0;
    for (size_t i = 0; i < a.count; i++) sum += npy_get(&a, i);
    (void)sum;
    npy_free(&a);
  }
  free(path);
  return 0;
}
