/* clip_tokenizer: CLIP byte-level BPE as transformers' slow CLIPTokenizer with ftfy
 * (see clip_tokenizer.h).
 *
 * tokenize(text):
 *   1. split on the added tokens (<|startoftext|>, <|endoftext|>, ...): each is one piece;
 *   2. the text between them: ftfy.fix_text -> runs of whitespace to one space, strip ->
 *      lower() -> the regex
 *        <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
 *      (case-insensitive, as transformers compiles it);
 *   3. each match: its UTF-8 bytes mapped through the byte->unicode table, then BPE: the
 *      last symbol carries "</w>"; repeatedly the adjacent pair with the lowest merge rank
 *      is merged at all its non-overlapping places, left to right, until no pair has a
 *      rank. A match that is a whole special token stays as it is (the bpe cache).
 * BPE here keeps the pairs in a heap, processing one rank at a time, so a long word costs
 * O(L log L) instead of the reference's O(L^2); the result is the same. */
#include "text/clip_tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/json.h"
#include "text/tok_ftfy.h"
#include "text/tok_json_scan.h"

/* transformers reads merges.txt lines 1 .. 49152 - 256 - 2 (the rest is ignored). */
#define MAX_MERGES (49152 - 256 - 2)
#define CACHE_MAX 200000 /* words remembered per call */

enum { N_UNK, N_BOS, N_EOS, N_PAD, N_COUNT };
static const tok_special_def clip_specials[N_COUNT] = {{"unk_token", "<|endoftext|>"},
                                                       {"bos_token", "<|startoftext|>"},
                                                       {"eos_token", "<|endoftext|>"},
                                                       {"pad_token", "<|endoftext|>"}};

/* The reference's \s is written as a plain space: after whitespace_clean the text holds
 * no other white space, and PCRE2's \s would also take U+180E, which Python's does not. */
static const char *const PATTERN =
    "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^ "
    "\\p{L}\\p{N}]+";

struct clip_tokenizer {
  char *dir;
  tok_map vocab;          /* token -> id */
  const char **id_to_tok; /* (n_ids,) keys of vocab, NULL where vocab.json has no token */
  int n_ids;
  tok_map ranks; /* "a b" -> merge rank */
  tok_added_set added;
  pcre2_code *re;
  char byte_enc[256][3]; /* byte -> UTF-8 of its unicode stand-in, NUL-terminated */
  int byte_dec[512];     /* stand-in code point -> byte, -1 elsewhere */
  int cleanup;
  int unk_id, bos_id, eos_id;
};

static int vocab_lookup(const void *ctx, const char *s, size_t n) {
  return tok_map_get(&((const clip_tokenizer *)ctx)->vocab, s, n);
}

/* GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the others are
 * mapped in order to U+0100, U+0101, ... */
static void build_byte_table(clip_tokenizer *t) {
  int n = 0;
  for (int i = 0; i < 512; i++) t->byte_dec[i] = -1;
  for (int b = 0; b < 256; b++) {
    int keep = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    uint32_t cp = keep ? (uint32_t)b : (uint32_t)(256 + n++);
    char buf[4];
    int len = tok_utf8_put(cp, buf);
    memcpy(t->byte_enc[b], buf, (size_t)len);
    t->byte_enc[b][len] = 0;
    t->byte_dec[cp] = b;
  }
}

/* Ids above this are taken as a broken vocab.json rather than a table to allocate. */
#define MAX_TOKEN_ID 100000000

/* Occurrences of byte c in text[0..size): a bound on members (commas) or merges (lines). */
static size_t count_byte(const char *text, size_t size, char c) {
  size_t k = 0;
  for (const char *p = text; (p = memchr(p, c, size - (size_t)(p - text))); p++) k++;
  return k;
}

/* vocab.json in one pass (text/tok_json_scan.h): the members into t, id_to_tok grown as the ids
 * come. The cJSON reading below takes every file this one leaves (ids out of range too). */
typedef struct {
  clip_tokenizer *t;
  int cap; /* entries of id_to_tok */
} vocab_scan;

