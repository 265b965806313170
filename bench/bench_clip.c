/* bench_clip: speed of a FULL-SIZE CLIP ViT-B/32 (or ViT-B/16 with --patch 16) with random
 * weights, and of an exact scan over 1,000,000 float16 embeddings.
 *
 * Writes a temporary folder (config.json with ViT-B/32 sizes, model.safetensors holding
 * every tensor of tests/golden/models/clip-tiny scaled up, the tiny folder's tokenizer
 * files, a 224 preprocessor), then reports image embedding throughput at batch 1 and 16,
 * text embedding throughput at batch 64, GFLOP/s next to OpenBLAS sgemm in the same run,
 * and the latency of a brute-force top-10 search over N x 512 f16 vectors three ways.
 *
 * usage: vlp_bench_clip [--keep] [--reps N] [--n-vectors N] [--patch 32|16]  */
#include <cblas.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_models.h"
#include "bench_util.h"
#include "core/half.h"
#include "core/workspace.h"
#include "fusion/clip.h"
#include "vlp.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_F16C_PATH 1
#endif

#ifndef VLP_BENCH_GOLDEN
#define VLP_BENCH_GOLDEN "tests/golden"
#endif

/* ViT-B/32 (openai/clip-vit-base-patch32) sizes (bench_models.h); --patch 16: ViT-B/16. */
enum { DV = CLIP_DV, LV = CLIP_LV, HV = CLIP_HV, FV = CLIP_FV, IMG = CLIP_IMG };
static int PATCH = 32;
enum { DT = CLIP_DT, LT = CLIP_LT, HT = CLIP_HT, FT = CLIP_FT, MAXPOS = CLIP_MAXPOS };
enum { PROJ = CLIP_PROJ, EMB = CLIP_PROJ, TOPK = 10 };

static double image_flops(void) {
  double T = 1 + (IMG / PATCH) * (IMG / PATCH), np = T - 1;
  return 2.0 * np * DV * (3.0 * PATCH * PATCH) + LV * bm_layer_flops(T, DV, FV) + 2.0 * DV * PROJ;
}

/* One text padded to T tokens (what a batch with longest text T computes per row). */
static double text_flops(int T) {
  return LT * bm_layer_flops(T, DT, FT) + 2.0 * DT * PROJ;
}

/* ---- exact search over f16 embeddings --------------------------------------------- */

typedef struct {
  float score[TOPK];
  int id[TOPK];
  int n;
} topk;

static void topk_push(topk *t, float s, int id) {
  if (t->n == TOPK && s <= t->score[TOPK - 1]) return;
  int i = t->n < TOPK ? t->n++ : TOPK - 1;
  while (i > 0 && t->score[i - 1] < s) {
    t->score[i] = t->score[i - 1];
    t->id[i] = t->id[i - 1];
    i--;
  }
  t->score[i] = s;
  t->id[i] = id;
}

static float *g_lut; /* 65536 f16 -> f32 */

/* Scalar: table conversion per element. */
static void search_lut(const uint16_t *db, size_t n, const float *q, topk *t) {
  for (size_t r = 0; r < n; r++) {
    const uint16_t *v = db + r * EMB;
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (int i = 0; i < EMB; i += 4) {
      s0 += g_lut[v[i]] * q[i];
      s1 += g_lut[v[i + 1]] * q[i + 1];
      s2 += g_lut[v[i + 2]] * q[i + 2];
      s3 += g_lut[v[i + 3]] * q[i + 3];
    }
    topk_push(t, (s0 + s1) + (s2 + s3), (int)r);
  }
}

/* Blocked: convert BLK rows with core/half.h, then one sgemv. */
enum { BLK = 256 };
static void search_blocked(const uint16_t *db, size_t n, const float *q, topk *t, float *tmp) {
  float scores[BLK];
  for (size_t r0 = 0; r0 < n; r0 += BLK) {
    int rows = n - r0 < BLK ? (int)(n - r0) : BLK;
    f16_to_f32_array(tmp, db + r0 * EMB, (size_t)rows * EMB);
    cblas_sgemv(CblasRowMajor, CblasNoTrans, rows, EMB, 1.0f, tmp, EMB, q, 1, 0.0f, scores, 1);
    for (int i = 0; i < rows; i++) topk_push(t, scores[i], (int)(r0 + (size_t)i));
  }
}

