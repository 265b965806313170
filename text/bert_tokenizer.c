/* bert_tokenizer: BERT WordPiece as transformers' slow BertTokenizer (see bert_tokenizer.h).
 *
 * tokenize(text), step by step as PreTrainedTokenizer.tokenize + BertTokenizer do it:
 *   1. do_lower_case: every character is lowered (Python lower(), one character at a time)
 *      except where a special token (or a non-special "normalized" added token) starts;
 *   2. the text is split on the added tokens (leftmost, longest); each added token is one
 *      piece; the text between them goes through BasicTokenizer + WordPiece:
 *   3. BasicTokenizer: drop NUL, U+FFFD and category C* (but \t \n \r); whitespace -> ' ';
 *      spaces around CJK ideographs; NFC; split on whitespace; per word: lower() and, when
 *      strip_accents allows, NFD + drop Mn; split off every punctuation character;
 *   4. WordPiece: words of more than 100 characters -> [UNK]; greedy longest prefix in the
 *      vocabulary, continuations with "##"; no match anywhere -> the whole word is [UNK].
 * Invalid UTF-8 in the input becomes U+FFFD, which step 3 drops. */
#include "text/bert_tokenizer.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "core/error.h"
#include "core/json.h"

#define MAX_WORD_CHARS 100 /* WordpieceTokenizer.max_input_chars_per_word */

enum { N_UNK, N_SEP, N_PAD, N_CLS, N_MASK, N_BOS, N_EOS, N_COUNT };
static const tok_special_def bert_specials[N_COUNT] = {
    {"unk_token", "[UNK]"}, {"sep_token", "[SEP]"},   {"pad_token", "[PAD]"},
    {"cls_token", "[CLS]"}, {"mask_token", "[MASK]"}, {"bos_token", NULL},
    {"eos_token", NULL}};

struct bert_tokenizer {
  char *dir;
  char *vocab_text;   /* vocab.txt, lines NUL-terminated in place */
  const char **lines; /* (n_lines,) id -> token */
  int n_lines;
  int n_unique; /* len(vocab): distinct tokens */
  tok_map vocab;
  size_t max_piece_bytes; /* longest vocabulary entry, for WordPiece's search */
  tok_added_set added;
  int *protect; /* (n_protect,) added-token indices kept as they are by step 1 */
  int n_protect;
  tok_map never_split;
  int do_lower, strip_accents, chinese, basic, cleanup;
  int unk_id, cls_id, sep_id;
};

static int vocab_lookup(const void *ctx, const char *s, size_t n) {
  return tok_map_get(&((const bert_tokenizer *)ctx)->vocab, s, n);
}

/* vocab.txt as Python's readlines() in text mode: lines end at \n, \r\n or \r. */
static vlp_status read_vocab(bert_tokenizer *t, const char *path) {
  size_t size;
  vlp_status st = read_file(path, &t->vocab_text, &size);
  if (st) return st;
  if (!tok_utf8_valid(t->vocab_text, size))
    return vlp_fail(VLP_ERR_FORMAT, "%s: not UTF-8 text", path);
  size_t cap = 0;
  char *p = t->vocab_text, *end = p + size;
  while (p < end) {
    char *q = p;
    while (q < end && *q != '\n' && *q != '\r') q++;
    char *next = q;
    if (q < end) next = (*q == '\r' && q + 1 < end && q[1] == '\n') ? q + 2 : q + 1;
    *q = 0;
    if (t->n_lines >= 100000000) return vlp_fail(VLP_ERR_MODEL, "%s: more than 10^8 tokens", path);
    if ((size_t)t->n_lines == cap) {
      cap = cap ? cap * 2 : 32768;
      const char **l = realloc(t->lines, cap * sizeof *l);
      if (!l) return vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", path);
      t->lines = l;
    }
    size_t len = (size_t)(q - p);
    if (tok_map_put(&t->vocab, p, len, t->n_lines))
      return vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", path);
    if (len > t->max_piece_bytes) t->max_piece_bytes = len;
    t->lines[t->n_lines++] = p;
    p = next;
  }
  if (t->n_lines == 0) return vlp_fail(VLP_ERR_MODEL, "%s: empty vocabulary", path);
  t->n_unique = (int)t->vocab.n;
  return VLP_OK;
}

