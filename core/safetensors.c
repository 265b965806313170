/* safetensors: strict, memory-mapped reader of one .safetensors file (see safetensors.h).
 * Everything in the header is validated before st_open returns, so callers may trust
 * every st_tensor: data + nbytes lies inside the mapping and nbytes == numel * dtype size. */
#include "core/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

/* Real headers are a few hundred KB at most; anything larger is corrupt. */
#define ST_MAX_HEADER ((uint64_t)100 << 20)

static const struct {
  const char *name;
  size_t size;
} dtype_info[] = {
    [ST_F32] = {"F32", 4}, [ST_F16] = {"F16", 2},   [ST_BF16] = {"BF16", 2}, [ST_F64] = {"F64", 8},
    [ST_I64] = {"I64", 8}, [ST_I32] = {"I32", 4},   [ST_I16] = {"I16", 2},   [ST_I8] = {"I8", 1},
    [ST_U8] = {"U8", 1},   [ST_BOOL] = {"BOOL", 1},
};
#define N_DTYPES ((int)(sizeof dtype_info / sizeof dtype_info[0]))

size_t st_dtype_size(st_dtype t) {
  return (int)t >= 0 && (int)t < N_DTYPES ? dtype_info[t].size : 0;
}

const char *st_dtype_name(st_dtype t) {
  return (int)t >= 0 && (int)t < N_DTYPES ? dtype_info[t].name : "?";
}

static int dtype_from_name(const char *s, st_dtype *out) {
  for (int i = 0; i < N_DTYPES; i++) {
    if (strcmp(s, dtype_info[i].name) == 0) {
      *out = (st_dtype)i;
      return 1;
    }
  }
  return 0;
}

/* A JSON number that is a non-negative integer no larger than 2^53 (exact in a double). */
static int json_u64(const cJSON *v, uint64_t *out) {
  if (!cJSON_IsNumber(v)) return 0;
  double d = v->valuedouble;
  if (!isfinite(d) || d < 0 || d > 9007199254740992.0 || d != floor(d)) return 0;
  *out = (uint64_t)d;
  return 1;
}

static int cmp_name(const void *a, const void *b) {
  return strcmp(((const st_tensor *)a)->name, ((const st_tensor *)b)->name);
}

/* Byte ranges relative to the data section, for the overlap check. */
typedef struct {
  uint64_t begin, end;
  int idx;
} st_range;

static int cmp_range(const void *a, const void *b) {
  const st_range *x = a, *y = b;
  if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
  return x->end < y->end ? -1 : x->end > y->end;
}

static void free_tensors(st_tensor *t, int n) {
  if (!t) return;
  for (int i = 0; i < n; i++) free(t[i].name);
  free(t);
}

