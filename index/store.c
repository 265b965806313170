/* store: reading and writing an index folder (SQLite metadata + memory-mapped .npy), its
 * build lock and the content hash of indexed files. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/npy.h"
#include "index/index.h"

#define INDEX_FORMAT "vlp-index/1"

static char *join(const char *dir, const char *name) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = malloc(n);
  if (p) snprintf(p, n, "%s/%s", dir, name);
  return p;
}

int vlp_index_exists(const char *dir) {
  char *db = join(dir, "index.db");
  struct stat st;
  int ok = db && stat(db, &st) == 0 && S_ISREG(st.st_mode);
  free(db);
  return ok;
}

/* ---- lock ---------------------------------------------------------------------------- */

vlp_status vlp_index_lock(const char *dir, int *fd) {
  if (mkdir(dir, 0777) != 0 && errno != EEXIST)
    return vlp_fail(VLP_ERR_IO, "%s: cannot create the index folder: %s", dir, strerror(errno));
  char *lock = join(dir, "lock");
  if (!lock) return vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", dir);
  int f = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (f < 0) {
    vlp_status st = vlp_fail(VLP_ERR_IO, "%s: cannot open: %s", lock, strerror(errno));
    free(lock);
    return st;
  }
  if (flock(f, LOCK_EX | LOCK_NB) != 0) {
    int busy = errno == EWOULDBLOCK;
    vlp_status st = busy ? vlp_fail(VLP_ERR_IO,
                                    "%s: another vlp index build is running on this "
                                    "index (lock held on %s)",
                                    dir, lock)
                         : vlp_fail(VLP_ERR_IO, "%s: cannot lock: %s", lock, strerror(errno));
    close(f);
    free(lock);
    return st;
  }
  free(lock);
  *fd = f;
  return VLP_OK;
}

void vlp_index_unlock(int fd) {
  if (fd < 0) return;
  flock(fd, LOCK_UN);
  close(fd);
}

/* ---- hashing ------------------------------------------------------------------------- */

vlp_status vlp_index_file_info(const char *path, vlp_index_entry *e) {
  int f = open(path, O_RDONLY | O_CLOEXEC);
  if (f < 0) return vlp_fail(VLP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  struct stat st;
  if (fstat(f, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(f);
    return vlp_fail(VLP_ERR_IO, "%s: not a regular file", path);
  }
  uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a 64 */
  unsigned char buf[1 << 16];
  ssize_t n;
  while ((n = read(f, buf, sizeof buf)) > 0)
    for (ssize_t i = 0; i < n; i++) h = (h ^ buf[i]) * 0x100000001b3ull;
  int err = n < 0 ? errno : 0;
  close(f);
  if (err) return vlp_fail(VLP_ERR_IO, "%s: read error: %s", path, strerror(err));
  e->size = (int64_t)st.st_size;
  e->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
  e->hash = h;
  return VLP_OK;
}

/* ---- reading --------------------------------------------------------------------------- */

void vlp_index_close(vlp_index *ix) {
  if (!ix) return;
  for (int64_t i = 0; ix->entries && i < ix->count; i++) free(ix->entries[i].path);
  free(ix->entries);
  if (ix->map) munmap(ix->map, ix->map_size);
  free(ix->dir);
  free(ix->model);
  free(ix->arch);
  free(ix);
}

static vlp_status db_fail(sqlite3 *db, const char *path) {
  if (db && sqlite3_extended_errcode(db) == SQLITE_READONLY_ROLLBACK)
    return vlp_fail(VLP_ERR_IO,
                    "%s: an interrupted build left %s-journal, and rolling it back needs write "
                    "access to the index folder",
                    path, path);
  return vlp_fail(VLP_ERR_FORMAT, "%s: corrupt or unreadable index database: %s", path,
                  db ? sqlite3_errmsg(db) : "cannot open");
}

/* meta value for key (malloc'd) or NULL when missing. */
static vlp_status meta_get(sqlite3 *db, const char *dbpath, const char *key, char **out) {
  sqlite3_stmt *s = NULL;
  *out = NULL;
  if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?", -1, &s, NULL) != SQLITE_OK)
    return db_fail(db, dbpath);
  sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    const unsigned char *v = sqlite3_column_text(s, 0);
    *out = strdup(v ? (const char *)v : "");
  }
  sqlite3_finalize(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return db_fail(db, dbpath);
  if (!*out) return vlp_fail(VLP_ERR_FORMAT, "%s: meta field '%s' is missing", dbpath, key);
  return VLP_OK;
}

static int parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi) return 0;
  *out = v;
  return 1;
}

