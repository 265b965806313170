/* index_build: vlp_index_build, a retrieval index made or updated from a list of files
 * (images, and videos by extension: one entry per sampled frame). An update embeds only
 * files whose content is new (by hash and size, so a moved file keeps its embedding),
 * drops the entries of files that are not in the list, and replaces the index in one
 * commit (index/store.c): a build that fails or is cancelled leaves the old index. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/error.h"
#include "fusion/api_types.h"
#include "vlp.h"

/* Images per forward pass when the options leave it to vlp (batch 0) and the products are
 * batch invariant; as vlp embed's default. */
#define INDEX_BATCH 16

vlp_index_build_options vlp_index_build_default_options(void) {
  vlp_index_build_options o = {0};
  o.video = vlp_video_default_sampling();
  o.video.mode = VLP_SAMPLE_EVERY; /* one frame per second, as `vlp video` */
  o.video.every = 1;
  o.batch = 0; /* INDEX_BATCH where that gives the same index as batch 1 (vlp.h) */
  return o;
}

int vlp_is_video_path(const char *path) {
  static const char *const ext[] = {".mp4",  ".m4v", ".mov",  ".mkv", ".webm", ".avi", ".mpg",
                                    ".mpeg", ".ts",  ".m2ts", ".wmv", ".flv",  ".3gp", ".ogv"};
  const char *dot = strrchr(path, '.');
  if (!dot || strchr(dot, '/')) return 0;
  for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++)
    if (!strcasecmp(dot, ext[i])) return 1;
  return 0;
}

/* Old rows by content, for reuse of unchanged (or moved) files. */
typedef struct {
  uint64_t hash;
  int64_t size, row;
} hash_row;

