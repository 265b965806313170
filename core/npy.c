/* npy: reading and writing NumPy .npy arrays (see npy.h). Only little-endian, C-order
 * arrays of the dtypes in npy_dtype; the header is validated before anything is allocated. */
#include "core/npy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/half.h"

static const struct {
  const char *descr[3];
  npy_dtype t;
  size_t size;
} dtypes[] = {
    {{"<f4", NULL, NULL}, NPY_F32, 4}, {{"<f2", NULL, NULL}, NPY_F16, 2},
    {{"<f8", NULL, NULL}, NPY_F64, 8}, {{"|u1", "<u1", NULL}, NPY_U8, 1},
    {{"|i1", "<i1", NULL}, NPY_I8, 1}, {{"<i4", NULL, NULL}, NPY_I32, 4},
    {{"<i8", NULL, NULL}, NPY_I64, 8}, {{"|b1", "<b1", NULL}, NPY_BOOL, 1},
};

size_t npy_dtype_size(npy_dtype t) {
  for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
    if (dtypes[i].t == t) return dtypes[i].size;
  return 0;
}

static const char *descr_of(npy_dtype t) {
  for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
    if (dtypes[i].t == t) return dtypes[i].descr[0];
  return NULL;
}

/* Value of 'key': in the header dict, as a pointer just past the colon. */
static const char *find_key(const char *hdr, const char *key) {
  char pat[32];
  snprintf(pat, sizeof pat, "'%s'", key);
  const char *p = strstr(hdr, pat);
  if (!p) return NULL;
  p += strlen(pat);
  while (*p == ' ') p++;
  if (*p != ':') return NULL;
  p++;
  while (*p == ' ') p++;
  return p;
}

static vlp_status parse_header(const char *path, const char *hdr, npy_array *a) {
  const char *d = find_key(hdr, "descr");
  if (!d || (*d != '\'' && *d != '"'))
    return vlp_fail(VLP_ERR_FORMAT, "%s: npy header has no descr", path);
  char q = *d++;
  const char *e = strchr(d, q);
  if (!e || e - d > 15) return vlp_fail(VLP_ERR_FORMAT, "%s: npy header: bad descr", path);
  char descr[16];
  memcpy(descr, d, (size_t)(e - d));
  descr[e - d] = 0;
  int found = 0;
  for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0] && !found; i++)
    for (int k = 0; k < 3 && dtypes[i].descr[k]; k++)
      if (!strcmp(descr, dtypes[i].descr[k])) {
        a->dtype = dtypes[i].t;
        found = 1;
        break;
      }
  if (!found) return vlp_fail(VLP_ERR_UNSUPPORTED, "%s: npy dtype '%s' not supported", path, descr);
  const char *fo = find_key(hdr, "fortran_order");
  if (!fo || strncmp(fo, "False", 5) != 0)
    return vlp_fail(VLP_ERR_UNSUPPORTED, "%s: npy arrays in Fortran order are not supported", path);
  const char *s = find_key(hdr, "shape");
  if (!s || *s != '(') return vlp_fail(VLP_ERR_FORMAT, "%s: npy header has no shape", path);
  s++;
  a->ndim = 0;
  a->count = 1;
  for (;;) {
    while (*s == ' ' || *s == ',') s++;
    if (*s == ')') break;
    if (*s < '0' || *s > '9') return vlp_fail(VLP_ERR_FORMAT, "%s: npy header: bad shape", path);
    if (a->ndim == NPY_MAX_DIMS)
      return vlp_fail(VLP_ERR_UNSUPPORTED, "%s: npy array has more than %d dims", path,
                      NPY_MAX_DIMS);
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || v < 0 || v > (1LL << 40))
      return vlp_fail(VLP_ERR_FORMAT, "%s: npy header: bad dimension", path);
    a->shape[a->ndim++] = v;
    if (v && a->count > ((size_t)1 << 40) / (size_t)v)
      return vlp_fail(VLP_ERR_FORMAT, "%s: npy array too large", path);
    a->count *= (size_t)v;
    s = end;
  }
  return VLP_OK;
}

