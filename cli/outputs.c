/* outputs: caption records as JSON Lines, CSV or TSV; reading them back (resume, merge);
 * the -o stream that appends whole records; sidecar caption files written atomically. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "caption_tool.h"
#include "cli.h"

/* ---- writing records ------------------------------------------------------------------ */

const char *ct_header(ct_format f) {
  if (f == CT_CSV) return "path,caption,tokens,size,mtime,error\n";
  if (f == CT_TSV) return "path\tcaption\ttokens\tsize\tmtime\terror\n";
  return NULL;
}

/* RFC 4180: quoted when it holds a comma, a quote or a line break; quotes doubled. */
static void csv_field(FILE *f, const char *s) {
  if (!s) return;
  if (!strpbrk(s, ",\"\r\n")) {
    fputs(s, f);
    return;
  }
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"') fputc('"', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

/* TSV has no quoting: backslash escapes for tab, line breaks and backslash. */
static void tsv_field(FILE *f, const char *s) {
  for (; s && *s; s++) {
    switch (*s) {
      case '\t':
        fputs("\\t", f);
        break;
      case '\n':
        fputs("\\n", f);
        break;
      case '\r':
        fputs("\\r", f);
        break;
      case '\\':
        fputs("\\\\", f);
        break;
      default:
        fputc(*s, f);
    }
  }
}

char *ct_format_record(ct_format fmt, const ct_record *r, size_t *len) {
  char *buf = NULL;
  FILE *f = open_memstream(&buf, len);
  if (!f) return NULL;
  if (fmt == CT_JSONL) {
    fputs("{\"path\": ", f);
    json_write_str(f, r->path);
    if (r->error) {
      fputs(", \"error\": ", f);
      json_write_str(f, r->error);
    } else {
      fputs(", \"caption\": ", f);
      json_write_str(f, r->caption);
      fputs(", \"tokens\": ", f);
      json_write_ints(f, r->tokens, r->n_tokens);
      if (r->size >= 0 && r->mtime)
        fprintf(f, ", \"size\": %lld, \"mtime\": %s", (long long)r->size, r->mtime);
    }
    fputs("}\n", f);
  } else {
    void (*field)(FILE *, const char *) = fmt == CT_CSV ? csv_field : tsv_field;
    char sep = fmt == CT_CSV ? ',' : '\t';
    field(f, r->path);
    fputc(sep, f);
    if (!r->error) field(f, r->caption);
    fputc(sep, f);
    for (int i = 0; !r->error && i < r->n_tokens; i++) fprintf(f, i ? " %d" : "%d", r->tokens[i]);
    fputc(sep, f);
    if (!r->error && r->size >= 0 && r->mtime)
      fprintf(f, "%lld%c%s", (long long)r->size, sep, r->mtime);
    else
      fputc(sep, f);
    fputc(sep, f);
    if (r->error) field(f, r->error);
    fputc('\n', f);
  }
  if (fclose(f) != 0) {
    free(buf);
    return NULL;
  }
  return buf;
}

/* ---- reading records back --------------------------------------------------------------- */

static int read_all(const char *path, char **data, size_t *n, char *err, size_t errlen) {
  *data = NULL;
  *n = 0;
  FILE *f = fopen(path, "rb");
  if (!f) {
    if (errno == ENOENT) return 0;
    snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
    return -1;
  }
  size_t cap = 0;
  for (;;) {
    if (*n + 65536 + 1 > cap) {
      cap = cap ? 2 * cap : 65536 * 2;
      char *p = realloc(*data, cap);
      if (!p) {
        fclose(f);
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
      }
      *data = p;
    }
    size_t got = fread(*data + *n, 1, cap - *n - 1, f);
    *n += got;
    if (got == 0) break;
  }
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    snprintf(err, errlen, "%s: read error", path);
    return -1;
  }
  if (*data) (*data)[*n] = 0;
  return 0;
}

typedef struct {
  ct_parsed *v;
  int n, cap;
} rec_list;

static ct_parsed *push(rec_list *l) {
  if (l->n == l->cap) {
    l->cap = l->cap ? 2 * l->cap : 256;
    ct_parsed *p = realloc(l->v, (size_t)l->cap * sizeof *p);
    if (!p) return NULL;
    l->v = p;
  }
  ct_parsed *r = &l->v[l->n++];
  memset(r, 0, sizeof *r);
  return r;
}

