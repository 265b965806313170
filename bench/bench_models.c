/* bench_models: temporary full-size model folders and process measurements for the model
 * benchmarks (see bench_models.h). */
#include "bench_models.h"

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"
#include "core/safetensors.h"

void bm_die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("bench: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

void bm_map_add(bm_dim_map *m, int64_t tiny, int64_t full) {
  for (int i = 0; i < m->n; i++) {
    if (m->from[i] != tiny) continue;
    if (m->to[i] != full)
      bm_die("map %s: tiny size %lld would become both %lld and %lld", m->prefix, (long long)tiny,
             (long long)m->to[i], (long long)full);
    return;
  }
  if (m->n == BM_MAX_DIMS) bm_die("map %s: too many sizes", m->prefix);
  m->from[m->n] = tiny;
  m->to[m->n++] = full;
}

float bm_uniform(bm_rng *r, float a) {
  r->s ^= r->s >> 12;
  r->s ^= r->s << 25;
  r->s ^= r->s >> 27;
  uint64_t x = r->s * 2685821657736338717ULL;
  return a * ((float)(x >> 40) * (2.0f / 16777216.0f) - 1.0f);
}

static const bm_dim_map *map_for(const char *name, const bm_dim_map *maps, int n) {
  const bm_dim_map *best = NULL;
  for (int i = 0; i < n; i++)
    if (!strncmp(name, maps[i].prefix, strlen(maps[i].prefix)) &&
        (!best || strlen(maps[i].prefix) > strlen(best->prefix)))
      best = &maps[i];
  if (!best) bm_die("no size map for tensor %s", name);
  return best;
}

static int is_norm(const char *name) {
  char low[512];
  size_t i = 0;
  for (; name[i] && i + 1 < sizeof low; i++) low[i] = (char)(name[i] | 0x20);
  low[i] = 0;
  return strstr(low, "norm") != NULL;
}

static int ends_with(const char *s, const char *suf) {
  size_t a = strlen(s), b = strlen(suf);
  return a >= b && !strcmp(s + a - b, suf);
}

/* Growable text buffer for the header. */
typedef struct {
  char *p;
  size_t n, cap;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) {
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
    va_end(ap);
    if (k < 0) bm_die("vsnprintf failed");
    if (b->p && b->n + (size_t)k < b->cap) {
      b->n += (size_t)k;
      return;
    }
    b->cap = (b->cap + (size_t)k + 1) * 2;
    if (!(b->p = realloc(b->p, b->cap))) bm_die("out of memory");
  }
}

/* Position of the layer index in "...layer.N." / "...layers.N." (0 if none); *idx gets N
 * and *end the offset just past its digits. */
static size_t layer_pos(const char *name, int *idx, size_t *end) {
  const char *keys[] = {".layer.", ".layers."};
  for (int k = 0; k < 2; k++) {
    const char *p = strstr(name, keys[k]);
    if (!p) continue;
    const char *d = p + strlen(keys[k]), *e = d;
    while (*e >= '0' && *e <= '9') e++;
    if (e == d || *e != '.') continue;
    *idx = atoi(d);
    *end = (size_t)(e - name);
    return (size_t)(d - name);
  }
  return 0;
}

typedef struct {
  char *name;
  int src; /* tiny tensor index */
  int ndim;
  int64_t shape[ST_MAX_DIMS];
  size_t count;
} out_tensor;