#ifdef HAVE_F16C_PATH
/* F16C + FMA: 8 halves converted per instruction. */
__attribute__((target("f16c,fma,avx"))) static void search_f16c(const uint16_t *db, size_t n,
                                                                const float *q, topk *t) {
  for (size_t r = 0; r < n; r++) {
    const uint16_t *v = db + r * EMB;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    for (int i = 0; i < EMB; i += 16) {
      __m256 x0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(v + i)));
      __m256 x1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(v + i + 8)));
      a0 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(q + i), a0);
      a1 = _mm256_fmadd_ps(x1, _mm256_loadu_ps(q + i + 8), a1);
    }
    __m256 a = _mm256_add_ps(a0, a1);
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
    topk_push(t, _mm_cvtss_f32(h), (int)r);
  }
}
#endif

static void bench_search(size_t n, int queries) {
  size_t total = n * EMB;
  uint16_t *db = malloc(total * sizeof *db);
  float *qs = malloc((size_t)queries * EMB * sizeof *qs), *tmp = malloc(BLK * EMB * sizeof *tmp);
  g_lut = malloc(65536 * sizeof *g_lut);
  if (!db || !qs || !tmp || !g_lut) bm_die("out of memory for %zu vectors", n);
  for (int i = 0; i < 65536; i++) g_lut[i] = f16_to_f32((uint16_t)i);
  double t0 = bench_now();
  bm_rng rng = {777};
  /* Random vectors with the scale of unit 512-d embeddings (|x_i| ~ 1/sqrt(512)). */
  for (size_t i = 0; i < total; i++) db[i] = f32_to_f16(bm_uniform(&rng, 0.0765f));
  for (size_t i = 0; i < (size_t)queries * EMB; i++) qs[i] = bm_uniform(&rng, 0.0765f);
  printf("search: %zu x %d f16 vectors (%.0f MB) generated in %.1f s, %d queries, top-%d\n", n, EMB,
         total * 2 / 1e6, bench_now() - t0, queries, TOPK);
  const char *names[3] = {"scalar, f16->f32 lookup table", "blocked: f16_to_f32_array + sgemv",
                          "F16C + FMA intrinsics"};
  int first_id[3] = {-1, -1, -1};
  for (int method = 0; method < 3; method++) {
#ifdef HAVE_F16C_PATH
    if (method == 2 && !__builtin_cpu_supports("f16c")) continue;
#else
    if (method == 2) continue;
#endif
    double best = 1e30, sum = 0;
    for (int k = 0; k < queries; k++) {
      topk t = {.n = 0};
      const float *q = qs + (size_t)k * EMB;
      t0 = bench_now();
      if (method == 0)
        search_lut(db, n, q, &t);
      else if (method == 1)
        search_blocked(db, n, q, &t, tmp);
#ifdef HAVE_F16C_PATH
      else
        search_f16c(db, n, q, &t);
#endif
      double dt = bench_now() - t0;
      sum += dt;
      if (dt < best) best = dt;
      if (k == 0) first_id[method] = t.id[0];
    }
    printf("  %-36s %7.1f ms/query (mean of %d, best %.1f), %.1f GB/s of f16 data\n", names[method],
           1e3 * sum / queries, queries, 1e3 * best, total * 2 / (sum / queries) * 1e-9);
  }
  if ((first_id[1] >= 0 && first_id[1] != first_id[0]) ||
      (first_id[2] >= 0 && first_id[2] != first_id[0]))
    printf("  note: the methods disagree on query 0's top hit (%d / %d / %d)\n", first_id[0],
           first_id[1], first_id[2]);
  free(db);
  free(qs);
  free(tmp);
  free(g_lut);
}

