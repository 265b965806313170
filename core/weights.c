/* weights: the tensors of one model folder (see weights.h). One safetensors file or the
 * shards listed by model.safetensors.index.json, merged into one name-sorted table.
 * float32 views of F16/BF16 (and of unaligned F32) tensors are made once and cached per
 * tensor; the cache is not locked, so load weights from one thread. */
#include "core/weights.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/gemm.h"
#include "core/half.h"
#include "core/json.h"

typedef struct {
  const st_tensor *t;
  int file;            /* index into w->files */
  float *conv;         /* owned float32 copy, made on first weights_f32 call (NULL until then) */
  const float *handed; /* what weights_f32 returned (NULL until then) */
  int prepared;        /* registered with core/gemm (gemm_forget at close) */
  int stacked;         /* part of a gemm_stack: prepared with it, never alone */
  int few_rows;        /* weights_few_rows: gemm_prepare_few_rows */
} w_entry;

/* A stacked product (weights_linear_stack) and the entries of its weights. */
typedef struct {
  gemm_stack *s;
  w_entry *part[GEMM_STACK_MAX];
  int parts;
  int few_rows;
} w_stack;

struct vlp_weights {
  char *label; /* DIR/model.safetensors or DIR/model.safetensors.index.json, for messages */
  int nfiles;
  st_file **files;
  int n;
  w_entry *entries; /* sorted by tensor name */
  int nstacks;
  w_stack *stacks;
};

static char *join_path(const char *dir, const char *name) {
  size_t a = strlen(dir), b = strlen(name);
  char *p = malloc(a + b + 2);
  if (!p) return NULL;
  memcpy(p, dir, a);
  size_t k = a;
  if (a && dir[a - 1] != '/') p[k++] = '/';
  memcpy(p + k, name, b + 1);
  return p;
}

static int file_exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0;
}

static int cmp_entry(const void *a, const void *b) {
  return strcmp(((const w_entry *)a)->t->name, ((const w_entry *)b)->t->name);
}

static w_entry *find_entry(const vlp_weights *w, const char *name) {
  int lo = 0, hi = w->n - 1;
  while (lo <= hi) {
    int mid = lo + (hi - lo) / 2;
    int c = strcmp(name, w->entries[mid].t->name);
    if (c == 0) return &w->entries[mid];
    if (c < 0)
      hi = mid - 1;
    else
      lo = mid + 1;
  }
  return NULL;
}

/* Open the shards named in index.json's weight_map (each once) into w->files. */
static vlp_status open_shards(vlp_weights *w, const char *dir, const cJSON *map) {
  int cap = cJSON_GetArraySize(map);
  w->files = calloc(cap > 0 ? (size_t)cap : 1, sizeof *w->files);
  if (!w->files) return vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", w->label);
  const cJSON *e;
  cJSON_ArrayForEach(e, map) {
    if (!cJSON_IsString(e))
      return vlp_fail(VLP_ERR_FORMAT, "%s: weight_map entry %s is not a file name", w->label,
                      e->string ? e->string : "?");
    const char *shard = e->valuestring;
    /* Shards live in the model folder itself. */
    if (!shard[0] || strchr(shard, '/') || strcmp(shard, "..") == 0)
      return vlp_fail(VLP_ERR_FORMAT, "%s: bad shard file name \"%.200s\" for tensor %s", w->label,
                      shard, e->string ? e->string : "?");
    char *path = join_path(dir, shard);
    if (!path) return vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", w->label);
    int seen = 0;
    for (int i = 0; i < w->nfiles && !seen; i++) seen = strcmp(w->files[i]->path, path) == 0;
    vlp_status st = VLP_OK;
    if (!seen) {
      st = st_open(path, &w->files[w->nfiles]);
      if (st == VLP_OK) w->nfiles++;
    }
    free(path);
    if (st) return st;
  }
  return VLP_OK;
}