size_t bm_write_scaled_safetensors(const char *src, const char *dst, const bm_dim_map *maps,
                                   int n_maps) {
  st_file *tiny = NULL;
  if (st_open(src, &tiny)) bm_die("%s", vlp_last_error());
  /* The full tensor list: layer 0's tensors repeated for every full layer. */
  size_t cap = 256, n = 0;
  out_tensor *ts = malloc(cap * sizeof *ts);
  if (!ts) bm_die("out of memory");
  for (int i = 0; i < tiny->n; i++) {
    const st_tensor *t = &tiny->tensors[i];
    if (t->dtype != ST_F32) bm_die("%s: tensor %s is not F32", src, t->name);
    const bm_dim_map *m = map_for(t->name, maps, n_maps);
    int idx = 0;
    size_t end = 0, pos = layer_pos(t->name, &idx, &end);
    if (pos && idx != 0) continue; /* made from layer 0 */
    int copies = pos ? m->layers : 1;
    if (pos && copies < 1) bm_die("map %s: no layer count for %s", m->prefix, t->name);
    for (int l = 0; l < copies; l++) {
      if (n == cap && !(ts = realloc(ts, (cap *= 2) * sizeof *ts))) bm_die("out of memory");
      out_tensor *o = &ts[n++];
      size_t len = strlen(t->name) + 16;
      if (!(o->name = malloc(len))) bm_die("out of memory");
      if (pos)
        snprintf(o->name, len, "%.*s%d%s", (int)pos, t->name, l, t->name + end);
      else
        snprintf(o->name, len, "%s", t->name);
      o->src = i;
      o->ndim = t->ndim;
      o->count = 1;
      for (int d = 0; d < t->ndim; d++) {
        int j = 0;
        while (j < m->n && m->from[j] != t->shape[d]) j++;
        if (j == m->n)
          bm_die("tensor %s: tiny size %lld has no full size in map %s", t->name,
                 (long long)t->shape[d], m->prefix);
        o->shape[d] = m->to[j];
        o->count *= (size_t)m->to[j];
      }
    }
  }
  sbuf h = {0};
  sb_printf(&h, "{\"__metadata__\":{\"format\":\"pt\"}");
  size_t off = 0;
  for (size_t i = 0; i < n; i++) {
    sb_printf(&h, ",\"%s\":{\"dtype\":\"F32\",\"shape\":[", ts[i].name);
    for (int d = 0; d < ts[i].ndim; d++)
      sb_printf(&h, "%s%lld", d ? "," : "", (long long)ts[i].shape[d]);
    sb_printf(&h, "],\"data_offsets\":[%zu,%zu]}", off, off + ts[i].count * 4);
    off += ts[i].count * 4;
  }
  sb_printf(&h, "}");
  while (h.n % 8) sb_printf(&h, " "); /* data starts 8-aligned */

  FILE *f = fopen(dst, "wb");
  if (!f) bm_die("%s: %s", dst, strerror(errno));
  uint64_t hl = h.n;
  unsigned char le[8];
  for (int i = 0; i < 8; i++) le[i] = (unsigned char)(hl >> (8 * i));
  if (fwrite(le, 1, 8, f) != 8 || fwrite(h.p, 1, h.n, f) != h.n) bm_die("%s: write failed", dst);
  enum { CHUNK = 1 << 20 };
  float *buf = malloc(CHUNK * sizeof *buf);
  if (!buf) bm_die("out of memory");
  bm_rng rng = {0x9E3779B97F4A7C15ULL};
  const float a = 0.02f * 1.7320508f; /* uniform [-a, a] has std 0.02 */
  for (size_t i = 0; i < n; i++) {
    const char *name = ts[i].name;
    int norm = is_norm(name), random = !norm;
    float fixed = norm && ends_with(name, "weight") ? 1.0f : 0.0f;
    if (!strcmp(name, "logit_scale")) fixed = 2.6592f, random = 0;
    for (size_t done = 0; done < ts[i].count;) {
      size_t k = ts[i].count - done < CHUNK ? ts[i].count - done : CHUNK;
      for (size_t e = 0; e < k; e++) buf[e] = random ? bm_uniform(&rng, a) : fixed;
      if (fwrite(buf, sizeof *buf, k, f) != k) bm_die("%s: write failed", dst);
      done += k;
    }
    free(ts[i].name);
  }
  if (fclose(f)) bm_die("%s: close failed", dst);
  free(buf);
  free(h.p);
  free(ts);
  st_close(tiny);
  return 8 + hl + off;
}

char *bm_make_tmpdir(const char *tag) {
  const char *base = getenv("TMPDIR");
  if (!base || !*base) base = "/tmp";
  char *p = malloc(PATH_MAX);
  if (!p) bm_die("out of memory");
  snprintf(p, PATH_MAX, "%s/vlp_bench_%s_XXXXXX", base, tag);
  if (!mkdtemp(p)) bm_die("mkdtemp %s: %s", p, strerror(errno));
  return p;
}