static char *dup_range(const char *s, size_t n) {
  char *d = malloc(n + 1);
  if (d) {
    memcpy(d, s, n);
    d[n] = 0;
  }
  return d;
}

static char *dup_range(const char *s, size_t n);

/* Token ids from "1 2 3" (CSV/TSV) into r; -1 when they are not numbers. */
static int parse_token_text(const char *s, ct_parsed *r) {
  size_t n = 0;
  for (const char *p = s; *p; p++) n += *p == ' ';
  r->tokens = malloc((n + 1) * sizeof *r->tokens);
  if (!r->tokens) return -1;
  while (*s) {
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s) return -1;
    r->tokens[r->n_tokens++] = (int)v;
    s = *end == ' ' ? end + 1 : end;
  }
  return 0;
}

/* The JSON line's fields for writing it in another format; mtime is kept as its text
 * (a double would lose the nanoseconds). */
static int json_fields(const cJSON *j, const char *line, size_t len, ct_parsed *r) {
  const cJSON *cap = cJSON_GetObjectItemCaseSensitive(j, "caption");
  const cJSON *err = cJSON_GetObjectItemCaseSensitive(j, "error");
  const cJSON *tok = cJSON_GetObjectItemCaseSensitive(j, "tokens");
  if (cJSON_IsString(cap) && !(r->caption = strdup(cap->valuestring))) return -1;
  if (cJSON_IsString(err) && !(r->error = strdup(err->valuestring))) return -1;
  if (cJSON_IsArray(tok)) {
    int n = cJSON_GetArraySize(tok);
    r->tokens = malloc((size_t)(n ? n : 1) * sizeof *r->tokens);
    if (!r->tokens) return -1;
    const cJSON *t;
    cJSON_ArrayForEach(t, tok) r->tokens[r->n_tokens++] = t->valueint;
  }
  if (r->has_stamp) {
    static const char key[] = "\"mtime\": ";
    const char *p = memmem(line, len, key, sizeof key - 1);
    if (p) {
      p += sizeof key - 1;
      size_t k = strspn(p, "0123456789.");
      if (!(r->mtime_text = dup_range(p, k))) return -1;
    }
  }
  return 0;
}

static int parse_json_line(const char *line, size_t len, ct_parsed *r, int keep_raw) {
  cJSON *j = cJSON_ParseWithLength(line, len);
  const cJSON *path = cJSON_GetObjectItemCaseSensitive(j, "path");
  int ok = cJSON_IsObject(j) && cJSON_IsString(path);
  if (ok) {
    r->path = strdup(path->valuestring);
    r->captioned = cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "caption"));
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(j, "size");
    const cJSON *mtime = cJSON_GetObjectItemCaseSensitive(j, "mtime");
    r->has_stamp = cJSON_IsNumber(size) && cJSON_IsNumber(mtime);
    if (r->has_stamp) {
      r->size = size->valuedouble;
      r->mtime = mtime->valuedouble;
    }
    ok = r->path != NULL && (!keep_raw || !json_fields(j, line, len, r));
  }
  cJSON_Delete(j);
  return ok ? 0 : -1;
}

/* Unescape a TSV field in place. */
static void tsv_unescape(char *s) {
  char *o = s;
  for (; *s; s++) {
    if (*s == '\\' && s[1]) {
      s++;
      *o++ = *s == 't' ? '\t' : *s == 'n' ? '\n' : *s == 'r' ? '\r' : *s;
    } else {
      *o++ = *s;
    }
  }
  *o = 0;
}

/* Split one CSV record starting at s (ends at an unquoted newline). Returns the length of
 * the record including its newline, 0 when the data ends first. fields[] get malloc'd
 * unquoted copies (up to max). */
