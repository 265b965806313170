/* vlp bench: times a model's own workloads on this machine (image and text encoders,
 * image-text matching, captions and VQA answers with a fixed number of new tokens, each at
 * batch 1 and N; decoding and preprocessing a large JPEG) for each asked precision, next to
 * the f32 GEMM throughput measured in the same run on the model's own shapes, so every
 * figure is also a fraction of what this machine's matrix products reach. A table on a
 * terminal, JSON Lines otherwise. */
#include <stdint.h>
#include <stdio.h>
/* after stdio.h: jpeglib.h uses FILE */
#include <jpeglib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static const char usage[] =
    "usage: vlp bench -m MODEL [--batch N] [--reps N] [--new-tokens N]\n"
    "                 [--precision f32,bf16,int8] [--threads N] [--json] [-o FILE]\n\n"
    "Times the model's workloads: image encoder and text encoder (CLIP, SigLIP, BLIP\n"
    "retrieval) at batch 1 and --batch N, image-text matching of one text per image (BLIP\n"
    "retrieval), captions of --new-tokens new tokens (BLIP captioning), answers of as many\n"
    "tokens to one question per image (BLIP VQA) at batch 1 and N (the images of a batch\n"
    "encoded together), and decoding + preprocessing of a 4032x3024 JPEG; for each\n"
    "precision asked.\n"
    "Each row: seconds per item, items/s, GFLOP/s (the model's matrix products and\n"
    "attention over every token, also where vlp skips some: CLIP's embeddings and SigLIP's\n"
    "text embeddings run their last layer on the pooled rows only), and that as a fraction of\n"
    "the f32 GEMM peak measured in the same run on the model's own layer shapes, before and\n"
    "after the workloads (the better of the two); load (including weight packing) seconds,\n"
    "peak RSS.\n"
    "Captions in f32 also give their floor: the vision tower and the cross-attention keys\n"
    "and values at that GEMM peak, plus each new token's reads (every decoder weight once\n"
    "per batch, the image's cross-attention keys and values) at the memory read bandwidth\n"
    "measured in the same run (a 128 MiB buffer, which counts in the peak RSS of smaller\n"
    "models); floor_ratio = seconds / floor.\n"
    "Best of --reps runs after one warm-up; the GEMM peak and the bandwidth also take the\n"
    "best of --reps runs (at least 3 and 5) each time. The rows come at the end, as a table\n"
    "on a terminal (each workload's time also on stderr as it is measured), else JSON Lines.\n\n"
    "options:\n"
    "  --batch N               the larger batch (default 8)\n"
    "  --reps N                timed runs per workload (default 3)\n"
    "  --new-tokens N          caption and answer length in new tokens (default 20)\n"
    "  --precision LIST        comma-separated precisions (default f32)\n"
    "  --json                  JSON Lines even on a terminal\n"
    "  -o FILE                 write the rows to FILE\n"
    "  --threads N             threads (default: VLP_THREADS or all cores)\n";

/* ---- sizes and FLOPs ----------------------------------------------------------------- */

typedef struct {
  vlp_model_summary sum;
  int vis_mlp, txt_mlp; /* MLP widths (vlp_model_mlp_widths) */
  int vis_patches;      /* (image_size / patch_size)^2 */
  int vis_tokens;       /* patches, + the class token (not SigLIP's) */
} model_dims;

/* One transformer layer over T tokens of width D, MLP width M: the q/k/v/o and MLP
 * products plus the two attention products. */
static double layer_flops(double T, double D, double M) {
  return 2 * T * (4 * D * D + 2 * D * M) + 4 * T * T * D;
}

/* The vision tower: patch embedding and layers, and SigLIP's attention-pooling head (keys
 * and values of every token, one query row through the rest). */
static double vision_flops(const model_dims *d) {
  double T = d->vis_tokens, D = d->sum.vision.hidden, P = d->sum.vision.patch_size;
  double f =
      d->sum.vision.layers * layer_flops(T, D, d->vis_mlp) + 2 * d->vis_patches * D * 3 * P * P;
  if (d->sum.arch == VLP_ARCH_SIGLIP)
    f += 2 * T * 2 * D * D + 4 * T * D + 2 * (2 * D * D + 2 * D * d->vis_mlp);
  return f;
}

static double text_flops(const model_dims *d, int T) {
  return d->sum.text.layers * layer_flops(T, d->sum.text.hidden, d->txt_mlp);
}