void bm_copy(const char *src_dir, const char *dst_dir, const char *name) {
  char a[PATH_MAX], b[PATH_MAX];
  snprintf(a, sizeof a, "%s/%s", src_dir, name);
  snprintf(b, sizeof b, "%s/%s", dst_dir, name);
  FILE *in = fopen(a, "rb"), *out = in ? fopen(b, "wb") : NULL;
  if (!in || !out) bm_die("copy %s -> %s: %s", a, b, strerror(errno));
  char buf[65536];
  size_t k;
  while ((k = fread(buf, 1, sizeof buf, in)) > 0)
    if (fwrite(buf, 1, k, out) != k) bm_die("%s: write failed", b);
  fclose(in);
  if (fclose(out)) bm_die("%s: close failed", b);
}

void bm_remove_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  char p[PATH_MAX];
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    unlink(p);
  }
  closedir(d);
  rmdir(dir);
}

int bm_run_child(char *const argv[], size_t *peak_rss, double *seconds) {
  double t0 = bench_now();
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) bm_die("fork: %s", strerror(errno));
  if (pid == 0) {
    FILE *devnull = freopen("/dev/null", "w", stdout);
    (void)devnull;
    execv(argv[0], argv);
    _exit(127);
  }
  int status = 0;
  struct rusage ru;
  memset(&ru, 0, sizeof ru);
  if (wait4(pid, &status, 0, &ru) < 0) bm_die("wait4: %s", strerror(errno));
  *seconds = bench_now() - t0;
  *peak_rss = (size_t)ru.ru_maxrss * 1024; /* Linux: kilobytes */
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

char *bm_find_vlp(const char *argv0, const char *argv1) {
  char *p = malloc(PATH_MAX);
  if (!p) bm_die("out of memory");
  if (argv1) {
    snprintf(p, PATH_MAX, "%s", argv1);
    return p;
  }
  char self[PATH_MAX];
  ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
  if (k <= 0) snprintf(self, sizeof self, "%s", argv0), k = (ssize_t)strlen(self);
  self[k] = 0;
  snprintf(p, PATH_MAX, "%s/../vlp", dirname(self));
  return p;
}

size_t bm_file_size(const char *path) {
  struct stat s;
  if (stat(path, &s)) bm_die("%s: %s", path, strerror(errno));
  return (size_t)s.st_size;
}

double bm_layer_flops(double T, double D, double F) {
  return 2.0 * T * D * D * 4 + 2.0 * 2 * T * D * F + 2.0 * 2 * T * T * D;
}

cJSON *bm_read_json(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) bm_die("cannot open %s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  if (!s || fread(s, 1, (size_t)n, f) != (size_t)n) bm_die("cannot read %s", path);
  s[n] = 0;
  fclose(f);
  cJSON *j = cJSON_Parse(s);
  free(s);
  if (!j) bm_die("%s: not JSON", path);
  return j;
}

void bm_write_json(const cJSON *j, const char *dir, const char *name) {
  char p[4096];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  char *s = cJSON_Print(j);
  FILE *f = fopen(p, "wb");
  if (!s || !f || fputs(s, f) < 0 || fclose(f)) bm_die("cannot write %s", p);
  free(s);
}

cJSON *bm_read_config(const char *tiny, cJSON **vc, cJSON **tc) {
  char p[4096];
  snprintf(p, sizeof p, "%s/config.json", tiny);
  cJSON *cfg = bm_read_json(p);
  *vc = cJSON_GetObjectItemCaseSensitive(cfg, "vision_config");
  *tc = cJSON_GetObjectItemCaseSensitive(cfg, "text_config");
  if (!*vc || !*tc) bm_die("%s: no vision_config / text_config", p);
  return cfg;
}

int bm_get_int(const cJSON *obj, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!cJSON_IsNumber(v)) bm_die("tiny config: %s missing", key);
  return v->valueint;
}

void bm_set_num(cJSON *obj, const char *key, double v) {
  if (!cJSON_GetObjectItemCaseSensitive(obj, key)) bm_die("tiny config has no %s", key);
  cJSON_ReplaceItemInObjectCaseSensitive(obj, key, cJSON_CreateNumber(v));
}

