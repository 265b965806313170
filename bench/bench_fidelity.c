/* bench_fidelity: what the fast modes (bf16, int8) cost in accuracy on FULL-SIZE models with
 * random weights, against f32: CLIP ViT-B/32's image and text embeddings (minimum and mean
 * cosine), its top-1 zero-shot tag among 20 labels, the overlap of the top-10 images each text
 * retrieves, and BLIP-base's greedy captions (share identical). The images are variants of
 * the golden images (crops, mirror images, brightness shifts), made in memory.
 *
 * --check: exit 1 unless every image and text cosine is >= 0.999 (bf16) and >= 0.99 (int8),
 * bounds a broken kernel (wrong layout, scale or rounding) misses by far; a mode the CPU
 * lacks is reported and skipped. ctest runs it as precision_full.
 *
 * usage: vlp_bench_fidelity [--images N] [--texts N] [--captions N] [--check]  */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_models.h"
#include "bench_util.h"
#include "vlp.h"

#ifndef VLP_BENCH_GOLDEN
#define VLP_BENCH_GOLDEN "tests/golden"
#endif

static const char *labels[] = {"cat",    "dog",   "astronaut", "rocket",  "coffee cup",
                               "camera", "horse", "car",       "bicycle", "tree",
                               "house",  "bird",  "boat",      "flower",  "mountain",
                               "beach",  "book",  "guitar",    "clock",   "pizza"};
#define NLABELS ((int)(sizeof labels / sizeof *labels))
static const char *adjectives[] = {"small", "large", "red", "old", "bright", "dark", "happy"};
#define NADJ ((int)(sizeof adjectives / sizeof *adjectives))

static double cosine(const float *a, const float *b, int d) {
  double ab = 0, aa = 0, bb = 0;
  for (int i = 0; i < d; i++)
    ab += (double)a[i] * b[i], aa += (double)a[i] * a[i], bb += (double)b[i] * b[i];
  return ab / (sqrt(aa * bb) + 1e-30);
}

static float dot(const float *a, const float *b, int d) {
  float s = 0;
  for (int i = 0; i < d; i++) s += a[i] * b[i];
  return s;
}

/* The golden images, decoded. */
static int load_golden(vlp_image **out) {
  const char *dir = VLP_BENCH_GOLDEN "/images";
  DIR *d = opendir(dir);
  if (!d) bm_die("%s: cannot open", dir);
  vlp_image *v = NULL;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    char p[4096];
    vlp_image img;
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    if (vlp_image_sniff_file(p) != VLP_SNIFF_IMAGE || vlp_image_load(p, &img)) continue;
    if (img.w < 16 || img.h < 16) {
      vlp_image_free(&img);
      continue;
    }
    v = realloc(v, (size_t)(n + 1) * sizeof *v);
    if (!v) bm_die("out of memory");
    v[n++] = img;
  }
  closedir(d);
  if (!n) bm_die("%s: no images", dir);
  *out = v;
  return n;
}

/* A variant of src: a crop of 50-100% of each side, mirrored half of the time, brightness
 * shifted by up to +-40. */
static vlp_image variant(const vlp_image *src, bm_rng *r) {
  int w = (int)(src->w * (0.75f + bm_uniform(r, 0.25f)));
  int h = (int)(src->h * (0.75f + bm_uniform(r, 0.25f)));
  int x0 = (int)((src->w - w) * (0.5f + bm_uniform(r, 0.5f)));
  int y0 = (int)((src->h - h) * (0.5f + bm_uniform(r, 0.5f)));
  int mirror = bm_uniform(r, 1) > 0, shift = (int)bm_uniform(r, 40);
  vlp_image o = {w, h, malloc((size_t)w * h * 3)};
  if (!o.rgb) bm_die("out of memory");
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      int sx = x0 + (mirror ? w - 1 - x : x);
      const uint8_t *s = src->rgb + ((size_t)(y0 + y) * src->w + sx) * 3;
      uint8_t *t = o.rgb + ((size_t)y * w + x) * 3;
      for (int c = 0; c < 3; c++) {
        int v = s[c] + shift;
        t[c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
      }
    }
  return o;
}

typedef struct {
  float *img, *txt, *lab; /* (n, dim) each */
  int dim;
} clip_out;