/* Validate the .npy header: '<f4', C order, shape (count, dim), exact file size. */
static vlp_status map_npy(vlp_index *ix, const char *path) {
  int f = open(path, O_RDONLY | O_CLOEXEC);
  if (f < 0)
    return vlp_fail(VLP_ERR_IO, "%s: cannot open the embeddings: %s", path, strerror(errno));
  struct stat st;
  if (fstat(f, &st) != 0 || st.st_size < 16) {
    close(f);
    return vlp_fail(VLP_ERR_FORMAT, "%s: truncated embeddings file (%lld bytes)", path,
                    (long long)st.st_size);
  }
  size_t fsize = (size_t)st.st_size;
  void *map = mmap(NULL, fsize, PROT_READ, MAP_SHARED, f, 0);
  close(f);
  if (map == MAP_FAILED) return vlp_fail(VLP_ERR_IO, "%s: cannot map: %s", path, strerror(errno));
  ix->map = map;
  ix->map_size = fsize;
  const unsigned char *p = map;
  if (memcmp(p, "\x93NUMPY", 6) != 0 || (p[6] != 1 && p[6] != 2))
    return vlp_fail(VLP_ERR_FORMAT, "%s: not a .npy file (bad magic)", path);
  size_t hlen, off;
  if (p[6] == 1) {
    hlen = (size_t)p[8] | (size_t)p[9] << 8;
    off = 10;
  } else {
    hlen = (size_t)p[8] | (size_t)p[9] << 8 | (size_t)p[10] << 16 | (size_t)p[11] << 24;
    off = 12;
  }
  if (hlen > fsize - off || hlen > 65536)
    return vlp_fail(VLP_ERR_FORMAT, "%s: truncated .npy header", path);
  char hdr[65537];
  memcpy(hdr, p + off, hlen);
  hdr[hlen] = 0;
  off += hlen;
  long long r = -1, c = -1;
  const char *sh = strstr(hdr, "'shape':");
  if (!strstr(hdr, "'descr': '<f4'") || !strstr(hdr, "'fortran_order': False") || !sh ||
      sscanf(sh, "'shape': (%lld, %lld)", &r, &c) != 2)
    return vlp_fail(VLP_ERR_FORMAT, "%s: expected a float32 C-order (N, D) array, header is %s",
                    path, hdr);
  if (r != ix->count || c != ix->dim)
    return vlp_fail(VLP_ERR_FORMAT,
                    "%s: shape (%lld, %lld) but the database says (%" PRId64 ", %d)", path, r, c,
                    ix->count, ix->dim);
  if (off % 4) return vlp_fail(VLP_ERR_FORMAT, "%s: misaligned .npy data", path);
  /* count <= 2^40 and dim <= 2^20 (checked by the caller): no overflow in 64 bits */
  uint64_t need = (uint64_t)ix->count * (uint64_t)ix->dim * 4u;
  if ((uint64_t)(fsize - off) != need)
    return vlp_fail(VLP_ERR_FORMAT,
                    "%s: truncated or oversized embeddings: %zu data bytes, "
                    "expected %" PRIu64,
                    path, fsize - off, need);
  ix->emb = (const float *)(p + off);
  return VLP_OK;
}

