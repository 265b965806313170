/* bench_blip: speed and memory of a FULL-SIZE BLIP-base captioning model with random weights.
 *
 * Writes a temporary folder (config.json with BLIP-base sizes, model.safetensors holding
 * every tensor of tests/golden/models/blip-caption-tiny scaled up, the tiny folder's
 * tokenizer files), then reports: vision encoder seconds per image (batch 1), caption
 * seconds per image for exactly 20 generated tokens at batch 1 and 8, the GFLOP/s those
 * reach next to OpenBLAS sgemm's in the same run, and the peak RSS of `vlp caption` on the
 * folder against the safetensors size (weights are mmapped: F32 should stay < 1.5x).
 *
 * --vision-only stops after the vision encoder (A/B timing of its kernels, e.g. VLP_ATTN).
 * --vqa writes a BLIP-base VQA folder instead (from tests/golden/models/blip-vqa-tiny: the
 * question encoder and the answer decoder BERT-base), times its vision encoder and answers
 * of exactly 20 tokens through the public API (`vlp bench -m` on the kept folder times
 * more).
 *
 * usage: vlp_bench_blip [VLP_BINARY] [--keep] [--reps N] [--vision-only | --vqa]  */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_models.h"
#include "bench_util.h"
#include "core/workspace.h"
#include "fusion/blip.h"
#include "vlp.h"

#ifndef VLP_BENCH_GOLDEN
#define VLP_BENCH_GOLDEN "tests/golden"
#endif

/* BLIP-base sizes (bench_models.h), short names for the FLOP counts. */
enum { DV = BLIP_DV, LV = BLIP_LV, FV = BLIP_FV, IMG = BLIP_IMG, PATCH = BLIP_PATCH };
enum { DT = BLIP_DT, LT = BLIP_LT, FT = BLIP_FT, VOCAB = BLIP_VOCAB, DENC = BLIP_DENC };
enum { NEW_TOKENS = 20 };

/* FLOPs of the vision tower for one image. */
static double vision_flops(void) {
  double T = 1 + (IMG / PATCH) * (IMG / PATCH), np = T - 1;
  return 2.0 * np * DV * (3.0 * PATCH * PATCH) + LV * bm_layer_flops(T, DV, FV);
}

/* FLOPs of the decoder for one greedy caption of NEW_TOKENS tokens after [DEC] (KV cache:
 * step s feeds one token at position s, attending to s + 1 self positions and Ti image
 * tokens), including the cross-attention K/V of the image computed once. */
static double decoder_flops(void) {
  double Ti = 1 + (IMG / PATCH) * (IMG / PATCH), f = LT * 2.0 * 2.0 * Ti * DENC * DT;
  for (int s = 0; s < NEW_TOKENS; s++) {
    double L = s + 1;
    double layer = 2.0 * DT * DT * 4 + 2.0 * 2 * L * DT    /* self */
                   + 2.0 * DT * DT * 2 + 2.0 * 2 * Ti * DT /* cross: q, out, QK^T, AV */
                   + 2.0 * 2 * DT * FT;
    f += LT * layer + 2.0 * DT * DT + 2.0 * DT * VOCAB; /* + LM head */
  }
  return f;
}

/* Answers of exactly NEW_TOKENS tokens to one question about one image through the public
 * API: preprocessing, vision tower, question encoder and answer decoder, best of reps. */
static void time_answers(const char *dir, const char *image_path, int reps) {
  vlp_model *m = NULL;
  vlp_session *sess = NULL;
  vlp_image img;
  if (vlp_model_load(dir, &m) || vlp_session_new(m, NULL, &sess) ||
      vlp_image_load(image_path, &img))
    bm_die("%s", vlp_last_error());
  vlp_gen_params gp = vlp_gen_default_params();
  gp.max_new_tokens = NEW_TOKENS;
  gp.min_length = 1 + NEW_TOKENS; /* [BOS] + 20 tokens, eos masked until then */
  double best = 1e30;
  for (int r = 0; r <= reps; r++) { /* the first run warms up */
    double t0 = bench_now();
    vlp_features *f = NULL;
    vlp_text_result res = {0};
    if (vlp_encode_images(sess, &img, 1, 0, &f) ||
        vlp_vqa(sess, f, 0, "what is the cat lying on?", &gp, &res))
      bm_die("%s", vlp_last_error());
    double t = bench_now() - t0;
    if (res.n_ids != 1 + NEW_TOKENS)
      bm_die("answer has %d ids, expected %d", res.n_ids, 1 + NEW_TOKENS);
    vlp_text_result_free(&res);
    vlp_features_free(f);
    if (r > 0 && t < best) best = t;
  }
  printf("answer (20 tokens greedy), batch 1: %.3f s/image (best of %d)\n", best, reps);
  vlp_image_free(&img);
  vlp_session_free(sess);
  vlp_model_free(m);
}

