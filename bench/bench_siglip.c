/* bench_siglip: speed of a FULL-SIZE SigLIP base (google/siglip-base-patch16-224 sizes:
 * ViT-B/16 at 224, text 768 wide, 12 layers, 64 positions, vocabulary 32000) with random
 * weights, next to CLIP ViT-B/16 (vlp_bench_clip --patch 16) in the report.
 *
 * Writes a temporary folder (config.json with SigLIP-base sizes, model.safetensors holding
 * every tensor of tests/golden/models/siglip-tiny scaled up, the tiny folder's
 * spiece.model and tokenizer files, a 224 preprocessor), then reports image embedding
 * throughput at batch 1 and 8 and text embedding throughput at batch 16 (every text runs
 * at its 64 positions), with GFLOP/s.
 *
 * usage: vlp_bench_siglip [--keep] [--reps N]  */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_models.h"
#include "bench_util.h"
#include "core/workspace.h"
#include "fusion/siglip.h"
#include "vlp.h"

#ifndef VLP_BENCH_GOLDEN
#define VLP_BENCH_GOLDEN "tests/golden"
#endif

/* siglip-base-patch16-224 sizes. */
enum { DV = 768, LV = 12, HV = 12, FV = 3072, IMG = 224, PATCH = 16 };
enum { DT = 768, LT = 12, HT = 12, FT = 3072, VOCAB = 32000, MAXPOS = 64 };

static size_t make_model(const char *tiny, const char *dir) {
  char p[4096], q[4096];
  cJSON *vc, *tc, *cfg = bm_read_config(tiny, &vc, &tc);
  /* The tiny text tower's MLP and position table are both 64 wide: the embeddings get
   * their own map (longest prefix wins). */
  bm_dim_map maps[4] = {{.prefix = "vision_model.", .layers = LV},
                        {.prefix = "text_model.", .layers = LT},
                        {.prefix = "text_model.embeddings."},
                        {.prefix = "logit_"}};
  int tdv = bm_get_int(vc, "hidden_size"), tdt = bm_get_int(tc, "hidden_size");
  int tps = bm_get_int(vc, "patch_size"), tis = bm_get_int(vc, "image_size");
  bm_map_add(&maps[0], tdv, DV);
  bm_map_add(&maps[0], 3 * tdv, 3 * DV); /* the head's fused in_proj */
  bm_map_add(&maps[0], bm_get_int(vc, "intermediate_size"), FV);
  bm_map_add(&maps[0], tps, PATCH);
  bm_map_add(&maps[0], (tis / tps) * (tis / tps), (IMG / PATCH) * (IMG / PATCH));
  bm_map_add(&maps[0], 3, 3);
  bm_map_add(&maps[0], 1, 1);
  bm_map_add(&maps[1], tdt, DT);
  bm_map_add(&maps[1], bm_get_int(tc, "intermediate_size"), FT);
  bm_map_add(&maps[2], tdt, DT);
  bm_map_add(&maps[2], bm_get_int(tc, "vocab_size"), VOCAB);
  bm_map_add(&maps[2], bm_get_int(tc, "max_position_embeddings"), MAXPOS);
  bm_map_add(&maps[3], 1, 1);

  bm_set_num(vc, "hidden_size", DV);
  bm_set_num(vc, "num_hidden_layers", LV);
  bm_set_num(vc, "num_attention_heads", HV);
  bm_set_num(vc, "intermediate_size", FV);
  bm_set_num(vc, "image_size", IMG);
  bm_set_num(vc, "patch_size", PATCH);
  bm_set_num(tc, "hidden_size", DT);
  bm_set_num(tc, "num_hidden_layers", LT);
  bm_set_num(tc, "num_attention_heads", HT);
  bm_set_num(tc, "intermediate_size", FT);
  bm_set_num(tc, "vocab_size", VOCAB);
  bm_set_num(tc, "max_position_embeddings", MAXPOS);
  bm_write_json(cfg, dir, "config.json");
  cJSON_Delete(cfg);

  snprintf(p, sizeof p, "%s/preprocessor_config.json", tiny);
  cJSON *pre = bm_read_json(p);
  cJSON *size = cJSON_GetObjectItemCaseSensitive(pre, "size");
  if (!size) bm_die("%s: no size", p);
  bm_set_num(size, "height", IMG);
  bm_set_num(size, "width", IMG);
  bm_write_json(pre, dir, "preprocessor_config.json");
  cJSON_Delete(pre);

  const char *copy[] = {"spiece.model", "special_tokens_map.json", "tokenizer_config.json"};
  for (size_t i = 0; i < sizeof copy / sizeof *copy; i++) bm_copy(tiny, dir, copy[i]);
  snprintf(p, sizeof p, "%s/model.safetensors", tiny);
  snprintf(q, sizeof q, "%s/model.safetensors", dir);
  return bm_write_scaled_safetensors(p, q, maps, 4);
}

