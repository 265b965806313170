/* inputs: the list of images `vlp caption` works on — files as given, folders (flat, or
 * walked with -r taking images by magic bytes), path lists (--from), shards (--shard K/N).
 * The walk is deterministic (names sorted with strcmp), never follows a folder twice
 * (symlink loops are detected by the (st_dev, st_ino) of the folders already walked) and
 * turns unreadable entries into error entries instead of stopping. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "caption_tool.h"

static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n);
  if (!q) {
    fprintf(stderr, "vlp: out of memory\n");
    exit(2); /* out of memory for a list of names: nothing sensible to do */
  }
  return q;
}

static char *xstrdup(const char *s) {
  size_t n = strlen(s) + 1;
  return memcpy(xrealloc(NULL, n), s, n);
}

int ct_shard_of(const char *path, int n) {
  uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a 64 */
  for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
    h ^= *p;
    h *= 0x100000001b3ull;
  }
  return n > 0 ? (int)(h % (uint64_t)n) : 0;
}

void ct_mtime_str(const ct_input *x, char *buf, size_t len) {
  snprintf(buf, len, "%lld.%09ld", (long long)x->mtime_s, x->mtime_ns);
}

static int in_shard(const ct_walk_opts *o, const char *path) {
  return o->shard_n <= 0 || ct_shard_of(path, o->shard_n) == o->shard_k - 1;
}

void ct_normalize_path(char *path) {
  char *o = path;
  const char *p = path;
  int absolute = *p == '/';
  if (absolute) *o++ = *p++;
  while (*p) {
    while (*p == '/') p++;
    if (p[0] == '.' && (p[1] == '/' || !p[1])) { /* a "." segment */
      p++;
      continue;
    }
    if (!*p) break;
    if (o > path + absolute) *o++ = '/';
    while (*p && *p != '/') *o++ = *p++;
  }
  if (o == path) *o++ = '.'; /* "./" alone */
  *o = 0;
}

/* Progress of a long folder walk (-r over a photo library) on stderr: nothing for a quick
 * scan; then a line redrawn on a terminal, or a line every VLP_PROGRESS_EVERY s (10). */
static void scan_tick(ct_inputs *in, const ct_walk_opts *o, int final) {
  if (!o->progress) return;
  double now = ct_now();
  int tty = isatty(STDERR_FILENO);
  if (!in->scan_shown) in->scan_shown = now;
  const char *env = getenv("VLP_PROGRESS_EVERY");
  double every = tty ? 0.2 : env && *env ? atof(env) : 10.0;
  if (final ? !in->scan_drawn : now - in->scan_shown < every) return;
  fprintf(stderr, "%svlp %s: scanning: %d inputs found, %d other files skipped%s%s",
          tty ? "\r" : "", o->cmd ? o->cmd : "caption", in->n, in->not_images,
          final ? ", done" : "", tty && !final ? "\033[K" : "\n");
  fflush(stderr);
  in->scan_shown = now;
  in->scan_drawn = !final;
}

void ct_inputs_scan_done(ct_inputs *in, const ct_walk_opts *o) {
  scan_tick(in, o, 1);
}

static void add(ct_inputs *in, const char *path, const struct stat *st, const char *error) {
  if (in->n == in->cap) {
    in->cap = in->cap ? 2 * in->cap : 64;
    in->v = xrealloc(in->v, (size_t)in->cap * sizeof *in->v);
  }
  ct_input *x = &in->v[in->n++];
  memset(x, 0, sizeof *x);
  x->path = xstrdup(path);
  ct_normalize_path(x->path);
  x->size = st ? (int64_t)st->st_size : -1;
  if (st) {
    x->mtime_s = (int64_t)st->st_mtim.tv_sec;
    x->mtime_ns = st->st_mtim.tv_nsec;
    x->dev = (uint64_t)st->st_dev;
    x->ino = (uint64_t)st->st_ino;
  }
  x->error = error ? xstrdup(error) : NULL;
}

