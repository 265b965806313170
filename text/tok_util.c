/* tok_util: buffers, UTF-8, hash map, Python-compatible case/whitespace, normalisation,
 * added tokens and the split on them (see tok_util.h). */
#include "text/tok_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <utf8proc.h>

#include "core/error.h"
#include "core/json.h"

/* ---- buffers ------------------------------------------------------------------------ */

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return 0;
  size_t nc = *cap ? *cap : 16;
  while (nc < need) {
    if (nc > SIZE_MAX / 2) return -1;
    nc *= 2;
  }
  if (nc > SIZE_MAX / elem) return -1;
  void *q = realloc(*p, nc * elem);
  if (!q) return -1;
  *p = q;
  *cap = nc;
  return 0;
}

int cps_reserve(tok_cps *b, size_t extra) {
  if (extra > SIZE_MAX - b->n) return -1;
  return grow((void **)&b->p, &b->cap, b->n + extra, sizeof *b->p);
}

int cps_push(tok_cps *b, uint32_t c) {
  if (b->n == b->cap && cps_reserve(b, 1)) return -1;
  b->p[b->n++] = c;
  return 0;
}

int cps_append(tok_cps *b, const uint32_t *c, size_t n) {
  if (!n) return 0;
  if (cps_reserve(b, n)) return -1;
  memcpy(b->p + b->n, c, n * sizeof *c);
  b->n += n;
  return 0;
}

void cps_free(tok_cps *b) {
  free(b->p);
  b->p = NULL;
  b->n = b->cap = 0;
}

int str_reserve(tok_str *s, size_t extra) {
  if (extra > SIZE_MAX - s->n - 1) return -1;
  return grow((void **)&s->p, &s->cap, s->n + extra + 1, 1);
}

int str_append(tok_str *s, const char *p, size_t n) {
  if (str_reserve(s, n)) return -1;
  if (n) memcpy(s->p + s->n, p, n);
  s->n += n;
  s->p[s->n] = 0;
  return 0;
}

int tok_utf8_put(uint32_t c, char b[4]) {
  if (c < 0x80) {
    b[0] = (char)c;
    return 1;
  }
  if (c < 0x800) {
    b[0] = (char)(0xC0 | (c >> 6));
    b[1] = (char)(0x80 | (c & 0x3F));
    return 2;
  }
  if (c < 0x10000) {
    b[0] = (char)(0xE0 | (c >> 12));
    b[1] = (char)(0x80 | ((c >> 6) & 0x3F));
    b[2] = (char)(0x80 | (c & 0x3F));
    return 3;
  }
  b[0] = (char)(0xF0 | (c >> 18));
  b[1] = (char)(0x80 | ((c >> 12) & 0x3F));
  b[2] = (char)(0x80 | ((c >> 6) & 0x3F));
  b[3] = (char)(0x80 | (c & 0x3F));
  return 4;
}

int str_push_cp(tok_str *s, uint32_t c) {
  char b[4];
  return str_append(s, b, (size_t)tok_utf8_put(c, b));
}

void str_free(tok_str *s) {
  free(s->p);
  s->p = NULL;
  s->n = s->cap = 0;
}

/* The code point at s[i] (n bytes in all) into *cp, U+FFFD when the bytes there are not
 * UTF-8 (*ok 0): a byte that can never start a character, or the maximal valid prefix of a
 * sequence cut short. Returns the index after it. */
static size_t utf8_next(const unsigned char *s, size_t i, size_t n, uint32_t *cp, int *ok) {
  unsigned c = s[i];
  *ok = 1;
  if (c < 0x80) {
    *cp = c;
    return i + 1;
  }
  int need;
  uint32_t v;
  unsigned lo = 0x80, hi = 0xBF; /* allowed range of the first continuation byte */
  if (c >= 0xC2 && c <= 0xDF) {
    need = 1;
    v = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 2;
    v = c & 0x0F;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F; /* no surrogates */
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 3;
    v = c & 0x07;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    *cp = 0xFFFD, *ok = 0;
    return i + 1;
  }
  size_t j = i + 1;
  int k;
  for (k = 0; k < need; k++, j++) {
    unsigned lo_k = k == 0 ? lo : 0x80, hi_k = k == 0 ? hi : 0xBF;
    if (j >= n || s[j] < lo_k || s[j] > hi_k) break;
    v = (v << 6) | (s[j] & 0x3F);
  }
  *ok = k == need;
  *cp = *ok ? v : 0xFFFD;
  return j;
}