/* Parse one header entry into *t (name already set). data_size: bytes after the header. */
static vlp_status parse_entry(const char *path, const cJSON *e, const uint8_t *data,
                              uint64_t data_size, st_tensor *t, st_range *r) {
  const char *name = t->name;
  if (!cJSON_IsObject(e))
    return vlp_fail(VLP_ERR_FORMAT, "%s: tensor %s: header entry is not an object", path, name);

  const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
  if (!cJSON_IsString(dt))
    return vlp_fail(VLP_ERR_FORMAT, "%s: tensor %s: missing or non-string dtype", path, name);
  if (!dtype_from_name(dt->valuestring, &t->dtype))
    return vlp_fail(VLP_ERR_UNSUPPORTED, "%s: unknown dtype %.32s for tensor %s", path,
                    dt->valuestring, name);

  const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
  if (!cJSON_IsArray(sh))
    return vlp_fail(VLP_ERR_FORMAT, "%s: tensor %s: missing or non-array shape", path, name);
  int nd = cJSON_GetArraySize(sh);
  if (nd > ST_MAX_DIMS)
    return vlp_fail(VLP_ERR_UNSUPPORTED, "%s: tensor %s: %d dims, at most %d supported", path, name,
                    nd, ST_MAX_DIMS);
  t->ndim = nd;
  uint64_t need = st_dtype_size(t->dtype);
  int overflow = 0;
  const cJSON *d;
  int k = 0;
  cJSON_ArrayForEach(d, sh) {
    uint64_t v;
    if (!json_u64(d, &v))
      return vlp_fail(VLP_ERR_FORMAT,
                      "%s: tensor %s: shape must be an array of non-negative integers", path, name);
    t->shape[k++] = (int64_t)v;
    if (__builtin_mul_overflow(need, v, &need)) overflow = 1;
  }
  if (overflow) return vlp_fail(VLP_ERR_FORMAT, "%s: tensor %s: shape size overflows", path, name);

  const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
  uint64_t b, en;
  if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2 ||
      !json_u64(cJSON_GetArrayItem(off, 0), &b) || !json_u64(cJSON_GetArrayItem(off, 1), &en) ||
      b > en)
    return vlp_fail(VLP_ERR_FORMAT,
                    "%s: tensor %s: data_offsets must be [begin, end] with 0 <= begin <= end", path,
                    name);
  if (need != en - b)
    return vlp_fail(VLP_ERR_FORMAT,
                    "%s: tensor %s: shape and dtype %s need %llu bytes but data_offsets span %llu",
                    path, name, st_dtype_name(t->dtype), (unsigned long long)need,
                    (unsigned long long)(en - b));
  if (en > data_size)
    return vlp_fail(VLP_ERR_FORMAT,
                    "%s: tensor %s: data range [%llu, %llu) is past the end of the file "
                    "(data section has %llu bytes; truncated file?)",
                    path, name, (unsigned long long)b, (unsigned long long)en,
                    (unsigned long long)data_size);
  t->data = data + b;
  t->nbytes = (size_t)need;
  r->begin = b;
  r->end = en;
  return VLP_OK;
}

/* Parse and validate the JSON header; fills f->tensors / f->n. */
static vlp_status parse_header(st_file *f, const char *hdr, size_t hlen, const uint8_t *data,
                               uint64_t data_size) {
  const char *path = f->path;
  const char *end = NULL;
  cJSON *j = cJSON_ParseWithLengthOpts(hdr, hlen, &end, 0);
  if (!j) {
    size_t at = end && end >= hdr ? (size_t)(end - hdr) : 0;
    return vlp_fail(VLP_ERR_FORMAT, "%s: header is not valid JSON (error near byte %zu)", path,
                    8 + at);
  }
  /* Only whitespace (the format's padding) may follow the JSON value. */
  for (const char *p = end; p < hdr + hlen; p++) {
    if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
      cJSON_Delete(j);
      return vlp_fail(VLP_ERR_FORMAT, "%s: header is not valid JSON (garbage at byte %zu)", path,
                      8 + (size_t)(p - hdr));
    }
  }
  if (!cJSON_IsObject(j)) {
    cJSON_Delete(j);
    return vlp_fail(VLP_ERR_FORMAT, "%s: header is not a JSON object", path);
  }

  int cap = cJSON_GetArraySize(j);
  st_tensor *ts = calloc(cap > 0 ? (size_t)cap : 1, sizeof *ts);
  st_range *rs = calloc(cap > 0 ? (size_t)cap : 1, sizeof *rs);
  vlp_status st = VLP_OK;
  int n = 0;
  if (!ts || !rs) {
    st = vlp_fail(VLP_ERR_NOMEM, "%s: out of memory for %d header entries", path, cap);
    goto done;
  }
  const cJSON *e;
  cJSON_ArrayForEach(e, j) {
    if (!e->string) continue;
    if (strcmp(e->string, "__metadata__") == 0) continue;
    st_tensor *t = &ts[n];
    t->name = strdup(e->string);
    if (!t->name) {
      st = vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", path);
      goto done;
    }
    n++;
    st = parse_entry(path, e, data, data_size, t, &rs[n - 1]);
    if (st) goto done;
    rs[n - 1].idx = n - 1;
  }

  /* Ranges must not overlap: sort by begin, then each non-empty range starts at or after
   * the end of the previous non-empty one. */
  qsort(rs, (size_t)n, sizeof *rs, cmp_range);
  int prev = -1;
  for (int i = 0; i < n; i++) {
    if (rs[i].begin == rs[i].end) continue;
    if (prev >= 0 && rs[i].begin < rs[prev].end) {
      st = vlp_fail(VLP_ERR_FORMAT, "%s: tensors %s and %s overlap ([%llu, %llu) and [%llu, %llu))",
                    path, ts[rs[prev].idx].name, ts[rs[i].idx].name,
                    (unsigned long long)rs[prev].begin, (unsigned long long)rs[prev].end,
                    (unsigned long long)rs[i].begin, (unsigned long long)rs[i].end);
      goto done;
    }
    prev = i;
  }

  qsort(ts, (size_t)n, sizeof *ts, cmp_name);
  for (int i = 1; i < n; i++) {
    if (strcmp(ts[i - 1].name, ts[i].name) == 0) {
      st = vlp_fail(VLP_ERR_FORMAT, "%s: duplicate tensor %s in header", path, ts[i].name);
      goto done;
    }
  }