static vlp_status read_files(vlp_index *ix, sqlite3 *db, const char *dbpath) {
  ix->entries = calloc(ix->count ? (size_t)ix->count : 1, sizeof *ix->entries);
  if (!ix->entries) return vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", dbpath);
  sqlite3_stmt *s = NULL;
  if (sqlite3_prepare_v2(db, "SELECT path, size, mtime_ns, hash, row FROM files", -1, &s, NULL) !=
      SQLITE_OK)
    return db_fail(db, dbpath);
  int rc;
  int64_t seen = 0;
  vlp_status st = VLP_OK;
  while (st == VLP_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
    const unsigned char *path = sqlite3_column_text(s, 0);
    const unsigned char *hash = sqlite3_column_text(s, 3);
    int64_t row = sqlite3_column_int64(s, 4);
    if (!path || !hash || row < 0 || row >= ix->count || ix->entries[row].path) {
      st = vlp_fail(VLP_ERR_FORMAT, "%s: files table: bad or duplicate row %" PRId64, dbpath, row);
      break;
    }
    vlp_index_entry *e = &ix->entries[row];
    e->size = sqlite3_column_int64(s, 1);
    e->mtime_ns = sqlite3_column_int64(s, 2);
    char *end;
    e->hash = strtoull((const char *)hash, &end, 16);
    e->path = strdup((const char *)path);
    if (!e->path) st = vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", dbpath);
    seen++;
  }
  if (st == VLP_OK && rc != SQLITE_DONE) st = db_fail(db, dbpath);
  sqlite3_finalize(s);
  if (st == VLP_OK && seen != ix->count)
    st = vlp_fail(VLP_ERR_FORMAT, "%s: %" PRId64 " files listed but meta count is %" PRId64, dbpath,
                  seen, ix->count);
  return st;
}

static vlp_status open_once(const char *dir, vlp_index *ix, int *npy_missing) {
  char *dbpath = join(dir, "index.db");
  sqlite3 *db = NULL;
  char *v = NULL, *npy = NULL, *npypath = NULL;
  vlp_status st = VLP_OK;
  int64_t x;
  if (!vlp_index_exists(dir)) {
    st = vlp_fail(VLP_ERR_IO, "%s: not a vlp index (no index.db; build one with vlp index build)",
                  dir);
    goto done;
  }
  /* Read-write, not read-only: a build killed inside its transaction leaves a hot journal
   * that only a writer may roll back. SQLite falls back to read-only for a write-protected
   * file, and reading never writes otherwise. */
  if (sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
    st = db_fail(db, dbpath);
    goto done;
  }
  sqlite3_busy_timeout(db, 5000);
  if ((st = meta_get(db, dbpath, "format", &v))) goto done;
  if (strcmp(v, INDEX_FORMAT)) {
    st = vlp_fail(VLP_ERR_FORMAT, "%s: unknown index format '%s' (expected %s)", dbpath, v,
                  INDEX_FORMAT);
    goto done;
  }
  free(v);
  v = NULL;
  if ((st = meta_get(db, dbpath, "model", &ix->model)) ||
      (st = meta_get(db, dbpath, "arch", &ix->arch)) || (st = meta_get(db, dbpath, "npy", &npy)))
    goto done;
  if ((st = meta_get(db, dbpath, "dim", &v))) goto done;
  if (!parse_i64(v, 1, 1 << 20, &x)) {
    st = vlp_fail(VLP_ERR_FORMAT, "%s: meta dim '%s' is not a valid width", dbpath, v);
    goto done;
  }
  ix->dim = (int)x;
  free(v);
  if ((st = meta_get(db, dbpath, "count", &v))) goto done;
  if (!parse_i64(v, 0, (int64_t)1 << 40, &ix->count)) {
    st = vlp_fail(VLP_ERR_FORMAT, "%s: meta count '%s' is not valid", dbpath, v);
    goto done;
  }
  free(v);
  if ((st = meta_get(db, dbpath, "generation", &v))) goto done;
  if (!parse_i64(v, 0, INT64_MAX, &ix->generation)) {
    st = vlp_fail(VLP_ERR_FORMAT, "%s: meta generation '%s' is not valid", dbpath, v);
    goto done;
  }
  if (strchr(npy, '/') || npy[0] == '.') {
    st = vlp_fail(VLP_ERR_FORMAT, "%s: meta npy '%s' is not a file name", dbpath, npy);
    goto done;
  }
  if ((st = read_files(ix, db, dbpath))) goto done;
  npypath = join(dir, npy);
  if (access(npypath, F_OK) != 0) *npy_missing = 1;
  st = map_npy(ix, npypath);
done:
  if (db) sqlite3_close(db);
  free(dbpath);
  free(v);
  free(npy);
  free(npypath);
  return st;
}