int tok_utf8_decode(const char *str, size_t n, tok_cps *out) {
  const unsigned char *s = (const unsigned char *)str;
  if (cps_reserve(out, n)) return -1; /* never more code points than bytes */
  int ok;
  for (size_t i = 0; i < n;) i = utf8_next(s, i, n, &out->p[out->n++], &ok);
  return 0;
}

/* Walks the bytes without decoding them into memory: merges.txt and vocab.txt are checked
 * whole at load, and a code-point copy of them was 4 bytes a byte of first-touch pages. */
int tok_utf8_valid(const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  uint32_t cp;
  int ok = 1;
  for (size_t i = 0; i < n && ok;) i = utf8_next(s, i, n, &cp, &ok);
  return ok;
}

int tok_utf8_encode(const uint32_t *c, size_t n, tok_str *out) {
  if (n > SIZE_MAX / 4 || str_reserve(out, n * 4)) return -1;
  for (size_t i = 0; i < n; i++) out->n += (size_t)tok_utf8_put(c[i], out->p + out->n);
  out->p[out->n] = 0;
  return 0;
}

/* ---- hash map ------------------------------------------------------------------------ */

struct tok_map_pool {
  struct tok_map_pool *next;
  size_t used, size;
  char data[];
};

static uint64_t hash_bytes(const char *k, size_t n) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)k[i];
    h *= 1099511628211ull;
  }
  return h ^ (h >> 29);
}

static const char *pool_copy(tok_map *m, const char *k, size_t n) {
  tok_map_pool *p = m->pool;
  if (!p || p->size - p->used < n + 1) {
    size_t sz = n + 1 > 65536 ? n + 1 : 65536;
    tok_map_pool *q = malloc(sizeof *q + sz);
    if (!q) return NULL;
    q->next = p;
    q->used = 0;
    q->size = sz;
    m->pool = p = q;
  }
  char *d = p->data + p->used;
  memcpy(d, k, n);
  d[n] = 0;
  p->used += n + 1;
  return d;
}

static int map_rehash(tok_map *m, size_t cap) {
  const char **keys = calloc(cap, sizeof *keys);
  uint32_t *klen = calloc(cap, sizeof *klen);
  int *vals = calloc(cap, sizeof *vals);
  if (!keys || !klen || !vals) {
    free(keys);
    free(klen);
    free(vals);
    return -1;
  }
  for (size_t i = 0; i < m->cap; i++) {
    if (!m->keys[i]) continue;
    size_t h = (size_t)hash_bytes(m->keys[i], m->klen[i]) & (cap - 1);
    while (keys[h]) h = (h + 1) & (cap - 1);
    keys[h] = m->keys[i];
    klen[h] = m->klen[i];
    vals[h] = m->vals[i];
  }
  free(m->keys);
  free(m->klen);
  free(m->vals);
  m->keys = keys;
  m->klen = klen;
  m->vals = vals;
  m->cap = cap;
  return 0;
}

int tok_map_reserve(tok_map *m, size_t n) {
  size_t cap = m->cap ? m->cap : 1024;
  while (cap < 2 * n) cap *= 2;
  return cap > m->cap ? map_rehash(m, cap) : 0;
}

int tok_map_put(tok_map *m, const char *k, size_t klen, int v) {
  return tok_map_put_key(m, k, klen, v, NULL);
}

int tok_map_put_key(tok_map *m, const char *k, size_t klen, int v, const char **stored) {
  if (klen > UINT32_MAX) return -1;
  if ((m->n + 1) * 2 > m->cap && map_rehash(m, m->cap ? m->cap * 2 : 1024)) return -1;
  size_t h = (size_t)hash_bytes(k, klen) & (m->cap - 1);
  while (m->keys[h]) {
    if (m->klen[h] == klen && memcmp(m->keys[h], k, klen) == 0) {
      m->vals[h] = v;
      if (stored) *stored = m->keys[h];
      return 0;
    }
    h = (h + 1) & (m->cap - 1);
  }
  const char *d = pool_copy(m, k, klen);
  if (!d) return -1;
  if (stored) *stored = d;
  m->keys[h] = d;
  m->klen[h] = (uint32_t)klen;
  m->vals[h] = v;
  m->n++;
  return 0;
}

int tok_map_get(const tok_map *m, const char *k, size_t klen) {
  if (!m->cap) return -1;
  size_t h = (size_t)hash_bytes(k, klen) & (m->cap - 1);
  while (m->keys[h]) {
    if (m->klen[h] == klen && memcmp(m->keys[h], k, klen) == 0) return m->vals[h];
    h = (h + 1) & (m->cap - 1);
  }
  return -1;
}