static int vocab_member(const char *key, size_t n, long long id, void *ud) {
  vocab_scan *v = ud;
  clip_tokenizer *t = v->t;
  if (id < 0 || id > MAX_TOKEN_ID) return 1;
  if (id >= v->cap) {
    int cap = v->cap ? v->cap : 65536;
    while (cap <= id) cap *= 2;
    const char **grown = realloc(t->id_to_tok, (size_t)cap * sizeof *grown);
    if (!grown) return 1;
    memset(grown + v->cap, 0, (size_t)(cap - v->cap) * sizeof *grown);
    t->id_to_tok = grown, v->cap = cap;
  }
  /* json.load keeps the last of duplicate keys */
  if (tok_map_put_key(&t->vocab, key, n, (int)id, &t->id_to_tok[id])) return 1;
  if ((int)id >= t->n_ids) t->n_ids = (int)id + 1;
  return 0;
}

static void drop_vocab(clip_tokenizer *t) {
  free(t->id_to_tok);
  t->id_to_tok = NULL;
  t->n_ids = 0;
  tok_map_free(&t->vocab);
}

static int read_vocab_plain(clip_tokenizer *t, const char *text, size_t size) {
  vocab_scan v = {t, 0};
  int ok = !tok_map_reserve(&t->vocab, count_byte(text, size, ',') + 1) &&
           tok_json_scan_int_object(text, size, vocab_member, &v) == 1 && t->n_ids > 0;
  if (!ok) drop_vocab(t);
  return ok;
}

static vlp_status read_vocab(clip_tokenizer *t, const char *path) {
  char *text;
  size_t size;
  vlp_status st = read_file(path, &text, &size);
  if (st) return st;
  if (read_vocab_plain(t, text, size)) {
    free(text);
    return VLP_OK;
  }
  cJSON *j = NULL; /* the same text, through cJSON */
  st = json_parse_text(path, text, size, &j);
  free(text);
  if (st) return st;
  if (!cJSON_IsObject(j)) {
    cJSON_Delete(j);
    return vlp_fail(VLP_ERR_FORMAT, "%s: not a JSON object of token -> id", path);
  }
  int max_id = -1;
  const cJSON *e;
  cJSON_ArrayForEach(e, j) {
    double v = cJSON_IsNumber(e) ? e->valuedouble : -1;
    if (v < 0 || v > MAX_TOKEN_ID || v != (double)(int)v || !e->string) {
      st = vlp_fail(VLP_ERR_FORMAT, "%s: token \"%s\" has no valid id", path,
                    e->string ? e->string : "");
      goto done;
    }
    if ((int)v > max_id) max_id = (int)v;
  }
  if (max_id < 0) {
    st = vlp_fail(VLP_ERR_MODEL, "%s: empty vocabulary", path);
    goto done;
  }
  t->n_ids = max_id + 1;
  t->id_to_tok = calloc((size_t)t->n_ids, sizeof *t->id_to_tok);
  if (!t->id_to_tok) goto nomem;
  cJSON_ArrayForEach(e, j) {
    int id = (int)e->valuedouble;
    size_t n = strlen(e->string);
    /* json.load keeps the last of duplicate keys */
    if (tok_map_put_key(&t->vocab, e->string, n, id, &t->id_to_tok[id])) goto nomem;
  }
  st = VLP_OK;
  goto done;
nomem:
  st = vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", path);
done:
  cJSON_Delete(j);
  return st;
}

/* merges.txt as transformers reads it: whole file stripped, split on newlines, the first
 * line (the "#version" header) skipped; each line is "first second". */