vlp_status bert_tok_load(const char *dir, bert_tokenizer **out) {
  *out = NULL;
  bert_tokenizer *t = calloc(1, sizeof *t);
  char *vpath = tok_path(dir, "vocab.txt"), *cpath = tok_path(dir, "tokenizer_config.json");
  cJSON *cfg = NULL;
  vlp_status st;
  if (!t || !vpath || !cpath || !(t->dir = strdup(dir))) {
    st = vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", dir);
    goto done;
  }
  if ((st = read_vocab(t, vpath))) goto done;
  if (tok_file_exists(cpath) && (st = json_load_file(cpath, &cfg))) goto done;
  if (cfg && !cJSON_IsObject(cfg)) {
    st = vlp_fail(VLP_ERR_FORMAT, "%s: not a JSON object", cpath);
    goto done;
  }
  t->do_lower = json_bool(cfg, "do_lower_case", 1);
  /* strip_accents: null follows do_lower_case; true / false force it. */
  const cJSON *sa = cfg ? cJSON_GetObjectItemCaseSensitive(cfg, "strip_accents") : NULL;
  t->strip_accents = cJSON_IsBool(sa) ? cJSON_IsTrue(sa) : -1;
  t->chinese = json_bool(cfg, "tokenize_chinese_chars", 1);
  t->basic = json_bool(cfg, "do_basic_tokenize", 1);
  t->cleanup = json_bool(cfg, "clean_up_tokenization_spaces", 1);
  const cJSON *ns = cfg ? cJSON_GetObjectItemCaseSensitive(cfg, "never_split") : NULL;
  if (cJSON_IsArray(ns)) {
    const cJSON *e;
    cJSON_ArrayForEach(e, ns) {
      if (cJSON_IsString(e) &&
          tok_map_put(&t->never_split, e->valuestring, strlen(e->valuestring), 1)) {
        st = vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", dir);
        goto done;
      }
    }
  }
  if ((st = tok_added_load(dir, cfg, bert_specials, N_COUNT, vocab_lookup, t, t->n_unique,
                           &t->added)))
    goto done;
  t->unk_id = t->added.named_id[N_UNK];
  t->cls_id = t->added.named_id[N_CLS];
  t->sep_id = t->added.named_id[N_SEP];
  if (t->unk_id < 0 || t->cls_id < 0 || t->sep_id < 0) {
    st = vlp_fail(VLP_ERR_MODEL, "%s: the unk, cls and sep tokens must be set", cpath);
    goto done;
  }
  /* Step 1 keeps the special tokens and the non-special normalized added tokens. */
  t->protect = malloc((size_t)(t->added.n + 1) * sizeof *t->protect);
  if (!t->protect) {
    st = vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", dir);
    goto done;
  }
  for (int i = 0; i < t->added.n; i++) {
    const tok_added *a = &t->added.items[i];
    if (tok_added_is_skipped(&t->added, a->id) || (!a->special && a->normalized))
      t->protect[t->n_protect++] = i;
  }
  *out = t;
  t = NULL;
  st = VLP_OK;
done:
  cJSON_Delete(cfg);
  free(vpath);
  free(cpath);
  bert_tok_free(t);
  return st;
}

void bert_tok_free(bert_tokenizer *t) {
  if (!t) return;
  free(t->dir);
  free(t->vocab_text);
  free(t->lines);
  tok_map_free(&t->vocab);
  tok_map_free(&t->never_split);
  tok_added_free(&t->added);
  free(t->protect);
  free(t);
}

int bert_tok_cls_id(const bert_tokenizer *t) {
  return t->cls_id;
}
int bert_tok_sep_id(const bert_tokenizer *t) {
  return t->sep_id;
}
int bert_tok_vocab_size(const bert_tokenizer *t) {
  return t->added.next_id > t->n_unique ? t->added.next_id : t->n_unique;
}

int bert_tok_id(const bert_tokenizer *t, const char *token) {
  size_t n = strlen(token);
  int i = tok_added_find(&t->added, token, n);
  if (i >= 0) return t->added.items[i].id;
  return tok_map_get(&t->vocab, token, n);
}