static size_t csv_record(const char *s, size_t n, char **fields, int max, int *nf) {
  *nf = 0;
  size_t i = 0;
  for (;;) {
    char *buf = malloc(n - i + 1);
    size_t o = 0;
    if (!buf) return 0;
    if (i < n && s[i] == '"') {
      i++;
      for (;;) {
        if (i >= n) {
          free(buf);
          return 0; /* unterminated quote: a partial record */
        }
        if (s[i] == '"') {
          if (i + 1 < n && s[i + 1] == '"') {
            buf[o++] = '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        buf[o++] = s[i++];
      }
    }
    while (i < n && s[i] != ',' && s[i] != '\n') buf[o++] = s[i++];
    if (o && buf[o - 1] == '\r' && (i >= n || s[i] == '\n')) o--;
    buf[o] = 0;
    if (*nf < max)
      fields[(*nf)++] = buf;
    else
      free(buf);
    if (i >= n) return 0; /* no final newline: partial */
    if (s[i] == '\n') return i + 1;
    i++; /* comma */
  }
}

static int fill_from_fields(char **f, int nf, ct_parsed *r, int keep_raw) {
  if (nf < 6) return -1;
  r->path = strdup(f[0]);
  if (keep_raw) {
    if (f[5][0] ? !(r->error = strdup(f[5])) : !(r->caption = strdup(f[1]))) return -1;
    if (parse_token_text(f[2], r)) return -1;
    if (f[4][0] && !(r->mtime_text = strdup(f[4]))) return -1;
  }
  r->captioned = f[5][0] == 0;
  r->has_stamp = f[3][0] && f[4][0];
  if (r->has_stamp) {
    char *e1, *e2;
    r->size = strtod(f[3], &e1);
    r->mtime = strtod(f[4], &e2);
    if (*e1 || *e2) return -1;
  }
  return r->path ? 0 : -1;
}

static void parsed_clear(ct_parsed *r) {
  free(r->raw);
  free(r->path);
  free(r->caption);
  free(r->error);
  free(r->mtime_text);
  free(r->tokens);
}

int ct_read_records(const char *file, int keep_raw, ct_format *fmt, int *fmt_known,
                    ct_parsed **recs, int *n, long *valid, char *err, size_t errlen) {
  char *data;
  size_t len;
  *recs = NULL;
  *n = 0;
  *valid = 0;
  *fmt_known = 0;
  if (read_all(file, &data, &len, err, errlen)) return -1;
  if (!len) {
    free(data);
    return 0;
  }
  rec_list l = {0};
  size_t pos = 0;
  int line_no = 0, rc = 0;
  const char *csvh = ct_header(CT_CSV), *tsvh = ct_header(CT_TSV);
  if (data[0] == '{') {
    *fmt = CT_JSONL;
  } else if (!strncmp(data, csvh, strlen(csvh))) {
    *fmt = CT_CSV;
    pos = strlen(csvh);
    line_no = 1;
  } else if (!strncmp(data, tsvh, strlen(tsvh))) {
    *fmt = CT_TSV;
    pos = strlen(tsvh);
    line_no = 1;
  } else if (!memchr(data, '\n', len)) {
    free(data); /* a partial first line (header or record) of a killed run: start over */
    return 0;
  } else {
    snprintf(err, errlen, "%s: not a vlp caption output (JSON Lines, or CSV/TSV with vlp's header)",
             file);
    free(data);
    return -1;
  }
  *fmt_known = 1;
  *valid = (long)pos;
  while (pos < len && !rc) {
    line_no++;
    size_t rec_len;
    ct_parsed *r = push(&l);
    if (!r) {
      snprintf(err, errlen, "%s: out of memory", file);
      rc = -1;
      break;
    }
    int bad;
    if (*fmt == CT_CSV) {
      char *f[8];
      int nf;
      rec_len = csv_record(data + pos, len - pos, f, 8, &nf);
      bad = rec_len ? fill_from_fields(f, nf, r, keep_raw) : 0;
      for (int i = 0; i < nf; i++) free(f[i]);
    } else {
      const char *nl = memchr(data + pos, '\n', len - pos);
      rec_len = nl ? (size_t)(nl - (data + pos)) + 1 : 0;
      if (!rec_len) {
        bad = 0;
      } else if (*fmt == CT_JSONL) {
        bad = parse_json_line(data + pos, rec_len - 1, r, keep_raw);
      } else {
        char *line = dup_range(data + pos, rec_len - 1), *f[8];
        int nf = 0;
        for (char *p = line, *t; p && nf < 8; p = t) {
          t = strchr(p, '\t');
          if (t) *t++ = 0;
          f[nf++] = p;
        }
        for (int i = 0; i < nf; i++) tsv_unescape(f[i]);
        bad = line ? fill_from_fields(f, nf, r, keep_raw) : -1;
        free(line);
      }
    }
    if (!rec_len) { /* the partial last record of a killed run */
      parsed_clear(r);
      l.n--;
      break;
    }
    if (bad) {
      snprintf(err, errlen, "%s:%d: not a vlp caption record", file, line_no);
      parsed_clear(r);
      l.n--;
      rc = -1;
      break;
    }
    if (keep_raw) {
      r->raw = dup_range(data + pos, rec_len);
      r->raw_len = rec_len;
    }
    pos += rec_len;
    *valid = (long)pos;
  }
  free(data);
  if (rc) {
    ct_parsed_free(l.v, l.n);
    return -1;
  }
  *recs = l.v;
  *n = l.n;
  return 0;
}

void ct_parsed_free(ct_parsed *recs, int n) {
  for (int i = 0; i < n; i++) parsed_clear(&recs[i]);
  free(recs);
}

ct_record ct_parsed_record(const ct_parsed *r) {
  ct_record out = {.path = r->path,
                   .caption = r->caption ? r->caption : "",
                   .tokens = r->tokens,
                   .n_tokens = r->n_tokens,
                   .size = r->has_stamp && r->mtime_text ? (int64_t)r->size : -1,
                   .mtime = r->mtime_text,
                   .error = r->captioned ? NULL : (r->error ? r->error : "")};
  return out;
}

/* ---- the output stream ---------------------------------------------------------------- */

static int write_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* One whole record (or the header) with one write; on a failure (full disk, closed pipe)
 * the first error is reported, the partial record cut off, and nothing more is written. */
static void write_text(ct_sink *s, const char *text, size_t len) {
  if (s->failed) return;
  if (text && !write_all(s->fd, text, len)) {
    if (s->good >= 0) s->good += (long)len;
    return;
  }
  int e = errno;
  s->failed = 1;
  fprintf(stderr, "vlp caption: %s: write failed: %s%s\n", s->is_stdout ? "stdout" : s->path,
          strerror(e), e == EPIPE ? " (the reader closed the pipe)" : "");
  if (s->good >= 0 && ftruncate(s->fd, s->good) != 0) s->good = -1;
}

int ct_sink_open(ct_sink *s, const char *path, ct_format fmt, long valid, int truncate_all,
                 int locked) {
  memset(s, 0, sizeof *s);
  s->good = -1;
  s->fmt = fmt;
  s->path = path;
  if (!path || !strcmp(path, "-")) {
    fflush(stdout);
    s->fd = STDOUT_FILENO;
    s->is_stdout = 1;
  } else {
    /* no O_TRUNC: the lock comes first, another run's file is never emptied */
    s->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (truncate_all) valid = 0;
    if (s->fd < 0) {
      fprintf(stderr, "vlp caption: %s: cannot write: %s\n", path, strerror(errno));
      return -1;
    }
    if (!locked && cli_lock_output("caption", s->fd, path)) {
      close(s->fd);
      return -1;
    }
    struct stat st;
    if (fstat(s->fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > valid &&
        ftruncate(s->fd, valid) != 0) {
      fprintf(stderr, "vlp caption: %s: cannot cut the partial last record: %s\n", path,
              strerror(errno));
      close(s->fd);
      return -1;
    }
    if (fstat(s->fd, &st) == 0 && S_ISREG(st.st_mode)) s->good = (long)st.st_size;
    if (s->good > 0) return 0; /* resume */
  }
  const char *h = ct_header(fmt);
  if (h) write_text(s, h, strlen(h));
  return 0;
}

int ct_sink_write(ct_sink *s, const ct_record *r) {
  size_t len;
  char *buf = ct_format_record(s->fmt, r, &len);
  if (!buf) errno = ENOMEM;
  write_text(s, buf, len);
  free(buf);
  return s->failed ? -1 : 0;
}

void ct_sink_sync(ct_sink *s) {
  if (!s->is_stdout) fdatasync(s->fd);
}

int ct_sink_close(ct_sink *s) {
  if (!s->is_stdout && s->fd >= 0) {
    if (fsync(s->fd) != 0 && errno != EINVAL) s->failed = 1;
    if (close(s->fd) != 0) s->failed = 1;
  }
  s->fd = -1;
  return s->failed ? -1 : 0;
}

/* ---- sidecar files ---------------------------------------------------------------------- */

char *ct_sidecar_path(const char *image, const char *ext) {
  const char *slash = strrchr(image, '/');
  const char *base = slash ? slash + 1 : image;
  const char *dot = strrchr(base, '.');
  size_t stem = dot && dot != base ? (size_t)(dot - image) : strlen(image);
  char *out = malloc(stem + strlen(ext) + 1);
  if (!out) return NULL;
  memcpy(out, image, stem);
  strcpy(out + stem, ext);
  return out;
}

/* "dir/.name.vlp-tmp.PID" next to path: hidden, so folder walks never take it. */
static char *temp_name(const char *path) {
  const char *slash = strrchr(path, '/');
  size_t dir = slash ? (size_t)(slash - path) + 1 : 0;
  size_t n = strlen(path) + 40;
  char *t = malloc(n);
  if (t) snprintf(t, n, "%.*s.%s.vlp-tmp.%ld", (int)dir, path, path + dir, (long)getpid());
  return t;
}

static int write_temp(const char *tmp, const char *data, size_t len, char *err, size_t errlen) {
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) {
    snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
    return -1;
  }
  int bad = write_all(fd, data, len);
  int e = errno;
  if (close(fd) != 0 && !bad) {
    bad = 1;
    e = errno;
  }
  if (bad) {
    snprintf(err, errlen, "%s: write failed: %s", tmp, strerror(e));
    unlink(tmp);
    return -1;
  }
  return 0;
}

int ct_write_atomic(const char *path, const char *data, size_t len, char *err, size_t errlen) {
  char *tmp = temp_name(path);
  if (!tmp) {
    snprintf(err, errlen, "%s: out of memory", path);
    return -1;
  }
  int rc = write_temp(tmp, data, len, err, errlen);
  if (!rc && rename(tmp, path) != 0) {
    snprintf(err, errlen, "%s: cannot replace: %s", path, strerror(errno));
    unlink(tmp);
    rc = -1;
  }
  free(tmp);
  return rc;
}

int ct_sidecar_write(const char *sidecar, const char *caption, ct_existing mode, const char *join,
                     char *err, size_t errlen) {
  char *old = NULL, *text = NULL;
  size_t old_len = 0;
  int rc = 0;
  if (mode == CT_APPEND || mode == CT_PREPEND) {
    if (read_all(sidecar, &old, &old_len, err, errlen)) return -1;
    while (old_len && strchr(" \t\r\n", old[old_len - 1])) old_len--;
  }
  size_t cap = strlen(caption) + old_len + strlen(join) + 2;
  if (!(text = malloc(cap))) {
    free(old);
    snprintf(err, errlen, "%s: out of memory", sidecar);
    return -1;
  }
  if (!old_len)
    snprintf(text, cap, "%s\n", caption);
  else if (mode == CT_APPEND)
    snprintf(text, cap, "%.*s%s%s\n", (int)old_len, old, join, caption);
  else
    snprintf(text, cap, "%s%s%.*s\n", caption, join, (int)old_len, old);
  free(old);
  if (mode != CT_SKIP) {
    rc = ct_write_atomic(sidecar, text, strlen(text), err, errlen);
    free(text);
    return rc;
  }
  /* skip: never replace a file that appeared meanwhile — link() refuses an existing name */
  char *tmp = temp_name(sidecar);
  if (!tmp) rc = -1, snprintf(err, errlen, "%s: out of memory", sidecar);
  if (!rc) rc = write_temp(tmp, text, strlen(text), err, errlen);
  if (!rc) {
    if (link(tmp, sidecar) == 0) {
      rc = 0;
    } else if (errno == EEXIST) {
      rc = 1;
    } else if (access(sidecar, F_OK) == 0) { /* no hard links on this file system */
      rc = 1;
    } else if (rename(tmp, sidecar) != 0) {
      snprintf(err, errlen, "%s: cannot write: %s", sidecar, strerror(errno));
      rc = -1;
    }
    unlink(tmp);
  }
  free(tmp);
  free(text);
  return rc;
}
