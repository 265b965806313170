/* bench_caption: images/s of `vlp caption` end to end (decode + resize on the reader threads,
 * vision encoder, 20 greedy tokens, JSON Lines out) on 64 images with a FULL-SIZE BLIP-base
 * model with random weights, at --batch 1 and --batch 8.
 *
 * The model folder is bm_make_blip_base's (bench_models.h: tiny golden tensors scaled
 * to BLIP-base sizes); the images are copies of the golden images (sizes from 1x1 to
 * 1000x50 and photos of a few hundred pixels), so decoding costs are those of real files.
 *
 * usage: vlp_bench_caption [VLP_BINARY] [--images N] [--keep] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_models.h"
#include "bench_util.h"
#include "vlp.h"

#ifndef VLP_BENCH_GOLDEN
#define VLP_BENCH_GOLDEN "tests/golden"
#endif

int main(int argc, char **argv) {
  const char *vlp_arg = NULL;
  int keep = 0, n_images = 64;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--keep"))
      keep = 1;
    else if (!strcmp(argv[i], "--images") && i + 1 < argc)
      n_images = atoi(argv[++i]);
    else
      vlp_arg = argv[i];
  }
  if (n_images < 1) n_images = 1;
  char *vlp_bin = bm_find_vlp(argv[0], vlp_arg);
  printf(
      "vlp_bench_caption: `vlp caption` on %d images, BLIP-base random F32 weights, %d threads "
      "+ 2 reader threads (machine shared with other jobs: numbers are noisy)\n",
      n_images, vlp_default_threads());
  char *dir = bm_make_tmpdir("caption");
  double t0 = bench_now();
  bm_make_blip_base(VLP_BENCH_GOLDEN "/models/blip-caption-tiny", dir);
  printf("model folder written in %.1f s\n", bench_now() - t0);

  /* the images: copies of the golden images in dir (flat: bm_remove_dir cleans up) */
  static const char *const src[] = {"astronaut.png",   "coffee.jpg",
                                    "rocket.jpg",      "chelsea_cat.png",
                                    "camera_gray.png", "hubble_deep_field.jpg",
                                    "edge_cmyk.jpg",   "edge_wide_1000x50.png"};
  const char *imgdir = dir;
  char **args = calloc((size_t)n_images + 16, sizeof *args);
  if (!args) bm_die("out of memory");
  int na = 0;
  args[na++] = vlp_bin;
  args[na++] = "caption";
  args[na++] = "-q";
  args[na++] = "-m";
  args[na++] = dir;
  args[na++] = "--max-length"; /* exactly 20 generated tokens: equal work per image */
  args[na++] = "21";
  args[na++] = "--min-length";
  args[na++] = "21";
  args[na++] = "--batch";
  int batch_arg = na++;
  int first = na;
  for (int i = 0; i < n_images; i++) {
    const char *s = src[i % (int)(sizeof src / sizeof *src)];
    char name[64];
    snprintf(name, sizeof name, "img%03d_%s", i, s);
    char from[4096], to[8192];
    snprintf(from, sizeof from, "%s/images/%s", VLP_BENCH_GOLDEN, s);
    snprintf(to, sizeof to, "%s/%s", imgdir, name);
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    if (!in || !out) bm_die("cannot copy %s", from);
    char buf[65536];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, k, out);
    fclose(in);
    if (fclose(out)) bm_die("cannot write %s", to);
    args[na++] = strdup(to);
  }
  args[na] = NULL;
  static const int batches[] = {1, 8};
  static char bstr[2][8];
  for (int b = 0; b < 2; b++) {
    snprintf(bstr[b], sizeof bstr[b], "%d", batches[b]);
    args[batch_arg] = bstr[b];
    size_t rss = 0;
    double secs = 0;
    int rc = bm_run_child(args, &rss, &secs);
    if (rc) {
      printf("vlp caption --batch %d exited with %d\n", batches[b], rc);
      continue;
    }
    printf(
        "vlp caption --batch %d: %d images in %.1f s = %.2f images/s (model load included), "
        "peak RSS %.0f MB\n",
        batches[b], n_images, secs, n_images / secs, rss / 1e6);
  }
  for (int i = first; i < na; i++) free(args[i]);
  free(args);
  if (keep)
    printf("kept %s\n", dir);
  else
    bm_remove_dir(dir);
  free(dir);
  free(vlp_bin);
  return 0;
}
