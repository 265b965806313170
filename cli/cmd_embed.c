/* vlp embed: projected, L2-normalised image or text embeddings (CLIP, SigLIP, BLIP
 * retrieval). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_video.h"

static const char usage[] =
    "usage: vlp embed -m MODEL_DIR [--image PATH...] [--text TEXT...] [--video PATH...]\n"
    "                 [--npy OUT.npy]\n\n"
    "Prints {\"input\", \"embedding\"} per input: CLIP / SigLIP image_embeds / text_embeds,\n"
    "or BLIP image_feat / text_feat. --image, --text and --video switch what the following "
    "arguments\n"
    "are; a folder after --image adds its files. A video gives one {\"input\", \"t\", \"frame\",\n"
    "\"embedding\"} per sampled frame (sampling options below). --npy also writes all\n"
    "embeddings, in output order, as one float32 array (N, dim); inputs that failed are\n"
    "left out of it. Only the towers the inputs need are loaded: texts alone load no vision\n"
    "tower, images alone no text tower.\n\n"
    "options:\n"
    "  --image-size N          run the vision tower at N x N (interpolated positions)\n"
    "  --batch N               images per forward pass (default 16); texts per call (default\n"
    "                          256, in passes of at most ~1024 padded tokens)\n"
    "  -o FILE                 write the JSON lines to FILE instead of stdout\n"
    "%s"
    "  --precision P           f32 (default, exact), bf16 or int8: faster, see README\n"
    "  --threads N             threads (default: VLP_THREADS or all cores)\n";

static void write_embedding(FILE *out, const char *input, const float *e, int dim) {
  fputs("{\"input\": ", out);
  json_write_str(out, input);
  fputs(", \"embedding\": ", out);
  json_write_floats(out, e, dim);
  fputs("}\n", out);
  cli_flush(out);
}

typedef struct {
  FILE *out;
  vlp_session *s;
  int size, dim;
  float **all; /* (*cap, dim), grown as needed; *done rows used */
  int *done, *cap;
} embed_ctx;

/* Frames through the vision tower together (each alone when that fails, so that only the
 * frame at fault stops the video), appended to *all in order. */
static int embed_frames(void *ctx, const char *path, const vlp_image *imgs, const double *t,
                        const int64_t *frame, int n) {
  embed_ctx *c = ctx;
  if (*c->done + n > *c->cap) {
    int ncap = *c->done + n > 2 * *c->cap ? *c->done + n : 2 * *c->cap;
    float *grown = realloc(*c->all, (size_t)ncap * (size_t)c->dim * sizeof *grown);
    if (!grown) {
      vlp_set_error(VLP_ERR_NOMEM, "out of memory");
      return 0;
    }
    *c->all = grown, *c->cap = ncap;
  }
  float *e = *c->all + (size_t)*c->done * (size_t)c->dim; /* (n, dim) */
  int together = n > 1 && !vlp_embed_images(c->s, imgs, n, c->size, e);
  for (int k = 0; k < n; k++) {
    float *ek = e + (size_t)k * (size_t)c->dim;
    if (!together && vlp_embed_images(c->s, &imgs[k], 1, c->size, ek)) return k;
    fputs("{", c->out);
    cli_video_write_frame_fields(c->out, "input", path, t[k], frame[k]);
    fputs(", \"embedding\": ", c->out);
    json_write_floats(c->out, ek, c->dim);
    fputs("}\n", c->out);
    cli_flush(c->out);
    (*c->done)++;
  }
  return n;
}

/* Embed the sampled frames of one video, appending to *all (grown as needed; *done rows
 * used, *cap rows allocated). Returns 1 when the video failed (reported). */
static int embed_video(FILE *out, vlp_session *sess, const char *path, const vlp_video_sampling *s,
                       int progress, int size, int batch, float **all, int *done, int *cap) {
  cli_frame_loop L = {.cmd = "embed",
                      .key = "input",
                      .out = out,
                      .s = *s,
                      .progress = progress,
                      .batch = batch,
                      .fit = vlp_session_model(sess),
                      .fit_size = size};
  embed_ctx c = {out, sess, size, vlp_model_embed_dim(vlp_session_model(sess)), all, done, cap};
  return cli_video_each_frame(&L, path, embed_frames, NULL, &c);
}

typedef struct {
  size_t len;
  int i;
} text_slot;

/* By length, then input order: batches of similar length pad less. */
static int by_length(const void *a, const void *b) {
  const text_slot *x = a, *y = b;
  return x->len != y->len ? (x->len < y->len ? -1 : 1) : (x->i > y->i) - (x->i < y->i);
}

