/* siglip_tokenizer: SiglipTokenizer of transformers 4.47 around a SentencePiece model (see
 * siglip_tokenizer.h for the steps). SentencePiece itself runs the model as stored in
 * spiece.model (pieces, scores, unigram Viterbi, the normaliser's precompiled charsmap);
 * this file does what the reference does around it. */
#include "text/siglip_tokenizer.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/json.h"
#include "text/spm.h"

#define META 0x2581u /* "▁", SentencePiece's word-boundary symbol */

struct siglip_tokenizer {
  spm_model *sp;
  tok_added_set added; /* </s>, <unk> and any additional special tokens */
  int eos_id, unk_id, pad_id;
  const char *unk; /* unk token content (prefix of every SentencePiece call) */
  int unk_len;     /* pieces of encode(unk) alone */
  int lower;       /* do_lower_case */
  int clean_up;    /* clean_up_tokenization_spaces */
  int max_len;     /* model_max_length */
};

enum { NAMED_EOS, NAMED_UNK, NAMED_PAD };
static const tok_special_def special_defs[] = {
    {"eos_token", "</s>"}, {"unk_token", "<unk>"}, {"pad_token", "</s>"}};

/* ---- loading --------------------------------------------------------------------------- */

/* The id of a string that is a piece of the model, or -1 (piece_to_id alone answers the
 * unknown id for anything). */
static int lookup_piece(const void *ctx, const char *s, size_t n) {
  const spm_model *sp = ctx;
  int id = spm_piece_to_id(sp, s, n);
  const char *p = spm_id_to_piece(sp, id);
  return p && strlen(p) == n && memcmp(p, s, n) == 0 ? id : -1;
}

/* spiece.model with normalizer_spec.add_dummy_prefix forced to false, as the reference
 * does (it merges a NormalizerSpec with that one field into the model): appending the
 * serialized field to the file has the same effect, since protobuf merges a repeated
 * embedded message into the earlier one. Field 3 (normalizer_spec, length-delimited, 2
 * bytes) holding field 3 (add_dummy_prefix, varint) = 0. */
static const char no_dummy_prefix[] = {0x1a, 0x02, 0x18, 0x00};

static vlp_status load_model(const char *dir, spm_model **out) {
  char *path = tok_path(dir, "spiece.model"), *data = NULL;
  size_t n = 0;
  if (!path) return vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", dir);
  vlp_status st =
      tok_file_exists(path)
          ? read_file(path, &data, &n)
          : vlp_fail(VLP_ERR_MODEL,
                     "%s: missing (SigLIP's tokenizer needs this SentencePiece model)", path);
  if (!st && n == 0)
    st = vlp_fail(VLP_ERR_FORMAT, "%s: empty file (not a SentencePiece model)", path);
  if (!st) {
    char *all = realloc(data, n + sizeof no_dummy_prefix);
    if (!all) {
      st = vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", path);
    } else {
      data = all;
      memcpy(data + n, no_dummy_prefix, sizeof no_dummy_prefix);
      char err[256];
      if (spm_load(data, n + sizeof no_dummy_prefix, out, err, sizeof err))
        st = vlp_fail(VLP_ERR_FORMAT, "%s: not a valid SentencePiece model (%s)", path,
                      strstr(err, "Parse") ? "corrupt or truncated: it does not parse" : err);
      else if (spm_piece_count(*out) <= 0)
        st = vlp_fail(VLP_ERR_FORMAT, "%s: the SentencePiece model has no pieces", path);
      if (st && *out) {
        spm_free(*out);
        *out = NULL;
      }
    }
  }
  free(data);
  free(path);
  return st;
}

static vlp_status load_config(const char *dir, cJSON **out) {
  *out = NULL;
  char *path = tok_path(dir, "tokenizer_config.json");
  if (!path) return vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", dir);
  vlp_status st = tok_file_exists(path) ? json_load_file(path, out) : VLP_OK;
  if (!st && *out && !cJSON_IsObject(*out)) {
    st = vlp_fail(VLP_ERR_FORMAT, "%s: not a JSON object", path);
    cJSON_Delete(*out);
    *out = NULL;
  }
  free(path);
  return st;
}

static int unk_piece_count(void *ctx, const char *piece, size_t len) {
  (void)piece;
  (void)len;
  (*(int *)ctx)++;
  return 0;
}