vlp_status npy_load(const char *path, npy_array *a) {
  memset(a, 0, sizeof *a);
  FILE *f = fopen(path, "rb");
  if (!f) return vlp_fail(VLP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  unsigned char pre[12];
  vlp_status st = VLP_OK;
  char *hdr = NULL;
  if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0) {
    st = vlp_fail(VLP_ERR_FORMAT, "%s: not a .npy file", path);
    goto done;
  }
  size_t hlen;
  if (pre[6] == 1) {
    hlen = pre[8] | (size_t)pre[9] << 8;
  } else if (pre[6] == 2 || pre[6] == 3) {
    if (fread(pre + 10, 1, 2, f) != 2) {
      st = vlp_fail(VLP_ERR_FORMAT, "%s: truncated npy header", path);
      goto done;
    }
    hlen = pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
  } else {
    st = vlp_fail(VLP_ERR_UNSUPPORTED, "%s: npy version %d not supported", path, pre[6]);
    goto done;
  }
  if (hlen > (1u << 20)) {
    st = vlp_fail(VLP_ERR_FORMAT, "%s: npy header too long", path);
    goto done;
  }
  hdr = malloc(hlen + 1);
  if (!hdr || fread(hdr, 1, hlen, f) != hlen) {
    st = vlp_fail(VLP_ERR_FORMAT, "%s: truncated npy header", path);
    goto done;
  }
  hdr[hlen] = 0;
  if ((st = parse_header(path, hdr, a))) goto done;
  size_t esize = npy_dtype_size(a->dtype), bytes = a->count * esize;
  // The data must be in the file: check before allocating what the header claims.
  struct stat sb;
  long at = ftell(f);
  if (esize && a->count > SIZE_MAX / esize) {
    st = vlp_fail(VLP_ERR_FORMAT, "%s: npy shape too large", path);
    goto done;
  }
  if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode) && at >= 0 &&
      (uint64_t)sb.st_size - (uint64_t)at < bytes) {
    st = vlp_fail(VLP_ERR_FORMAT, "%s: npy data truncated (expected %zu bytes, the file has %lld)",
                  path, bytes, (long long)(sb.st_size - at));
    goto done;
  }
  a->data = malloc(bytes ? bytes : 1);
  if (!a->data) {
    st = vlp_fail(VLP_ERR_NOMEM, "%s: out of memory (%zu bytes)", path, bytes);
    goto done;
  }
  if (fread(a->data, 1, bytes, f) != bytes) {
    st = vlp_fail(VLP_ERR_FORMAT, "%s: npy data truncated (expected %zu bytes)", path, bytes);
    goto done;
  }
done:
  free(hdr);
  fclose(f);
  if (st) npy_free(a);
  return st;
}

void npy_free(npy_array *a) {
  free(a->data);
  memset(a, 0, sizeof *a);
}

double npy_get(const npy_array *a, size_t i) {
  const void *p = a->data;
  switch (a->dtype) {
    case NPY_F32:
      return ((const float *)p)[i];
    case NPY_F16:
      return f16_to_f32(((const uint16_t *)p)[i]);
    case NPY_F64:
      return ((const double *)p)[i];
    case NPY_U8:
      return ((const uint8_t *)p)[i];
    case NPY_I8:
      return ((const int8_t *)p)[i];
    case NPY_I32:
      return ((const int32_t *)p)[i];
    case NPY_I64:
      return (double)((const int64_t *)p)[i];
    case NPY_BOOL:
      return ((const uint8_t *)p)[i] != 0;
  }
  return 0;
}

vlp_status npy_save(const char *path, npy_dtype dtype, int ndim, const int64_t *shape,
                    const void *data) {
  const char *descr = descr_of(dtype);
  if (!descr || ndim < 0 || ndim > NPY_MAX_DIMS)
    return vlp_fail(VLP_ERR_INVALID, "%s: cannot write this array", path);
  char dict[512];
  int len =
      snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
  size_t count = 1;
  for (int i = 0; i < ndim; i++) {
    /* numpy's repr of a tuple: "()", "(n,)", "(a, b, c)" */
    len += snprintf(dict + len, sizeof dict - (size_t)len, "%s%lld", i ? ", " : "",
                    (long long)shape[i]);
    count *= (size_t)shape[i];
  }
  len += snprintf(dict + len, sizeof dict - (size_t)len, "%s), }", ndim == 1 ? "," : "");
  /* Pad with spaces so that magic + header length + dict + '\n' is a multiple of 64. */
  size_t total = 10 + (size_t)len + 1;
  size_t pad = (64 - total % 64) % 64;
  size_t hlen = (size_t)len + pad + 1;
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  FILE *f = fopen(tmp, "wb");
  if (!f) return vlp_fail(VLP_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
  unsigned char pre[10] = {0x93,
                           'N',
                           'U',
                           'M',
                           'P',
                           'Y',
                           1,
                           0,
                           (unsigned char)(hlen & 0xff),
                           (unsigned char)(hlen >> 8)};
  int ok = fwrite(pre, 1, 10, f) == 10 && fwrite(dict, 1, (size_t)len, f) == (size_t)len;
  for (size_t i = 0; ok && i < pad; i++) ok = fputc(' ', f) != EOF;
  ok = ok && fputc('\n', f) != EOF;
  size_t bytes = count * npy_dtype_size(dtype);
  ok = ok && fwrite(data, 1, bytes, f) == bytes;
  ok = (fclose(f) == 0) && ok;
  if (!ok || rename(tmp, path) != 0) {
    unlink(tmp);
    return vlp_fail(VLP_ERR_IO, "%s: write failed: %s", path, strerror(errno));
  }
  return VLP_OK;
}