/* Texts per call of vlp_embed_texts without --batch: the library runs a call's texts in
 * passes of similar length (CLIP_TEXT_PASS_ROWS), so many short texts share a pass. */
enum { TEXT_CALL_DEFAULT = 256 };

/* The texts in calls of `batch` texts of similar length (the longest of a pass sets its
 * length); results appended to all (rows *done..) and written in input order. A call that
 * fails is run text by text, so that only the text at fault fails. Returns the failures. */
static int embed_texts(FILE *out, vlp_session *sess, const char **texts, int nt, int batch, int dim,
                       float *all, int *done) {
  text_slot *order = malloc((size_t)nt * sizeof *order);
  float *e = malloc((size_t)nt * (size_t)dim * sizeof *e); /* row i: text i */
  char **err = calloc((size_t)nt, sizeof *err);
  const char **bt = malloc((size_t)batch * sizeof *bt);
  if (!order || !e || !err || !bt) {
    free(order), free(e), free(err), free(bt);
    fprintf(stderr, "vlp embed: out of memory for %d texts\n", nt);
    return nt;
  }
  for (int i = 0; i < nt; i++) order[i] = (text_slot){strlen(texts[i]), i};
  qsort(order, (size_t)nt, sizeof *order, by_length);
  float *eb = all + (size_t)*done * (size_t)dim; /* free rows of all, as scratch */
  for (int i0 = 0; i0 < nt; i0 += batch) {
    int n = nt - i0 < batch ? nt - i0 : batch;
    for (int k = 0; k < n; k++) bt[k] = texts[order[i0 + k].i];
    int ok = vlp_embed_texts(sess, bt, n, eb) == VLP_OK;
    for (int k = 0; k < n; k++) {
      float *row = e + (size_t)order[i0 + k].i * (size_t)dim;
      if (ok)
        memcpy(row, eb + (size_t)k * (size_t)dim, (size_t)dim * sizeof *row);
      else if (vlp_embed_texts(sess, &bt[k], 1, row))
        err[order[i0 + k].i] = strdup(vlp_last_error());
    }
  }
  int failed = 0;
  for (int i = 0; i < nt && !ferror(out); i++) {
    if (err[i]) {
      cli_report_error(out, "embed", "input", texts[i], err[i]);
      failed++;
      continue;
    }
    float *row = all + (size_t)*done * (size_t)dim;
    memcpy(row, e + (size_t)i * (size_t)dim, (size_t)dim * sizeof *row);
    write_embedding(out, texts[i], row, dim);
    (*done)++;
  }
  for (int i = 0; i < nt; i++) free(err[i]);
  free(order), free(e), free(err), free(bt);
  return failed;
}