vlp_status siglip_tok_load(const char *dir, siglip_tokenizer **out) {
  *out = NULL;
  siglip_tokenizer *t = calloc(1, sizeof *t);
  if (!t) return vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", dir);
  cJSON *cfg = NULL;
  vlp_status st = load_model(dir, &t->sp);
  if (!st) st = load_config(dir, &cfg);
  if (!st)
    st = tok_added_load(dir, cfg, special_defs, 3, lookup_piece, t->sp, spm_piece_count(t->sp),
                        &t->added);
  if (st) goto fail;
  /* The class makes its named tokens AddedToken(lstrip=True, rstrip=True); a folder that
   * lists them in added_tokens_decoder says so itself. */
  if (!(cfg && json_obj(cfg, "added_tokens_decoder")))
    for (int i = 0; i < t->added.n; i++)
      for (int k = 0; k < 3; k++)
        if (t->added.named[k] && !strcmp(t->added.items[i].content, t->added.named[k]))
          t->added.items[i].lstrip = t->added.items[i].rstrip = 1;
  t->eos_id = t->added.named_id[NAMED_EOS];
  t->unk_id = t->added.named_id[NAMED_UNK];
  t->pad_id = t->added.named_id[NAMED_PAD];
  t->unk = t->added.named[NAMED_UNK];
  if (t->eos_id < 0 || t->unk_id < 0 || !t->unk || !*t->unk) {
    st = vlp_fail(VLP_ERR_MODEL, "%s: the tokenizer has no eos or unk token", dir);
    goto fail;
  }
  if (t->pad_id < 0) t->pad_id = t->eos_id;
  t->lower = cfg ? json_bool(cfg, "do_lower_case", 1) : 1;
  t->clean_up = cfg ? json_bool(cfg, "clean_up_tokenization_spaces", 0) : 0;
  t->max_len = cfg ? json_int(cfg, "model_max_length", 64) : 64;
  if (t->max_len <= 0 || t->max_len > 1 << 20) t->max_len = 64;
  char err[256];
  if (spm_encode(t->sp, t->unk, strlen(t->unk), unk_piece_count, &t->unk_len, err, sizeof err)) {
    st = vlp_fail(VLP_ERR_FORMAT, "%s/spiece.model: cannot encode \"%s\" (%s)", dir, t->unk, err);
    goto fail;
  }
  cJSON_Delete(cfg);
  *out = t;
  return VLP_OK;
fail:
  cJSON_Delete(cfg);
  siglip_tok_free(t);
  return st;
}

void siglip_tok_free(siglip_tokenizer *t) {
  if (!t) return;
  spm_free(t->sp);
  tok_added_free(&t->added);
  free(t);
}

/* ---- tokenize -------------------------------------------------------------------------- */

/* Step 2: Python's lower() one character at a time, except where a special token starts
 * (the reference's regex keeps them as written, first listed token first). */
static int lower_except_specials(const tok_added_set *a, const uint32_t *in, size_t n,
                                 tok_cps *out) {
  for (size_t i = 0; i < n;) {
    int hit = -1;
    for (int k = 0; k < a->n && hit < 0; k++) {
      const tok_added *x = &a->items[k];
      if (x->special && x->ncps && x->ncps <= n - i && !memcmp(x->cps, in + i, x->ncps * 4))
        hit = k;
    }
    if (hit >= 0) {
      if (cps_append(out, in + i, a->items[hit].ncps)) return -1;
      i += a->items[hit].ncps;
    } else {
      if (tok_py_lower(in + i, 1, 0, out)) return -1;
      i++;
    }
  }
  return 0;
}