/* Every name in weight_map must be in the shard it names. */
static vlp_status check_weight_map(const vlp_weights *w, const char *dir, const cJSON *map) {
  const cJSON *e;
  cJSON_ArrayForEach(e, map) {
    const w_entry *en = find_entry(w, e->string ? e->string : "");
    char *path = join_path(dir, e->valuestring);
    if (!path) return vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", w->label);
    int ok = en && strcmp(w->files[en->file]->path, path) == 0;
    vlp_status st = ok ? VLP_OK
                       : vlp_fail(VLP_ERR_MODEL, "%s: missing tensor %s (listed in %s)", path,
                                  e->string ? e->string : "?", w->label);
    free(path);
    if (st) return st;
  }
  return VLP_OK;
}

/* Merge the tensors of all files into w->entries; a name in two files is an error. */
static vlp_status build_table(vlp_weights *w) {
  size_t total = 0;
  for (int i = 0; i < w->nfiles; i++) total += (size_t)w->files[i]->n;
  if (total > (size_t)0x7fffffff) return vlp_fail(VLP_ERR_MODEL, "%s: too many tensors", w->label);
  w->entries = calloc(total ? total : 1, sizeof *w->entries);
  if (!w->entries) return vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", w->label);
  for (int i = 0; i < w->nfiles; i++) {
    for (int k = 0; k < w->files[i]->n; k++) {
      w->entries[w->n].t = &w->files[i]->tensors[k];
      w->entries[w->n].file = i;
      w->n++;
    }
  }
  qsort(w->entries, (size_t)w->n, sizeof *w->entries, cmp_entry);
  for (int i = 1; i < w->n; i++) {
    if (strcmp(w->entries[i - 1].t->name, w->entries[i].t->name) == 0)
      return vlp_fail(VLP_ERR_MODEL, "%s: tensor %s is in both %s and %s", w->label,
                      w->entries[i].t->name, w->files[w->entries[i - 1].file]->path,
                      w->files[w->entries[i].file]->path);
  }
  return VLP_OK;
}

vlp_status weights_open(const char *model_dir, vlp_weights **out) {
  *out = NULL;
  vlp_weights *w = calloc(1, sizeof *w);
  if (!w) return vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", model_dir);
  vlp_status st = VLP_OK;
  cJSON *index = NULL;
  char *single = join_path(model_dir, "model.safetensors");
  char *index_path = join_path(model_dir, "model.safetensors.index.json");
  if (!single || !index_path) {
    st = vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", model_dir);
    goto done;
  }

  if (file_exists(single) || !file_exists(index_path)) {
    w->label = single;
    single = NULL;
    if (!file_exists(w->label)) {
      st = vlp_fail(VLP_ERR_IO, "%s: no model.safetensors or model.safetensors.index.json",
                    model_dir);
      goto done;
    }
    w->files = calloc(1, sizeof *w->files);
    if (!w->files) {
      st = vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", w->label);
      goto done;
    }
    st = st_open(w->label, &w->files[0]);
    if (st) goto done;
    w->nfiles = 1;
    st = build_table(w);
  } else {
    w->label = index_path;
    index_path = NULL;
    st = json_load_file(w->label, &index);
    if (st) goto done;
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(index, "weight_map");
    if (!cJSON_IsObject(map)) {
      st = vlp_fail(VLP_ERR_FORMAT, "%s: no \"weight_map\" object", w->label);
      goto done;
    }
    st = open_shards(w, model_dir, map);
    if (st) goto done;
    st = build_table(w);
    if (st) goto done;
    st = check_weight_map(w, model_dir, map);
  }

done:
  cJSON_Delete(index);
  free(single);
  free(index_path);
  if (st) {
    weights_close(w);
    return st;
  }
  *out = w;
  return VLP_OK;
}

void weights_close(vlp_weights *w) {
  if (!w) return;
  for (int i = 0; i < w->n; i++) {
    if (w->entries[i].prepared) gemm_forget(w->entries[i].handed);
    free(w->entries[i].conv);
  }
  free(w->entries);
  for (int i = 0; i < w->nstacks; i++) gemm_stack_free(w->stacks[i].s);
  free(w->stacks);
  for (int i = 0; i < w->nfiles; i++) st_close(w->files[i]);
  free(w->files);
  free(w->label);
  free(w);
}

const st_tensor *weights_find(const vlp_weights *w, const char *name) {
  const w_entry *e = w && name ? find_entry(w, name) : NULL;
  return e ? e->t : NULL;
}