int main(int argc, char **argv) {
  int keep = 0, reps = 3;
  size_t nvec = 1000000;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--keep"))
      keep = 1;
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
      reps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--n-vectors") && i + 1 < argc)
      nvec = (size_t)atol(argv[++i]);
    else if (!strcmp(argv[i], "--patch") && i + 1 < argc)
      PATCH = atoi(argv[++i]) == 16 ? 16 : 32;
  }
  if (reps < 1) reps = 1;
  const char *tiny = VLP_BENCH_GOLDEN "/models/clip-tiny";
  int threads = vlp_default_threads();
  printf(
      "vlp_bench_clip: CLIP ViT-B/%d, random F32 weights, %d threads "
      "(machine shared with other jobs: numbers are noisy)\n",
      PATCH, threads);
  char *dir = bm_make_tmpdir("clip");
  double t0 = bench_now();
  size_t st_size = bm_make_clip_base(tiny, dir, PATCH);
  printf("model folder %s written in %.1f s, model.safetensors %.1f MB\n", dir, bench_now() - t0,
         st_size / 1e6);

  int T = 1 + (IMG / PATCH) * (IMG / PATCH);
  double g1 = bench_sgemm_gflops(16 * T, FV, DV, 3);
  openblas_set_num_threads(threads);
  double gn = bench_sgemm_gflops(16 * T, FV, DV, 3);
  openblas_set_num_threads(1);
  printf("OpenBLAS sgemm %dx%dx%d: %.1f GFLOP/s 1 thread, %.1f GFLOP/s %d threads\n", 16 * T, FV,
         DV, g1, gn, threads);

  clip_model *m = NULL;
  vlp_ws ws;
  ws_init(&ws);
  t0 = bench_now();
  if (clip_load(dir, &m)) bm_die("%s", vlp_last_error());
  printf("clip_load: %.2f s\n", bench_now() - t0);

  /* Images: random pixels, batch 1 and 16. */
  enum { BMAX = 16 };
  size_t npix = (size_t)3 * IMG * IMG;
  float *pixels = malloc(BMAX * npix * sizeof *pixels), *emb = malloc(64 * PROJ * sizeof *emb);
  if (!pixels || !emb) bm_die("out of memory");
  bm_rng rng = {4242};
  for (size_t i = 0; i < BMAX * npix; i++) pixels[i] = bm_uniform(&rng, 2.0f);
  double imf = image_flops();
  int batches[2] = {1, BMAX};
  for (int bi = 0; bi < 2; bi++) {
    int B = batches[bi];
    if (clip_encode_images(m, &ws, pixels, B, IMG, NULL, NULL, NULL, emb))
      bm_die("%s", vlp_last_error());
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
      t0 = bench_now();
      if (clip_encode_images(m, &ws, pixels, B, IMG, NULL, NULL, NULL, emb))
        bm_die("%s", vlp_last_error());
      double dt = bench_now() - t0;
      if (dt < best) best = dt;
    }
    printf(
        "image embeddings, batch %2d: %.1f images/s (%.1f ms/batch, best of %d), "
        "%.2f GFLOP/image, %.1f GFLOP/s\n",
        B, B / best, 1e3 * best, reps, imf * 1e-9, imf * B / best * 1e-9);
  }

  /* Texts: 64 different short captions. */
  enum { NT = 64 };
  const char *subj[8] = {
      "dog", "cat", "red car", "mountain lake", "bowl of soup", "old man", "city street at night",
      "bird"};
  const char *ctx[8] = {"on a sunny day",    "in the snow",        "next to a window",
                        "on a wooden table", "in black and white", "seen from above",
                        "at the beach",      "in a forest"};
  char *texts[NT];
  int maxlen = 0;
  for (int i = 0; i < NT; i++) {
    char buf[160];
    snprintf(buf, sizeof buf, "a photo of a %s %s", subj[i % 8], ctx[i / 8]);
    if (!(texts[i] = strdup(buf))) bm_die("out of memory");
    int *ids = NULL, n = 0;
    if (vlp_tokenize(clip_tokenizer(m), texts[i], &ids, &n)) bm_die("%s", vlp_last_error());
    if (n > maxlen) maxlen = n;
    free(ids);
  }
  if (clip_encode_strings(m, &ws, (const char *const *)texts, NT, emb))
    bm_die("%s", vlp_last_error());
  double best = 1e30;
  for (int r = 0; r < reps; r++) {
    t0 = bench_now();
    if (clip_encode_strings(m, &ws, (const char *const *)texts, NT, emb))
      bm_die("%s", vlp_last_error());
    double dt = bench_now() - t0;
    if (dt < best) best = dt;
  }
  double tf = text_flops(maxlen);
  printf(
      "text embeddings, batch %d (longest %d tokens): %.1f texts/s (%.1f ms/batch, best of "
      "%d), %.1f GFLOP/s counting every text at %d tokens\n",
      NT, maxlen, NT / best, 1e3 * best, reps, tf * NT / best * 1e-9, maxlen);
  for (int i = 0; i < NT; i++) free(texts[i]);
  free(pixels);
  free(emb);
  clip_free(m);
  ws_release(&ws);
  if (keep)
    printf("kept %s\n", dir);
  else
    bm_remove_dir(dir);
  free(dir);

  bench_search(nvec, 20);
  return 0;
}
