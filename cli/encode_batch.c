/* encode_batch: images from a vlp_image_reader through the vision tower in batches (vlp tag,
 * vlp embed). The images of a batch that load are encoded together; a file that cannot be
 * loaded fails alone, and when the batch's encode fails each image is encoded on its own, so
 * that only the image at fault fails, with the message it would have had at batch 1. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_batch_init(cli_batch *b, int cap) {
  memset(b, 0, sizeof *b);
  b->cap = cap;
  b->own = calloc((size_t)cap, sizeof *b->own);
  b->at = calloc((size_t)cap, sizeof *b->at);
  b->err = calloc((size_t)cap, sizeof *b->err);
  b->imgs = calloc((size_t)cap, sizeof *b->imgs);
  if (b->own && b->at && b->err && b->imgs) return 0;
  cli_batch_free(b);
  return -1;
}

static void release(cli_batch *b) {
  vlp_features_free(b->all);
  b->all = NULL;
  for (int k = 0; k < b->n; k++) {
    vlp_features_free(b->own[k]);
    b->own[k] = NULL;
    free(b->err[k]);
    b->err[k] = NULL;
  }
  b->n = 0;
}

static void fail(cli_batch *b, int k) {
  b->at[k] = -1;
  b->err[k] = strdup(vlp_last_error());
}

/* Embeddings of features f into rows of emb for the images k of the batch it holds. */
static void embed_rows(cli_batch *b, const vlp_features *f, float *emb, int dim) {
  int count = vlp_features_count(f);
  float *rows = malloc((size_t)count * (size_t)dim * sizeof *rows);
  vlp_status st =
      rows ? vlp_features_embeddings(f, rows) : vlp_set_error(VLP_ERR_NOMEM, "out of memory");
  for (int k = 0; k < b->n; k++) {
    if (b->at[k] < 0 || (b->own[k] ? b->own[k] : b->all) != f) continue;
    if (st)
      fail(b, k);
    else
      memcpy(emb + (size_t)k * (size_t)dim, rows + (size_t)b->at[k] * (size_t)dim,
             (size_t)dim * sizeof *emb);
  }
  free(rows);
}

void cli_batch_run(cli_batch *b, vlp_session *s, vlp_image_reader *r, int n, int image_size,
                   float *emb) {
  release(b);
  b->n = n;
  int good = 0;
  for (int k = 0; k < n; k++) {
    if (vlp_image_reader_next(r, &b->imgs[good]))
      fail(b, k);
    else
      b->at[k] = good++;
  }
  if (good && vlp_encode_images(s, b->imgs, good, image_size, &b->all)) {
    b->all = NULL;
    for (int k = 0; k < n; k++) {
      if (b->at[k] < 0) continue;
      if (good == 1 || vlp_encode_images(s, &b->imgs[b->at[k]], 1, image_size, &b->own[k])) {
        b->own[k] = NULL;
        fail(b, k);
      } else {
        b->at[k] = 0;
      }
    }
  }
  for (int j = 0; j < good; j++) vlp_image_free(&b->imgs[j]);
  if (!emb) return;
  int dim = vlp_model_embed_dim(vlp_session_model(s));
  if (b->all) embed_rows(b, b->all, emb, dim);
  for (int k = 0; k < n; k++)
    if (b->own[k]) embed_rows(b, b->own[k], emb, dim);
}

const vlp_features *cli_batch_get(const cli_batch *b, int k, int *i) {
  *i = b->at[k];
  if (b->at[k] < 0) return NULL;
  return b->own[k] ? b->own[k] : b->all;
}

const char *cli_batch_error(const cli_batch *b, int k) {
  return b->err[k] ? b->err[k] : "out of memory";
}

void cli_batch_free(cli_batch *b) {
  if (b->own && b->err) release(b);
  free(b->own);
  free(b->at);
  free(b->err);
  free(b->imgs);
  memset(b, 0, sizeof *b);
}

vlp_image_reader *cli_reader_start(const char *cmd, const vlp_model *m, int image_size,
                                   char *const *paths, int n, int ahead) {
  vlp_image_reader *r = NULL;
  vlp_status st = vlp_image_reader_new(m, image_size, ahead, &r);
  for (int i = 0; !st && i < n; i++) st = vlp_image_reader_add(r, paths[i]);
  if (!st) return r;
  fprintf(stderr, "vlp %s: %s\n", cmd, vlp_last_error());
  vlp_image_reader_free(r);
  return NULL;
}

int cli_batch_opt(cli_args *a, const char *opt, int *batch) {
  if (strcmp(opt, "--batch")) return 0;
  cli_int(a, 1, 1024, batch);
  return 1;
}