/* "[a, b, c]" into buf. */
static void fmt_shape(char *buf, size_t cap, int ndim, const int64_t *dims) {
  size_t k = 0;
  k += (size_t)snprintf(buf + k, cap - k, "[");
  for (int i = 0; i < ndim && k < cap; i++)
    k += (size_t)snprintf(buf + k, cap - k, "%s%lld", i ? ", " : "", (long long)dims[i]);
  if (k < cap) snprintf(buf + k, cap - k, "]");
}

/* Fill e->conv with the float32 values of e->t. */
static vlp_status convert(const vlp_weights *w, w_entry *e) {
  const st_tensor *t = e->t;
  size_t n = t->nbytes / st_dtype_size(t->dtype);
  float *dst = malloc(n ? n * sizeof(float) : 1);
  if (!dst)
    return vlp_fail(VLP_ERR_NOMEM, "%s: out of memory converting tensor %s (%zu values)",
                    w->files[e->file]->path, t->name, n);
  if (t->dtype == ST_F32) {
    memcpy(dst, t->data, t->nbytes); /* unaligned in the file */
  } else {
    /* Read each value with memcpy: the data may be unaligned in the file. */
    const uint8_t *src = t->data;
    for (size_t i = 0; i < n; i++) {
      uint16_t v;
      memcpy(&v, src + 2 * i, sizeof v);
      dst[i] = t->dtype == ST_F16 ? f16_to_f32(v) : bf16_to_f32(v);
    }
  }
  e->conv = dst;
  return VLP_OK;
}

vlp_status weights_f32(vlp_weights *w, const char *name, const float **out, int ndim, ...) {
  *out = NULL;
  w_entry *e = find_entry(w, name);
  if (!e) return vlp_fail(VLP_ERR_MODEL, "%s: missing tensor %s", w->label, name);
  const st_tensor *t = e->t;
  const char *path = w->files[e->file]->path;

  int64_t want[ST_MAX_DIMS];
  int ok = ndim == t->ndim && ndim >= 0 && ndim <= ST_MAX_DIMS;
  va_list ap;
  va_start(ap, ndim);
  for (int i = 0; i < ndim && i < ST_MAX_DIMS; i++) {
    want[i] = va_arg(ap, int);
    if (i < t->ndim && want[i] != t->shape[i]) ok = 0;
  }
  va_end(ap);
  if (!ok) {
    char ws[160], fs[160];
    fmt_shape(ws, sizeof ws, ndim < 0 ? 0 : ndim > ST_MAX_DIMS ? ST_MAX_DIMS : ndim, want);
    fmt_shape(fs, sizeof fs, t->ndim, t->shape);
    return vlp_fail(VLP_ERR_MODEL, "%s: tensor %s has shape %s, expected %s", path, name, fs, ws);
  }

  if (t->dtype != ST_F32 && t->dtype != ST_F16 && t->dtype != ST_BF16)
    return vlp_fail(VLP_ERR_UNSUPPORTED, "%s: tensor %s has dtype %s, need F32, F16 or BF16", path,
                    name, st_dtype_name(t->dtype));
  if (t->dtype == ST_F32 && ((uintptr_t)t->data % _Alignof(float)) == 0) {
    *out = e->handed = (const float *)t->data; /* the mapping itself */
    return VLP_OK;
  }
  if (!e->conv) {
    vlp_status st = convert(w, e);
    if (st) return st;
  }
  *out = e->handed = e->conv;
  return VLP_OK;
}