/* Captions: the decoder's cross-attention K/V of the image once, then per new token the
 * self- and cross-attention projections, the MLP and the LM head. */
static double caption_flops(const model_dims *d, int new_tokens) {
  double D = d->sum.text.hidden, L = d->sum.text.layers, V = d->sum.text.vocab_size;
  double Dv = d->sum.vision.hidden, Ti = d->vis_tokens;
  double kv = L * 2 * 2 * Ti * Dv * D;
  double step = L * 2 * (6 * D * D + 2 * D * d->txt_mlp) + 2 * D * D + 2 * D * V;
  return vision_flops(d) + kv + new_tokens * step;
}

/* BLIP's text encoder over T tokens with cross-attention to the image: its layers, the
 * cross-attention's projections, the keys and values of every image token and the
 * attention over them. */
static double text_over_image_flops(const model_dims *d, int T) {
  double D = d->sum.text.hidden, L = d->sum.text.layers;
  double Dv = d->sum.vision.hidden, Ti = d->vis_tokens;
  return L *
         (layer_flops(T, D, d->txt_mlp) + 2 * T * 2 * D * D + 2 * Ti * 2 * Dv * D + 4 * T * Ti * D);
}

/* An answer of new_tokens tokens to a question of Tq tokens (BLIP VQA): the question
 * encoder over the image, the answer decoder's cross-attention keys and values of the
 * question once, then its steps as a caption's. */
static double vqa_flops(const model_dims *d, int Tq, int new_tokens) {
  double D = d->sum.text.hidden, L = d->sum.text.layers, V = d->sum.text.vocab_size;
  double kv = L * 2 * 2 * Tq * D * D;
  double step = L * 2 * (6 * D * D + 2 * D * d->txt_mlp) + 2 * D * D + 2 * D * V;
  return vision_flops(d) + text_over_image_flops(d, Tq) + kv + new_tokens * step;
}

/* Image-text matching of a text of T tokens (BLIP retrieval, vlp_itm): the text encoder
 * over the image (the match probability) and alone (the contrastive embedding). */
static double itm_flops(const model_dims *d, int T) {
  return vision_flops(d) + text_over_image_flops(d, T) + text_flops(d, T);
}

/* A caption's floor per image at this batch (f32): the products before decoding at the
 * GEMM peak, then per new token every decoder weight read once for the batch and the
 * image's cross-attention K/V read once, at the memory bandwidth. */
static double caption_floor_s(const model_dims *d, int new_tokens, int batch, double peak_gflops,
                              double read_gbs) {
  double D = d->sum.text.hidden, L = d->sum.text.layers, V = d->sum.text.vocab_size;
  double Dv = d->sum.vision.hidden, Ti = d->vis_tokens;
  double before = vision_flops(d) + L * 2 * 2 * Ti * Dv * D;
  double weights = 4 * (L * (6 * D * D + 2 * D * d->txt_mlp) + D * D + D * V);
  double kv = 4 * L * 2 * Ti * D;
  return before / (peak_gflops * 1e9) + new_tokens * (weights / batch + kv) / (read_gbs * 1e9);
}

/* ---- timing and memory ----------------------------------------------------------------- */

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double peak_rss_mb(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_maxrss / 1024.0;
}

static double rss_mb(void) {
  long pages = 0, res = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &res) != 2) res = 0;
    fclose(f);
  }
  return (double)res * (double)sysconf(_SC_PAGESIZE) / 1048576.0;
}

/* ---- output ---------------------------------------------------------------------------- */

static const char *prec_name(int p) {
  return p < 0 ? "-" : vlp_precision_name((vlp_precision)p);
}

/* A timed workload, kept until the end of the run: its fractions use the limits measured
 * before and after the workloads. */
typedef struct {
  char workload[32];
  int prec; /* vlp_precision; -1: none */
  int batch;
  double per, gf, load_s, rss, peak_rss;
  int floor_batch; /* f32 captions: the batch their floor is for; else 0 */
} bench_row;

#define MAX_ROWS 32

typedef struct {
  FILE *out;
  int table;
  double peak;       /* f32 GEMM GFLOP/s on the model's shapes: the better of peak_at */
  double peak_at[2]; /* measured before and after the workloads */
  double read_gbs;   /* memory read GB/s, the better of before and after (captioning models) */
  double isa[3];     /* vlp_isa_peak_gflops per vlp_precision, the better of before and after */
  bench_row rows[MAX_ROWS];
  int n_rows;
} report;