/* Keeps or removes the model folder at the end. */
static void finish(char *dir, int keep, char *vlp_bin) {
  if (keep)
    printf("kept %s\n", dir);
  else
    bm_remove_dir(dir);
  free(dir);
  free(vlp_bin);
}

int main(int argc, char **argv) {
  const char *vlp_arg = NULL;
  int keep = 0, reps = 3, vision_only = 0, vqa = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--keep"))
      keep = 1;
    else if (!strcmp(argv[i], "--vision-only"))
      vision_only = 1;
    else if (!strcmp(argv[i], "--vqa"))
      vqa = 1;
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
      reps = atoi(argv[++i]);
    else
      vlp_arg = argv[i];
  }
  if (reps < 1) reps = 1;
  char *vlp_bin = bm_find_vlp(argv[0], vlp_arg);
  const char *tiny =
      vqa ? VLP_BENCH_GOLDEN "/models/blip-vqa-tiny" : VLP_BENCH_GOLDEN "/models/blip-caption-tiny";
  const char *image_path = VLP_BENCH_GOLDEN "/images/chelsea_cat.png";
  int threads = vlp_default_threads();
  printf(
      "vlp_bench_blip: BLIP-base %s, random F32 weights, %d threads "
      "(machine shared with other jobs: numbers are noisy)\n",
      vqa ? "VQA" : "caption", threads);

  char *dir = bm_make_tmpdir("blip");
  double t0 = bench_now();
  size_t st_size = bm_make_blip_base(tiny, dir);
  printf("model folder %s written in %.1f s, model.safetensors %.1f MB\n", dir, bench_now() - t0,
         st_size / 1e6);

  /* sgemm reference: one MLP GEMM of the vision tower (577 x 3072 x 768). */
  int T = 1 + (IMG / PATCH) * (IMG / PATCH);
  double g1 = bench_sgemm_gflops(T, FV, DV, 3);
  openblas_set_num_threads(threads);
  double gn = bench_sgemm_gflops(T, FV, DV, 3);
  openblas_set_num_threads(1);
  printf("OpenBLAS sgemm %dx%dx%d: %.1f GFLOP/s 1 thread, %.1f GFLOP/s %d threads\n", T, FV, DV, g1,
         gn, threads);

  /* Vision encoder, batch 1. */
  blip_model *bm = NULL;
  vlp_ws ws;
  ws_init(&ws);
  t0 = bench_now();
  if (blip_load(dir, &bm)) bm_die("%s", vlp_last_error());
  printf("blip_load: %.2f s\n", bench_now() - t0);
  size_t npix = (size_t)3 * IMG * IMG;
  float *pixels = malloc(npix * sizeof *pixels);
  float *emb = malloc((size_t)T * DV * sizeof *emb);
  if (!pixels || !emb) bm_die("out of memory");
  bm_rng rng = {12345};
  for (size_t i = 0; i < npix; i++) pixels[i] = bm_uniform(&rng, 2.0f);
  if (blip_encode_images(bm, &ws, pixels, 1, IMG, emb, NULL))
    bm_die("%s", vlp_last_error()); /* warm */
  double best = 1e30;
  for (int r = 0; r < reps; r++) {
    t0 = bench_now();
    if (blip_encode_images(bm, &ws, pixels, 1, IMG, emb, NULL)) bm_die("%s", vlp_last_error());
    double t = bench_now() - t0;
    if (t < best) best = t;
  }
  double vf = vision_flops();
  printf("vision encoder, batch 1: %.3f s/image (best of %d), %.1f GFLOP/image, %.1f GFLOP/s\n",
         best, reps, vf * 1e-9, vf / best * 1e-9);
  if (vqa) time_answers(dir, image_path, reps);
  if (vision_only || vqa) {
    free(pixels), free(emb);
    blip_free(bm);
    ws_release(&ws);
    finish(dir, keep, vlp_bin);
    return 0;
  }

  /* Decoder alone (greedy, 20 tokens) on those image embeddings, batch 1 and 8. */
  gen_params g = blip_gen_params(bm, 1);
  g.max_length = g.min_length = 1 + NEW_TOKENS;
  int *prompt = NULL, np = 0;
  if (blip_caption_prompt_ids(bm, NULL, &prompt, &np)) bm_die("%s", vlp_last_error());
  float *emb8 = malloc((size_t)8 * T * DV * sizeof *emb8);
  if (!emb8) bm_die("out of memory");
  for (int i = 0; i < 8; i++) memcpy(emb8 + (size_t)i * T * DV, emb, (size_t)T * DV * sizeof *emb);
  { /* warm-up: first touch of the decoder's mapped weights */
    int *seq = NULL, len = 0;
    if (blip_caption_generate(bm, &ws, emb8, 1, T, prompt, np, &g, &seq, &len))
      bm_die("%s", vlp_last_error());
    free(seq);
  }
  int dec_b[2] = {1, 8};
  for (int bi = 0; bi < 2; bi++) {
    int B = dec_b[bi], *seqs[8], lens[8];
    t0 = bench_now();
    if (blip_caption_generate(bm, &ws, emb8, B, T, prompt, np, &g, seqs, lens))
      bm_die("%s", vlp_last_error());
    double t = bench_now() - t0;
    for (int i = 0; i < B; i++) free(seqs[i]);
    printf(
        "decoder alone (20 tokens greedy), batch %d: %.3f s/caption (%.2f s per batch), "
        "%.1f GFLOP/s\n",
        B, t / B, t, decoder_flops() * B / t * 1e-9);
  }
  free(prompt);
  free(emb8);
  free(pixels);
  free(emb);
  blip_free(bm);
  ws_release(&ws);

  /* Captions through the public API: preprocessing + vision + 20 greedy tokens. */
  vlp_model *m = NULL;
  vlp_session *sess = NULL;
  if (vlp_model_load(dir, &m) || vlp_session_new(m, NULL, &sess)) bm_die("%s", vlp_last_error());
  vlp_image img;
  if (vlp_image_load(image_path, &img)) bm_die("%s", vlp_last_error());
  vlp_gen_params gp = vlp_gen_default_params();
  gp.num_beams = 1;
  gp.max_length = gp.min_length = 1 + NEW_TOKENS; /* [DEC] + 20 tokens, eos masked until then */
  double cf = vf + decoder_flops();
  printf(
      "caption FLOPs: vision %.1f + decoder %.2f GFLOP (decoder incl. cross-attention K/V once)\n",
      vf * 1e-9, decoder_flops() * 1e-9);
  int batches[2] = {1, 8};
  for (int bi = 0; bi < 2; bi++) {
    int B = batches[bi];
    vlp_image *imgs = malloc((size_t)B * sizeof *imgs);
    vlp_text_result *res = calloc((size_t)B, sizeof *res);
    if (!imgs || !res) bm_die("out of memory");
    for (int i = 0; i < B; i++) imgs[i] = img;
    int runs = B == 1 ? reps : 1;
    best = 1e30;
    for (int r = 0; r < runs; r++) {
      t0 = bench_now();
      vlp_features *f = NULL;
      if (vlp_encode_images(sess, imgs, B, 0, &f) || vlp_caption(sess, f, &gp, res))
        bm_die("%s", vlp_last_error());
      vlp_features_free(f);
      double t = bench_now() - t0;
      if (t < best) best = t;
      for (int i = 0; i < B; i++) {
        if (res[i].n_ids != 1 + NEW_TOKENS)
          bm_die("caption has %d ids, expected %d", res[i].n_ids, 1 + NEW_TOKENS);
        vlp_text_result_free(&res[i]);
      }
    }
    printf(
        "caption (20 tokens greedy), batch %d: %.3f s/image (%.2f s per batch, best of %d), "
        "%.1f GFLOP/image, %.1f GFLOP/s\n",
        B, best / B, best, runs, cf * 1e-9, cf * B / best * 1e-9);
    free(imgs);
    free(res);
  }
  vlp_image_free(&img);
  vlp_session_free(sess);
  vlp_model_free(m);

  /* Peak RSS of the CLI on this folder. */
  char *cargv[] = {vlp_bin, "caption", "-m", dir, (char *)image_path, NULL};
  size_t rss = 0;
  double secs = 0;
  int rc = bm_run_child(cargv, &rss, &secs);
  if (rc)
    printf("vlp caption (%s) exited with %d\n", vlp_bin, rc);
  else
    printf(
        "vlp caption peak RSS: %.1f MB, model.safetensors %.1f MB, ratio %.3f (limit 1.5), "
        "%.2f s wall\n",
        rss / 1e6, st_size / 1e6, (double)rss / (double)st_size, secs);

  finish(dir, keep, vlp_bin);
  return 0;
}