vlp_status weights_linear_stack(vlp_weights *w, const char *const *wnames,
                                const char *const *bnames, int parts, int rows, int in,
                                const gemm_stack **out) {
  *out = NULL;
  if (parts < 1 || parts > GEMM_STACK_MAX)
    return vlp_fail(VLP_ERR_INVALID, "weights: %d weights cannot be stacked", parts);
  const float *W[GEMM_STACK_MAX] = {0}, *b[GEMM_STACK_MAX] = {0};
  w_stack k = {.parts = parts};
  for (int i = 0; i < parts; i++) {
    vlp_status st = weights_f32(w, wnames[i], &W[i], 2, rows, in);
    if (!st && bnames && bnames[i]) st = weights_f32(w, bnames[i], &b[i], 1, rows);
    if (st) return st;
    k.part[i] = find_entry(w, wnames[i]);
  }
  w_stack *grown = realloc(w->stacks, ((size_t)w->nstacks + 1) * sizeof *grown);
  if (!grown) return vlp_fail(VLP_ERR_NOMEM, "weights: out of memory");
  w->stacks = grown;
  vlp_status st = gemm_stack_new(W, b, parts, rows, in, &k.s);
  if (st) return st;
  for (int i = 0; i < parts; i++) k.part[i]->stacked = 1;
  w->stacks[w->nstacks++] = k;
  *out = k.s;
  return VLP_OK;
}

vlp_status weights_linear_stack_named(vlp_weights *w, const char *pre, const char *const *part,
                                      const char *post, int parts, int rows, int in,
                                      const gemm_stack **out) {
  char wn[GEMM_STACK_MAX][512], bn[GEMM_STACK_MAX][512];
  const char *wp[GEMM_STACK_MAX], *bp[GEMM_STACK_MAX];
  *out = NULL;
  if (parts < 1 || parts > GEMM_STACK_MAX)
    return vlp_fail(VLP_ERR_INVALID, "weights: %d weights cannot be stacked", parts);
  for (int i = 0; i < parts; i++) {
    int a = snprintf(wn[i], sizeof wn[i], "%s%s%s.weight", pre, part[i], post);
    int b = snprintf(bn[i], sizeof bn[i], "%s%s%s.bias", pre, part[i], post);
    if (a < 0 || b < 0 || (size_t)a >= sizeof wn[i] || (size_t)b >= sizeof bn[i])
      return vlp_fail(VLP_ERR_INVALID, "weights: tensor name too long: %.100s...", pre);
    wp[i] = wn[i], bp[i] = bn[i];
  }
  return weights_linear_stack(w, wp, bp, parts, rows, in, out);
}

void weights_few_rows(vlp_weights *w, const float *W) {
  for (int i = 0; i < w->n; i++)
    if (w->entries[i].handed == W) w->entries[i].few_rows = 1;
}

void weights_stack_few_rows(vlp_weights *w, const gemm_stack *s) {
  for (int i = 0; i < w->nstacks; i++)
    if (w->stacks[i].s == s) w->stacks[i].few_rows = 1;
}

st_dtype weights_main_dtype(const vlp_weights *w) {
  size_t bytes[ST_BOOL + 1] = {0};
  for (int i = 0; i < w->n; i++) bytes[w->entries[i].t->dtype] += w->entries[i].t->nbytes;
  int best = ST_F32;
  for (int d = 0; d <= ST_BOOL; d++)
    if (bytes[d] > bytes[best]) best = d;
  return (st_dtype)best;
}

size_t weights_bytes(const vlp_weights *w) {
  size_t total = 0;
  for (int i = 0; i < w->n; i++) total += w->entries[i].t->nbytes;
  return total;
}

vlp_status weights_scalar(vlp_weights *w, const char *name, const char *dir, float *out) {
  const st_tensor *t = weights_find(w, name);
  if (!t) return vlp_fail(VLP_ERR_MODEL, "%s: tensor %s is missing", dir, name);
  const float *p = NULL;
  vlp_status st;
  if (t->ndim == 0)
    st = weights_f32(w, name, &p, 0);
  else if (t->ndim == 1 && t->shape[0] == 1)
    st = weights_f32(w, name, &p, 1, 1);
  else
    return vlp_fail(VLP_ERR_MODEL, "%s: tensor %s must be a scalar (has %d dims)", dir, name,
                    t->ndim);
  if (st) return st;
  if (!isfinite(p[0])) return vlp_fail(VLP_ERR_MODEL, "%s: tensor %s is not finite", dir, name);
  *out = p[0];
  return VLP_OK;
}

static int ends_with(const char *s, const char *tail) {
  size_t n = strlen(s), m = strlen(tail);
  return n >= m && strcmp(s + n - m, tail) == 0;
}