static void add_error(ct_inputs *in, const ct_walk_opts *o, const char *path, const char *fmt,
                      const char *detail) {
  if (!in_shard(o, path)) {
    in->other_shards++;
    return;
  }
  char msg[4200];
  snprintf(msg, sizeof msg, fmt, path, detail);
  add(in, path, NULL, msg);
}

/* Names that say "image" even when the bytes do not (a corrupt or empty photo is reported,
 * not silently skipped). */
int ct_is_image_name(const char *name) {
  static const char *const ext[] = {"png", "jpg", "jpeg", "jpe",  "jfif", "gif",  "webp",
                                    "bmp", "tif", "tiff", "heic", "heif", "avif", "jxl"};
  const char *dot = strrchr(name, '.');
  if (!dot) return 0;
  for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++)
    if (!strcasecmp(dot + 1, ext[i])) return 1;
  return 0;
}

/* Folders already walked: an open-addressing set of (st_dev, st_ino). */
typedef struct {
  struct {
    dev_t dev;
    ino_t ino;
    int used;
  } * slot;
  size_t cap, n;
} dir_set;

static size_t dir_hash(dev_t d, ino_t i) {
  uint64_t h = (uint64_t)d * 0x9e3779b97f4a7c15ull ^ (uint64_t)i * 0xc2b2ae3d27d4eb4full;
  return (size_t)(h ^ (h >> 29));
}

/* 1 when (dev, ino) was new and is now in the set. */
static int dir_set_add(dir_set *s, dev_t dev, ino_t ino) {
  if (2 * (s->n + 1) > s->cap) {
    dir_set old = *s;
    s->cap = old.cap ? 2 * old.cap : 64;
    s->slot = xrealloc(NULL, s->cap * sizeof *s->slot);
    memset(s->slot, 0, s->cap * sizeof *s->slot);
    s->n = 0;
    for (size_t i = 0; i < old.cap; i++)
      if (old.slot[i].used) dir_set_add(s, old.slot[i].dev, old.slot[i].ino);
    free(old.slot);
  }
  size_t i = dir_hash(dev, ino) & (s->cap - 1);
  while (s->slot[i].used) {
    if (s->slot[i].dev == dev && s->slot[i].ino == ino) return 0;
    i = (i + 1) & (s->cap - 1);
  }
  s->slot[i].dev = dev;
  s->slot[i].ino = ino;
  s->slot[i].used = 1;
  s->n++;
  return 1;
}

static int cmp_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *join(const char *dir, const char *name) {
  size_t nd = strlen(dir), n = nd + strlen(name) + 2;
  char *full = xrealloc(NULL, n);
  snprintf(full, n, "%s%s%s", dir, nd && dir[nd - 1] == '/' ? "" : "/", name);
  return full;
}

static void note(const ct_walk_opts *o, const char *msg) {
  if (o->note)
    o->note(msg);
  else
    fprintf(stderr, "vlp: %s\n", msg);
}

/* A regular file found in a folder. */
static void add_found_file(ct_inputs *in, const ct_walk_opts *o, const char *path,
                           const struct stat *st) {
  if (!in_shard(o, path)) {
    in->other_shards++;
    return;
  }
  int kind = vlp_image_sniff_file(path);
  if (kind == VLP_SNIFF_UNREADABLE)
    add(in, path, st, vlp_last_error());
  else if (kind == VLP_SNIFF_OTHER && !ct_is_image_name(path) &&
           !(o->videos && vlp_is_video_path(path)))
    in->not_images++;
  else
    add(in, path, st, NULL); /* the reader decodes it or says what is wrong */
}