vlp_status vlp_index_open(const char *dir, vlp_index **out) {
  *out = NULL;
  /* A build switches to a new .npy and then deletes the old one: a reader that read the
   * database just before the switch finds its file gone, and simply reads again. */
  for (int attempt = 0;; attempt++) {
    vlp_index *ix = calloc(1, sizeof *ix);
    if (!ix || !(ix->dir = strdup(dir))) {
      free(ix);
      return vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", dir);
    }
    int missing = 0;
    vlp_status st = open_once(dir, ix, &missing);
    if (st == VLP_OK) {
      *out = ix;
      return VLP_OK;
    }
    vlp_index_close(ix);
    if (!missing || attempt == 2) return st;
  }
}

/* ---- writing ------------------------------------------------------------------------- */

static vlp_status exec(sqlite3 *db, const char *dbpath, const char *sql) {
  char *msg = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    vlp_status st = vlp_fail(VLP_ERR_IO, "%s: %s", dbpath, msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    return st;
  }
  return VLP_OK;
}

static vlp_status meta_put(sqlite3 *db, const char *dbpath, const char *key, const char *val) {
  sqlite3_stmt *s = NULL;
  if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", -1, &s,
                         NULL) != SQLITE_OK)
    return vlp_fail(VLP_ERR_IO, "%s: %s", dbpath, sqlite3_errmsg(db));
  sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 2, val, -1, SQLITE_STATIC);
  int rc = sqlite3_step(s);
  sqlite3_finalize(s);
  return rc == SQLITE_DONE ? VLP_OK : vlp_fail(VLP_ERR_IO, "%s: %s", dbpath, sqlite3_errmsg(db));
}

/* The generation recorded in an existing database (0 when there is none or it is unreadable). */
static int64_t current_generation(sqlite3 *db) {
  sqlite3_stmt *s = NULL;
  int64_t g = 0;
  if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'generation'", -1, &s, NULL) ==
          SQLITE_OK &&
      sqlite3_step(s) == SQLITE_ROW) {
    const unsigned char *v = sqlite3_column_text(s, 0);
    if (v && !parse_i64((const char *)v, 0, INT64_MAX - 1, &g)) g = 0;
  }
  sqlite3_finalize(s);
  return g;
}

/* Delete embeddings-*.npy files (and temp files of killed builds) other than keep. */
static void remove_stale(const char *dir, const char *keep) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d)))
    if (!strncmp(e->d_name, "embeddings-", 11) && strcmp(e->d_name, keep)) {
      char *p = join(dir, e->d_name);
      if (p) unlink(p);
      free(p);
    }
  closedir(d);
}