static vlp_status read_merges(clip_tokenizer *t, const char *path) {
  char *text;
  size_t size;
  vlp_status st = read_file(path, &text, &size);
  if (st) return st;
  if (!tok_utf8_valid(text, size)) {
    free(text);
    return vlp_fail(VLP_ERR_FORMAT, "%s: not UTF-8 text", path);
  }
  if (tok_map_reserve(&t->ranks, count_byte(text, size, '\n') + 1)) {
    free(text);
    return vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", path);
  }
  char *p = text, *end = text + size;
  while (p < end && (*p == ' ' || (*p >= 9 && *p <= 13))) p++;
  int line = 0, rank = 0;
  tok_str key = {0};
  while (p < end && rank < MAX_MERGES) {
    char *q = p;
    while (q < end && *q != '\n' && *q != '\r') q++;
    char *next = q < end ? ((*q == '\r' && q + 1 < end && q[1] == '\n') ? q + 2 : q + 1) : end;
    if (line++ > 0) {
      /* merge.split(): whitespace-separated parts; only two-part lines can ever match. */
      const char *parts[3];
      size_t lens[3];
      int np = 0;
      for (char *r = p; r < q && np < 3;) {
        while (r < q && (*r == ' ' || *r == '\t' || *r == '\f' || *r == '\v')) r++;
        if (r >= q) break;
        char *s = r;
        while (r < q && !(*r == ' ' || *r == '\t' || *r == '\f' || *r == '\v')) r++;
        parts[np] = s;
        lens[np++] = (size_t)(r - s);
      }
      if (np == 2) {
        key.n = 0;
        if (str_append(&key, parts[0], lens[0]) || str_append(&key, " ", 1) ||
            str_append(&key, parts[1], lens[1]) || tok_map_put(&t->ranks, key.p, key.n, rank)) {
          st = vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", path);
          break;
        }
      }
      rank++;
    }
    p = next;
  }
  str_free(&key);
  free(text);
  return st;
}

vlp_status clip_tok_load(const char *dir, clip_tokenizer **out) {
  *out = NULL;
  clip_tokenizer *t = calloc(1, sizeof *t);
  char *vpath = tok_path(dir, "vocab.json"), *mpath = tok_path(dir, "merges.txt");
  char *cpath = tok_path(dir, "tokenizer_config.json");
  cJSON *cfg = NULL;
  vlp_status st;
  if (!t || !vpath || !mpath || !cpath || !(t->dir = strdup(dir))) {
    st = vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", dir);
    goto done;
  }
  build_byte_table(t);
  if ((st = read_vocab(t, vpath)) || (st = read_merges(t, mpath))) goto done;
  if (tok_file_exists(cpath) && (st = json_load_file(cpath, &cfg))) goto done;
  if (cfg && !cJSON_IsObject(cfg)) {
    st = vlp_fail(VLP_ERR_FORMAT, "%s: not a JSON object", cpath);
    goto done;
  }
  t->cleanup = json_bool(cfg, "clean_up_tokenization_spaces", 0);
  if ((st = tok_added_load(dir, cfg, clip_specials, N_COUNT, vocab_lookup, t, (int)t->vocab.n,
                           &t->added)))
    goto done;
  t->unk_id = t->added.named_id[N_UNK];
  t->bos_id = t->added.named_id[N_BOS];
  t->eos_id = t->added.named_id[N_EOS];
  if (t->bos_id < 0 || t->eos_id < 0 || t->unk_id < 0) {
    st = vlp_fail(VLP_ERR_MODEL, "%s: the bos, eos and unk tokens must be set", cpath);
    goto done;
  }
  int err;
  PCRE2_SIZE off;
  t->re = pcre2_compile((PCRE2_SPTR)PATTERN, PCRE2_ZERO_TERMINATED,
                        PCRE2_UTF | PCRE2_UCP | PCRE2_CASELESS, &err, &off, NULL);
  if (!t->re) {
    st = vlp_fail(VLP_ERR_UNSUPPORTED, "%s: PCRE2 cannot compile the CLIP pattern (error %d)", dir,
                  err);
    goto done;
  }
  pcre2_jit_compile(t->re, PCRE2_JIT_COMPLETE); /* optional: falls back to the interpreter */
  *out = t;
  t = NULL;
  st = VLP_OK;
done:
  cJSON_Delete(cfg);
  free(vpath);
  free(mpath);
  free(cpath);
  clip_tok_free(t);
  return st;
}

