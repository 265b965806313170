/* api_index: queries of the retrieval index in a session (text, image or embedding), the
 * ITM rerank, and video-frame references (see vlp.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "fusion/api_types.h"
#include "index/index.h"

char *vlp_frame_ref(const char *video, double t) {
  char num[64];
  for (int prec = 6; prec <= 17; prec++) {
    snprintf(num, sizeof num, "%.*g", prec, t);
    if (strtod(num, NULL) == t) break;
  }
  size_t n = strlen(video) + strlen(num) + 4;
  char *s = malloc(n);
  if (s) snprintf(s, n, "%s#t=%s", video, num);
  return s;
}

int vlp_frame_ref_split(const char *ref, char **video, double *t) {
  const char *h = strstr(ref, "#t=");
  for (const char *p = h; p; p = strstr(p + 3, "#t=")) h = p; /* the last one */
  if (!h || h == ref) return 0;
  char *end;
  errno = 0;
  double x = strtod(h + 3, &end);
  if (errno || end == h + 3 || *end || !isfinite(x) || x < 0) return 0;
  if (!(*video = strndup(ref, (size_t)(h - ref)))) return 0;
  *t = x;
  return 1;
}

vlp_status vlp_load_image_or_frame(const char *ref, vlp_image *img) {
  char *video;
  double t;
  if (!vlp_frame_ref_split(ref, &video, &t)) return vlp_image_load(ref, img);
  vlp_video_sampling s = vlp_video_default_sampling();
  s.start = t;
  s.max_frames = 1;
  vlp_video *v;
  vlp_status st = vlp_video_open(video, &s, &v);
  if (!st) {
    double ft;
    int64_t idx;
    int got = 0;
    st = vlp_video_next(v, img, &ft, &idx, &got);
    if (!st && !got) st = vlp_fail(VLP_ERR_FORMAT, "%s: no frame at %g s", video, t);
    vlp_video_close(v);
  }
  free(video);
  return st;
}

/* ---- queries ------------------------------------------------------------------------- */

static vlp_status same_model(const vlp_session *s, const vlp_index *ix) {
  const char *arch = vlp_arch_name(s->m->arch);
  if (strcmp(arch, ix->arch) || vlp_model_embed_dim(s->m) != ix->dim)
    return vlp_fail(VLP_ERR_INVALID,
                    "the model is a %s with %d-dim embeddings but the index %s was built with a "
                    "%s with %d-dim embeddings (%s)",
                    arch, vlp_model_embed_dim(s->m), ix->dir, ix->arch, ix->dim, ix->model);
  return VLP_OK;
}

vlp_status vlp_index_query_embedding(const vlp_index *ix, const float *q, int k,
                                     vlp_index_hit *hits, int *n) {
  *n = 0;
  if (k <= 0) return vlp_fail(VLP_ERR_INVALID, "vlp_index_query: k = %d", k);
  int64_t *rows = malloc((size_t)k * sizeof *rows);
  float *scores = malloc((size_t)k * sizeof *scores);
  if (!rows || !scores) {
    free(rows);
    free(scores);
    return vlp_fail(VLP_ERR_NOMEM, "vlp_index_query: out of memory");
  }
  *n = vlp_index_search(ix, q, k, rows, scores);
  for (int i = 0; i < *n; i++) hits[i] = (vlp_index_hit){.row = rows[i], .score = scores[i]};
  free(rows);
  free(scores);
  return VLP_OK;
}

/* Embed (text or image) with s and search. */
static vlp_status query(vlp_session *s, const vlp_index *ix, const char *text, const vlp_image *img,
                        int k, vlp_index_hit *hits, int *n) {
  *n = 0;
  vlp_status st = same_model(s, ix);
  if (st) return st;
  float *q = malloc((size_t)ix->dim * sizeof *q);
  if (!q) return vlp_fail(VLP_ERR_NOMEM, "vlp_index_query: out of memory");
  st = text ? vlp_embed_texts(s, &text, 1, q) : vlp_embed_images(s, img, 1, 0, q);
  if (!st) st = vlp_index_query_embedding(ix, q, k, hits, n);
  free(q);
  return st;
}

vlp_status vlp_index_query_text(vlp_session *s, const vlp_index *ix, const char *text, int k,
                                vlp_index_hit *hits, int *n) {
  if (!text) return vlp_fail(VLP_ERR_INVALID, "vlp_index_query_text: no text");
  return query(s, ix, text, NULL, k, hits, n);
}

vlp_status vlp_index_query_image(vlp_session *s, const vlp_index *ix, const vlp_image *img, int k,
                                 vlp_index_hit *hits, int *n) {
  if (!img) return vlp_fail(VLP_ERR_INVALID, "vlp_index_query_image: no image");
  return query(s, ix, NULL, img, k, hits, n);
}

/* Reranked hits first (by itm, best first), then the others; ties by score, then row. */
static int cmp_itm(const void *a, const void *b) {
  const vlp_index_hit *x = a, *y = b;
  if (x->reranked != y->reranked) return x->reranked ? -1 : 1;
  if (x->reranked && x->itm != y->itm) return x->itm > y->itm ? -1 : 1;
  if (x->score != y->score) return x->score > y->score ? -1 : 1;
  return (x->row > y->row) - (x->row < y->row);
}

vlp_status vlp_index_rerank(vlp_session *s, const vlp_index *ix, const char *text,
                            vlp_index_hit *hits, int n, vlp_entry_error_fn on_error, void *ctx) {
  vlp_status st = api_need(s->m, VLP_ARCH_BLIP_ITM);
  if (!st) st = same_model(s, ix);
  if (st) return st;
  for (int i = 0; i < n; i++) {
    if (hits[i].row < 0 || hits[i].row >= ix->count)
      return vlp_fail(VLP_ERR_INVALID, "vlp_index_rerank: row %lld is not in the index",
                      (long long)hits[i].row);
    const char *path = ix->entries[hits[i].row].path;
    vlp_image img = {0};
    vlp_features *f = NULL;
    float itm = 0;
    hits[i].reranked = 0;
    if (vlp_load_image_or_frame(path, &img) || vlp_encode_images(s, &img, 1, 0, &f) ||
        vlp_itm(s, f, 0, text, &itm, NULL)) {
      if (on_error) on_error(ctx, path, vlp_last_error());
    } else {
      hits[i].itm = itm;
      hits[i].reranked = 1;
    }
    vlp_features_free(f);
    vlp_image_free(&img);
  }
  qsort(hits, (size_t)n, sizeof *hits, cmp_itm);
  return VLP_OK;
}