/* Everything the CLIP model gives in precision p; 0 when the mode is not available. */
static int run_clip(const char *dir, vlp_precision p, const vlp_image *imgs, int ni,
                    char *const *texts, int nt, clip_out *o) {
  vlp_model_params mp = vlp_model_default_params();
  mp.precision = p;
  vlp_model *m = NULL;
  if (vlp_model_load_with(dir, &mp, &m)) {
    printf("  %s: not available: %s\n", vlp_precision_name(p), vlp_last_error());
    return 0;
  }
  vlp_session *s = NULL;
  if (vlp_session_new(m, NULL, &s)) bm_die("session: %s", vlp_last_error());
  int d = o->dim = vlp_model_embed_dim(m);
  o->img = malloc((size_t)ni * d * sizeof(float));
  o->txt = malloc((size_t)nt * d * sizeof(float));
  o->lab = malloc((size_t)NLABELS * d * sizeof(float));
  if (!o->img || !o->txt || !o->lab) bm_die("out of memory");
  for (int i = 0; i < ni; i += 16)
    if (vlp_embed_images(s, imgs + i, ni - i < 16 ? ni - i : 16, 0, o->img + (size_t)i * d))
      bm_die("embed images: %s", vlp_last_error());
  if (vlp_embed_texts(s, (const char *const *)texts, nt, o->txt))
    bm_die("embed texts: %s", vlp_last_error());
  char *lt[NLABELS];
  for (int i = 0; i < NLABELS; i++)
    lt[i] = vlp_apply_template(vlp_tag_default_template(m), labels[i]);
  if (vlp_embed_texts(s, (const char *const *)lt, NLABELS, o->lab))
    bm_die("embed labels: %s", vlp_last_error());
  for (int i = 0; i < NLABELS; i++) free(lt[i]);
  vlp_session_free(s);
  vlp_model_free(m);
  return 1;
}

static int top1(const float *e, const float *lab, int d) {
  int best = 0;
  for (int l = 1; l < NLABELS; l++)
    if (dot(e, lab + (size_t)l * d, d) > dot(e, lab + (size_t)best * d, d)) best = l;
  return best;
}

/* The 10 images closest to text t, as a bit set over the images (ni <= 4096). */
static void top10(const float *img, int ni, const float *q, int d, unsigned char *in) {
  if (ni <= 0) return;
  memset(in, 0, (size_t)ni);
  for (int k = 0; k < 10 && k < ni; k++) {
    int best = -1;
    float bs = -2;
    for (int i = 0; i < ni; i++) {
      float v = dot(img + (size_t)i * d, q, d);
      if (!in[i] && v > bs) bs = v, best = i;
    }
    in[best] = 1;
  }
}

/* Greedy captions (20 new tokens) of ni images in precision p; NULL when not available. */
static vlp_text_result *run_captions(const char *dir, vlp_precision p, const vlp_image *imgs,
                                     int ni) {
  vlp_model_params mp = vlp_model_default_params();
  mp.precision = p;
  vlp_model *m = NULL;
  if (vlp_model_load_with(dir, &mp, &m)) return NULL;
  vlp_session *s = NULL;
  if (vlp_session_new(m, NULL, &s)) bm_die("session: %s", vlp_last_error());
  vlp_text_result *r = calloc((size_t)ni, sizeof *r);
  vlp_gen_params g = vlp_gen_default_params();
  g.max_new_tokens = 20;
  for (int i = 0; i < ni; i++) {
    vlp_features *f = NULL;
    if (vlp_encode_images(s, imgs + i, 1, 0, &f) || vlp_caption(s, f, &g, r + i))
      bm_die("caption: %s", vlp_last_error());
    vlp_features_free(f);
  }
  vlp_session_free(s);
  vlp_model_free(m);
  return r;
}