/* Weights used as the W of y = x W^T: nn.Linear's 2-D "*.weight" tensors that are not
 * embedding tables (those are indexed by row, never multiplied), nn.MultiheadAttention's
 * "*.in_proj_weight" (SigLIP's pooling head), and the ViTs' patch embedding, a Conv2d
 * with stride = kernel that vision/vit.c runs as one product with W viewed (out, in
 * channels x kernel height x kernel width). */
static int is_linear_weight(const st_tensor *t) {
  if (t->ndim == 4) return ends_with(t->name, ".patch_embedding.weight");
  return t->ndim == 2 && (ends_with(t->name, ".weight") || ends_with(t->name, ".in_proj_weight")) &&
         !strstr(t->name, "embedding");
}

/* Release the whole pages inside [p, p + n) of a read-only file mapping. */
static size_t drop_pages(const void *p, size_t n) {
  long ps = sysconf(_SC_PAGESIZE);
  if (ps <= 0) return 0;
  uintptr_t a = ((uintptr_t)p + (uintptr_t)ps - 1) / (uintptr_t)ps * (uintptr_t)ps;
  uintptr_t b = ((uintptr_t)p + n) / (uintptr_t)ps * (uintptr_t)ps;
  if (b <= a) return 0;
  return madvise((void *)a, b - a, MADV_DONTNEED) == 0 ? b - a : 0;
}

/* Map the pages of [p, p + n) of a file mapping in one call before packing reads them
 * (MADV_POPULATE_READ, Linux 5.14+; elsewhere a no-op): the reads would fault ~16 pages at a
 * time, at ~12 us a fault on the development VM. */
static void map_pages(const void *p, size_t n) {
#ifdef MADV_POPULATE_READ
  long ps = sysconf(_SC_PAGESIZE);
  if (ps <= 0) return;
  uintptr_t a = (uintptr_t)p / (uintptr_t)ps * (uintptr_t)ps;
  madvise((void *)a, (uintptr_t)p + n - a, MADV_POPULATE_READ);
#else
  (void)p, (void)n;
#endif
}

vlp_status weights_prepare_linears(vlp_weights *w, vlp_precision prec, weights_pack_report *r) {
  weights_pack_report rep = {0};
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  vlp_status st = VLP_OK;
  for (int i = 0; i < w->n && !st; i++) {
    w_entry *e = &w->entries[i];
    if (!e->handed || e->prepared || e->stacked || !is_linear_weight(e->t)) continue;
    int64_t in64 = 1;
    for (int d = 1; d < e->t->ndim; d++) in64 *= e->t->shape[d];
    if (in64 > INT32_MAX) continue;
    int out = (int)e->t->shape[0], in = (int)in64;
    size_t bytes = 0;
    if (!e->conv) map_pages(e->handed, e->t->nbytes);
    st = e->few_rows ? gemm_prepare_few_rows(e->handed, out, in, prec, &bytes)
                     : gemm_prepare(e->handed, out, in, prec, &bytes);
    if (st) {
      vlp_fail_prefix(st, "%s: tensor %s", w->files[e->file]->path, e->t->name);
      break;
    }
    e->prepared = 1;
    rep.tensors++;
    rep.packed_bytes += bytes;
    if (bytes && !e->conv) rep.dropped += drop_pages(e->handed, e->t->nbytes);
  }
  for (int i = 0; i < w->nstacks && !st; i++) {
    w_stack *k = &w->stacks[i];
    size_t bytes = 0;
    for (int j = 0; j < k->parts; j++)
      if (!k->part[j]->conv) map_pages(k->part[j]->handed, k->part[j]->t->nbytes);
    st = k->few_rows ? gemm_stack_prepare_few_rows(k->s, prec, &bytes)
                     : gemm_stack_prepare(k->s, prec, &bytes);
    if (st) {
      vlp_fail_prefix(st, "%s: tensor %s (stacked)", w->files[k->part[0]->file]->path,
                      k->part[0]->t->name);
      break;
    }
    rep.tensors += k->parts;
    rep.packed_bytes += bytes;
    for (int j = 0; j < k->parts && bytes; j++)
      if (!k->part[j]->conv) rep.dropped += drop_pages(k->part[j]->handed, k->part[j]->t->nbytes);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  rep.seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
  if (r) *r = rep;
  return st;
}