void clip_tok_free(clip_tokenizer *t) {
  if (!t) return;
  free(t->dir);
  tok_map_free(&t->vocab);
  free(t->id_to_tok);
  tok_map_free(&t->ranks);
  tok_added_free(&t->added);
  pcre2_code_free(t->re);
  free(t);
}

int clip_tok_bos_id(const clip_tokenizer *t) {
  return t->bos_id;
}
int clip_tok_eos_id(const clip_tokenizer *t) {
  return t->eos_id;
}

int clip_tok_vocab_size(const clip_tokenizer *t) {
  int n = (int)t->vocab.n;
  for (int i = 0; i < t->added.n; i++)
    if (tok_map_get(&t->vocab, t->added.items[i].content, t->added.items[i].len) < 0) n++;
  return n;
}

int clip_tok_id(const clip_tokenizer *t, const char *token) {
  size_t n = strlen(token);
  int i = tok_added_find(&t->added, token, n);
  if (i >= 0) return t->added.items[i].id;
  return tok_map_get(&t->vocab, token, n);
}

static int piece_id(const clip_tokenizer *t, const char *p, size_t n) {
  int i = tok_added_find(&t->added, p, n);
  if (i >= 0) return t->added.items[i].id;
  int id = tok_map_get(&t->vocab, p, n);
  return id >= 0 ? id : t->unk_id;
}

/* ---- BPE ----------------------------------------------------------------------------- */

typedef struct {
  size_t start, end; /* bytes of the word */
  int prev, next;    /* -1 at the ends */
  int alive;
} sym;

typedef struct {
  int rank, left, right;
  size_t llen, rlen; /* lengths when pushed: a changed symbol makes the entry stale */
} pair;

typedef struct {
  sym *syms;
  size_t syms_cap;
  pair *heap, *batch;
  size_t heap_n, heap_cap, batch_cap;
  tok_str key;
} bpe_work;

static int pair_less(const pair *a, const pair *b) {
  return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

static int heap_push(bpe_work *w, pair p) {
  if (w->heap_n == w->heap_cap) {
    size_t c = w->heap_cap ? w->heap_cap * 2 : 64;
    pair *h = realloc(w->heap, c * sizeof *h);
    if (!h) return -1;
    w->heap = h;
    w->heap_cap = c;
  }
  size_t i = w->heap_n++;
  while (i > 0 && pair_less(&p, &w->heap[(i - 1) / 2])) {
    w->heap[i] = w->heap[(i - 1) / 2];
    i = (i - 1) / 2;
  }
  w->heap[i] = p;
  return 0;
}

static pair heap_pop(bpe_work *w) {
  pair top = w->heap[0], last = w->heap[--w->heap_n];
  size_t i = 0;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= w->heap_n) break;
    if (c + 1 < w->heap_n && pair_less(&w->heap[c + 1], &w->heap[c])) c++;
    if (!pair_less(&w->heap[c], &last)) break;
    w->heap[i] = w->heap[c];
    i = c;
  }
  if (w->heap_n) w->heap[i] = last;
  return top;
}

/* Push the pair (a, b) when the merges know it. */
static int consider(const clip_tokenizer *t, bpe_work *w, const char *word, int a, int b) {
  if (a < 0 || b < 0) return 0;
  const sym *x = &w->syms[a], *y = &w->syms[b];
  w->key.n = 0;
  if (str_append(&w->key, word + x->start, x->end - x->start) || str_append(&w->key, " ", 1) ||
      str_append(&w->key, word + y->start, y->end - y->start))
    return -1;
  int r = tok_map_get(&t->ranks, w->key.p, w->key.n);
  if (r < 0) return 0;
  pair p = {r, a, b, x->end - x->start, y->end - y->start};
  return heap_push(w, p);
}

static int valid(const bpe_work *w, const pair *p) {
  const sym *x = &w->syms[p->left], *y = &w->syms[p->right];
  return x->alive && y->alive && x->next == p->right && x->end - x->start == p->llen &&
         y->end - y->start == p->rlen;
}

/* BPE of one word: word = the byte->unicode string with "</w>" appended, nchars its
 * characters before "</w>". Appends the symbols' byte lengths to lens. */
