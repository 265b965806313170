/* index_golden: the expected ranking of a text query from the golden data, for
 * index_test.sh. usage: index_golden TEXT_EMBEDS.npy NAME=IMAGE_EMBEDS.npy...
 * prints "NAME COSINE" per image, best first (the embeddings are L2-normalised). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/npy.h"

typedef struct {
  const char *name;
  double score;
} item;

static int cmp(const void *a, const void *b) {
  const item *x = a, *y = b;
  return x->score > y->score ? -1 : x->score < y->score;
}

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  npy_array t;
  if (npy_load(argv[1], &t)) {
    fprintf(stderr, "%s\n", vlp_last_error());
    return 2;
  }
  item *it = calloc((size_t)argc, sizeof *it);
  int n = 0;
  for (int i = 2; i < argc; i++) {
    char *eq = strchr(argv[i], '=');
    npy_array e;
    if (!eq || npy_load(eq + 1, &e) || e.count != t.count) {
      fprintf(stderr, "index_golden: bad argument %s\n", argv[i]);
      return 2;
    }
    *eq = 0;
    double s = 0, nt = 0, ne = 0;
    for (size_t d = 0; d < t.count; d++) {
      s += npy_get(&t, d) * npy_get(&e, d);
      nt += npy_get(&t, d) * npy_get(&t, d);
      ne += npy_get(&e, d) * npy_get(&e, d);
    }
    it[n++] = (item){argv[i], s / __builtin_sqrt(nt * ne)};
    npy_free(&e);
  }
  qsort(it, (size_t)n, sizeof *it, cmp);
  for (int i = 0; i < n; i++) printf("%s %.9f\n", it[i].name, it[i].score);
  npy_free(&t);
  free(it);
  return 0;
}
