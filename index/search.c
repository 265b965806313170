/* search: exact top-k retrieval over the memory-mapped embeddings, and the FAISS
 * IndexFlatIP export. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "index/index.h"

/* "a ranks before b": higher score, then lower row. */
static int better(float sa, int64_t ra, float sb, int64_t rb) {
  return sa > sb || (sa == sb && ra < rb);
}

/* Exchange heap entries i and j (score and row together). */
static void swap_entries(int64_t *rows, float *sc, int i, int j) {
  float ts = sc[i];
  sc[i] = sc[j];
  sc[j] = ts;
  int64_t tr = rows[i];
  rows[i] = rows[j];
  rows[j] = tr;
}

/* Min-heap on "better": the root is the worst of the kept k. */
static void sift_down(int64_t *rows, float *sc, int n, int i) {
  for (;;) {
    int l = 2 * i + 1, r = l + 1, w = i;
    if (l < n && better(sc[w], rows[w], sc[l], rows[l])) w = l;
    if (r < n && better(sc[w], rows[w], sc[r], rows[r])) w = r;
    if (w == i) return;
    swap_entries(rows, sc, i, w);
    i = w;
  }
}

static void sift_up(int64_t *rows, float *sc, int i) {
  while (i > 0) {
    int p = (i - 1) / 2;
    if (!better(sc[p], rows[p], sc[i], rows[i])) return;
    swap_entries(rows, sc, i, p);
    i = p;
  }
}

int vlp_index_search(const vlp_index *ix, const float *q, int k, int64_t *rows, float *scores) {
  int n = 0;
  if (k <= 0) return 0;
  for (int64_t r = 0; r < ix->count; r++) {
    const float *e = ix->emb + (size_t)r * (size_t)ix->dim;  // (dim)
    float s = 0;
    for (int d = 0; d < ix->dim; d++) s += e[d] * q[d];
    if (n < k) {
      rows[n] = r;
      scores[n] = s;
      sift_up(rows, scores, n++);
    } else if (better(s, r, scores[0], rows[0])) {
      rows[0] = r;
      scores[0] = s;
      sift_down(rows, scores, n, 0);
    }
  }
  /* heap sort: repeatedly move the worst to the end -> best first */
  for (int m = n - 1; m > 0; m--) {
    float ts = scores[0];
    scores[0] = scores[m];
    scores[m] = ts;
    int64_t tr = rows[0];
    rows[0] = rows[m];
    rows[m] = tr;
    sift_down(rows, scores, m, 0);
  }
  return n;
}

/* FAISS's write_index for an IndexFlat with METRIC_INNER_PRODUCT: fourcc "IxFI", the Index
 * header (d int32, ntotal int64, two int64 1<<20 placeholders, is_trained uint8,
 * metric_type int32 = 0 for inner product), then the codes as uint64 count of floats +
 * the float32 data. All little-endian (x86/ARM hosts). */
vlp_status vlp_index_export_faiss(const vlp_index *ix, const char *path) {
  size_t len = strlen(path) + 32;
  char *tmp = malloc(len);
  if (!tmp) return vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", path);
  snprintf(tmp, len, "%s.tmp.%ld", path, (long)getpid());
  FILE *f = fopen(tmp, "wb");
  if (!f) {
    vlp_status st = vlp_fail(VLP_ERR_IO, "%s: cannot write: %s", tmp, strerror(errno));
    free(tmp);
    return st;
  }
  int32_t d = ix->dim, metric = 0;
  int64_t ntotal = ix->count, dummy = (int64_t)1 << 20;
  uint8_t trained = 1;
  uint64_t nfloat = (uint64_t)ix->count * (uint64_t)ix->dim;
  int ok = fwrite("IxFI", 1, 4, f) == 4 && fwrite(&d, 4, 1, f) == 1 &&
           fwrite(&ntotal, 8, 1, f) == 1 && fwrite(&dummy, 8, 1, f) == 1 &&
           fwrite(&dummy, 8, 1, f) == 1 && fwrite(&trained, 1, 1, f) == 1 &&
           fwrite(&metric, 4, 1, f) == 1 && fwrite(&nfloat, 8, 1, f) == 1 &&
           (nfloat == 0 || fwrite(ix->emb, 4, (size_t)nfloat, f) == (size_t)nfloat);
  ok &= fflush(f) == 0 && fsync(fileno(f)) == 0;
  ok &= fclose(f) == 0;
  if (!ok || rename(tmp, path) != 0) {
    vlp_status st = vlp_fail(VLP_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    unlink(tmp);
    free(tmp);
    return st;
  }
  free(tmp);
  return VLP_OK;
}