/* ---- tokenize ------------------------------------------------------------------------ */

static int is_control(uint32_t c) {
  if (c == '\t' || c == '\n' || c == '\r') return 0;
  utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
  return k == UTF8PROC_CATEGORY_CC || k == UTF8PROC_CATEGORY_CF || k == UTF8PROC_CATEGORY_CN ||
         k == UTF8PROC_CATEGORY_CO || k == UTF8PROC_CATEGORY_CS;
}

static int is_whitespace(uint32_t c) {
  if (c == ' ' || c == '\t' || c == '\n' || c == '\r') return 1;
  return utf8proc_category((utf8proc_int32_t)c) == UTF8PROC_CATEGORY_ZS;
}

static int is_punct(uint32_t c) {
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
      (c >= 123 && c <= 126))
    return 1;
  if (c < 128) return 0;
  utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
  return k >= UTF8PROC_CATEGORY_PC && k <= UTF8PROC_CATEGORY_PO;
}

static int is_cjk(uint32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

/* Scratch buffers reused across the words of one call. */
typedef struct {
  tok_cps word, low;
  tok_str utf8, piece;
  size_t *offs; /* (chars + 1,) byte offset of each character in utf8 */
  size_t offs_cap;
} scratch;

static void scratch_free(scratch *s) {
  cps_free(&s->word);
  cps_free(&s->low);
  str_free(&s->utf8);
  str_free(&s->piece);
  free(s->offs);
}

static int piece_id(const bert_tokenizer *t, const char *p, size_t n) {
  int i = tok_added_find(&t->added, p, n);
  if (i >= 0) return t->added.items[i].id;
  int id = tok_map_get(&t->vocab, p, n);
  return id >= 0 ? id : t->unk_id;
}

static int push_unk(const bert_tokenizer *t, tok_out *o) {
  int k = tok_added_by_id(&t->added, t->unk_id);
  const char *s = k >= 0 ? t->added.items[k].content : t->lines[t->unk_id];
  return tok_out_push(o, t->unk_id, s, strlen(s));
}

/* WordPiece of one word (code points w[0..n)). */
static int wordpiece(const bert_tokenizer *t, const uint32_t *w, size_t n, scratch *s, tok_out *o) {
  if (n > MAX_WORD_CHARS) return push_unk(t, o);
  s->utf8.n = 0;
  if (n + 1 > s->offs_cap) {
    size_t *q = realloc(s->offs, (n + 1) * sizeof *q);
    if (!q) return -1;
    s->offs = q;
    s->offs_cap = n + 1;
  }
  for (size_t i = 0; i < n; i++) {
    s->offs[i] = s->utf8.n;
    if (str_push_cp(&s->utf8, w[i])) return -1;
  }
  s->offs[n] = s->utf8.n;
  const char *u = s->utf8.p;
  size_t first = o->n;
  for (size_t start = 0; start < n;) {
    size_t end = n;
    int found = -1;
    for (; end > start; end--) {
      size_t len = s->offs[end] - s->offs[start];
      if (len + (start ? 2 : 0) > t->max_piece_bytes) continue;
      s->piece.n = 0;
      if ((start && str_append(&s->piece, "##", 2)) ||
          str_append(&s->piece, u + s->offs[start], len))
        return -1;
      if ((found = tok_map_get(&t->vocab, s->piece.p, s->piece.n)) >= 0) break;
    }
    if (found < 0) { /* no piece fits: the whole word is [UNK] */
      while (o->n > first) {
        o->n--;
        if (o->pieces) free(o->pieces[o->n]);
      }
      return push_unk(t, o);
    }
    if (tok_out_push(o, piece_id(t, s->piece.p, s->piece.n), s->piece.p, s->piece.n)) return -1;
    start = end;
  }
  return 0;
}

/* One basic token (no whitespace inside) -> punctuation split -> WordPiece. */
static int basic_word(const bert_tokenizer *t, const uint32_t *w, size_t n, scratch *s,
                      tok_out *o) {
  s->utf8.n = 0;
  if (t->never_split.n) {
    if (tok_utf8_encode(w, n, &s->utf8)) return -1;
    if (tok_map_get(&t->never_split, s->utf8.p, s->utf8.n) >= 0)
      return tok_out_push(o, piece_id(t, s->utf8.p, s->utf8.n), s->utf8.p, s->utf8.n);
  }
  const uint32_t *x = w;
  size_t nx = n;
  if (t->do_lower || t->strip_accents == 1) {
    s->low.n = 0;
    if (t->do_lower) {
      if (tok_py_lower(w, n, 1, &s->low)) return -1;
    } else if (cps_append(&s->low, w, n)) {
      return -1;
    }
    if (t->strip_accents != 0) {
      if (tok_normalize(&s->low, TOK_NFD)) return -1;
      size_t k = 0;
      for (size_t i = 0; i < s->low.n; i++)
        if (s->low.p[i] < 0x300 ||
            utf8proc_category((utf8proc_int32_t)s->low.p[i]) != UTF8PROC_CATEGORY_MN)
          s->low.p[k++] = s->low.p[i];
      s->low.n = k;
    }
    x = s->low.p;
    nx = s->low.n;
  }
  /* Split off punctuation; the parts go to WordPiece (or stay whole without it). */
  for (size_t i = 0; i < nx;) {
    size_t j = i + 1;
    if (!is_punct(x[i]))
      while (j < nx && !is_punct(x[j])) j++;
    if (wordpiece(t, x + i, j - i, s, o)) return -1;
    i = j;
  }
  return 0;
}

/* BasicTokenizer + WordPiece on plain text (between added tokens). */
static int basic_tokenize(const bert_tokenizer *t, const uint32_t *in, size_t n, scratch *s,
                          tok_out *o) {
  tok_cps c = {0};
  int rc = -1;
  if (cps_reserve(&c, n)) goto out;
  for (size_t i = 0; i < n; i++) {
    uint32_t ch = in[i];
    if (ch == 0 || ch == 0xFFFD || is_control(ch)) continue;
    if (is_whitespace(ch)) ch = ' ';
    if (t->chinese && is_cjk(ch)) {
      if (cps_push(&c, ' ') || cps_push(&c, ch) || cps_push(&c, ' ')) goto out;
    } else if (cps_push(&c, ch)) {
      goto out;
    }
  }
  if (tok_normalize(&c, TOK_NFC)) goto out;
  for (size_t i = 0; i < c.n;) { /* Python's str.split() */
    if (tok_py_isspace(c.p[i])) {
      i++;
      continue;
    }
    size_t j = i;
    while (j < c.n && !tok_py_isspace(c.p[j])) j++;
    if (basic_word(t, c.p + i, j - i, s, o)) goto out;
    i = j;
  }
  rc = 0;
out:
  cps_free(&c);
  return rc;
}

/* Step 1: lower every character except inside protected added tokens. */
static int lower_outside_specials(const bert_tokenizer *t, const tok_cps *in, tok_cps *out) {
  for (size_t i = 0; i < in->n;) {
    int hit = -1;
    for (int k = 0; k < t->n_protect && hit < 0; k++) {
      const tok_added *a = &t->added.items[t->protect[k]];
      if (a->ncps && a->ncps <= in->n - i && a->cps[0] == in->p[i] &&
          memcmp(a->cps, in->p + i, a->ncps * sizeof *a->cps) == 0)
        hit = t->protect[k];
    }
    if (hit >= 0) {
      if (cps_append(out, in->p + i, t->added.items[hit].ncps)) return -1;
      i += t->added.items[hit].ncps;
    } else {
      if (tok_py_lower(in->p + i, 1, 0, out)) return -1;
      i++;
    }
  }
  return 0;
}

vlp_status bert_tok_tokenize(const bert_tokenizer *t, const char *text, tok_out *o) {
  tok_cps raw = {0}, low = {0};
  tok_seg *segs = NULL;
  size_t nseg = 0;
  scratch s = {0};
  vlp_status st = VLP_ERR_NOMEM;
  if (tok_utf8_decode(text, strlen(text), &raw)) goto out;
  const tok_cps *x = &raw;
  if (t->do_lower) {
    if (lower_outside_specials(t, &raw, &low)) goto out;
    x = &low;
  }
  if (tok_split_added(&t->added, x->p, x->n, &segs, &nseg)) goto out;
  for (size_t i = 0; i < nseg; i++) {
    if (segs[i].added >= 0) {
      const tok_added *a = &t->added.items[segs[i].added];
      if (tok_out_push(o, a->id, a->content, a->len)) goto out;
    } else if (t->basic) {
      if (basic_tokenize(t, x->p + segs[i].start, segs[i].len, &s, o)) goto out;
    } else { /* do_basic_tokenize false: WordPiece on whitespace-split words */
      const uint32_t *p = x->p + segs[i].start;
      for (size_t a = 0, n = segs[i].len; a < n;) {
        if (tok_py_isspace(p[a])) {
          a++;
          continue;
        }
        size_t b = a;
        while (b < n && !tok_py_isspace(p[b])) b++;
        if (wordpiece(t, p + a, b - a, &s, o)) goto out;
        a = b;
      }
    }
  }
  st = VLP_OK;
out:
  cps_free(&raw);
  cps_free(&low);
  free(segs);
  scratch_free(&s);
  if (st)
    return vlp_fail(st, "%s: out of memory tokenizing %zu bytes of text", t->dir, strlen(text));
  return VLP_OK;
}

/* ---- decode -------------------------------------------------------------------------- */

/* Python's str.strip() of p[0..n) appended to out. */
static int append_stripped(tok_str *out, const char *p, size_t n) {
  tok_cps c = {0};
  if (tok_utf8_decode(p, n, &c)) return -1;
  size_t a = 0, b = c.n;
  while (a < b && tok_py_isspace(c.p[a])) a++;
  while (b > a && tok_py_isspace(c.p[b - 1])) b--;
  int r = tok_utf8_encode(c.p + a, b - a, out);
  cps_free(&c);
  return r;
}

/* convert_tokens_to_string: " ".join(tokens).replace(" ##", "").strip() */
static int flush_group(tok_str *group, tok_str *out, int *n_sub, int always) {
  tok_replace_all(group, " ##", "");
  size_t before = out->n;
  if (*n_sub && str_append(out, " ", 1)) return -1;
  size_t mark = out->n;
  if (append_stripped(out, group->p ? group->p : "", group->n)) return -1;
  if (!always && out->n == mark) { /* an empty string before a legacy token is dropped */
    out->n = before;
    if (out->p) out->p[before] = 0;
  } else {
    (*n_sub)++;
  }
  group->n = 0;
  return 0;
}

vlp_status bert_tok_decode(const bert_tokenizer *t, const int *ids, int n, char **text) {
  *text = NULL;
  tok_str out = {0}, group = {0};
  int n_sub = 0, in_group = 0;
  for (int i = 0; i < n; i++) {
    int id = ids[i];
    if (tok_added_is_skipped(&t->added, id)) continue;
    const char *tok;
    int k = tok_added_by_id(&t->added, id), legacy = 0;
    if (k >= 0) {
      tok = t->added.items[k].content;
      legacy = !t->added.items[k].special;
    } else if (id >= 0 && id < t->n_lines) {
      tok = t->lines[id];
    } else { /* ids_to_tokens.get(index, unk_token) */
      int u = tok_added_by_id(&t->added, t->unk_id);
      tok = u >= 0 ? t->added.items[u].content : t->lines[t->unk_id];
    }
    if (legacy) { /* non-special added tokens stand apart from the WordPiece text */
      if (in_group && flush_group(&group, &out, &n_sub, 0)) goto nomem;
      in_group = 0;
      if ((n_sub && str_append(&out, " ", 1)) || str_append(&out, tok, strlen(tok))) goto nomem;
      n_sub++;
      continue;
    }
    if ((in_group && str_append(&group, " ", 1)) || str_append(&group, tok, strlen(tok)))
      goto nomem;
    in_group = 1;
  }
  if (in_group && flush_group(&group, &out, &n_sub, 1)) goto nomem;
  if (t->cleanup) tok_clean_up_spaces(&out);
  if (str_append(&out, "", 0)) goto nomem;
  str_free(&group);
  *text = out.p;
  return VLP_OK;
nomem:
  str_free(&out);
  str_free(&group);
  return vlp_fail(VLP_ERR_NOMEM, "%s: out of memory decoding %d ids", t->dir, n);
}