static int bpe_word(const clip_tokenizer *t, bpe_work *w, const char *word, size_t wlen,
                    size_t nchars, tok_cps *lens) {
  if (nchars > w->syms_cap) {
    sym *s = realloc(w->syms, nchars * sizeof *s);
    if (!s) return -1;
    w->syms = s;
    w->syms_cap = nchars;
  }
  size_t pos = 0;
  for (size_t i = 0; i < nchars; i++) { /* one symbol per character; the last gets </w> */
    size_t len = 1;
    unsigned char c = (unsigned char)word[pos];
    if (c >= 0xC0) len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    w->syms[i] = (sym){pos, i + 1 == nchars ? wlen : pos + len, (int)i - 1,
                       i + 1 < nchars ? (int)i + 1 : -1, 1};
    pos += len;
  }
  w->heap_n = 0;
  for (size_t i = 0; i + 1 < nchars; i++)
    if (consider(t, w, word, (int)i, (int)i + 1)) return -1;
  while (w->heap_n) {
    pair top = heap_pop(w);
    if (!valid(w, &top)) continue;
    /* Every valid pair of this rank, left to right, before any newer pair. */
    size_t nb = 0;
    if (w->batch_cap == 0 && !(w->batch = malloc(64 * sizeof *w->batch))) return -1;
    if (w->batch_cap == 0) w->batch_cap = 64;
    w->batch[nb++] = top;
    while (w->heap_n && w->heap[0].rank == top.rank) {
      pair p = heap_pop(w);
      if (nb == w->batch_cap) {
        pair *b = realloc(w->batch, w->batch_cap * 2 * sizeof *b);
        if (!b) return -1;
        w->batch = b;
        w->batch_cap *= 2;
      }
      w->batch[nb++] = p;
    }
    for (size_t k = 0; k < nb; k++) {
      pair *p = &w->batch[k];
      if (!valid(w, p)) continue;
      sym *x = &w->syms[p->left], *y = &w->syms[p->right];
      x->end = y->end;
      x->next = y->next;
      if (y->next >= 0) w->syms[y->next].prev = p->left;
      y->alive = 0;
      if (consider(t, w, word, x->prev, p->left) || consider(t, w, word, p->left, x->next))
        return -1;
    }
  }
  for (int i = 0; i >= 0; i = w->syms[i].next)
    if (cps_push(lens, (uint32_t)(w->syms[i].end - w->syms[i].start))) return -1;
  return 0;
}

static void bpe_work_free(bpe_work *w) {
  free(w->syms);
  free(w->heap);
  free(w->batch);
  str_free(&w->key);
}

/* ---- tokenize ------------------------------------------------------------------------ */

typedef struct {
  bpe_work bpe;
  tok_str word;
  tok_map cache; /* word -> offset in store */
  tok_cps store; /* per cached word: count, then count byte lengths */
  tok_cps lens;
} run;

static void run_free(run *r) {
  bpe_work_free(&r->bpe);
  str_free(&r->word);
  tok_map_free(&r->cache);
  cps_free(&r->store);
  cps_free(&r->lens);
}

/* One regex match m[0..n) (UTF-8) -> BPE pieces. */
static int encode_match(const clip_tokenizer *t, run *r, const char *m, size_t n, tok_out *o) {
  if ((n == 15 && memcmp(m, "<|startoftext|>", 15) == 0) ||
      (n == 13 && memcmp(m, "<|endoftext|>", 13) == 0))
    return tok_out_push(o, piece_id(t, m, n), m, n);
  r->word.n = 0;
  for (size_t i = 0; i < n; i++) {
    const char *e = t->byte_enc[(unsigned char)m[i]];
    if (str_append(&r->word, e, strlen(e))) return -1;
  }
  size_t nchars = n;
  if (str_append(&r->word, "</w>", 4)) return -1;
  const uint32_t *lens;
  size_t count;
  int at = tok_map_get(&r->cache, r->word.p, r->word.n);
  if (at >= 0) {
    count = r->store.p[at];
    lens = r->store.p + at + 1;
  } else {
    r->lens.n = 0;
    if (bpe_word(t, &r->bpe, r->word.p, r->word.n, nchars, &r->lens)) return -1;
    count = r->lens.n;
    lens = r->lens.p;
    if (r->cache.n < CACHE_MAX && r->store.n < (size_t)1 << 30) {
      size_t off = r->store.n;
      if (cps_push(&r->store, (uint32_t)count) || cps_append(&r->store, r->lens.p, count) ||
          tok_map_put(&r->cache, r->word.p, r->word.n, (int)off))
        return -1;
    }
  }
  size_t pos = 0;
  for (size_t i = 0; i < count; i++) {
    if (tok_out_push(o, piece_id(t, r->word.p + pos, lens[i]), r->word.p + pos, lens[i])) return -1;
    pos += lens[i];
  }
  return 0;
}

