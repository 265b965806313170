/* tokenizer: the common tokenizer interface (text/tokenizer.h) over the BERT WordPiece and
 * CLIP BPE tokenizers; picks one from the files of the model folder.
 *
 * Input text is UTF-8. Bytes that are not valid UTF-8 (the reference, a Python str, has no
 * such case) are read as U+FFFD, one per maximal invalid sequence as Python's
 * errors="replace" does: BERT's cleaning then drops them, CLIP tokenises U+FFFD. */
#include "text/tokenizer.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "text/bert_tokenizer.h"
#include "text/clip_tokenizer.h"
#include "text/siglip_tokenizer.h"
#include "text/tok_util.h"

struct vlp_tokenizer {
  tok_kind kind;
  bert_tokenizer *bert;
  clip_tokenizer *clip;
  siglip_tokenizer *siglip;
};

/* 1 when tokenizer_config.json or config.json names a SentencePiece tokenizer (SigLIP), so
 * that a folder without its spiece.model says that file is missing. */
static int wants_sentencepiece(const char *dir) {
  static const char *const files[] = {"tokenizer_config.json", "config.json"};
  int yes = 0;
  for (int i = 0; i < 2 && !yes; i++) {
    char *p = tok_path(dir, files[i]);
    FILE *f = p ? fopen(p, "rb") : NULL;
    free(p);
    if (!f) continue;
    char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    yes = strstr(buf, "SiglipTokenizer") || strstr(buf, "SiglipModel") || strstr(buf, "\"siglip\"");
  }
  return yes;
}

vlp_status tok_load(const char *model_dir, vlp_tokenizer **out) {
  *out = NULL;
  if (!model_dir || !*model_dir)
    return vlp_fail(VLP_ERR_INVALID, "tokenizer: no model folder given");
  char *vocab_txt = tok_path(model_dir, "vocab.txt"),
       *vocab_json = tok_path(model_dir, "vocab.json");
  char *merges = tok_path(model_dir, "merges.txt");
  char *spiece = tok_path(model_dir, "spiece.model");
  vlp_tokenizer *t = calloc(1, sizeof *t);
  vlp_status st;
  if (!vocab_txt || !vocab_json || !merges || !spiece || !t) {
    st = vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", model_dir);
    goto done;
  }
  if (tok_file_exists(vocab_txt)) {
    t->kind = TOK_BERT;
    st = bert_tok_load(model_dir, &t->bert);
  } else if (tok_file_exists(vocab_json)) {
    t->kind = TOK_CLIP;
    if (!tok_file_exists(merges))
      st = vlp_fail(VLP_ERR_MODEL,
                    "%s: vocab.json is there but merges.txt is missing (needed for CLIP BPE)",
                    model_dir);
    else
      st = clip_tok_load(model_dir, &t->clip);
  } else if (tok_file_exists(spiece) || wants_sentencepiece(model_dir)) {
    t->kind = TOK_SIGLIP;
    st = siglip_tok_load(model_dir, &t->siglip);
  } else {
    st = vlp_fail(VLP_ERR_MODEL,
                  "%s: no tokenizer: neither vocab.txt (BERT), vocab.json + merges.txt (CLIP) nor "
                  "spiece.model (SigLIP)",
                  model_dir);
  }
  if (st == VLP_OK) {
    *out = t;
    t = NULL;
  }
done:
  free(vocab_txt);
  free(vocab_json);
  free(merges);
  free(spiece);
  tok_free(t);
  return st;
}

void tok_free(vlp_tokenizer *t) {
  if (!t) return;
  bert_tok_free(t->bert);
  clip_tok_free(t->clip);
  siglip_tok_free(t->siglip);
  free(t);
}

tok_kind tok_kind_of(const vlp_tokenizer *t) {
  return t->kind;
}

static vlp_status tokenize(const vlp_tokenizer *t, const char *text, tok_out *o) {
  if (t->kind == TOK_SIGLIP) return siglip_tok_tokenize(t->siglip, text, o, NULL);
  return t->kind == TOK_BERT ? bert_tok_tokenize(t->bert, text, o)
                             : clip_tok_tokenize(t->clip, text, o);
}