int cmd_embed(int argc, char **argv) {
  cli_args a;
  cli_common c = {0};
  cli_paths images = {0}, videos = {0};
  vlp_video_sampling sampling = cli_video_default_sampling();
  cli_shard shard = {0};
  const char *opt, *pos, *npy = NULL;
  const char **texts = calloc((size_t)argc, sizeof *texts);
  int nt = 0, size = 0, mode = 0, progress = 0; /* mode: 1 images, 2 texts, 3 videos */
  int batch = 0;                                /* 0: not given */
  cli_args_init(&a, argc, argv, "embed");
  while (!a.failed && cli_next(&a, &opt, &pos)) {
    if (pos && mode == 1)
      cli_paths_add_input(&images, pos);
    else if (pos && mode == 2)
      texts[nt++] = pos;
    else if (pos && mode == 3)
      cli_paths_add(&videos, pos);
    else if (pos)
      cli_usage_error(&a, "say --image or --text before '%s'", pos);
    else if (!strcmp(opt, "--image")) {
      mode = 1;
      if (a.inline_v) cli_paths_add_input(&images, a.inline_v);
    } else if (!strcmp(opt, "--text")) {
      mode = 2;
      if (a.inline_v) texts[nt++] = a.inline_v;
    } else if (!strcmp(opt, "--video")) {
      mode = 3;
      if (a.inline_v) cli_paths_add(&videos, a.inline_v);
    } else if (!strcmp(opt, "--npy"))
      npy = cli_value(&a);
    else if (cli_batch_opt(&a, opt, &batch))
      continue;
    else if (!strcmp(opt, "--image-size"))
      cli_int(&a, 1, 8192, &size);
    else if (!cli_video_opt(&a, opt, &sampling, &progress) && !cli_shard_opt(&a, opt, &shard) &&
             !cli_common_opt(&a, opt, &c))
      cli_usage_error(&a, "unknown option %s", opt);
  }
  if (c.help) {
    printf(usage, cli_shard_usage);
    printf("\n%s", cli_video_usage);
    cli_paths_free(&videos);
    free(texts);
    cli_paths_free(&images);
    return EXIT_ALL_OK;
  }
  if (!a.failed && !images.n && !nt && !videos.n)
    cli_usage_error(&a, "no --image, --text or --video inputs given");
  /* every shard would embed the same texts again */
  if (!a.failed && shard.n && nt)
    cli_usage_error(&a, "--shard splits --image and --video files; give --text inputs without it");
  if (a.failed) {
    cli_paths_free(&videos);
    free(texts);
    cli_paths_free(&images);
    return EXIT_USAGE;
  }
  cli_paths_keep_shard(&images, &shard, "embed");
  cli_paths_keep_shard(&videos, &shard, "embed");
  /* texts go to the library many at a time: it splits them into passes by padded tokens */
  const int text_batch = batch ? batch : TEXT_CALL_DEFAULT;
  if (!batch) batch = CLI_BATCH_DEFAULT;
  /* only the towers the inputs need: texts alone skip loading the vision tower */
  c.parts = (images.n || videos.n ? VLP_LOAD_VISION : 0u) | (nt ? VLP_LOAD_TEXT : 0u);
  vlp_model *m;
  vlp_session *sess;
  FILE *out =
      cli_start("embed", &c, ARCH(VLP_ARCH_CLIP) | ARCH(VLP_ARCH_SIGLIP) | ARCH(VLP_ARCH_BLIP_ITM),
                &m, &sess);
  if (!out) {
    cli_paths_free(&videos);
    free(texts);
    cli_paths_free(&images);
    return EXIT_USAGE;
  }
  int dim = vlp_model_embed_dim(m), failed = 0, done = 0;
  int cap = images.n + nt;
  float *all = malloc(((size_t)cap + 1) * (size_t)dim * sizeof *all);
  float *emb = malloc((size_t)batch * (size_t)dim * sizeof *emb); /* (batch, dim) */
  vlp_image_reader *rd = NULL;
  cli_batch b = {0};
  if (all && images.n &&
      (!emb || !(rd = cli_reader_start("embed", m, size, images.paths, images.n, batch)) ||
       cli_batch_init(&b, batch))) {
    if (!emb || rd) fprintf(stderr, "vlp embed: out of memory\n");
    free(all);
    all = NULL;
  }
  /* Images in batches of --batch, decoded ahead by the reader; results in input order. */
  for (int i0 = 0; all && !ferror(out) && i0 < images.n; i0 += batch) {
    int n = images.n - i0 < batch ? images.n - i0 : batch;
    cli_batch_run(&b, sess, rd, n, size, emb);
    for (int k = 0; k < n; k++) {
      int fi;
      if (!cli_batch_get(&b, k, &fi)) {
        cli_report_error(out, "embed", "input", images.paths[i0 + k], cli_batch_error(&b, k));
        failed++;
        continue;
      }
      float *row = all + (size_t)done * (size_t)dim;
      memcpy(row, emb + (size_t)k * (size_t)dim, (size_t)dim * sizeof *row);
      write_embedding(out, images.paths[i0 + k], row, dim);
      done++;
    }
  }
  cli_batch_free(&b);
  vlp_image_reader_free(rd);
  free(emb);
  /* Texts likewise ("" is a text: start and end tokens). */
  if (all && nt) failed += embed_texts(out, sess, texts, nt, text_batch, dim, all, &done);
  for (int i = 0; all && !ferror(out) && i < videos.n; i++)
    failed += embed_video(out, sess, videos.paths[i], &sampling, progress, size, batch, &all, &done,
                          &cap);
  int bad_out = !all || cli_close_output(out);
  if (all && npy && vlp_write_npy_f32(npy, all, 2, (const int64_t[]){done, dim})) {
    fprintf(stderr, "vlp embed: %s\n", vlp_last_error());
    bad_out = 1;
  }
  free(all);
  vlp_session_free(sess);
  vlp_model_free(m);
  free(texts);
  cli_paths_free(&images);
  cli_paths_free(&videos);
  return bad_out ? EXIT_USAGE : failed ? EXIT_SOME_FAILED : EXIT_ALL_OK;
}