/* Plain text between added tokens: ftfy, whitespace_clean, lower, regex, BPE. */
static int encode_text(const clip_tokenizer *t, run *r, const uint32_t *in, size_t n, tok_out *o) {
  tok_cps a = {0}, b = {0};
  tok_str u = {0};
  pcre2_match_data *md = NULL;
  int rc = -1;
  if (cps_append(&a, in, n) || tok_ftfy_fix_text(&a)) goto out;
  /* whitespace_clean: \s+ -> " ", then strip(). */
  size_t k = 0;
  for (size_t i = 0; i < a.n; i++) {
    int space = tok_py_isspace(a.p[i]);
    if (space && i > 0 && tok_py_isspace(a.p[i - 1])) continue; /* rest of a run */
    a.p[k++] = space ? ' ' : a.p[i];
  }
  a.n = k;
  size_t s0 = 0, s1 = a.n;
  while (s0 < s1 && a.p[s0] == ' ') s0++;
  while (s1 > s0 && a.p[s1 - 1] == ' ') s1--;
  if (tok_py_lower(a.n ? a.p + s0 : a.p, s1 - s0, 1, &b) || tok_utf8_encode(b.p, b.n, &u))
    goto out;  // (a.p is NULL for an empty text: no pointer arithmetic on it)
  if (!u.n) {
    rc = 0;
    goto out;
  }
  if (!(md = pcre2_match_data_create_from_pattern(t->re, NULL))) goto out;
  for (PCRE2_SIZE at = 0; at < u.n;) {
    int m = pcre2_match(t->re, (PCRE2_SPTR)u.p, u.n, at, PCRE2_NO_UTF_CHECK, md, NULL);
    if (m == PCRE2_ERROR_NOMATCH) break;
    if (m < 0) goto out;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    if (ov[1] <= ov[0]) break; /* the pattern never matches empty; be safe */
    if (encode_match(t, r, u.p + ov[0], ov[1] - ov[0], o)) goto out;
    at = ov[1];
  }
  rc = 0;
out:
  pcre2_match_data_free(md);
  cps_free(&a);
  cps_free(&b);
  str_free(&u);
  return rc;
}

vlp_status clip_tok_tokenize(const clip_tokenizer *t, const char *text, tok_out *o) {
  tok_cps raw = {0};
  tok_seg *segs = NULL;
  size_t nseg = 0;
  run r = {0};
  vlp_status st = VLP_ERR_NOMEM;
  if (tok_utf8_decode(text, strlen(text), &raw)) goto out;
  if (tok_split_added(&t->added, raw.p, raw.n, &segs, &nseg)) goto out;
  for (size_t i = 0; i < nseg; i++) {
    if (segs[i].added >= 0) {
      const tok_added *a = &t->added.items[segs[i].added];
      if (tok_out_push(o, a->id, a->content, a->len)) goto out;
    } else if (encode_text(t, &r, raw.p + segs[i].start, segs[i].len, o)) {
      goto out;
    }
  }
  st = VLP_OK;
out:
  cps_free(&raw);
  free(segs);
  run_free(&r);
  if (st)
    return vlp_fail(st, "%s: out of memory tokenizing %zu bytes of text", t->dir, strlen(text));
  return VLP_OK;
}