size_t bm_make_blip_base(const char *tiny, const char *dir) {
  char p[4096], q[4096];
  cJSON *vc, *tc, *cfg = bm_read_config(tiny, &vc, &tc);
  /* The tiny -> full size maps, from the two configs. */
  bm_dim_map maps[3] = {{.prefix = "vision_model.", .layers = BLIP_LV},
                        {.prefix = "text_decoder.", .layers = BLIP_LT}};
  int tdv = bm_get_int(vc, "hidden_size"), tfv = bm_get_int(vc, "intermediate_size");
  int tps = bm_get_int(vc, "patch_size"), tis = bm_get_int(vc, "image_size");
  bm_map_add(&maps[0], tdv, BLIP_DV);
  bm_map_add(&maps[0], 3 * tdv, 3 * BLIP_DV);
  bm_map_add(&maps[0], tfv, BLIP_FV);
  bm_map_add(&maps[0], tps, BLIP_PATCH);
  bm_map_add(&maps[0], 1 + (tis / tps) * (tis / tps),
             1 + (BLIP_IMG / BLIP_PATCH) * (BLIP_IMG / BLIP_PATCH));
  bm_map_add(&maps[0], 3, 3);
  bm_map_add(&maps[0], 1, 1);
  bm_map_add(&maps[1], bm_get_int(tc, "hidden_size"), BLIP_DT);
  bm_map_add(&maps[1], bm_get_int(tc, "intermediate_size"), BLIP_FT);
  bm_map_add(&maps[1], bm_get_int(tc, "encoder_hidden_size"), BLIP_DENC);
  bm_map_add(&maps[1], bm_get_int(tc, "vocab_size"), BLIP_VOCAB);
  bm_map_add(&maps[1], bm_get_int(tc, "max_position_embeddings"), BLIP_MAXPOS);
  maps[2] = maps[1]; /* the VQA model's question encoder: BERT-base, as the decoder */
  maps[2].prefix = "text_encoder.";

  const struct {
    cJSON *o;
    const char *k;
    double v;
  } sets[] = {{vc, "hidden_size", BLIP_DV},
              {vc, "num_hidden_layers", BLIP_LV},
              {vc, "num_attention_heads", BLIP_HV},
              {vc, "intermediate_size", BLIP_FV},
              {vc, "image_size", BLIP_IMG},
              {vc, "patch_size", BLIP_PATCH},
              {tc, "hidden_size", BLIP_DT},
              {tc, "num_hidden_layers", BLIP_LT},
              {tc, "num_attention_heads", BLIP_HT},
              {tc, "intermediate_size", BLIP_FT},
              {tc, "vocab_size", BLIP_VOCAB},
              {tc, "encoder_hidden_size", BLIP_DENC},
              {tc, "max_position_embeddings", BLIP_MAXPOS},
              {cfg, "image_text_hidden_size", 256},
              {cfg, "projection_dim", 512}};
  for (size_t i = 0; i < sizeof sets / sizeof *sets; i++)
    bm_set_num(sets[i].o, sets[i].k, sets[i].v);
  bm_write_json(cfg, dir, "config.json");
  cJSON_Delete(cfg);

  snprintf(p, sizeof p, "%s/preprocessor_config.json", tiny);
  cJSON *pre = bm_read_json(p);
  cJSON *size = cJSON_GetObjectItemCaseSensitive(pre, "size");
  if (!size) bm_die("%s: no size", p);
  bm_set_num(size, "height", BLIP_IMG);
  bm_set_num(size, "width", BLIP_IMG);
  bm_write_json(pre, dir, "preprocessor_config.json");
  cJSON_Delete(pre);

  const char *copy[] = {"added_tokens.json", "generation_config.json", "special_tokens_map.json",
                        "tokenizer_config.json", "vocab.txt"};
  for (size_t i = 0; i < sizeof copy / sizeof *copy; i++) bm_copy(tiny, dir, copy[i]);
  snprintf(p, sizeof p, "%s/model.safetensors", tiny);
  snprintf(q, sizeof q, "%s/model.safetensors", dir);
  return bm_write_scaled_safetensors(p, q, maps, 3);
}

