/* fuzz_index: an index folder made from the input: 4 bytes (little-endian) give the length
 * of index.db (SQLite metadata), the rest is the embeddings .npy, written under the name
 * the seed index uses. vlp_index_open must validate both (counts, dimensions, rows,
 * names) before vlp_index_search may trust them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_util.h"
#include "index/index.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char dir[1024];
  if (!dir[0]) {
    snprintf(dir, sizeof dir, "%s/idx", fuzz_dir());
    if (mkdir(dir, 0700)) abort();
  }
  if (size < 4) return 0;
  size_t n = (size_t)data[0] | (size_t)data[1] << 8 | (size_t)data[2] << 16 | (size_t)data[3] << 24;
  data += 4, size -= 4;
  if (n > size) n = size;
  if (fuzz_put(dir, "index.db", data, n) || fuzz_put(dir, "embeddings-1.npy", data + n, size - n))
    return 0;
  char journal[1100];  // a left-over hot journal would change the next run's database
  snprintf(journal, sizeof journal, "%s/index.db-journal", dir);
  remove(journal);
  vlp_index *ix = NULL;
  if (vlp_index_open(dir, &ix) == VLP_OK) {
    if (ix->dim <= 0 || ix->count < 0) abort();
    float *q = calloc((size_t)ix->dim, sizeof(float));
    int64_t rows[4];
    float scores[4];
    if (q) {
      q[0] = 1;
      int k = vlp_index_search(ix, q, 4, rows, scores);
      for (int i = 0; i < k; i++)
        if (rows[i] < 0 || rows[i] >= ix->count || !ix->entries[rows[i]].path) abort();
    }
    free(q);
    vlp_index_close(ix);
  }
  return 0;
}