/* ---- decode -------------------------------------------------------------------------- */

/* convert_tokens_to_string: bytes of the joined tokens, UTF-8 with errors="replace",
 * "</w>" -> " ", strip(). Appends to out. Returns 1 on a character outside the byte
 * table. */
static int tokens_to_string(const clip_tokenizer *t, const tok_str *joined, tok_str *out) {
  tok_cps c = {0}, d = {0};
  tok_str bytes = {0};
  int rc = -1;
  if (tok_utf8_decode(joined->p ? joined->p : "", joined->n, &c)) goto done;
  if (str_reserve(&bytes, c.n)) goto done;
  for (size_t i = 0; i < c.n; i++) {
    if (c.p[i] >= 512 || t->byte_dec[c.p[i]] < 0) {
      rc = 1;
      goto done;
    }
    bytes.p[bytes.n++] = (char)t->byte_dec[c.p[i]];
  }
  if (tok_utf8_decode(bytes.p ? bytes.p : "", bytes.n, &d)) goto done;
  size_t k = 0;
  for (size_t i = 0; i < d.n; i++) { /* "</w>" -> " " */
    if (i + 3 < d.n && d.p[i] == '<' && d.p[i + 1] == '/' && d.p[i + 2] == 'w' &&
        d.p[i + 3] == '>') {
      d.p[k++] = ' ';
      i += 3;
    } else {
      d.p[k++] = d.p[i];
    }
  }
  size_t a = 0, b = k;
  while (a < b && tok_py_isspace(d.p[a])) a++;
  while (b > a && tok_py_isspace(d.p[b - 1])) b--;
  rc = tok_utf8_encode(d.p + a, b - a, out) ? -1 : 0;
done:
  cps_free(&c);
  cps_free(&d);
  str_free(&bytes);
  return rc;
}

vlp_status clip_tok_decode(const clip_tokenizer *t, const int *ids, int n, char **text) {
  *text = NULL;
  tok_str out = {0}, group = {0};
  int n_sub = 0, in_group = 0, r;
  vlp_status st = VLP_OK;
  for (int i = 0; i <= n; i++) {
    const char *tok = NULL;
    int legacy = 0;
    if (i < n) {
      int id = ids[i];
      if (tok_added_is_skipped(&t->added, id)) continue;
      int k = tok_added_by_id(&t->added, id);
      if (k >= 0) {
        tok = t->added.items[k].content;
        legacy = !t->added.items[k].special;
      } else if (id >= 0 && id < t->n_ids && t->id_to_tok[id]) {
        tok = t->id_to_tok[id];
      } else {
        st = vlp_fail(VLP_ERR_INVALID, "%s: token id %d is not in the vocabulary", t->dir, id);
        goto done;
      }
    }
    if ((i == n || legacy) && in_group) { /* flush the BPE text before an added token */
      size_t before = out.n;
      if (n_sub && str_append(&out, " ", 1)) goto nomem;
      size_t mark = out.n;
      if ((r = tokens_to_string(t, &group, &out)) < 0) goto nomem;
      if (r > 0) {
        st = vlp_fail(VLP_ERR_INVALID, "%s: a decoded token is not byte-level BPE text", t->dir);
        goto done;
      }
      if (i < n && out.n == mark) {
        out.n = before;
      } else {
        n_sub++;
      }
      group.n = 0;
      in_group = 0;
    }
    if (i == n) break;
    if (legacy) {
      if ((n_sub && str_append(&out, " ", 1)) || str_append(&out, tok, strlen(tok))) goto nomem;
      n_sub++;
    } else {
      if (str_append(&group, tok, strlen(tok))) goto nomem;
      in_group = 1;
    }
  }
  if (t->cleanup) tok_clean_up_spaces(&out);
  if (str_append(&out, "", 0)) goto nomem;
  *text = out.p;
  out.p = NULL;
  goto done;
nomem:
  st = vlp_fail(VLP_ERR_NOMEM, "%s: out of memory decoding %d ids", t->dir, n);
done:
  str_free(&out);
  str_free(&group);
  return st;
}
