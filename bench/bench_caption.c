/* bench_caption: images/s of `vlp caption` end to end (decode + resize on the reader thread,
 * vision encoder, 20 greedy tokens, JSON Lines out) on 64 images with a FULL-SIZE BLIP-base
 * model with random weights, at --batch 1 and --batch 8.
 *
 * The model folder is written as bench_blip does (bench_models.h: tiny golden tensors scaled
 * to BLIP-base sizes); the images are copies of the golden images (sizes from 1x1 to
 * 1000x50 and photos of a few hundred pixels), so decoding costs are those of real files.
 *
 * usage: vlp_bench_caption [VLP_BINARY] [--images N] [--keep] */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_models.h"
#include "bench_util.h"
#include "vlp.h"

#ifndef VLP_BENCH_GOLDEN
#define VLP_BENCH_GOLDEN "tests/golden"
#endif

/* BLIP-base (Salesforce/blip-image-captioning-base) sizes. */
enum { DV = 768, LV = 12, HV = 12, FV = 3072, IMG = 384, PATCH = 16 };
enum { DT = 768, LT = 12, HT = 12, FT = 3072, VOCAB = 30524, DENC = 768, MAXPOS = 512 };

static cJSON *read_json(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) bm_die("cannot open %s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  if (!s || fread(s, 1, (size_t)n, f) != (size_t)n) bm_die("cannot read %s", path);
  s[n] = 0;
  fclose(f);
  cJSON *j = cJSON_Parse(s);
  free(s);
  if (!j) bm_die("%s: not JSON", path);
  return j;
}

static void write_json(const cJSON *j, const char *dir, const char *name) {
  char p[4096];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  char *s = cJSON_Print(j);
  FILE *f = fopen(p, "wb");
  if (!s || !f || fputs(s, f) < 0 || fclose(f)) bm_die("cannot write %s", p);
  free(s);
}

static int get_int(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  if (!cJSON_IsNumber(v)) bm_die("tiny config: %s missing", k);
  return v->valueint;
}

static void set_num(cJSON *o, const char *k, double v) {
  if (!cJSON_GetObjectItemCaseSensitive(o, k)) bm_die("tiny config has no %s", k);
  cJSON_ReplaceItemInObjectCaseSensitive(o, k, cJSON_CreateNumber(v));
}

/* The BLIP-base folder (same recipe as bench_blip.c). */
static void make_model(const char *tiny, const char *dir) {
  char p[4096], q[4096];
  snprintf(p, sizeof p, "%s/config.json", tiny);
  cJSON *cfg = read_json(p);
  cJSON *vc = cJSON_GetObjectItemCaseSensitive(cfg, "vision_config");
  cJSON *tc = cJSON_GetObjectItemCaseSensitive(cfg, "text_config");
  if (!vc || !tc) bm_die("%s: no vision_config / text_config", p);
  bm_dim_map maps[2] = {{.prefix = "vision_model.", .layers = LV}, {.prefix = "text_decoder.", .layers = LT}};
  int tdv = get_int(vc, "hidden_size"), tps = get_int(vc, "patch_size"), tis = get_int(vc, "image_size");
  bm_map_add(&maps[0], tdv, DV);
  bm_map_add(&maps[0], 3 * tdv, 3 * DV);
  bm_map_add(&maps[0], get_int(vc, "intermediate_size"), FV);
  bm_map_add(&maps[0], tps, PATCH);
  bm_map_add(&maps[0], 1 + (tis / tps) * (tis / tps), 1 + (IMG / PATCH) * (IMG / PATCH));
  bm_map_add(&maps[0], 3, 3);
  bm_map_add(&maps[0], 1, 1);
  bm_map_add(&maps[1], get_int(tc, "hidden_size"), DT);
  bm_map_add(&maps[1], get_int(tc, "intermediate_size"), FT);
  bm_map_add(&maps[1], get_int(tc, "encoder_hidden_size"), DENC);
  bm_map_add(&maps[1], get_int(tc, "vocab_size"), VOCAB);
  bm_map_add(&maps[1], get_int(tc, "max_position_embeddings"), MAXPOS);
  const struct { cJSON *o; const char *k; double v; } sets[] = {
      {vc, "hidden_size", DV}, {vc, "num_hidden_layers", LV}, {vc, "num_attention_heads", HV},
      {vc, "intermediate_size", FV}, {vc, "image_size", IMG}, {vc, "patch_size", PATCH},
      {tc, "hidden_size", DT}, {tc, "num_hidden_layers", LT}, {tc, "num_attention_heads", HT},
      {tc, "intermediate_size", FT}, {tc, "vocab_size", VOCAB}, {tc, "encoder_hidden_size", DENC},
      {tc, "max_position_embeddings", MAXPOS}, {cfg, "image_text_hidden_size", 256},
      {cfg, "projection_dim", 512}};
  for (size_t i = 0; i < sizeof sets / sizeof *sets; i++) set_num(sets[i].o, sets[i].k, sets[i].v);
  write_json(cfg, dir, "config.json");
  cJSON_Delete(cfg);
  snprintf(p, sizeof p, "%s/preprocessor_config.json", tiny);
  cJSON *pre = read_json(p);
  cJSON *size = cJSON_GetObjectItemCaseSensitive(pre, "size");
  if (!size) bm_die("%s: no size", p);
  set_num(size, "height", IMG);
  set_num(size, "width", IMG);
  write_json(pre, dir, "preprocessor_config.json");
  cJSON_Delete(pre);
  const char *copy[] = {"added_tokens.json", "generation_config.json", "special_tokens_map.json",
                        "tokenizer_config.json", "vocab.txt"};
  for (size_t i = 0; i < sizeof copy / sizeof *copy; i++) bm_copy(tiny, dir, copy[i]);
  snprintf(p, sizeof p, "%s/model.safetensors", tiny);
  snprintf(q, sizeof q, "%s/model.safetensors", dir);
  bm_write_scaled_safetensors(p, q, maps, 2);
}

int main(int argc, char **argv) {
  const char *vlp_arg = NULL;
  int keep = 0, n_images = 64;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--keep")) keep = 1;
    else if (!strcmp(argv[i], "--images") && i + 1 < argc) n_images = atoi(argv[++i]);
    else vlp_arg = argv[i];
  }
  if (n_images < 1) n_images = 1;
  char *vlp_bin = bm_find_vlp(argv[0], vlp_arg);
  printf("vlp_bench_caption: `vlp caption` on %d images, BLIP-base random F32 weights, %d threads "
         "+ 1 reader thread (machine shared with other jobs: numbers are noisy)\n",
         n_images, vlp_get_threads());
  char *dir = bm_make_tmpdir("caption");
  double t0 = bench_now();
  make_model(VLP_BENCH_GOLDEN "/models/blip-caption-tiny", dir);
  printf("model folder written in %.1f s\n", bench_now() - t0);

  /* the images: copies of the golden images in dir (flat: bm_remove_dir cleans up) */
  static const char *const src[] = {"astronaut.png", "coffee.jpg", "rocket.jpg", "chelsea_cat.png",
                                    "camera_gray.png", "hubble_deep_field.jpg", "edge_cmyk.jpg",
                                    "edge_wide_1000x50.png"};
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
    printf("vlp caption --batch %d: %d images in %.1f s = %.2f images/s (model load included), "
           "peak RSS %.0f MB\n",
           batches[b], n_images, secs, n_images / secs, rss / 1e6);
  }
  for (int i = first; i < na; i++) free(args[i]);
  free(args);
  if (keep) printf("kept %s\n", dir);
  else bm_remove_dir(dir);
  free(dir);
  free(vlp_bin);
  return 0;
}