vlp_status tok_encode(const vlp_tokenizer *t, const char *text, int max_len, int **ids, int *n,
                      int *n_untruncated) {
  *ids = NULL;
  *n = 0;
  if (n_untruncated) *n_untruncated = 0;
  if (!t || !text) return vlp_fail(VLP_ERR_INVALID, "tok_encode: no tokenizer or no text");
  if (t->kind == TOK_SIGLIP)
    return siglip_tok_encode(t->siglip, text, max_len, ids, n, n_untruncated);
  tok_out o = {0};
  vlp_status st = tokenize(t, text, &o);
  if (st) {
    tok_out_free(&o);
    return st;
  }
  int open = t->kind == TOK_BERT ? bert_tok_cls_id(t->bert) : clip_tok_bos_id(t->clip);
  int close = t->kind == TOK_BERT ? bert_tok_sep_id(t->bert) : clip_tok_eos_id(t->clip);
  if (o.n > (size_t)INT_MAX - 2) {
    tok_out_free(&o);
    return vlp_fail(VLP_ERR_INVALID, "tok_encode: text of %zu tokens is too long", o.n);
  }
  size_t total = o.n + 2, keep = total;
  if (max_len > 0 && total > (size_t)max_len) keep = (size_t)max_len;
  int *out = malloc(keep * sizeof *out);
  if (!out) {
    tok_out_free(&o);
    return vlp_fail(VLP_ERR_NOMEM, "tok_encode: out of memory for %zu ids", keep);
  }
  /* The first keep - 1 ids of [open, pieces...], then the closing special. */
  size_t w = 0;
  if (keep > 1) out[w++] = open;
  for (size_t i = 0; i < o.n && w + 1 < keep; i++) out[w++] = o.ids[i];
  out[w++] = close;
  tok_out_free(&o);
  *ids = out;
  *n = (int)w;
  if (n_untruncated) *n_untruncated = (int)total;
  return VLP_OK;
}

vlp_status tok_pieces(const vlp_tokenizer *t, const char *text, char ***pieces, int *n) {
  *pieces = NULL;
  *n = 0;
  if (!t || !text) return vlp_fail(VLP_ERR_INVALID, "tok_pieces: no tokenizer or no text");
  tok_out o = {.want_pieces = 1};
  vlp_status st = tokenize(t, text, &o);
  if (st == VLP_OK && o.n > (size_t)INT_MAX)
    st = vlp_fail(VLP_ERR_INVALID, "tok_pieces: too many tokens");
  if (st) {
    tok_out_free(&o);
    return st;
  }
  *pieces = o.pieces;
  *n = (int)o.n;
  free(o.ids);
  return VLP_OK;
}

void tok_free_pieces(char **pieces, int n) {
  if (!pieces) return;
  for (int i = 0; i < n; i++) free(pieces[i]);
  free(pieces);
}

vlp_status tok_decode(const vlp_tokenizer *t, const int *ids, int n, char **text) {
  *text = NULL;
  if (!t || n < 0 || (n > 0 && !ids)) return vlp_fail(VLP_ERR_INVALID, "tok_decode: bad arguments");
  if (t->kind == TOK_SIGLIP) return siglip_tok_decode(t->siglip, ids, n, text);
  return t->kind == TOK_BERT ? bert_tok_decode(t->bert, ids, n, text)
                             : clip_tok_decode(t->clip, ids, n, text);
}

int tok_vocab_size(const vlp_tokenizer *t) {
  if (t->kind == TOK_SIGLIP) return siglip_tok_vocab_size(t->siglip);
  return t->kind == TOK_BERT ? bert_tok_vocab_size(t->bert) : clip_tok_vocab_size(t->clip);
}

int tok_id(const vlp_tokenizer *t, const char *token) {
  if (!token) return -1;
  if (t->kind == TOK_SIGLIP) return siglip_tok_id(t->siglip, token);
  return t->kind == TOK_BERT ? bert_tok_id(t->bert, token) : clip_tok_id(t->clip, token);
}

int tok_model_max_length(const vlp_tokenizer *t) {
  if (t->kind == TOK_SIGLIP) return siglip_tok_max_length(t->siglip);
  return t->kind == TOK_CLIP ? 77 : 512;
}

int tok_pad_id(const vlp_tokenizer *t) {
  if (t->kind == TOK_SIGLIP) return siglip_tok_pad_id(t->siglip);
  return t->kind == TOK_CLIP ? clip_tok_eos_id(t->clip) : tok_id(t, "[PAD]");
}

vlp_status tok_sp_inputs(const vlp_tokenizer *t, const char *text, char ***inputs, int *n) {
  *inputs = NULL;
  *n = 0;
  if (!t || t->kind != TOK_SIGLIP)
    return vlp_fail(VLP_ERR_INVALID, "tok_sp_inputs: not a SentencePiece tokenizer");
  tok_out o = {0}, sp = {.want_pieces = 1};
  vlp_status st = siglip_tok_tokenize(t->siglip, text, &o, &sp);
  tok_out_free(&o);
  if (!st && sp.n > (size_t)INT_MAX)
    st = vlp_fail(VLP_ERR_INVALID, "tok_sp_inputs: too many chunks");
  if (st) {
    tok_out_free(&sp);
    return st;
  }
  *inputs = sp.pieces;
  *n = (int)sp.n;
  free(sp.ids);
  return VLP_OK;
}