int main(int argc, char **argv) {
  int ni = 256, nt = 128, nc = 8, check = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--images") && i + 1 < argc)
      ni = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--texts") && i + 1 < argc)
      nt = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--captions") && i + 1 < argc)
      nc = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--check"))
      check = 1;
    else
      bm_die("usage: vlp_bench_fidelity [--images N] [--texts N] [--captions N] [--check]");
  }
  if (ni < 10 || ni > 4096 || nt < 1 || nc < 0) bm_die("--images 10..4096, --texts >= 1");

  vlp_image *golden = NULL;
  int ng = load_golden(&golden);
  vlp_image *imgs = malloc((size_t)ni * sizeof *imgs);
  char **texts = malloc((size_t)nt * sizeof *texts);
  if (!imgs || !texts) bm_die("out of memory");
  bm_rng rng = {0x9e3779b97f4a7c15ull};
  for (int i = 0; i < ni; i++) imgs[i] = variant(&golden[i % ng], &rng);
  for (int i = 0; i < nt; i++) {
    char t[128];
    snprintf(t, sizeof t, "a photo of a %s %s", adjectives[(i / NLABELS) % NADJ],
             labels[i % NLABELS]);
    texts[i] = strdup(t);
  }

  char *cdir = bm_make_tmpdir("fidelity-clip");
  bm_make_clip_base(VLP_BENCH_GOLDEN "/models/clip-tiny", cdir, 32);
  printf(
      "vlp_bench_fidelity: full-size models with random weights, %d images (variants of %d "
      "golden images), %d texts, %d labels, %d captions\n",
      ni, ng, nt, NLABELS, nc);
  printf("CLIP ViT-B/32 (%s):\n", cdir);
  clip_out ref = {0};
  if (!run_clip(cdir, VLP_PRECISION_F32, imgs, ni, texts, nt, &ref)) bm_die("f32 must load");
  int failed = 0, d = ref.dim;
  unsigned char *a = malloc((size_t)ni), *b = malloc((size_t)ni);
  const vlp_precision fast[] = {VLP_PRECISION_BF16, VLP_PRECISION_INT8};
  const double bound[] = {0.999, 0.99};
  for (int k = 0; k < 2; k++) {
    clip_out o = {0};
    if (!run_clip(cdir, fast[k], imgs, ni, texts, nt, &o)) continue;
    double min_i = 1, min_t = 1, sum_i = 0, sum_t = 0, overlap = 0;
    int same_tag = 0;
    for (int i = 0; i < ni; i++) {
      double c = cosine(ref.img + (size_t)i * d, o.img + (size_t)i * d, d);
      min_i = c < min_i ? c : min_i, sum_i += c;
      same_tag +=
          top1(ref.img + (size_t)i * d, ref.lab, d) == top1(o.img + (size_t)i * d, o.lab, d);
    }
    for (int t = 0; t < nt; t++) {
      double c = cosine(ref.txt + (size_t)t * d, o.txt + (size_t)t * d, d);
      min_t = c < min_t ? c : min_t, sum_t += c;
      top10(ref.img, ni, ref.txt + (size_t)t * d, d, a);
      top10(o.img, ni, o.txt + (size_t)t * d, d, b);
      int common = 0;
      for (int i = 0; i < ni; i++) common += a[i] && b[i];
      overlap += common / 10.0;
    }
    printf(
        "  %s vs f32: image cosine min %.6f mean %.6f; text cosine min %.6f mean %.6f; "
        "same top-1 tag %.1f%%; top-10 retrieval overlap %.1f%%\n",
        vlp_precision_name(fast[k]), min_i, sum_i / ni, min_t, sum_t / nt, 100.0 * same_tag / ni,
        100.0 * overlap / nt);
    if (check && (min_i < bound[k] || min_t < bound[k])) {
      printf("FAIL: %s cosine below %.3f\n", vlp_precision_name(fast[k]), bound[k]);
      failed = 1;
    }
    free(o.img), free(o.txt), free(o.lab);
  }
  bm_remove_dir(cdir);
  free(cdir);

  if (nc > 0) {
    char *bdir = bm_make_tmpdir("fidelity-blip");
    bm_make_blip_base(VLP_BENCH_GOLDEN "/models/blip-caption-tiny", bdir);
    printf("BLIP-base captions, greedy, 20 new tokens (%s):\n", bdir);
    if (nc > ni) nc = ni;
    vlp_text_result *r0 = run_captions(bdir, VLP_PRECISION_F32, imgs, nc);
    if (!r0) bm_die("f32 captions: %s", vlp_last_error());
    for (int k = 0; k < 2; k++) {
      vlp_text_result *r = run_captions(bdir, fast[k], imgs, nc);
      if (!r) {
        printf("  %s: not available: %s\n", vlp_precision_name(fast[k]), vlp_last_error());
        continue;
      }
      int same = 0;
      double prefix = 0;
      for (int i = 0; i < nc; i++) {
        int n = r[i].n_ids < r0[i].n_ids ? r[i].n_ids : r0[i].n_ids, p = 0;
        while (p < n && r[i].ids[p] == r0[i].ids[p]) p++;
        same += r[i].n_ids == r0[i].n_ids && p == n;
        prefix += (double)p / (r0[i].n_ids ? r0[i].n_ids : 1);
        vlp_text_result_free(r + i);
      }
      printf(
          "  %s vs f32: identical captions %d of %d (%.1f%%); tokens agreeing before the "
          "first difference %.1f%%\n",
          vlp_precision_name(fast[k]), same, nc, 100.0 * same / nc, 100.0 * prefix / nc);
      free(r);
    }
    for (int i = 0; i < nc; i++) vlp_text_result_free(r0 + i);
    free(r0);
    bm_remove_dir(bdir);
    free(bdir);
  }
  for (int i = 0; i < ni; i++) free(imgs[i].rgb);
  for (int i = 0; i < ng; i++) vlp_image_free(&golden[i]);
  for (int i = 0; i < nt; i++) free(texts[i]);
  free(imgs), free(golden), free(texts), free(a), free(b);
  free(ref.img), free(ref.txt), free(ref.lab);
  return failed;
}
