/* index_video: videos in the retrieval index, one entry per sampled frame (index_video.h). */
#include "index_video.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli_video.h"

int cli_is_video_path(const char *path) {
  static const char *const ext[] = {".mp4",  ".m4v", ".mov",  ".mkv", ".webm", ".avi", ".mpg",
                                    ".mpeg", ".ts",  ".m2ts", ".wmv", ".flv",  ".3gp", ".ogv"};
  const char *dot = strrchr(path, '.');
  if (!dot || strchr(dot, '/')) return 0;
  for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++)
    if (!strcasecmp(dot, ext[i])) return 1;
  return 0;
}

int index_rows_reserve(index_rows *r) {
  if (r->n < r->cap) return 0;
  int64_t cap = r->cap ? 2 * r->cap : 64;
  if ((size_t)cap > SIZE_MAX / ((size_t)r->dim * sizeof(float)) / 2) return -1;
  vlp_index_entry *e = realloc(r->ent, (size_t)cap * sizeof *e);
  if (!e) return -1;
  r->ent = e;
  float *m = realloc(r->emb, (size_t)cap * (size_t)r->dim * sizeof *m);
  if (!m) return -1;
  r->emb = m;
  r->cap = cap;
  return 0;
}

/* Rows of the old index sorted by path, to find a frame's old embedding. */
static const vlp_index *sort_ix;
static int cmp_row_path(const void *a, const void *b) {
  return strcmp(sort_ix->entries[*(const int64_t *)a].path,
                sort_ix->entries[*(const int64_t *)b].path);
}

/* Row of path in the old index, or -1. */
static int64_t old_row(index_rows *r, const vlp_index *old, const char *path) {
  if (!old || !old->count) return -1;
  if (!r->old_sorted) {
    if (!(r->old_sorted = malloc((size_t)old->count * sizeof *r->old_sorted))) return -1;
    for (int64_t i = 0; i < old->count; i++) r->old_sorted[i] = i;
    sort_ix = old;
    qsort(r->old_sorted, (size_t)old->count, sizeof *r->old_sorted, cmp_row_path);
  }
  int64_t lo = 0, hi = old->count;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    int c = strcmp(old->entries[r->old_sorted[mid]].path, path);
    if (!c) return r->old_sorted[mid];
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return -1;
}

void index_rows_free(index_rows *r) {
  free(r->ent);
  free(r->emb);
  free(r->old_sorted);
  cli_paths_free(&r->refs);
  memset(r, 0, sizeof *r);
}

typedef struct {
  vlp_session *s;
  const vlp_index_entry *file;
  const vlp_index *old;
  int reuse;
  index_rows *rows;
} add_ctx;

/* One sampled frame: a row embedded, or copied from the old index when its video is
 * unchanged. */
static int add_frame(void *ctx, const char *path, const vlp_image *img, double t, int64_t frame) {
  (void)frame;
  add_ctx *c = ctx;
  index_rows *rows = c->rows;
  char *ref = vlp_frame_ref(path, t);
  if (!ref || index_rows_reserve(rows)) {
    free(ref);
    char msg[4200];
    snprintf(msg, sizeof msg, "%s: out of memory", path);
    return vlp_set_error(VLP_ERR_NOMEM, msg);
  }
  float *row = rows->emb + (size_t)rows->n * (size_t)rows->dim;  // (dim)
  int64_t r = c->reuse ? old_row(rows, c->old, ref) : -1;
  if (r >= 0 && c->old->entries[r].hash == c->file->hash &&
      c->old->entries[r].size == c->file->size) {
    memcpy(row, c->old->emb + (size_t)r * (size_t)rows->dim, (size_t)rows->dim * sizeof(float));
    rows->unchanged++;
  } else if (vlp_embed_images(c->s, img, 1, 0, row)) {
    free(ref);
    return -1;
  } else {
    rows->embedded++;
  }
  cli_paths_add(&rows->refs, ref);
  free(ref);
  vlp_index_entry e = *c->file;
  e.path = rows->refs.paths[rows->refs.n - 1];
  rows->ent[rows->n++] = e;
  return 0;
}

int index_add_video(FILE *out, const char *cmd, vlp_session *sess, const vlp_index_entry *file,
                    const vlp_video_sampling *s, int progress, const vlp_index *old, int reuse,
                    index_rows *rows) {
  cli_frame_loop L = {.cmd = cmd, .key = "path", .out = out, .s = *s, .progress = progress};
  add_ctx c = {sess, file, old, reuse, rows};
  return cli_video_each_frame(&L, file->path, add_frame, NULL, &c);
}