/* OpenMP's wait policy as the user set it (libgomp's default: spin a while, then sleep). */
static const char *wait_policy(void) {
  const char *p = getenv("OMP_WAIT_POLICY");
  return p ? p : getenv("GOMP_SPINCOUNT") ? "GOMP_SPINCOUNT" : "default";
}

/* Keeps a timed workload (and says so on stderr on a terminal, as the table waits for the
 * end). floor_batch: see bench_row. */
static void add_row(report *r, const char *workload, int batch, int prec, double secs, int items,
                    double flops_per_item, double load_s, int floor_batch) {
  if (r->n_rows == MAX_ROWS) return;
  bench_row *w = &r->rows[r->n_rows++];
  snprintf(w->workload, sizeof w->workload, "%s", workload);
  w->prec = prec, w->batch = batch, w->load_s = load_s, w->floor_batch = floor_batch;
  w->per = secs / items;
  w->gf = flops_per_item > 0 ? flops_per_item / w->per * 1e-9 : 0;
  w->rss = rss_mb(), w->peak_rss = peak_rss_mb();
  if (isatty(STDERR_FILENO))
    fprintf(stderr, "vlp bench: %s, batch %d, %s: %.4g s per item\n", workload, batch,
            prec_name(prec), w->per);
}

/* floor_s: the row's floor per item (f32 captions), else 0. */
static void print_row(const report *r, const bench_row *w, double floor_s) {
  double frac = r->peak > 0 && w->gf > 0 ? w->gf / r->peak : 0;
  double isa = w->prec >= 0 ? r->isa[w->prec] : 0, of_isa = isa > 0 ? w->gf / isa : 0;
  if (r->table) {
    fprintf(r->out, "%-18s %5d  %-5s %10.4f %9.2f %9.1f %7.2f %7.2f %7.2f %8.0f %8.0f", w->workload,
            w->batch, prec_name(w->prec), w->per, 1.0 / w->per, w->gf, frac, of_isa, w->load_s,
            w->rss, w->peak_rss);
    if (floor_s > 0) fprintf(r->out, " %7.2f", w->per / floor_s);
    fputc('\n', r->out);
  } else {
    fprintf(r->out,
            "{\"workload\": \"%s\", \"batch\": %d, \"precision\": \"%s\", "
            "\"seconds_per_item\": %.6g, \"items_per_s\": %.6g, \"gflops\": %.6g, "
            "\"peak_fraction\": %.4g, \"gemm_peak_gflops\": %.6g, "
            "\"gemm_peak_before_after\": [%.6g, %.6g], \"load_s\": %.4g, "
            "\"rss_mb\": %.1f, \"peak_rss_mb\": %.1f, \"omp_wait_policy\": \"%s\"",
            w->workload, w->batch, prec_name(w->prec), w->per, 1.0 / w->per, w->gf, frac, r->peak,
            r->peak_at[0], r->peak_at[1], w->load_s, w->rss, w->peak_rss, wait_policy());
    if (of_isa > 0)
      fprintf(r->out, ", \"isa_peak_gflops\": %.6g, \"isa_fraction\": %.4g", isa, of_isa);
    if (floor_s > 0)
      fprintf(r->out, ", \"mem_read_gbs\": %.4g, \"floor_s\": %.6g, \"floor_ratio\": %.4g",
              r->read_gbs, floor_s, w->per / floor_s);
    fputs("}\n", r->out);
  }
}

/* ---- inputs ---------------------------------------------------------------------------- */

/* A w x h RGB image with smooth gradients and some texture (not constant, so JPEG has
 * work to do). */
static int make_image(vlp_image *img, int w, int h) {
  img->w = w, img->h = h;
  img->rgb = malloc((size_t)w * h * 3);
  if (!img->rgb) return -1;
  uint32_t s = 12345;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      s = s * 1664525u + 1013904223u;
      uint8_t *p = img->rgb + ((size_t)y * w + x) * 3;
      p[0] = (uint8_t)(x * 255 / w + (s >> 29));
      p[1] = (uint8_t)(y * 255 / h + (s >> 30));
      p[2] = (uint8_t)((x + y) * 127 / (w + h) + 64);
    }
  return 0;
}