/* Patch GEMM, the encoder, and the pooling head (K/V over the patches, one query, MLP). */
static double image_flops(void) {
  double T = (IMG / PATCH) * (IMG / PATCH);
  double head = 2.0 * T * DV * 2 * DV + 4.0 * DV * DV + 4.0 * T * DV + 4.0 * DV * FV;
  return 2.0 * T * DV * (3.0 * PATCH * PATCH) + LV * bm_layer_flops(T, DV, FV) + head;
}

static double text_flops(void) {
  return LT * bm_layer_flops(MAXPOS, DT, FT) + 2.0 * DT * DT;
}

int main(int argc, char **argv) {
  int keep = 0, reps = 3;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--keep"))
      keep = 1;
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
      reps = atoi(argv[++i]);
  }
  if (reps < 1) reps = 1;
  const char *tiny = VLP_BENCH_GOLDEN "/models/siglip-tiny";
  int threads = vlp_default_threads();
  printf(
      "vlp_bench_siglip: SigLIP base (ViT-B/16 @ 224), random F32 weights, %d threads "
      "(machine shared with other jobs: numbers are noisy)\n",
      threads);
  char *dir = bm_make_tmpdir("siglip");
  double t0 = bench_now();
  size_t st_size = make_model(tiny, dir);
  printf("model folder %s written in %.1f s, model.safetensors %.1f MB\n", dir, bench_now() - t0,
         st_size / 1e6);

  siglip_model *m = NULL;
  vlp_ws ws;
  ws_init(&ws);
  t0 = bench_now();
  if (siglip_load(dir, &m)) bm_die("%s", vlp_last_error());
  printf("siglip_load: %.2f s\n", bench_now() - t0);

  enum { BMAX = 8 };
  size_t npix = (size_t)3 * IMG * IMG;
  float *pixels = malloc(BMAX * npix * sizeof *pixels), *emb = malloc(16 * DV * sizeof *emb);
  if (!pixels || !emb) bm_die("out of memory");
  bm_rng rng = {4242};
  for (size_t i = 0; i < BMAX * npix; i++) pixels[i] = bm_uniform(&rng, 1.0f);
  double imf = image_flops();
  int batches[2] = {1, BMAX};
  for (int bi = 0; bi < 2; bi++) {
    int B = batches[bi];
    if (siglip_encode_images(m, &ws, pixels, B, IMG, NULL, NULL, emb))
      bm_die("%s", vlp_last_error());
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
      t0 = bench_now();
      if (siglip_encode_images(m, &ws, pixels, B, IMG, NULL, NULL, emb))
        bm_die("%s", vlp_last_error());
      double dt = bench_now() - t0;
      if (dt < best) best = dt;
    }
    printf(
        "image embeddings, batch %2d: %.1f images/s (%.1f ms/batch, best of %d), "
        "%.2f GFLOP/image, %.1f GFLOP/s\n",
        B, B / best, 1e3 * best, reps, imf * 1e-9, imf * B / best * 1e-9);
  }

  enum { NT = 16 };
  const char *subj[4] = {"dog", "red car", "bowl of soup", "city street at night"};
  const char *ctx[4] = {"on a sunny day", "in the snow", "seen from above", "in a forest"};
  char *texts[NT];
  for (int i = 0; i < NT; i++) {
    char buf[160];
    snprintf(buf, sizeof buf, "This is a photo of a %s %s.", subj[i % 4], ctx[i / 4]);
    if (!(texts[i] = strdup(buf))) bm_die("out of memory");
  }
  if (siglip_encode_strings(m, &ws, (const char *const *)texts, NT, emb))
    bm_die("%s", vlp_last_error());
  double best = 1e30;
  for (int r = 0; r < reps; r++) {
    t0 = bench_now();
    if (siglip_encode_strings(m, &ws, (const char *const *)texts, NT, emb))
      bm_die("%s", vlp_last_error());
    double dt = bench_now() - t0;
    if (dt < best) best = dt;
  }
  printf(
      "text embeddings, batch %d (64 positions each): %.1f texts/s (%.1f ms/batch, best of %d), "
      "%.1f GFLOP/s\n",
      NT, NT / best, 1e3 * best, reps, text_flops() * NT / best * 1e-9);
  for (int i = 0; i < NT; i++) free(texts[i]);
  free(pixels);
  free(emb);
  siglip_free(m);
  ws_release(&ws);
  if (keep)
    printf("kept %s\n", dir);
  else
    bm_remove_dir(dir);
  free(dir);
  return 0;
}
