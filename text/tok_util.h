/* tok_util: helpers shared by the BERT and CLIP tokenizers: growable code-point and byte
 * buffers, UTF-8 decoding with Python's errors="replace" semantics, a string -> int hash
 * map, Python-compatible str.lower() / str.isspace(), Unicode normalisation (utf8proc),
 * the added-token table (tokenizer_config.json / added_tokens.json / special tokens) and
 * Hugging Face's split of a text on added tokens. Internal to text/. */
#ifndef VLP_TEXT_TOK_UTIL_H
#define VLP_TEXT_TOK_UTIL_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "vlp.h"

/* ---- buffers (functions return 0, or -1 when out of memory) ------------------------ */

typedef struct {
  uint32_t *p; /* (n,) code points */
  size_t n, cap;
} tok_cps;

typedef struct {
  char *p; /* (n,) bytes, kept NUL-terminated when non-empty */
  size_t n, cap;
} tok_str;

int cps_reserve(tok_cps *b, size_t extra);
int cps_push(tok_cps *b, uint32_t c);
int cps_append(tok_cps *b, const uint32_t *c, size_t n);
void cps_free(tok_cps *b);

int str_reserve(tok_str *s, size_t extra);
int str_append(tok_str *s, const char *p, size_t n);
int str_push_cp(tok_str *s, uint32_t c); /* UTF-8 encode */
void str_free(tok_str *s);

/* Decode UTF-8 bytes; every maximal invalid subsequence becomes one U+FFFD, as Python's
 * bytes.decode("utf-8", errors="replace") does. Appends to out. */
int tok_utf8_decode(const char *s, size_t n, tok_cps *out);
/* 1 when s[0..n) is valid UTF-8, else 0. */
int tok_utf8_valid(const char *s, size_t n);
/* Append the UTF-8 encoding of cps to out. */
int tok_utf8_encode(const uint32_t *c, size_t n, tok_str *out);
/* Bytes of the UTF-8 encoding of c (1..4); buf gets them. */
int tok_utf8_put(uint32_t c, char buf[4]);

/* ---- string -> int hash map (open addressing; keys copied into an internal pool) ----- */

typedef struct tok_map_pool tok_map_pool;
typedef struct {
  const char **keys;
  uint32_t *klen;
  int *vals;
  size_t cap, n;
  tok_map_pool *pool;
} tok_map;

int tok_map_put(tok_map *m, const char *k, size_t klen, int v); /* overwrites */
/* The same, and *stored gets the map's copy of the key (NUL-terminated, valid until
 * tok_map_free). */
int tok_map_put_key(tok_map *m, const char *k, size_t klen, int v, const char **stored);
/* Room for n keys without growing (each growth copies the table into a new one twice its
 * size: first-touch page faults for a vocabulary read once). */
int tok_map_reserve(tok_map *m, size_t n);
/* The value stored for k, or -1. */
int tok_map_get(const tok_map *m, const char *k, size_t klen);
void tok_map_free(tok_map *m);

/* ---- Unicode helpers ------------------------------------------------------------- */

/* Python's str.isspace(). */
int tok_py_isspace(uint32_t c);
/* Python's str.lower() of in[0..n) appended to out: full case mapping (U+0130 -> "i̇")
 * and the Final_Sigma rule when final_sigma is set (a whole-string lower()); with
 * final_sigma 0 every character is lowered on its own, as lower() of one character. */
int tok_py_lower(const uint32_t *in, size_t n, int final_sigma, tok_cps *out);

enum { TOK_NFC, TOK_NFD, TOK_NFKC };
/* Replace b by its normalisation form. */
int tok_normalize(tok_cps *b, int form);

/* ---- added tokens ---------------------------------------------------------------- */

typedef struct {
  char *content; /* UTF-8 */
  size_t len;
  uint32_t *cps; /* (ncps,) the content as code points */
  size_t ncps;
  int id;
  int special, lstrip, rstrip, normalized;
} tok_added;

/* Named special tokens a tokenizer class knows ("unk_token", ...) with its default. */
typedef struct {
  const char *key;
  const char *def; /* class default, or NULL for none */
} tok_special_def;

#define TOK_MAX_NAMED 8

typedef struct {
  tok_added *items; /* (n,) */
  int n;
  /* The named special tokens in the order of the defs given to tok_added_load: content
   * (NULL when unset) and id (-1 when unset). */
  char *named[TOK_MAX_NAMED];
  int named_id[TOK_MAX_NAMED];
  /* What decode(skip_special_tokens=True) drops: the named special tokens and the
   * additional_special_tokens. */
  int *skip_ids; /* (n_skip,) */
  int n_skip;
  int next_id; /* size of base vocabulary + added tokens not in it */
} tok_added_set;

/* Base-vocabulary id of a string, or -1. */
typedef int (*tok_lookup_fn)(const void *ctx, const char *s, size_t n);

/* Reads the added tokens of model_dir: tokenizer_config.json's added_tokens_decoder when
 * present, else added_tokens.json; named special tokens come from tokenizer_config.json,
 * then special_tokens_map.json, then the class defaults; those not yet added are added as
 * Hugging Face does (their vocabulary id, or a new id after the vocabulary). config is the
 * parsed tokenizer_config.json or NULL; base_size the base vocabulary size. */
vlp_status tok_added_load(const char *model_dir, const cJSON *config, const tok_special_def *defs,
                          int n_defs, tok_lookup_fn lookup, const void *ctx, int base_size,
                          tok_added_set *out);
void tok_added_free(tok_added_set *a);
/* Index in a->items of the added token with content s, or -1. */
int tok_added_find(const tok_added_set *a, const char *s, size_t n);
/* Index of the added token with this id, or -1. */
int tok_added_by_id(const tok_added_set *a, int id);
int tok_added_is_skipped(const tok_added_set *a, int id);

/* One piece of a text split on added tokens: a range of the input, either an added token
 * (added >= 0, its index) or plain text to tokenise (added = -1). */
typedef struct {
  size_t start, len; /* in code points */
  int added;
} tok_seg;

/* Hugging Face's tokens_trie.split + the lstrip/rstrip handling of tokenize(): leftmost,
 * longest match of the added tokens' contents in t; empty plain segments dropped.
 * *segs is malloc'd. */
int tok_split_added(const tok_added_set *a, const uint32_t *t, size_t n, tok_seg **segs,
                    size_t *nseg);

/* Growable list of token ids and (optionally) piece strings. */
typedef struct {
  int *ids;
  char **pieces; /* NULL when pieces are not wanted */
  size_t n, cap;
  int want_pieces;
} tok_out;

int tok_out_push(tok_out *o, int id, const char *piece, size_t len);
void tok_out_free(tok_out *o);

/* Python's s.replace(from, to) for ASCII from/to with to no longer than from, in place. */
void tok_replace_all(tok_str *s, const char *from, const char *to);
/* transformers' clean_up_tokenization: " ." -> "." ... " 're" -> "'re", in that order. */
void tok_clean_up_spaces(tok_str *s);

/* "<dir>/<name>", malloc'd, or NULL. */
char *tok_path(const char *dir, const char *name);
int tok_file_exists(const char *path);

#endif