static int is_ascii_punct(uint32_t c) {
  return c < 0x80 && c > 0x20 && c != 0x7f &&
         !((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'));
}

/* Step 4 (canonicalize_text) on c[0..n) into out as UTF-8. */
static int canonicalize(const uint32_t *c, size_t n, tok_str *out) {
  int pending_space = 0, any = 0;
  for (size_t i = 0; i < n; i++) {
    if (is_ascii_punct(c[i])) continue;
    if (tok_py_isspace(c[i])) {
      pending_space = 1;
      continue;
    }
    if (pending_space && any && str_push_cp(out, ' ')) return -1;
    pending_space = 0;
    any = 1;
    if (str_push_cp(out, c[i])) return -1;
  }
  if (!out->p && str_reserve(out, 1)) return -1;
  out->p[out->n] = 0;
  return 0;
}

static int collect_piece(void *ctx, const char *piece, size_t len) {
  return tok_out_push(ctx, 0, piece, len);
}

static int is_special_piece(const siglip_tokenizer *t, const char *s) {
  int k = tok_added_find(&t->added, s, strlen(s));
  return k >= 0 && t->added.items[k].special;
}

/* Steps 5: the pieces of one canonical chunk appended to out. */
static vlp_status encode_chunk(const siglip_tokenizer *t, const tok_str *chunk, tok_out *out) {
  tok_str in = {0};
  tok_out pieces = {.want_pieces = 1};
  vlp_status st = VLP_OK;
  if (str_append(&in, t->unk, strlen(t->unk)) || str_append(&in, chunk->p, chunk->n))
    return vlp_fail(VLP_ERR_NOMEM, "siglip tokenizer: out of memory");
  char err[256];
  int r = spm_encode(t->sp, in.p, in.n, collect_piece, &pieces, err, sizeof err);
  if (r == -1) st = vlp_fail(VLP_ERR_INVALID, "siglip tokenizer: SentencePiece failed: %s", err);
  if (r == -2) st = vlp_fail(VLP_ERR_NOMEM, "siglip tokenizer: out of memory");
  size_t skip = pieces.n >= (size_t)t->unk_len ? (size_t)t->unk_len : 0;
  for (size_t i = skip; !st && i < pieces.n; i++) {
    const char *p = pieces.pieces[i];
    size_t len = strlen(p);
    int k = tok_added_find(&t->added, p, len);
    int id = k >= 0 ? t->added.items[k].id : spm_piece_to_id(t->sp, p, len);
    if (tok_out_push(out, id, p, len))
      st = vlp_fail(VLP_ERR_NOMEM, "siglip tokenizer: out of memory");
  }
  tok_out_free(&pieces);
  str_free(&in);
  return st;
}

vlp_status siglip_tok_tokenize(const siglip_tokenizer *t, const char *text, tok_out *out,
                               tok_out *sp_inputs) {
  if (!t || !text) return vlp_fail(VLP_ERR_INVALID, "siglip tokenizer: no tokenizer or no text");
  tok_cps raw = {0}, low = {0};
  tok_seg *segs = NULL;
  size_t nseg = 0;
  vlp_status st = VLP_OK;
  int want = out->want_pieces;
  out->want_pieces = 1; /* step 6 looks at the piece strings */
  /* step 1 */
  if (cps_push(&raw, META) || tok_utf8_decode(text, strlen(text), &raw)) goto nomem;
  for (size_t i = 1; i < raw.n; i++)
    if (raw.p[i] == META) raw.p[i] = ' ';
  /* steps 2, 3 */
  if (t->lower) {
    if (lower_except_specials(&t->added, raw.p, raw.n, &low)) goto nomem;
  } else if (cps_append(&low, raw.p, raw.n)) {
    goto nomem;
  }
  if (tok_split_added(&t->added, low.p, low.n, &segs, &nseg)) goto nomem;
  for (size_t s = 0; s < nseg && !st; s++) {
    if (segs[s].added >= 0) {
      const tok_added *x = &t->added.items[segs[s].added];
      if (tok_out_push(out, x->id, x->content, x->len)) goto nomem;
      continue;
    }
    tok_str chunk = {0};
    if (canonicalize(low.p + segs[s].start, segs[s].len, &chunk) ||
        (sp_inputs && tok_out_push(sp_inputs, 0, chunk.p, chunk.n))) {
      str_free(&chunk);
      goto nomem;
    }
    st = encode_chunk(t, &chunk, out);
    str_free(&chunk);
  }
  /* step 6 */
  if (!st && out->n > 1 && !strcmp(out->pieces[0], "\xe2\x96\x81") &&
      is_special_piece(t, out->pieces[1])) {
    free(out->pieces[0]);
    memmove(out->pieces, out->pieces + 1, (out->n - 1) * sizeof *out->pieces);
    memmove(out->ids, out->ids + 1, (out->n - 1) * sizeof *out->ids);
    out->n--;
  }
  goto done;
nomem:
  st = vlp_fail(VLP_ERR_NOMEM, "siglip tokenizer: out of memory");
done:
  if (!want && out->pieces) {
    for (size_t i = 0; i < out->n; i++) free(out->pieces[i]);
    free(out->pieces);
    out->pieces = NULL;
  }
  out->want_pieces = want;
  free(segs);
  cps_free(&raw);
  cps_free(&low);
  return st;
}

vlp_status siglip_tok_encode(const siglip_tokenizer *t, const char *text, int max_len, int **ids,
                             int *n, int *n_untruncated) {
  *ids = NULL;
  *n = 0;
  if (n_untruncated) *n_untruncated = 0;
  tok_out o = {0};
  vlp_status st = siglip_tok_tokenize(t, text, &o, NULL);
  if (!st && o.n > (size_t)INT_MAX - 1)
    st = vlp_fail(VLP_ERR_INVALID, "siglip tokenizer: text of %zu tokens is too long", o.n);
  if (st) {
    tok_out_free(&o);
    return st;
  }
  int full = (int)o.n, keep = full;
  if (!(full > 0 && o.ids[full - 1] == t->eos_id)) full++;
  /* truncation=True: the pieces are cut to max_len - 1 (room for </s>), then </s> is added
   * unless the kept ids already end with it */
  if (max_len > 0 && keep + 1 > max_len) keep = max_len - 1;
  int *v = malloc(((size_t)keep + 1) * sizeof *v);
  if (!v) {
    tok_out_free(&o);
    return vlp_fail(VLP_ERR_NOMEM, "siglip tokenizer: out of memory");
  }
  if (keep) memcpy(v, o.ids, (size_t)keep * sizeof *v); /* o.ids is NULL for no pieces */
  int w = keep;
  if (!(w > 0 && v[w - 1] == t->eos_id)) v[w++] = t->eos_id;
  tok_out_free(&o);
  *ids = v;
  *n = w;
  if (n_untruncated) *n_untruncated = full;
  return VLP_OK;
}

/* ---- decode ---------------------------------------------------------------------------- */

vlp_status siglip_tok_decode(const siglip_tokenizer *t, const int *ids, int n, char **text) {
  *text = NULL;
  const char **pieces = malloc(((size_t)n + 1) * sizeof *pieces);
  if (!pieces) return vlp_fail(VLP_ERR_NOMEM, "siglip tokenizer: out of memory");
  int np = 0;
  for (int i = 0; i < n; i++) {
    if (tok_added_is_skipped(&t->added, ids[i])) continue;
    int k = tok_added_by_id(&t->added, ids[i]);
    const char *p = k >= 0 ? t->added.items[k].content : spm_id_to_piece(t->sp, ids[i]);
    if (!p) {
      free(pieces);
      return vlp_fail(VLP_ERR_INVALID,
                      "siglip tokenizer: id %d is not in the vocabulary (%d pieces)", ids[i],
                      spm_piece_count(t->sp));
    }
    pieces[np++] = p;
  }
  char *raw = NULL, err[256];
  int r = spm_decode(t->sp, pieces, np, &raw, err, sizeof err);
  free(pieces);
  if (r) return vlp_fail(VLP_ERR_INVALID, "siglip tokenizer: SentencePiece decode failed: %s", err);
  /* Python's strip() */
  tok_cps c = {0};
  tok_str s = {0};
  vlp_status st = VLP_OK;
  if (tok_utf8_decode(raw, strlen(raw), &c)) {
    st = vlp_fail(VLP_ERR_NOMEM, "siglip tokenizer: out of memory");
  } else {
    size_t a = 0, b = c.n;
    while (a < b && tok_py_isspace(c.p[a])) a++;
    while (b > a && tok_py_isspace(c.p[b - 1])) b--;
    if (tok_utf8_encode(c.p + a, b - a, &s) || (!s.p && str_reserve(&s, 1)))
      st = vlp_fail(VLP_ERR_NOMEM, "siglip tokenizer: out of memory");
    else {
      s.p[s.n] = 0;
      if (t->clean_up) tok_clean_up_spaces(&s);
    }
  }
  free(raw);
  cps_free(&c);
  if (st) {
    str_free(&s);
    return st;
  }
  *text = s.p;
  return VLP_OK;
}

int siglip_tok_vocab_size(const siglip_tokenizer *t) {
  return t->added.next_id;
}

int siglip_tok_id(const siglip_tokenizer *t, const char *token) {
  int k = tok_added_find(&t->added, token, strlen(token));
  if (k >= 0) return t->added.items[k].id;
  return lookup_piece(t->sp, token, strlen(token));
}

int siglip_tok_eos_id(const siglip_tokenizer *t) {
  return t->eos_id;
}

int siglip_tok_pad_id(const siglip_tokenizer *t) {
  return t->pad_id;
}

int siglip_tok_max_length(const siglip_tokenizer *t) {
  return t->max_len;
}