void tok_map_free(tok_map *m) {
  free(m->keys);
  free(m->klen);
  free(m->vals);
  while (m->pool) {
    tok_map_pool *n = m->pool->next;
    free(m->pool);
    m->pool = n;
  }
  memset(m, 0, sizeof *m);
}

/* ---- Unicode ------------------------------------------------------------------------- */

int tok_py_isspace(uint32_t c) {
  if (c == ' ' || (c >= 9 && c <= 13) || (c >= 0x1C && c <= 0x1F)) return 1;
  if (c < 0x85) return 0;
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
         c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* Unicode "Cased": Lu, Ll, Lt, or a letter-like symbol with a case mapping (covers
 * Other_Lowercase / Other_Uppercase such as roman numerals and circled letters). */
static int is_cased(uint32_t c) {
  utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
  if (k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL || k == UTF8PROC_CATEGORY_LT) return 1;
  if (c == 0xAA || c == 0xBA) return 1;
  return utf8proc_tolower((utf8proc_int32_t)c) != (utf8proc_int32_t)c ||
         utf8proc_toupper((utf8proc_int32_t)c) != (utf8proc_int32_t)c;
}

/* Unicode "Case_Ignorable": Mn, Me, Cf, Lm, Sk and the word-break mid-letter marks. */
static int is_case_ignorable(uint32_t c) {
  switch (c) {
    case 0x27:
    case 0x2E:
    case 0x3A:
    case 0xB7:
    case 0x387:
    case 0x55F:
    case 0x5F4:
    case 0x2018:
    case 0x2019:
    case 0x2024:
    case 0x2027:
    case 0xFE13:
    case 0xFE52:
    case 0xFE55:
    case 0xFF07:
    case 0xFF0E:
    case 0xFF1A:
      return 1;
    default:
      break;
  }
  utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
  return k == UTF8PROC_CATEGORY_MN || k == UTF8PROC_CATEGORY_ME || k == UTF8PROC_CATEGORY_CF ||
         k == UTF8PROC_CATEGORY_LM || k == UTF8PROC_CATEGORY_SK;
}

/* Python's Final_Sigma test for the capital sigma at in[i]. */
static int final_sigma_at(const uint32_t *in, size_t n, size_t i) {
  size_t j = i;
  while (j > 0 && is_case_ignorable(in[j - 1])) j--;
  if (j == 0 || !is_cased(in[j - 1])) return 0;
  j = i + 1;
  while (j < n && is_case_ignorable(in[j])) j++;
  return j == n || !is_cased(in[j]);
}

int tok_py_lower(const uint32_t *in, size_t n, int final_sigma, tok_cps *out) {
  if (cps_reserve(out, n)) return -1;
  for (size_t i = 0; i < n; i++) {
    uint32_t c = in[i];
    if (c < 0x80) {
      if (c >= 'A' && c <= 'Z') c += 32;
    } else if (c == 0x130) { /* the one unconditional multi-character lowercase */
      if (cps_push(out, 'i') || cps_push(out, 0x307)) return -1;
      continue;
    } else if (c == 0x3A3) {
      c = final_sigma && final_sigma_at(in, n, i) ? 0x3C2 : 0x3C3;
    } else {
      c = (uint32_t)utf8proc_tolower((utf8proc_int32_t)c);
    }
    if (cps_push(out, c)) return -1;
  }
  return 0;
}

int tok_normalize(tok_cps *b, int form) {
  /* Fast path: text below U+00A0 is in every form; text below U+0300 holds no combining
   * mark, so it is already NFC. */
  uint32_t limit = form == TOK_NFC ? 0x300 : 0xA0;
  size_t i;
  for (i = 0; i < b->n && b->p[i] < limit; i++) {
  }
  if (i == b->n) return 0;
  tok_str s = {0};
  if (tok_utf8_encode(b->p, b->n, &s)) return -1;
  utf8proc_option_t opt = UTF8PROC_STABLE;
  if (form == TOK_NFC) opt |= UTF8PROC_COMPOSE;
  if (form == TOK_NFD) opt |= UTF8PROC_DECOMPOSE;
  if (form == TOK_NFKC) opt |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
  utf8proc_uint8_t *dst = NULL;
  utf8proc_ssize_t len =
      utf8proc_map((const utf8proc_uint8_t *)(s.p ? s.p : ""), (utf8proc_ssize_t)s.n, &dst, opt);
  str_free(&s);
  if (len < 0) return -1; /* only out of memory: the input is valid by construction */
  b->n = 0;
  int r = tok_utf8_decode((const char *)dst, (size_t)len, b);
  free(dst);
  return r;
}

/* ---- added tokens -------------------------------------------------------------------- */

char *tok_path(const char *dir, const char *name) {
  size_t a = strlen(dir), b = strlen(name);
  char *p = malloc(a + b + 2);
  if (!p) return NULL;
  memcpy(p, dir, a);
  p[a] = '/';
  memcpy(p + a + 1, name, b + 1);
  return p;
}

int tok_file_exists(const char *path) {
  struct stat st;
  return path && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* A special token value: "str" or {"content": "str", ...}. */
static const char *token_content(const cJSON *v) {
  if (cJSON_IsString(v)) return v->valuestring;
  if (cJSON_IsObject(v)) return json_str(v, "content", NULL);
  return NULL;
}

int tok_added_find(const tok_added_set *a, const char *s, size_t n) {
  for (int i = 0; i < a->n; i++)
    if (a->items[i].len == n && memcmp(a->items[i].content, s, n) == 0) return i;
  return -1;
}

int tok_added_by_id(const tok_added_set *a, int id) {
  for (int i = 0; i < a->n; i++)
    if (a->items[i].id == id) return i;
  return -1;
}

int tok_added_is_skipped(const tok_added_set *a, int id) {
  for (int i = 0; i < a->n_skip; i++)
    if (a->skip_ids[i] == id) return 1;
  return 0;
}

static int added_push(tok_added_set *a, const char *content, int id, int special, int lstrip,
                      int rstrip, int normalized) {
  tok_added *t = realloc(a->items, (size_t)(a->n + 1) * sizeof *t);
  if (!t) return -1;
  a->items = t;
  tok_added *x = &t[a->n];
  memset(x, 0, sizeof *x);
  x->len = strlen(content);
  x->content = strdup(content);
  tok_cps c = {0};
  if (!x->content || tok_utf8_decode(content, x->len, &c)) {
    free(x->content);
    cps_free(&c);
    return -1;
  }
  x->cps = c.p;
  x->ncps = c.n;
  x->id = id;
  x->special = special;
  x->lstrip = lstrip;
  x->rstrip = rstrip;
  x->normalized = normalized;
  a->n++;
  return 0;
}

static int skip_push(tok_added_set *a, int id) {
  if (id < 0 || tok_added_is_skipped(a, id)) return 0;
  int *s = realloc(a->skip_ids, (size_t)(a->n_skip + 1) * sizeof *s);
  if (!s) return -1;
  s[a->n_skip++] = id;
  a->skip_ids = s;
  return 0;
}

/* Load an optional JSON file of the model folder; *out NULL when it does not exist. */
static vlp_status load_optional(const char *dir, const char *name, cJSON **out) {
  *out = NULL;
  char *p = tok_path(dir, name);
  if (!p) return vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", dir);
  vlp_status st = VLP_OK;
  if (tok_file_exists(p)) st = json_load_file(p, out);
  free(p);
  return st;
}

/* Id for a token content: an added token's, else the base vocabulary's, else a new one. */
static int id_for(tok_added_set *a, const char *s, tok_lookup_fn lookup, const void *ctx) {
  int i = tok_added_find(a, s, strlen(s));
  if (i >= 0) return a->items[i].id;
  return lookup(ctx, s, strlen(s));
}

vlp_status tok_added_load(const char *dir, const cJSON *config, const tok_special_def *defs,
                          int n_defs, tok_lookup_fn lookup, const void *ctx, int base_size,
                          tok_added_set *a) {
  memset(a, 0, sizeof *a);
  a->next_id = base_size;
  for (int i = 0; i < TOK_MAX_NAMED; i++) a->named_id[i] = -1;
  if (n_defs > TOK_MAX_NAMED) return vlp_fail(VLP_ERR_INVALID, "%s: too many special tokens", dir);
  cJSON *stm = NULL, *legacy = NULL;
  vlp_status st = load_optional(dir, "special_tokens_map.json", &stm);
  if (st) return st;

  /* Named special tokens and additional_special_tokens. */
  for (int i = 0; i < n_defs; i++) {
    const cJSON *v = config ? cJSON_GetObjectItemCaseSensitive(config, defs[i].key) : NULL;
    const char *s = token_content(v);
    if (!s && !(v && cJSON_IsNull(v)))
      s = token_content(stm ? cJSON_GetObjectItemCaseSensitive(stm, defs[i].key) : NULL);
    if (!s && !(v && cJSON_IsNull(v))) s = defs[i].def;
    if (s && !(a->named[i] = strdup(s))) goto nomem;
  }
  const cJSON *extra =
      config ? cJSON_GetObjectItemCaseSensitive(config, "additional_special_tokens") : NULL;
  if (!cJSON_IsArray(extra) && stm)
    extra = cJSON_GetObjectItemCaseSensitive(stm, "additional_special_tokens");
  if (!cJSON_IsArray(extra)) extra = NULL;

  /* The added tokens with their ids. */
  const cJSON *dec = config ? json_obj(config, "added_tokens_decoder") : NULL;
  if (dec) {
    const cJSON *e;
    cJSON_ArrayForEach(e, dec) {
      char *end = NULL;
      long id = strtol(e->string ? e->string : "", &end, 10);
      const char *content = json_str(e, "content", NULL);
      if (!end || *end || id < 0 || id > 100000000 || !content || !*content) {
        st = vlp_fail(VLP_ERR_FORMAT,
                      "%s/tokenizer_config.json: bad added_tokens_decoder entry \"%s\"", dir,
                      e->string ? e->string : "");
        goto done;
      }
      if (added_push(a, content, (int)id, json_bool(e, "special", 0), json_bool(e, "lstrip", 0),
                     json_bool(e, "rstrip", 0), json_bool(e, "normalized", 1)))
        goto nomem;
    }
  } else {
    st = load_optional(dir, "added_tokens.json", &legacy);
    if (st) goto done;
    if (legacy && !cJSON_IsObject(legacy)) {
      st = vlp_fail(VLP_ERR_FORMAT, "%s/added_tokens.json: not a JSON object", dir);
      goto done;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, legacy) {
      if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble > 1e8 || !e->string ||
          !*e->string) {
        st = vlp_fail(VLP_ERR_FORMAT, "%s/added_tokens.json: bad entry \"%s\"", dir,
                      e->string ? e->string : "");
        goto done;
      }
      int special = 0;
      for (int i = 0; i < n_defs; i++)
        if (a->named[i] && strcmp(a->named[i], e->string) == 0) special = 1;
      const cJSON *x;
      cJSON_ArrayForEach(x, extra) {
        const char *s = token_content(x);
        if (s && strcmp(s, e->string) == 0) special = 1;
      }
      if (added_push(a, e->string, (int)e->valuedouble, special, 0, 0, !special)) goto nomem;
    }
  }
  for (int i = 0; i < a->n; i++) {
    int base = lookup(ctx, a->items[i].content, a->items[i].len);
    if (base < 0 && a->items[i].id >= a->next_id) a->next_id = a->items[i].id + 1;
  }

  /* Named and additional special tokens not yet added are added as special tokens with
   * their vocabulary id, or a new id after everything else. */
  for (int pass = 0; pass < 2; pass++) {
    int count = pass == 0 ? n_defs : cJSON_GetArraySize(extra);
    for (int i = 0; i < count; i++) {
      const char *s = pass == 0 ? a->named[i] : token_content(cJSON_GetArrayItem(extra, i));
      if (!s || !*s) continue;
      int id = id_for(a, s, lookup, ctx);
      if (tok_added_find(a, s, strlen(s)) < 0) {
        if (id < 0) id = a->next_id++;
        if (added_push(a, s, id, 1, 0, 0, 0)) goto nomem;
      }
      if (pass == 0) a->named_id[i] = id;
      if (skip_push(a, id)) goto nomem;
    }
  }
  st = VLP_OK;
  goto done;
nomem:
  st = vlp_fail(VLP_ERR_NOMEM, "%s: out of memory reading the special tokens", dir);
done:
  cJSON_Delete(stm);
  cJSON_Delete(legacy);
  if (st) tok_added_free(a);
  return st;
}

void tok_added_free(tok_added_set *a) {
  for (int i = 0; i < a->n; i++) {
    free(a->items[i].content);
    free(a->items[i].cps);
  }
  free(a->items);
  for (int i = 0; i < TOK_MAX_NAMED; i++) free(a->named[i]);
  free(a->skip_ids);
  memset(a, 0, sizeof *a);
}

static int seg_push(tok_seg **s, size_t *n, size_t *cap, size_t start, size_t len, int added) {
  if (*n == *cap && grow((void **)s, cap, *n + 1, sizeof **s)) return -1;
  (*s)[*n].start = start;
  (*s)[*n].len = len;
  (*s)[*n].added = added;
  (*n)++;
  return 0;
}

int tok_split_added(const tok_added_set *a, const uint32_t *t, size_t n, tok_seg **segs,
                    size_t *nseg) {
  tok_seg *s = NULL;
  size_t ns = 0, cap = 0, plain = 0;
  uint64_t first = 0; /* bit (c & 63) set when some added token starts with c */
  for (int k = 0; k < a->n; k++)
    if (a->items[k].ncps) first |= 1ull << (a->items[k].cps[0] & 63);
  for (size_t i = 0; i < n;) {
    if (!(first >> (t[i] & 63) & 1)) {
      i++;
      continue;
    }
    int best = -1;
    for (int k = 0; k < a->n; k++) {
      const tok_added *x = &a->items[k];
      if (!x->ncps || x->ncps > n - i || x->cps[0] != t[i]) continue;
      if (memcmp(x->cps, t + i, x->ncps * sizeof *t) != 0) continue;
      if (best < 0 || x->ncps > a->items[best].ncps) best = k;
    }
    if (best < 0) {
      i++;
      continue;
    }
    if (i > plain && seg_push(&s, &ns, &cap, plain, i - plain, -1)) goto nomem;
    if (seg_push(&s, &ns, &cap, i, a->items[best].ncps, best)) goto nomem;
    i += a->items[best].ncps;
    plain = i;
  }
  if (n > plain && seg_push(&s, &ns, &cap, plain, n - plain, -1)) goto nomem;
  /* Added tokens with rstrip / lstrip eat the whitespace next to them. */
  for (size_t i = 0; i < ns; i++) {
    if (s[i].added < 0) continue;
    const tok_added *x = &a->items[s[i].added];
    if (x->rstrip && i + 1 < ns && s[i + 1].added < 0)
      while (s[i + 1].len && tok_py_isspace(t[s[i + 1].start])) s[i + 1].start++, s[i + 1].len--;
    if (x->lstrip && i > 0 && s[i - 1].added < 0)
      while (s[i - 1].len && tok_py_isspace(t[s[i - 1].start + s[i - 1].len - 1])) s[i - 1].len--;
  }
  size_t w = 0;
  for (size_t i = 0; i < ns; i++)
    if (s[i].len) s[w++] = s[i];
  *segs = s;
  *nseg = w;
  return 0;
nomem:
  free(s);
  return -1;
}

/* ---- decoding helpers ---------------------------------------------------------------- */

void tok_replace_all(tok_str *s, const char *from, const char *to) {
  size_t fl = strlen(from), tl = strlen(to), w = 0;
  for (size_t r = 0; r < s->n;) {
    if (r + fl <= s->n && memcmp(s->p + r, from, fl) == 0) {
      memcpy(s->p + w, to, tl);
      w += tl;
      r += fl;
    } else {
      s->p[w++] = s->p[r++];
    }
  }
  s->n = w;
  if (s->p) s->p[w] = 0;
}

void tok_clean_up_spaces(tok_str *s) {
  static const char *const rules[][2] = {
      {" .", "."},     {" ?", "?"},   {" !", "!"},   {" ,", ","},     {" ' ", "'"},
      {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (size_t r = 0; r < sizeof rules / sizeof rules[0]; r++)
    tok_replace_all(s, rules[r][0], rules[r][1]);
}

/* ---- output list --------------------------------------------------------------------- */

int tok_out_push(tok_out *o, int id, const char *piece, size_t len) {
  if (o->n == o->cap) {
    size_t c = o->cap;
    if (grow((void **)&o->ids, &c, o->n + 1, sizeof *o->ids)) return -1;
    if (o->want_pieces) {
      size_t c2 = o->cap;
      if (grow((void **)&o->pieces, &c2, o->n + 1, sizeof *o->pieces)) return -1;
    }
    o->cap = c;
  }
  if (o->want_pieces) {
    char *p = malloc(len + 1);
    if (!p) return -1;
    memcpy(p, piece, len);
    p[len] = 0;
    o->pieces[o->n] = p;
  }
  o->ids[o->n++] = id;
  return 0;
}

void tok_out_free(tok_out *o) {
  if (o->pieces)
    for (size_t i = 0; i < o->n; i++) free(o->pieces[i]);
  free(o->pieces);
  free(o->ids);
  memset(o, 0, sizeof *o);
}