size_t bm_make_clip_base(const char *tiny, const char *dir, int patch) {
  char p[4096], q[4096];
  cJSON *vc, *tc, *cfg = bm_read_config(tiny, &vc, &tc);
  bm_dim_map maps[5] = {{.prefix = "vision_model.", .layers = CLIP_LV},
                        {.prefix = "text_model.", .layers = CLIP_LT},
                        {.prefix = "visual_projection."},
                        {.prefix = "text_projection."},
                        {.prefix = "logit_scale"}};
  int tdv = bm_get_int(vc, "hidden_size"), tdt = bm_get_int(tc, "hidden_size");
  int tps = bm_get_int(vc, "patch_size"), tis = bm_get_int(vc, "image_size");
  int tp = bm_get_int(cfg, "projection_dim");
  bm_map_add(&maps[0], tdv, CLIP_DV);
  bm_map_add(&maps[0], bm_get_int(vc, "intermediate_size"), CLIP_FV);
  bm_map_add(&maps[0], tps, patch);
  bm_map_add(&maps[0], 1 + (tis / tps) * (tis / tps), 1 + (CLIP_IMG / patch) * (CLIP_IMG / patch));
  bm_map_add(&maps[0], 3, 3);
  bm_map_add(&maps[1], tdt, CLIP_DT);
  bm_map_add(&maps[1], bm_get_int(tc, "intermediate_size"), CLIP_FT);
  bm_map_add(&maps[1], bm_get_int(tc, "vocab_size"), CLIP_VOCAB);
  bm_map_add(&maps[1], bm_get_int(tc, "max_position_embeddings"), CLIP_MAXPOS);
  bm_map_add(&maps[2], tp, CLIP_PROJ);
  bm_map_add(&maps[2], tdv, CLIP_DV);
  bm_map_add(&maps[3], tp, CLIP_PROJ);
  bm_map_add(&maps[3], tdt, CLIP_DT);

  bm_set_num(vc, "hidden_size", CLIP_DV);
  bm_set_num(vc, "num_hidden_layers", CLIP_LV);
  bm_set_num(vc, "num_attention_heads", CLIP_HV);
  bm_set_num(vc, "intermediate_size", CLIP_FV);
  bm_set_num(vc, "image_size", CLIP_IMG);
  bm_set_num(vc, "patch_size", patch);
  bm_set_num(vc, "projection_dim", CLIP_PROJ);
  bm_set_num(tc, "hidden_size", CLIP_DT);
  bm_set_num(tc, "num_hidden_layers", CLIP_LT);
  bm_set_num(tc, "num_attention_heads", CLIP_HT);
  bm_set_num(tc, "intermediate_size", CLIP_FT);
  bm_set_num(tc, "vocab_size", CLIP_VOCAB);
  bm_set_num(tc, "max_position_embeddings", CLIP_MAXPOS);
  bm_set_num(tc, "projection_dim", CLIP_PROJ);
  bm_set_num(cfg, "projection_dim", CLIP_PROJ);
  bm_write_json(cfg, dir, "config.json");
  cJSON_Delete(cfg);

  snprintf(p, sizeof p, "%s/preprocessor_config.json", tiny);
  cJSON *pre = bm_read_json(p);
  cJSON *crop = cJSON_GetObjectItemCaseSensitive(pre, "crop_size");
  cJSON *size = cJSON_GetObjectItemCaseSensitive(pre, "size");
  if (!crop || !size) bm_die("%s: no crop_size / size", p);
  bm_set_num(crop, "height", CLIP_IMG);
  bm_set_num(crop, "width", CLIP_IMG);
  bm_set_num(size, "shortest_edge", CLIP_IMG);
  bm_write_json(pre, dir, "preprocessor_config.json");
  cJSON_Delete(pre);

  const char *copy[] = {"vocab.json", "merges.txt", "special_tokens_map.json",
                        "tokenizer_config.json"};
  for (size_t i = 0; i < sizeof copy / sizeof *copy; i++) bm_copy(tiny, dir, copy[i]);
  snprintf(p, sizeof p, "%s/model.safetensors", tiny);
  snprintf(q, sizeof q, "%s/model.safetensors", dir);
  return bm_write_scaled_safetensors(p, q, maps, 5);
}