vlp_status vlp_index_commit(const char *dir, const char *model, const char *arch, int dim,
                            const vlp_index_entry *entries, int64_t n, const float *emb) {
  char *final = join(dir, "index.db"), *fresh = join(dir, "index.db.new"), *npypath = NULL;
  sqlite3 *db = NULL;
  sqlite3_stmt *s = NULL;
  vlp_status st = VLP_OK;
  char npy[64], num[32];
  float dummy = 0;
  if (!final || !fresh) {
    free(final);
    free(fresh);
    return vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", dir);
  }
  /* A first commit fills index.db.new and renames it: an index.db is always a committed
   * index, so a first build that fails or is killed leaves no half-made database behind. */
  struct stat sb;
  int first = stat(final, &sb) != 0;
  const char *dbpath = first ? fresh : final;
  if (first) unlink(fresh); /* left by a killed first build */
  if (sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
    st = vlp_fail(VLP_ERR_IO, "%s: cannot open the index database: %s", dbpath,
                  db ? sqlite3_errmsg(db) : "out of memory");
    goto done;
  }
  sqlite3_busy_timeout(db, 5000);
  if ((st = exec(db, dbpath,
                 "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                 "CREATE TABLE IF NOT EXISTS files(path TEXT PRIMARY KEY, size INTEGER NOT NULL,"
                 " mtime_ns INTEGER NOT NULL, hash TEXT NOT NULL, row INTEGER NOT NULL UNIQUE);")))
    goto done;
  int64_t gen = current_generation(db) + 1;
  snprintf(npy, sizeof npy, "embeddings-%" PRId64 ".npy", gen);
  /* 1. the new embeddings, aside: nothing refers to this file yet */
  npypath = join(dir, npy);
  if (!npypath) {
    st = vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", dir);
    goto done;
  }
  if ((st = npy_save(npypath, NPY_F32, 2, (const int64_t[]){n, dim},
                     n ? (const void *)emb : &dummy)))
    goto done;
  /* 2. switch the metadata to it in one transaction */
  if ((st = exec(db, dbpath, "BEGIN IMMEDIATE; DELETE FROM files;"))) goto done;
  if (sqlite3_prepare_v2(db, "INSERT INTO files(path, size, mtime_ns, hash, row) VALUES(?,?,?,?,?)",
                         -1, &s, NULL) != SQLITE_OK) {
    st = vlp_fail(VLP_ERR_IO, "%s: %s", dbpath, sqlite3_errmsg(db));
    goto rollback;
  }
  for (int64_t i = 0; i < n; i++) {
    char hex[17];
    snprintf(hex, sizeof hex, "%016" PRIx64, entries[i].hash);
    sqlite3_reset(s);
    sqlite3_bind_text(s, 1, entries[i].path, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, entries[i].size);
    sqlite3_bind_int64(s, 3, entries[i].mtime_ns);
    sqlite3_bind_text(s, 4, hex, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 5, i);
    if (sqlite3_step(s) != SQLITE_DONE) {
      st = vlp_fail(VLP_ERR_IO, "%s: %s: %s", dbpath, entries[i].path, sqlite3_errmsg(db));
      goto rollback;
    }
  }
  sqlite3_finalize(s);
  s = NULL;
  if ((st = meta_put(db, dbpath, "format", INDEX_FORMAT)) ||
      (st = meta_put(db, dbpath, "model", model)) || (st = meta_put(db, dbpath, "arch", arch)) ||
      (st = meta_put(db, dbpath, "npy", npy)))
    goto rollback;
  snprintf(num, sizeof num, "%d", dim);
  if ((st = meta_put(db, dbpath, "dim", num))) goto rollback;
  snprintf(num, sizeof num, "%" PRId64, n);
  if ((st = meta_put(db, dbpath, "count", num))) goto rollback;
  snprintf(num, sizeof num, "%" PRId64, gen);
  if ((st = meta_put(db, dbpath, "generation", num))) goto rollback;
  if ((st = exec(db, dbpath, "COMMIT;"))) goto rollback;
  if (first) {
    sqlite3_close(db);
    db = NULL;
    if (rename(fresh, final) != 0) {
      st = vlp_fail(VLP_ERR_IO, "%s: cannot rename to %s: %s", fresh, final, strerror(errno));
      unlink(fresh);
      unlink(npypath);
      goto done;
    }
  }
  /* 3. the old embeddings are no longer referenced */
  remove_stale(dir, npy);
  goto done;
rollback:
  if (s) sqlite3_finalize(s);
  s = NULL;
  sqlite3_exec(db, "ROLLBACK;", NULL, NULL, NULL);
  unlink(npypath);
done:
  if (s) sqlite3_finalize(s);
  if (db) sqlite3_close(db);
  if (st && first) unlink(fresh);
  free(final);
  free(fresh);
  free(npypath);
  return st;
}