static void walk(ct_inputs *in, const ct_walk_opts *o, const char *dir, dir_set *seen) {
  DIR *d = opendir(dir);
  if (!d) {
    if (o->recursive)
      add_error(in, o, dir, "%s: cannot open folder: %s", strerror(errno));
    else if (in_shard(o, dir))
      add(in, dir, NULL, NULL); /* reported when it is opened */
    return;
  }
  char **names = NULL;
  size_t n = 0, cap = 0;
  struct dirent *e;
  errno = 0;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue; /* hidden files, ".", "..", our temp files */
    if (n == cap) {
      cap = cap ? 2 * cap : 64;
      names = xrealloc(names, cap * sizeof *names);
    }
    names[n++] = xstrdup(e->d_name);
  }
  int read_err = errno;
  closedir(d);
  if (read_err) add_error(in, o, dir, "%s: cannot list folder: %s", strerror(read_err));
  if (n) qsort(names, n, sizeof *names, cmp_name);
  for (size_t i = 0; i < n; i++) {
    char *full = join(dir, names[i]);
    struct stat st, lst;
    scan_tick(in, o, 0);
    if (stat(full, &st) != 0) {
      int err = errno;
      if (err == ENOENT && lstat(full, &lst) == 0 && S_ISLNK(lst.st_mode)) {
        char msg[4200]; /* a dangling symlink: reported, skipped, counted */
        snprintf(msg, sizeof msg, "%s: dangling symlink (its target is missing), skipped", full);
        note(o, msg);
        in->dangling++;
      } else if (o->recursive || ct_is_image_name(full)) { /* looping symlink, vanished file */
        add_error(in, o, full, "%s: cannot read: %s", strerror(err));
      }
    } else if (S_ISDIR(st.st_mode)) {
      if (o->recursive) {
        if (dir_set_add(seen, st.st_dev, st.st_ino)) {
          walk(in, o, full, seen);
        } else {
          char msg[4200];
          snprintf(msg, sizeof msg, "%s: folder already walked (a symlink loop?), skipped", full);
          note(o, msg);
          in->repeated++;
        }
      }
    } else if (S_ISREG(st.st_mode)) {
      add_found_file(in, o, full, &st);
    } else if (o->recursive && ct_is_image_name(full)) {
      add_error(in, o, full, "%s: %s", "not a regular file");
    } else if (o->recursive) {
      in->not_images++;
    }
    free(full);
    free(names[i]);
  }
  free(names);
}

void ct_inputs_add_arg(ct_inputs *in, const char *arg, const ct_walk_opts *o) {
  struct stat st;
  if (stat(arg, &st) == 0 && S_ISDIR(st.st_mode)) {
    dir_set seen = {0};
    dir_set_add(&seen, st.st_dev, st.st_ino);
    walk(in, o, arg, &seen);
    free(seen.slot);
    return;
  }
  if (!in_shard(o, arg)) {
    in->other_shards++;
    return;
  }
  /* a file named on the command line is always an input: if it is not an image, say so */
  int ok = stat(arg, &st) == 0;
  add(in, arg, ok ? &st : NULL, NULL);
}

int ct_inputs_add_list(ct_inputs *in, const char *list, const ct_walk_opts *o) {
  FILE *f = strcmp(list, "-") ? fopen(list, "r") : stdin;
  if (!f) {
    fprintf(stderr, "vlp caption: %s: cannot read the list: %s\n", list, strerror(errno));
    return -1;
  }
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  while ((len = getdelim(&line, &cap, o->nul_lists ? 0 : '\n', f)) >= 0) {
    if (o->nul_lists) { /* names may hold any byte but NUL: taken as they are */
      if (len > 0 && !line[len - 1]) len--;
      if (len > 0 && !memchr(line, 0, (size_t)len)) ct_inputs_add_arg(in, line, o);
      continue;
    }
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
    if (len > 0) ct_inputs_add_arg(in, line, o);
  }
  int bad = ferror(f);
  free(line);
  if (f != stdin) fclose(f);
  if (bad) {
    fprintf(stderr, "vlp caption: %s: read error\n", list);
    return -1;
  }
  return 0;
}

void ct_inputs_free(ct_inputs *in) {
  for (int i = 0; i < in->n; i++) {
    free(in->v[i].path);
    free(in->v[i].error);
  }
  free(in->v);
  memset(in, 0, sizeof *in);
}