done:
  cJSON_Delete(j);
  free(rs);
  if (st) {
    free_tensors(ts, n);
    return st;
  }
  f->tensors = ts;
  f->n = n;
  return VLP_OK;
}

vlp_status st_open(const char *path, st_file **out) {
  *out = NULL;
  st_file *f = calloc(1, sizeof *f);
  if (!f || !(f->path = strdup(path))) {
    free(f);
    return vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", path);
  }
  vlp_status st = VLP_OK;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    st = vlp_fail(VLP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    goto fail;
  }
  struct stat sb;
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    close(fd);
    st = vlp_fail(VLP_ERR_IO, "%s: not a regular file", path);
    goto fail;
  }
  uint64_t size = (uint64_t)sb.st_size;
  if (size < 8) {
    close(fd);
    st = vlp_fail(VLP_ERR_FORMAT,
                  "%s: file too small for a safetensors header (%llu bytes; empty or truncated)",
                  path, (unsigned long long)size);
    goto fail;
  }
  if (size > SIZE_MAX) {
    close(fd);
    st = vlp_fail(VLP_ERR_UNSUPPORTED, "%s: file too large to map", path);
    goto fail;
  }
  void *map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
  int map_err = errno;
  close(fd);
  if (map == MAP_FAILED) {
    st = vlp_fail(VLP_ERR_IO, "%s: cannot mmap: %s", path, strerror(map_err));
    goto fail;
  }
  f->map = map;
  f->map_size = (size_t)size;

  const uint8_t *bytes = map;
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | bytes[i];
  if (hlen > ST_MAX_HEADER && hlen <= size - 8) {
    st = vlp_fail(VLP_ERR_FORMAT, "%s: header length %llu is absurd (over 100 MB)", path,
                  (unsigned long long)hlen);
    goto fail;
  }
  if (hlen > size - 8) {
    st = vlp_fail(VLP_ERR_FORMAT,
                  "%s: header length %llu is past the end of the file (%llu bytes; truncated "
                  "or not a safetensors file)",
                  path, (unsigned long long)hlen, (unsigned long long)size);
    goto fail;
  }
  st = parse_header(f, (const char *)bytes + 8, (size_t)hlen, bytes + 8 + hlen, size - 8 - hlen);
  if (st) goto fail;
  *out = f;
  return VLP_OK;

fail:
  st_close(f);
  return st;
}

void st_close(st_file *f) {
  if (!f) return;
  if (f->map) munmap(f->map, f->map_size);
  free_tensors(f->tensors, f->n);
  free(f->path);
  free(f);
}

const st_tensor *st_find(const st_file *f, const char *name) {
  if (!f || !name) return NULL;
  int lo = 0, hi = f->n - 1;
  while (lo <= hi) {
    int mid = lo + (hi - lo) / 2;
    int c = strcmp(name, f->tensors[mid].name);
    if (c == 0) return &f->tensors[mid];
    if (c < 0)
      hi = mid - 1;
    else
      lo = mid + 1;
  }
  return NULL;
}