static int cmp_hash(const void *a, const void *b) {
  const hash_row *x = a, *y = b;
  if (x->hash != y->hash) return x->hash < y->hash ? -1 : 1;
  return x->size < y->size ? -1 : x->size > y->size;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* An old row by its path; path first, so cmp_str orders these too. */
typedef struct {
  const char *path;
  int64_t row;
} path_row;

/* One batch through the model: images imgs[0..) embedded into rows of emb; slot k (a file
 * of the batch, in order) went as st[k], with message err[k] and its row row[k]. */
typedef struct {
  vlp_image *imgs; /* (batch) */
  float *emb;      /* (batch, dim) */
  vlp_status *st;  /* (batch) */
  char **err;      /* (batch) */
  int *row, *pos;  /* (batch) slot k's row; the slot of image j */
  int n, next;     /* slots in the batch; the next one to take */
} slots;

/* One build: the old index and its lookups, the growing new rows. */
typedef struct {
  vlp_session *s;
  const vlp_index_build_options *o;
  vlp_index *old;
  int reuse;         /* old embeddings come from this model */
  hash_row *by_hash; /* (old->count) */
  path_row *by_path; /* (old->count) sorted by path */
  vlp_index_entry *ent;
  float *emb;   /* (cap, dim) */
  char **owned; /* (cap) the path strings of ent */
  int64_t n, cap;
  int dim;
  vlp_index_build_stats st;
  /* images (or frames) are embedded a batch at a time; image files are decoded ahead by rd */
  int batch;
  vlp_image_reader *rd;
  int queued; /* image files queued in rd and not taken */
  slots files, frames;
} build;

static void report(const build *b, const char *path, const char *kind, const char *msg) {
  if (b->o->report) b->o->report(b->o->report_ctx, path, kind, msg);
}

static vlp_status reserve(build *b) {
  if (b->n < b->cap) return VLP_OK;
  int64_t cap = b->cap ? 2 * b->cap : 64;
  if ((size_t)cap > SIZE_MAX / ((size_t)b->dim * sizeof(float)) / 2)
    return vlp_fail(VLP_ERR_NOMEM, "index: too many entries");
  vlp_index_entry *e = realloc(b->ent, (size_t)cap * sizeof *e);
  if (e) b->ent = e;
  char **o = e ? realloc(b->owned, (size_t)cap * sizeof *o) : NULL;
  if (o) b->owned = o;
  float *m = o ? realloc(b->emb, (size_t)cap * (size_t)b->dim * sizeof *m) : NULL;
  if (!m) return vlp_fail(VLP_ERR_NOMEM, "index: out of memory");
  b->emb = m;
  b->cap = cap;
  return VLP_OK;
}

/* Append an entry (its path copied) whose embedding is already in row n. */
static vlp_status push(build *b, const vlp_index_entry *e, const char *path) {
  char *p = strdup(path);
  if (!p) return vlp_fail(VLP_ERR_NOMEM, "index: out of memory");
  b->owned[b->n] = p;
  b->ent[b->n] = *e;
  b->ent[b->n].path = p;
  b->n++;
  return VLP_OK;
}

static int64_t old_row_of(const build *b, const char *path) {
  if (!b->by_path) return -1;
  path_row key = {path, 0};
  const path_row *hit = bsearch(&key, b->by_path, (size_t)b->old->count, sizeof key, cmp_str);
  return hit ? hit->row : -1;
}

static vlp_status prepare_old(build *b) {
  int64_t n = b->old ? b->old->count : 0;
  if (!n) return VLP_OK;
  b->by_hash = malloc((size_t)n * sizeof *b->by_hash);
  b->by_path = malloc((size_t)n * sizeof *b->by_path);
  if (!b->by_hash || !b->by_path) return vlp_fail(VLP_ERR_NOMEM, "index: out of memory");
  for (int64_t i = 0; i < n; i++) {
    b->by_hash[i] = (hash_row){b->old->entries[i].hash, b->old->entries[i].size, i};
    b->by_path[i] = (path_row){b->old->entries[i].path, i};
  }
  qsort(b->by_hash, (size_t)n, sizeof *b->by_hash, cmp_hash);
  qsort(b->by_path, (size_t)n, sizeof *b->by_path, cmp_str);
  return VLP_OK;
}

static vlp_status slots_alloc(slots *q, int batch, int dim) {
  q->imgs = calloc((size_t)batch, sizeof *q->imgs);
  q->emb = malloc((size_t)batch * (size_t)dim * sizeof *q->emb);
  q->st = calloc((size_t)batch, sizeof *q->st);
  q->err = calloc((size_t)batch, sizeof *q->err);
  q->row = calloc((size_t)batch, sizeof *q->row);
  q->pos = calloc((size_t)batch, sizeof *q->pos);
  if (q->imgs && q->emb && q->st && q->err && q->row && q->pos) return VLP_OK;
  return vlp_fail(VLP_ERR_NOMEM, "index: out of memory");
}

/* Release the batch's images and messages (the slots stay allocated). */
static void slots_clear(slots *q, int batch) {
  for (int k = 0; q->imgs && q->err && k < batch; k++) {
    vlp_image_free(&q->imgs[k]);
    free(q->err[k]);
    q->err[k] = NULL;
  }
  q->n = q->next = 0;
}

static void slots_free(slots *q, int batch) {
  slots_clear(q, batch);
  free(q->imgs);
  free(q->emb);
  free(q->st);
  free(q->err);
  free(q->row);
  free(q->pos);
}

/* q->imgs[0..n) embedded together into rows 0..n of q->emb; when that fails, each alone,
 * so that only the image at fault fails. Image j's outcome goes to slot q->pos[j] (pos NULL:
 * slot j). Returns what stops the build (out of memory, cancelled), else VLP_OK. */
static vlp_status embed_each(const build *b, slots *q, const int *pos, int n) {
  vlp_status st = n ? vlp_embed_images(b->s, q->imgs, n, 0, q->emb) : VLP_OK;
  if (st == VLP_ERR_CANCELLED) return st;
  for (int j = 0; j < n; j++) {
    int k = pos ? pos[j] : j;
    q->row[k] = j;
    q->st[k] = st;
    if (st && n > 1)
      q->st[k] = vlp_embed_images(b->s, &q->imgs[j], 1, 0, q->emb + (size_t)j * (size_t)b->dim);
    if (q->st[k] == VLP_ERR_NOMEM || q->st[k] == VLP_ERR_CANCELLED) return q->st[k];
    if (q->st[k]) q->err[k] = strdup(vlp_last_error());
  }
  return VLP_OK;
}

/* The next n queued image files from the reader, embedded together into b->files; a file
 * that cannot be read fails alone. */
static vlp_status embed_queued(build *b, int n) {
  slots *q = &b->files;
  slots_clear(q, b->batch);
  int good = 0;
  for (int k = 0; k < n; k++) {
    q->st[k] = vlp_image_reader_next(b->rd, &q->imgs[good]);
    if (q->st[k] == VLP_ERR_NOMEM) return q->st[k];
    if (q->st[k])
      q->err[k] = strdup(vlp_last_error());
    else
      q->pos[good++] = k;
  }
  q->n = n;
  b->queued -= n;
  return embed_each(b, q, q->pos, good);
}

static void report_failed(build *b, const char *path, vlp_status st, const char *msg) {
  report(b, path, "error", msg ? msg : vlp_status_str(st));
  b->st.failed++;
}

/* An image file whose old embedding is kept (old row >= 0) or, else, the next image of the
 * embedded batch (embedding the next batch first when this one is used up). A file that
 * cannot be read or decoded is reported and left out. */
static vlp_status add_image(build *b, const vlp_index_entry *e, int64_t old) {
  vlp_status st = reserve(b);
  if (st) return st;
  float *row = b->emb + (size_t)b->n * (size_t)b->dim;  // (dim)
  if (old >= 0) {
    memcpy(row, b->old->emb + (size_t)old * (size_t)b->dim, (size_t)b->dim * sizeof *row);
    b->st.unchanged++;
    return push(b, e, e->path);
  }
  slots *q = &b->files;
  if (q->next == q->n && (st = embed_queued(b, b->queued < b->batch ? b->queued : b->batch)))
    return st;
  int k = q->next++;
  if (q->st[k]) {
    report_failed(b, e->path, q->st[k], q->err[k]);
    return VLP_OK;
  }
  memcpy(row, q->emb + (size_t)q->row[k] * (size_t)b->dim, (size_t)b->dim * sizeof *row);
  b->st.embedded++;
  return push(b, e, e->path);
}

/* Frames of a video waiting for their batch: fitted images, their refs, old rows. */
typedef struct {
  char *ref;
  int64_t old; /* row of the old index kept, or -1: embedded in the batch */
} frame_ref;

/* Embed the n pending frames that need it together, then append all n in order; a frame
 * that fails ends the video there (its error returned, frames before it kept). */
static vlp_status flush_frames(build *b, const vlp_index_entry *e, frame_ref *fr, int n) {
  slots *q = &b->frames;
  int ne = 0; /* frames to embed: q->imgs[0..ne) */
  for (int k = 0; k < n; k++) ne += fr[k].old < 0;
  vlp_status st = embed_each(b, q, NULL, ne);
  for (int k = 0, j = 0; !st && k < n; k++) {
    if ((st = reserve(b))) break;
    float *row = b->emb + (size_t)b->n * (size_t)b->dim;  // (dim)
    if (fr[k].old >= 0) {
      memcpy(row, b->old->emb + (size_t)fr[k].old * (size_t)b->dim, (size_t)b->dim * sizeof *row);
      b->st.unchanged++;
    } else if ((st = q->st[j]) != VLP_OK) {
      vlp_set_error(st, q->err[j] ? q->err[j] : vlp_status_str(st));
      break;
    } else {
      memcpy(row, q->emb + (size_t)j++ * (size_t)b->dim, (size_t)b->dim * sizeof *row);
      b->st.embedded++;
    }
    st = push(b, e, fr[k].ref);
  }
  for (int k = 0; k < n; k++) free(fr[k].ref);
  slots_clear(q, b->batch);
  return st;
}

/* A video: one entry per sampled frame, path "<video>#t=<seconds>", the video's size,
 * mtime and hash. Frames of an unchanged video keep their embeddings; the others go
 * through the model a batch at a time. A video that fails part way keeps the frames before
 * the damage and is reported. */
static vlp_status add_video(build *b, const vlp_index_entry *e) {
  vlp_video *v;
  vlp_status st = vlp_video_open(e->path, &b->o->video, &v);
  if (st) {
    if (st == VLP_ERR_NOMEM) return st;
    report(b, e->path, "error", vlp_last_error());
    b->st.failed++;
    return VLP_OK;
  }
  frame_ref *fr = malloc((size_t)b->batch * sizeof *fr);
  int n = 0, ne = 0; /* pending frames, of them to embed */
  if (!fr) st = vlp_fail(VLP_ERR_NOMEM, "index: out of memory");
  while (!st) {
    vlp_image img;
    double t;
    int64_t frame;
    int got = 0;
    st = vlp_video_next(v, &img, &t, &frame, &got);
    if (!st && got) {
      char *ref = vlp_frame_ref(e->path, t);
      int64_t r = ref && b->reuse ? old_row_of(b, ref) : -1;
      if (r >= 0 && (b->old->entries[r].hash != e->hash || b->old->entries[r].size != e->size))
        r = -1;
      if (!ref)
        st = vlp_fail(VLP_ERR_NOMEM, "index: out of memory");
      else if (r < 0 && (st = vlp_model_fit_image(b->s->m, &img, 0, &b->frames.imgs[ne])))
        free(ref);
      else
        ne += r < 0, fr[n++] = (frame_ref){ref, r};
      vlp_image_free(&img);
    }
    /* a full batch, the end, or an error: the frames before go in first (an error of theirs
     * comes first; else this one's message is kept) */
    if (n && (st || !got || ne == b->batch || n == b->batch)) {
      char msg[2048];
      snprintf(msg, sizeof msg, "%s", vlp_last_error());
      vlp_status fst = flush_frames(b, e, fr, n);
      n = ne = 0;
      if (fst)
        st = fst;
      else if (st)
        vlp_set_error(st, msg);
    }
    if (!got) break;
  }
  for (int k = 0; k < n; k++) free(fr[k].ref);
  slots_clear(&b->frames, b->batch);
  free(fr);
  vlp_video_close(v);
  if (st == VLP_ERR_NOMEM || st == VLP_ERR_CANCELLED) return st;
  if (st) {
    report(b, e->path, "error", vlp_last_error());
    b->st.failed++;
  }
  return VLP_OK;
}

static vlp_status batch_alloc(build *b, int batch) {
  b->batch = batch;
  vlp_status st = slots_alloc(&b->files, batch, b->dim);
  if (!st) st = slots_alloc(&b->frames, batch, b->dim);
  if (!st) st = vlp_image_reader_new(b->s->m, 0, batch, &b->rd);
  return st;
}

static void batch_free(build *b) {
  vlp_image_reader_free(b->rd);
  slots_free(&b->files, b->batch);
  slots_free(&b->frames, b->batch);
}

/* A file looked at before its turn: its size, mtime and hash, and for an image whether its
 * old embedding is kept or it is queued in the reader, to be decoded ahead. */
enum { PLAN_SKIP, PLAN_FAILED, PLAN_IMAGE, PLAN_VIDEO };
typedef struct {
  int kind;
  vlp_index_entry e;
  int64_t old; /* PLAN_IMAGE: the old row kept, or -1: embedded now */
  char *error; /* PLAN_FAILED: why its size or hash could not be read */
} planned;

static vlp_status look_ahead(build *b, char **files, int i, planned *p) {
  p->old = -1;
  p->e.path = files[i];
  if (i && !strcmp(files[i], files[i - 1])) return VLP_OK; /* PLAN_SKIP */
  vlp_status st = vlp_index_file_info(files[i], &p->e);
  p->e.path = files[i];
  if (st) {
    p->kind = PLAN_FAILED;
    p->error = strdup(vlp_last_error());
    return VLP_OK;
  }
  p->kind = vlp_is_video_path(files[i]) ? PLAN_VIDEO : PLAN_IMAGE;
  hash_row key = {p->e.hash, p->e.size, 0}, *hit = NULL;
  if (p->kind == PLAN_IMAGE && b->reuse && b->by_hash)
    hit = bsearch(&key, b->by_hash, (size_t)b->old->count, sizeof key, cmp_hash);
  if (hit) p->old = hit->row;
  if (p->kind != PLAN_IMAGE || hit) return VLP_OK;
  b->queued++;
  return vlp_image_reader_add(b->rd, files[i]);
}

/* Name every old entry the new index drops (a video once, not per frame), with why. */
static void report_removed(build *b, char **files, int nfiles) {
  if (!b->old || !b->old->count) return;
  char **now = malloc((size_t)(b->n ? b->n : 1) * sizeof *now);
  if (!now) return;
  for (int64_t i = 0; i < b->n; i++) now[i] = b->ent[i].path;
  if (b->n) qsort(now, (size_t)b->n, sizeof *now, cmp_str);
  char *last = NULL; /* the last file named (a video's frames share it) */
  for (int64_t i = 0; i < b->old->count; i++) {
    const char *p = b->by_path[i].path;
    if (b->n && bsearch(&p, now, (size_t)b->n, sizeof *now, cmp_str)) continue;
    b->st.removed++;
    char *video = NULL;
    double t;
    const char *file = vlp_frame_ref_split(p, &video, &t) ? video : p;
    if (!last || strcmp(last, file)) {
      struct stat sb;
      const char *why = stat(file, &sb) != 0 ? "the file is gone"
                        : !nfiles || !bsearch(&file, files, (size_t)nfiles, sizeof *files, cmp_str)
                            ? "not under the PATHs given"
                            : "it could not be read";
      report(b, file, "removed", why);
      free(last);
      last = strdup(file);
    }
    free(video);
  }
  free(last);
  free(now);
}

vlp_status vlp_index_build(vlp_session *s, const char *dir, const char *const *paths, int n,
                           const vlp_index_build_options *opts, vlp_index_build_stats *stats) {
  vlp_index_build_options def = vlp_index_build_default_options();
  const vlp_index_build_options *o = opts ? opts : &def;
  if (stats) memset(stats, 0, sizeof *stats);
  if (!s || !dir || (n > 0 && !paths) || n < 0)
    return vlp_fail(VLP_ERR_INVALID, "vlp_index_build: no session, folder or paths");
  const vlp_model *m = s->m;
  int dim = vlp_model_embed_dim(m);
  if (dim <= 0)
    return vlp_fail(VLP_ERR_INVALID, "the model is %s; an index needs a %s, %s or %s",
                    vlp_arch_name(m->arch), vlp_arch_name(VLP_ARCH_CLIP),
                    vlp_arch_name(VLP_ARCH_SIGLIP), vlp_arch_name(VLP_ARCH_BLIP_ITM));
  build b = {.s = s, .o = o, .dim = dim};
  char **files = NULL;
  int nfiles = 0, lock = -1, n_ahead = 0;
  planned *ahead = NULL; /* (nfiles) */
  vlp_status st = vlp_index_lock(dir, &lock);
  if (!st && vlp_index_exists(dir) && (st = vlp_index_open(dir, &b.old))) {
    char why[1024];
    snprintf(why, sizeof why, "%s", vlp_last_error());
    st = vlp_fail(st, "%s (delete the folder %s to start a new index)", why, dir);
  }
  if (st) goto done;
  const char *arch = vlp_arch_name(m->arch);
  b.reuse =
      b.old && !strcmp(b.old->model, m->dir) && !strcmp(b.old->arch, arch) && b.old->dim == dim;
  if ((st = prepare_old(&b))) goto done;
  /* absolute, unique, sorted paths; the index's own files are not inputs */
  char dir_real[PATH_MAX];
  if (!realpath(dir, dir_real)) snprintf(dir_real, sizeof dir_real, "%s", dir);
  size_t dlen = strlen(dir_real);
  if (n && !(files = calloc((size_t)n, sizeof *files))) {
    st = vlp_fail(VLP_ERR_NOMEM, "index: out of memory");
    goto done;
  }
  for (int i = 0; i < n; i++) {
    char r[PATH_MAX];
    if (!realpath(paths[i], r)) {
      char msg[PATH_MAX + 256];
      snprintf(msg, sizeof msg, "%s: %s", paths[i], strerror(errno));
      report(&b, paths[i], "error", msg);
      b.st.failed++;
      continue;
    }
    if (!strncmp(r, dir_real, dlen) && r[dlen] == '/') continue;
    if (!(files[nfiles] = strdup(r))) {
      st = vlp_fail(VLP_ERR_NOMEM, "index: out of memory");
      goto done;
    }
    nfiles++;
  }
  if (nfiles) qsort(files, (size_t)nfiles, sizeof *files, cmp_str);
  /* an index must not depend on how its files were batched: batches only where an image's
   * embedding does not depend on its batch */
  int batch = o->batch > 0 ? o->batch : o->batch == 0 && vlp_batch_invariant() ? INDEX_BATCH : 1;
  if ((st = batch_alloc(&b, batch)) ||
      (nfiles && !(ahead = calloc((size_t)nfiles, sizeof *ahead)) &&
       (st = vlp_fail(VLP_ERR_NOMEM, "index: out of memory"))))
    goto done;
  for (int i = 0; i < nfiles; i++) {
    if (o->progress && o->progress(o->progress_ctx, "index", i, nfiles)) {
      st = vlp_fail(VLP_ERR_CANCELLED, "%s: index build cancelled (the index is unchanged)", dir);
      goto done;
    }
    /* the next files looked at ahead: their images are decoded while the model runs */
    for (; n_ahead < nfiles && n_ahead < i + 2 * b.batch; n_ahead++)
      if ((st = look_ahead(&b, files, n_ahead, &ahead[n_ahead]))) goto done;
    const planned *p = &ahead[i];
    if (p->kind == PLAN_FAILED)
      report_failed(&b, p->e.path, VLP_ERR_IO, p->error);
    else if (p->kind != PLAN_SKIP)
      st = p->kind == PLAN_VIDEO ? add_video(&b, &p->e) : add_image(&b, &p->e, p->old);
    if (st) goto done;
  }
  if (o->progress) o->progress(o->progress_ctx, "index", nfiles, nfiles);
  if ((st = reserve(&b))) goto done; /* never NULL arrays, even for an empty index */
  if ((st = vlp_index_commit(dir, m->dir, arch, dim, b.ent, b.n, b.emb))) goto done;
  report_removed(&b, files, nfiles);
  b.st.files = b.n;
done:
  if (stats) *stats = b.st;
  for (int i = 0; i < n_ahead; i++) free(ahead[i].error);
  free(ahead);
  batch_free(&b);
  for (int i = 0; i < nfiles; i++) free(files[i]);
  free(files);
  for (int64_t i = 0; i < b.n; i++) free(b.owned[i]);
  free(b.owned);
  free(b.ent);
  free(b.emb);
  free(b.by_hash);
  free(b.by_path);
  vlp_index_close(b.old);
  vlp_index_unlock(lock);
  return st;
}
