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

vlp_index_build_options vlp_index_build_default_options(void) {
  vlp_index_build_options o = {0};
  o.video = vlp_video_default_sampling();
  o.video.mode = VLP_SAMPLE_EVERY; /* one frame per second, as `vlp video` */
  o.video.every = 1;
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

/* An image file: its old embedding when the content is known, else embedded now. A file
 * that cannot be read or decoded is reported and left out. */
static vlp_status add_image(build *b, const vlp_index_entry *e) {
  vlp_status st = reserve(b);
  if (st) return st;
  float *row = b->emb + (size_t)b->n * (size_t)b->dim;  // (dim)
  hash_row key = {e->hash, e->size, 0}, *hit = NULL;
  if (b->reuse && b->by_hash)
    hit = bsearch(&key, b->by_hash, (size_t)b->old->count, sizeof key, cmp_hash);
  if (hit) {
    memcpy(row, b->old->emb + (size_t)hit->row * (size_t)b->dim, (size_t)b->dim * sizeof *row);
    b->st.unchanged++;
  } else {
    vlp_image img = {0};
    st = vlp_image_load(e->path, &img);
    if (!st) st = vlp_embed_images(b->s, &img, 1, 0, row);
    vlp_image_free(&img);
    if (st == VLP_ERR_NOMEM || st == VLP_ERR_CANCELLED) return st;
    if (st) {
      report(b, e->path, "error", vlp_last_error());
      b->st.failed++;
      return VLP_OK;
    }
    b->st.embedded++;
  }
  return push(b, e, e->path);
}

/* A video: one entry per sampled frame, path "<video>#t=<seconds>", the video's size,
 * mtime and hash. Frames of an unchanged video keep their embeddings. A video that fails
 * part way keeps the frames before the damage and is reported. */
static vlp_status add_video(build *b, const vlp_index_entry *e) {
  vlp_video *v;
  vlp_status st = vlp_video_open(e->path, &b->o->video, &v);
  if (st) {
    if (st == VLP_ERR_NOMEM) return st;
    report(b, e->path, "error", vlp_last_error());
    b->st.failed++;
    return VLP_OK;
  }
  for (;;) {
    vlp_image img;
    double t;
    int64_t frame;
    int got = 0;
    st = vlp_video_next(v, &img, &t, &frame, &got);
    if (st || !got) break;
    char *ref = vlp_frame_ref(e->path, t);
    st = ref ? reserve(b) : vlp_fail(VLP_ERR_NOMEM, "index: out of memory");
    if (!st) {
      float *row = b->emb + (size_t)b->n * (size_t)b->dim;  // (dim)
      int64_t r = b->reuse ? old_row_of(b, ref) : -1;
      if (r >= 0 && b->old->entries[r].hash == e->hash && b->old->entries[r].size == e->size) {
        memcpy(row, b->old->emb + (size_t)r * (size_t)b->dim, (size_t)b->dim * sizeof *row);
        b->st.unchanged++;
      } else if (!(st = vlp_embed_images(b->s, &img, 1, 0, row))) {
        b->st.embedded++;
      }
      if (!st) st = push(b, e, ref);
    }
    free(ref);
    vlp_image_free(&img);
    if (st) break;
  }
  vlp_video_close(v);
  if (st == VLP_ERR_NOMEM || st == VLP_ERR_CANCELLED) return st;
  if (st) {
    report(b, e->path, "error", vlp_last_error());
    b->st.failed++;
  }
  return VLP_OK;
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
  int nfiles = 0, lock = -1;
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
  for (int i = 0; i < nfiles; i++) {
    if (o->progress && o->progress(o->progress_ctx, "index", i, nfiles)) {
      st = vlp_fail(VLP_ERR_CANCELLED, "%s: index build cancelled (the index is unchanged)", dir);
      goto done;
    }
    if (i && !strcmp(files[i], files[i - 1])) continue;
    vlp_index_entry e = {.path = files[i]};
    if (vlp_index_file_info(e.path, &e)) {
      report(&b, e.path, "error", vlp_last_error());
      b.st.failed++;
      continue;
    }
    st = vlp_is_video_path(e.path) ? add_video(&b, &e) : add_image(&b, &e);
    if (st) goto done;
  }
  if (o->progress) o->progress(o->progress_ctx, "index", nfiles, nfiles);
  if ((st = reserve(&b))) goto done; /* never NULL arrays, even for an empty index */
  if ((st = vlp_index_commit(dir, m->dir, arch, dim, b.ent, b.n, b.emb))) goto done;
  report_removed(&b, files, nfiles);
  b.st.files = b.n;
done:
  if (stats) *stats = b.st;
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