/* JPEG bytes of img (quality 90) in *buf (malloc'd by libjpeg). */
static int encode_jpeg(const vlp_image *img, unsigned char **buf, unsigned long *size) {
  struct jpeg_compress_struct c;
  struct jpeg_error_mgr err;
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  *buf = NULL, *size = 0;
  jpeg_mem_dest(&c, buf, size);
  c.image_width = (JDIMENSION)img->w, c.image_height = (JDIMENSION)img->h;
  c.input_components = 3, c.in_color_space = JCS_RGB;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, 90, TRUE);
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < c.image_height) {
    JSAMPROW r = img->rgb + (size_t)c.next_scanline * img->w * 3;
    jpeg_write_scanlines(&c, &r, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  return *size ? 0 : -1;
}

/* ---- workloads ------------------------------------------------------------------------- */

typedef struct {
  vlp_session *s;
  const vlp_image *imgs;
  const char *const *texts;
  const char *question; /* VQA */
  int n, new_tokens;
} job;

static vlp_status run_image(const job *j) {
  vlp_features *f = NULL;
  vlp_status st = vlp_encode_images(j->s, j->imgs, j->n, 0, &f);
  vlp_features_free(f);
  return st;
}

static vlp_status run_text(const job *j) {
  static float *out;
  static size_t cap;
  size_t need = (size_t)j->n * vlp_model_embed_dim(vlp_session_model(j->s));
  if (need > cap) {
    float *g = realloc(out, need * sizeof *g);
    if (!g) return VLP_ERR_NOMEM;
    out = g, cap = need;
  }
  return vlp_embed_texts(j->s, j->texts, j->n, out);
}

static vlp_status run_itm(const job *j) {
  vlp_features *f = NULL;
  vlp_status st = vlp_encode_images(j->s, j->imgs, j->n, 0, &f);
  for (int i = 0; !st && i < j->n; i++) {
    float itm, itc;
    st = vlp_itm(j->s, f, i, j->texts[i], &itm, &itc);
  }
  vlp_features_free(f);
  return st;
}

static vlp_status run_vqa(const job *j) {
  vlp_features *f = NULL;
  vlp_status st = vlp_encode_images(j->s, j->imgs, j->n, 0, &f);
  vlp_gen_params p = vlp_gen_default_params();
  p.max_new_tokens = j->new_tokens;
  p.min_length = 1 + j->new_tokens; /* [BOS] + exactly new_tokens: no early end */
  for (int i = 0; !st && i < j->n; i++) {
    vlp_text_result res = {0};
    st = vlp_vqa(j->s, f, i, j->question, &p, &res);
    vlp_text_result_free(&res);
  }
  vlp_features_free(f);
  return st;
}

static vlp_status run_caption(const job *j) {
  vlp_features *f = NULL;
  vlp_status st = vlp_encode_images(j->s, j->imgs, j->n, 0, &f);
  if (st) return st;
  vlp_gen_params p = vlp_gen_default_params();
  p.max_new_tokens = j->new_tokens;
  p.min_length = 1 + j->new_tokens; /* [DEC] + exactly new_tokens: no early end */
  vlp_text_result *res = calloc((size_t)j->n, sizeof *res);
  if (!res) st = VLP_ERR_NOMEM;
  if (!st) st = vlp_caption(j->s, f, &p, res);
  for (int i = 0; res && !st && i < j->n; i++) vlp_text_result_free(&res[i]);
  free(res);
  vlp_features_free(f);
  return st;
}

/* Tokens the text tower runs `text` at: SigLIP pads every text to the tokenizer's
 * model_max_length (vlp_tokenize's truncation length, which vlp requires to be at most
 * max_position_embeddings: a text of more words than that is cut to it); the others run a
 * pass at its longest text's length. 16 if the tokenizer fails. */
static int text_tokens(const vlp_model *m, const model_dims *d, const char *text) {
  const vlp_tokenizer *tok = vlp_model_tokenizer(m);
  char *longer = NULL;
  if (d->sum.arch == VLP_ARCH_SIGLIP) {
    size_t words = (size_t)(d->sum.text.max_positions > 0 ? d->sum.text.max_positions : 0) + 1;
    longer = malloc(2 * words + 1);
    if (!longer) return 16;
    for (size_t i = 0; i < words; i++) memcpy(longer + 2 * i, "a ", 2);
    longer[2 * words] = 0;
    text = longer;
  }
  int *ids = NULL, n = 0;
  int T = vlp_tokenize(tok, text, &ids, &n) ? 16 : n;
  vlp_free(ids);
  free(longer);
  return T;
}

/* Best of reps wall times after one warm-up; < 0 on failure (message printed). */
static double best_time(vlp_status (*fn)(const job *), const job *j, int reps) {
  double best = -1;
  for (int r = 0; r <= reps; r++) {
    double t0 = now_s();
    if (fn(j)) {
      fprintf(stderr, "vlp bench: %s\n", vlp_last_error());
      return -1;
    }
    double t = now_s() - t0;
    if (r > 0 && (best < 0 || t < best)) best = t;
  }
  return best;
}

/* Times one workload and keeps its row; 0 when it failed (message printed). */
static int time_workload(report *r, vlp_status (*fn)(const job *), const job *j, int reps,
                         const char *name, int prec, double flops, double load_s, int floor_batch) {
  double t = best_time(fn, j, reps);
  if (t > 0) add_row(r, name, j->n, prec, t, j->n, flops, load_s, floor_batch);
  return t > 0;
}

/* The f32 GEMM peak on the model's products: every layer shape at the larger batch, best of
 * reps runs each (as many chances at a quiet moment of a shared machine as the workloads
 * get, so their fractions of it are not inflated by a noisy peak). */
static double gemm_peak(const model_dims *d, int batch, int reps, int threads) {
  int T = d->vis_tokens * batch, D = d->sum.vision.hidden, M = d->vis_mlp;
  int shapes[][3] = {{T, D, D}, {T, M, D}, {T, D, M}};
  double best = 0;
  for (int i = 0; i < 3; i++) {
    if (shapes[i][0] <= 0 || shapes[i][1] <= 0 || shapes[i][2] <= 0) continue;
    double g = vlp_gemm_gflops(shapes[i][0], shapes[i][1], shapes[i][2], reps, threads);
    if (g > best) best = g;
  }
  return best;
}

/* The limits the fractions divide by, measured before (after = 0) and again after the
 * workloads; the better of the two counts, so a limit measured while the host was busy
 * does not flatter the figures. */
static void measure_limits(report *r, const model_dims *d, int after, int batch, int reps,
                           int threads, int captions, const int *precs, int np) {
  r->peak_at[after] = gemm_peak(d, batch, reps > 3 ? reps : 3, threads);
  if (r->peak_at[after] > r->peak) r->peak = r->peak_at[after];
  for (int p = 0; p < 3; p++) { /* f32's (the reference), and each asked precision's once */
    int asked = p == VLP_PRECISION_F32;
    for (int i = 0; i < np; i++) asked |= precs[i] == p;
    double g = asked ? vlp_isa_peak_gflops((vlp_precision)p, reps > 10 ? reps : 10, threads) : 0;
    if (g > r->isa[p]) r->isa[p] = g;
  }
  if (!captions) return;
  double bw = vlp_memory_read_gbs((size_t)128 << 20, reps > 5 ? reps : 5, threads);
  if (bw > r->read_gbs) r->read_gbs = bw;
}

static int parse_precisions(const char *list, int *precs) {
  int n = 0;
  char buf[64];
  snprintf(buf, sizeof buf, "%s", list);
  for (char *save = NULL, *t = strtok_r(buf, ",", &save); t && n < 3;
       t = strtok_r(NULL, ",", &save)) {
    int p = cli_precision_parse(t);
    if (p < 0) return -1;
    precs[n++] = p;
  }
  return n;
}

int cmd_bench(int argc, char **argv) {
  cli_args a;
  cli_args_init(&a, argc, argv, "bench");
  cli_common c = {0};
  int batch = 8, reps = 3, new_tokens = 20, json = 0, precs[3] = {VLP_PRECISION_F32}, np = 1;
  const char *opt, *pos;
  while (!a.failed && cli_next(&a, &opt, &pos)) {
    if (!opt)
      cli_usage_error(&a, "unexpected argument %s", pos);
    else if (!strcmp(opt, "--batch"))
      cli_int(&a, 1, 4096, &batch);
    else if (!strcmp(opt, "--reps"))
      cli_int(&a, 1, 1000, &reps);
    else if (!strcmp(opt, "--new-tokens"))
      cli_int(&a, 1, 512, &new_tokens);
    else if (!strcmp(opt, "--json"))
      json = 1;
    else if (!strcmp(opt, "--precision")) {
      const char *v = cli_value(&a);
      if (v && (np = parse_precisions(v, precs)) <= 0)
        cli_usage_error(&a, "--precision %s: a list of f32, bf16, int8", v);
    } else if (!cli_common_opt(&a, opt, &c))
      cli_usage_error(&a, "unknown option %s", opt);
  }
  if (c.help) {
    printf("%s", usage);
    return EXIT_ALL_OK;
  }
  if (a.failed) return EXIT_USAGE;
  if (!c.model) {
    fprintf(stderr, "vlp bench: no model: give -m MODEL_DIR (vlp bench --help)\n");
    return EXIT_USAGE;
  }
  model_dims d = {0};
  vlp_status st = vlp_model_info(c.model, &d.sum);
  if (!st) st = vlp_model_mlp_widths(c.model, &d.vis_mlp, &d.txt_mlp);
  if (!d.sum.supported && (!st || d.sum.architecture[0])) { /* config.json read */
    fprintf(stderr, "vlp bench: %s: architecture %s not supported\n", c.model,
            d.sum.architecture[0] ? d.sum.architecture : "(none given)");
    return EXIT_USAGE;
  }
  if (st) {
    fprintf(stderr, "vlp bench: %s\n", vlp_last_error());
    return EXIT_USAGE;
  }
  int side = d.sum.vision.image_size / (d.sum.vision.patch_size > 0 ? d.sum.vision.patch_size : 1);
  d.vis_patches = side * side;
  d.vis_tokens = d.vis_patches + (d.sum.arch == VLP_ARCH_SIGLIP ? 0 : 1);

  FILE *out = cli_open_output("bench", c.output);
  if (!out) return EXIT_USAGE;

  /* inputs: a photo-sized JPEG (decode + preprocess row) and a small image for encoders */
  vlp_image big = {0}, small = {0};
  unsigned char *jpg = NULL;
  unsigned long jpg_size = 0;
  if (make_image(&big, 4032, 3024) || encode_jpeg(&big, &jpg, &jpg_size) ||
      make_image(&small, 640, 480)) {
    fprintf(stderr, "vlp bench: out of memory making the test images\n");
    return EXIT_USAGE;
  }
  vlp_image *imgs = calloc((size_t)batch, sizeof *imgs);
  const char **texts = calloc((size_t)batch, sizeof *texts);
  report *r = calloc(1, sizeof *r);
  if (!imgs || !texts || !r) {
    fprintf(stderr, "vlp bench: out of memory\n");
    return EXIT_USAGE;
  }
  r->out = out, r->table = !json && !c.output && isatty(fileno(out));
  for (int i = 0; i < batch; i++) {
    imgs[i] = small;
    texts[i] = "a photo of a brown dog running on the beach next to the sea";
  }
  const char *question = "what is the dog doing on the beach?";

  int captions = d.sum.arch == VLP_ARCH_BLIP_CAPTION;
  measure_limits(r, &d, 0, batch, reps, c.threads, captions, precs, np);

  { /* decode + preprocess, once (no weights involved) */
    double best = -1;
    for (int rep = 0; rep <= reps; rep++) {
      double t0 = now_s();
      vlp_image im = {0};
      float *px = NULL;
      int S = 0;
      if (vlp_image_load_memory(jpg, jpg_size, "bench.jpg", &im) ||
          vlp_preprocess(c.model, &im, 0, &px, &S)) {
        fprintf(stderr, "vlp bench: %s\n", vlp_last_error());
        break;
      }
      vlp_image_free(&im);
      free(px);
      double t = now_s() - t0;
      if (rep > 0 && (best < 0 || t < best)) best = t;
    }
    if (best > 0) add_row(r, "decode+preprocess", 1, -1, best, 1, 0, 0, 0);
  }

  int rc = EXIT_ALL_OK;
  for (int pi = 0; pi < np; pi++) {
    const char *pname = prec_name(precs[pi]);
    vlp_model_params mp = vlp_model_default_params();
    mp.precision = (vlp_precision)precs[pi];
    mp.n_threads = c.threads;
    vlp_model *m = NULL;
    double t0 = now_s();
    if (vlp_model_load_with(c.model, &mp, &m)) {
      fprintf(stderr, "vlp bench: %s: %s\n", pname, vlp_last_error());
      rc = EXIT_SOME_FAILED;
      continue;
    }
    double load = now_s() - t0;
    vlp_session *s = cli_new_session("bench", m);
    if (!s) {
      vlp_model_free(m);
      rc = EXIT_SOME_FAILED;
      continue;
    }
    vlp_arch arch = vlp_model_arch(m);
    const int p = precs[pi], Tt = text_tokens(m, &d, texts[0]), Tq = text_tokens(m, &d, question);
    char vqa_wl[32], cap_wl[32];
    snprintf(vqa_wl, sizeof vqa_wl, "vqa %d tok", new_tokens);
    snprintf(cap_wl, sizeof cap_wl, "caption %d tok", new_tokens);
    int sizes[2] = {1, batch};
    for (int bi = 0; bi < (batch > 1 ? 2 : 1); bi++) {
      job j = {s, imgs, texts, question, sizes[bi], new_tokens};
      int ok = time_workload(r, run_image, &j, reps, "image", p, vision_flops(&d), load, 0);
      if (arch == VLP_ARCH_CLIP || arch == VLP_ARCH_BLIP_ITM || arch == VLP_ARCH_SIGLIP)
        ok &= time_workload(r, run_text, &j, reps, "text", p, text_flops(&d, Tt), load, 0);
      if (arch == VLP_ARCH_BLIP_ITM)
        ok &= time_workload(r, run_itm, &j, reps, "itm", p, itm_flops(&d, Tt), load, 0);
      if (arch == VLP_ARCH_BLIP_VQA)
        ok &=
            time_workload(r, run_vqa, &j, reps, vqa_wl, p, vqa_flops(&d, Tq, new_tokens), load, 0);
      if (arch == VLP_ARCH_BLIP_CAPTION)
        ok &= time_workload(r, run_caption, &j, reps, cap_wl, p, caption_flops(&d, new_tokens),
                            load, p == VLP_PRECISION_F32 ? j.n : 0);
      if (!ok) rc = EXIT_SOME_FAILED;
    }
    vlp_session_free(s);
    vlp_model_free(m);
  }
  measure_limits(r, &d, 1, batch, reps, c.threads, captions, precs, np);
  if (r->table) {
    fprintf(out, "model %s  gemm %s  kernels %s  threads %d  omp wait %s\n", c.model,
            vlp_gemm_backend(), vlp_kernel_isa(), c.threads > 0 ? c.threads : vlp_default_threads(),
            wait_policy());
    fprintf(out,
            "f32 GEMM peak on the model's shapes (this run, before / after the workloads): "
            "%.1f / %.1f GFLOP/s\n",
            r->peak_at[0], r->peak_at[1]);
    fprintf(out, "instruction peak (multiply-adds on registers, this run): f32 %.0f", r->isa[0]);
    if (r->isa[VLP_PRECISION_BF16] > 0) fprintf(out, ", bf16 %.0f", r->isa[VLP_PRECISION_BF16]);
    if (r->isa[VLP_PRECISION_INT8] > 0) fprintf(out, ", int8 %.0f", r->isa[VLP_PRECISION_INT8]);
    fprintf(out, " G(FL)OP/s\n");
    if (captions) fprintf(out, "memory read bandwidth (this run): %.1f GB/s\n", r->read_gbs);
    fprintf(out, "\n%-18s %5s  %-5s %10s %9s %9s %7s %7s %7s %8s %8s%s\n", "workload", "batch",
            "prec", "s/item", "items/s", "GFLOP/s", "frac", "of_isa", "load_s", "rss_MB", "peak_MB",
            captions ? "  /floor" : "");
  }
  for (int i = 0; i < r->n_rows; i++) {
    const bench_row *w = &r->rows[i];
    double fl = w->floor_batch > 0 && r->peak > 0 && r->read_gbs > 0
                    ? caption_floor_s(&d, new_tokens, w->floor_batch, r->peak, r->read_gbs)
                    : 0;
    print_row(r, w, fl);
  }
  free(r);
  free(imgs);
  free(texts);
  free(big.rgb);
  free(small.rgb);
  free(jpg);
  if (cli_close_output(out) && rc == EXIT_ALL_OK) rc = EXIT_SOME_FAILED;
  return rc;
}
