/* test_tokenizer_errors: bad model folders and bad input for the tokenizers: missing and
 * empty vocabulary files, vocab.json that is not JSON, empty text, invalid UTF-8, ids out
 * of range, extreme max_len. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/json.h"
#include "testlib.h"
#include "text/tokenizer.h"

static char root[] = "/tmp/vlp_tok_errors_XXXXXX";

static void write_file(const char *dir, const char *name, const char *content) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *f = fopen(p, "wb");
  if (!f) return;
  fputs(content, f);
  fclose(f);
}

static char *make_dir(const char *name) {
  static char p[8][512];
  static int k;
  char *d = p[k++ % 8];
  snprintf(d, 512, "%s/%s", root, name);
  mkdir(d, 0755);
  return d;
}

static int load_fails(const char *dir, vlp_status want, const char *must_mention) {
  vlp_tokenizer *t = NULL;
  vlp_status st = tok_load(dir, &t);
  int ok = st == want && t == NULL && strstr(vlp_last_error(), must_mention) != NULL;
  if (!ok) fprintf(stderr, "load %s: status %d, message \"%s\"\n", dir, st, vlp_last_error());
  tok_free(t);
  return ok;
}

/* The same ids for text a through t as for text b through u. */
static int same_ids(vlp_tokenizer *t, const char *a, vlp_tokenizer *u, const char *b) {
  int *x = NULL, *y = NULL, nx = 0, ny = 0;
  int ok = tok_encode(t, a, 0, &x, &nx, NULL) == VLP_OK &&
           tok_encode(u, b, 0, &y, &ny, NULL) == VLP_OK && nx == ny &&
           memcmp(x, y, (size_t)nx * sizeof *x) == 0;
  free(x);
  free(y);
  return ok;
}

static int encode_eq(vlp_tokenizer *t, const char *a, const char *b) {
  return same_ids(t, a, t, b);
}

int main(void) {
  if (!mkdtemp(root)) return 1;

  /* Folders without a usable tokenizer. */
  CHECK(load_fails(make_dir("none"), VLP_ERR_MODEL, "vocab.txt"));
  CHECK(load_fails(make_dir("none"), VLP_ERR_MODEL, "none"));
  CHECK(load_fails("/nonexistent/vlp/model", VLP_ERR_MODEL, "/nonexistent/vlp/model"));
  char *d = make_dir("nomerges");
  write_file(d, "vocab.json", "{\"a\": 0}");
  CHECK(load_fails(d, VLP_ERR_MODEL, "merges.txt"));
  d = make_dir("badjson");
  write_file(d, "vocab.json", "{\"a\": 0, oops");
  write_file(d, "merges.txt", "#version: 0.2\n");
  CHECK(load_fails(d, VLP_ERR_FORMAT, "vocab.json"));
  d = make_dir("emptyjson");
  write_file(d, "vocab.json", "{}");
  write_file(d, "merges.txt", "#version: 0.2\n");
  CHECK(load_fails(d, VLP_ERR_MODEL, "vocab.json"));
  d = make_dir("emptyvocab");
  write_file(d, "vocab.txt", "");
  CHECK(load_fails(d, VLP_ERR_MODEL, "vocab.txt"));
  d = make_dir("badconfig");
  write_file(d, "vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\na\n");
  write_file(d, "tokenizer_config.json", "not json");
  CHECK(load_fails(d, VLP_ERR_FORMAT, "tokenizer_config.json"));
  /* A special token missing from vocab.txt is added after it, as transformers does. */
  d = make_dir("nounk");
  write_file(d, "vocab.txt", "[PAD]\n[CLS]\n[SEP]\na\n");
  vlp_tokenizer *t = NULL;
  CHECK(tok_load(d, &t) == VLP_OK);
  if (t) {
    int *ids = NULL, n = 0;
    CHECK(tok_id(t, "[UNK]") == 4 && tok_vocab_size(t) >= 5);
    CHECK(tok_encode(t, "a zzz", 0, &ids, &n, NULL) == VLP_OK && n == 4 && ids[1] == 3 &&
          ids[2] == 4);
    free(ids);
    tok_free(t);
  }

  /* A minimal BERT folder with CRLF line ends and no config: defaults apply. */
  d = make_dir("minibert");
  write_file(d, "vocab.txt", "[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\n[MASK]\r\nhello\r\n##s\r\n,\r\n");
  t = NULL;
  CHECK(tok_load(d, &t) == VLP_OK);
  if (t) {
    int *ids = NULL, n = 0, full = 0;
    CHECK(tok_encode(t, "HELLOS, world [MASK]", 0, &ids, &n, &full) == VLP_OK);
    int want[] = {2, 5, 6, 7, 1, 4, 3};
    CHECK(n == 7 && memcmp(ids, want, sizeof want) == 0);
    char *s = NULL;
    CHECK(tok_decode(t, ids, n, &s) == VLP_OK && strcmp(s, "hellos,") == 0);
    free(s);
    free(ids);
    CHECK(tok_vocab_size(t) == 8);
    tok_free(t);
  }

  /* The golden models: empty text, invalid UTF-8, ids out of range, max_len extremes. */
  vlp_tokenizer *bert = NULL, *clip = NULL;
  CHECK(tok_load("golden/models/blip-caption-tiny", &bert) == VLP_OK);
  CHECK(tok_load("golden/models/clip-tiny", &clip) == VLP_OK);
  if (!bert || !clip) return test_done();
  int *ids = NULL, n = 0, full = 0;
  CHECK(tok_encode(bert, "", 0, &ids, &n, &full) == VLP_OK && n == 2 && ids[0] == 101 &&
        ids[1] == 102);
  free(ids);
  CHECK(tok_encode(clip, "", 0, &ids, &n, &full) == VLP_OK && n == 2 && ids[0] == 49406 &&
        ids[1] == 49407);
  free(ids);
  CHECK(tok_encode(clip, "  \t\n ", 0, &ids, &n, &full) == VLP_OK && n == 2);
  free(ids);
  /* max_len 1 keeps only the closing special; max_len 2 the two specials. */
  CHECK(tok_encode(clip, "a photo", 1, &ids, &n, &full) == VLP_OK && n == 1 && ids[0] == 49407 &&
        full == 4);
  free(ids);
  CHECK(tok_encode(bert, "a photo", 2, &ids, &n, &full) == VLP_OK && n == 2 && ids[0] == 101 &&
        ids[1] == 102);
  free(ids);

  /* Invalid UTF-8: each maximal bad sequence is U+FFFD (BERT then drops it). */
  CHECK(encode_eq(bert, "abc\xff\xfe def\xe6\x97", "abc def"));
  CHECK(encode_eq(clip, "abc\xff\xfe def", "abc\xef\xbf\xbd\xef\xbf\xbd def"));
  CHECK(encode_eq(clip, "x\xe6\x97 y", "x\xef\xbf\xbd y"));
  CHECK(encode_eq(clip, "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd")); /* a surrogate */
  char **p = NULL;
  CHECK(tok_pieces(clip, "\xc0\xaf", &p, &n) == VLP_OK && n >= 1);
  tok_free_pieces(p, n);

  /* vocab.json read by cJSON (an id written 0.0 is not the plain form text/tok_json_scan.c takes)
   * gives the tokenizer the one-pass reading gives. */
  d = make_dir("clipslow");
  static const char *clip_files[] = {"merges.txt", "tokenizer_config.json",
                                     "special_tokens_map.json", "vocab.json"};
  for (int i = 0; i < 4; i++) {
    char src[256], *text = NULL;
    snprintf(src, sizeof src, "golden/models/clip-tiny/%s", clip_files[i]);
    CHECK(read_file(src, &text, NULL) == VLP_OK);
    /* the first member, "!": 0, rewritten in place as "!":0.0, (the same length) */
    char *zero = text && i == 3 ? strstr(text, "\"!\": 0,\n  ") : NULL;
    if (zero) memcpy(zero + 4, "0.0,\n ", 6);
    CHECK(text && (i < 3 || zero));
    if (text) write_file(d, clip_files[i], text);
    free(text);
  }
  vlp_tokenizer *slow = NULL;
  CHECK(tok_load(d, &slow) == VLP_OK);
  if (slow) {
    const char *texts[] = {"a photo of a cat", "!!! Hello, World!! caf\xc3\xa9 \xe6\x97\xa5", ""};
    for (int i = 0; i < 3; i++) CHECK(same_ids(slow, texts[i], clip, texts[i]));
    int all[] = {0, 1, 256, 49406, 49407, 320, 1125};
    char *a = NULL, *b = NULL;
    CHECK(tok_decode(slow, all, 7, &a) == VLP_OK && tok_decode(clip, all, 7, &b) == VLP_OK && a &&
          b && strcmp(a, b) == 0);
    free(a);
    free(b);
    tok_free(slow);
  }
  /* merges.txt and vocab.txt must be UTF-8 */
  d = make_dir("badmerges");
  write_file(d, "vocab.json", "{\"a\": 0}");
  write_file(d, "merges.txt", "#version: 0.2\na \xff\n");
  CHECK(load_fails(d, VLP_ERR_FORMAT, "merges.txt"));
  d = make_dir("badvocabtxt");
  write_file(d, "vocab.txt", "[PAD]\n[UNK]\n\xe6\x97\n");
  CHECK(load_fails(d, VLP_ERR_FORMAT, "vocab.txt"));

  /* Decoding: unknown CLIP ids are an error; BERT maps them to [UNK] as the reference. */
  int bad[] = {320, 999999};
  char *s = NULL;
  CHECK(tok_decode(clip, bad, 2, &s) == VLP_ERR_INVALID && s == NULL);
  int neg[] = {-5};
  CHECK(tok_decode(clip, neg, 1, &s) == VLP_ERR_INVALID);
  int bi[] = {101, 1037, 99999999, 102};
  CHECK(tok_decode(bert, bi, 4, &s) == VLP_OK && strcmp(s, "a [UNK]") == 0);
  free(s);
  CHECK(tok_decode(bert, NULL, 0, &s) == VLP_OK && strcmp(s, "") == 0);
  free(s);
  /* Byte-level BPE cut inside a character decodes with U+FFFD. */
  int cut[] = {49406, 19759, 49407}; /* "ä¸" = the first two bytes of 中 */
  CHECK(tok_decode(clip, cut, 3, &s) == VLP_OK && strcmp(s, "\xef\xbf\xbd") == 0);
  free(s);

  /* Random bytes (mostly UTF-8-ish, with specials and entities mixed in) never fail. */
  static const char *bits[] = {"[SEP]",    "<|endoftext|>", "&amp;",        "&#x1F600;",
                               "\xce\xa3", "\xc4\xb0",      "\xef\xbc\xa1", "\xe2\x80\x9c",
                               "\r\n",     "\x1b[1m",       "\xe6\x97\xa5", " "};
  unsigned seed = 12345;
  int fuzz_ok = 1;
  for (int round = 0; round < 300 && fuzz_ok; round++) {
    char buf[256];
    size_t w = 0;
    while (w < 200) {
      seed = seed * 1103515245u + 12345u;
      unsigned r = seed >> 16;
      if (r % 3 == 0) {
        const char *b = bits[r % 12];
        memcpy(buf + w, b, strlen(b));
        w += strlen(b);
      } else {
        char c = (char)(r >> 3 & 0xFF);
        buf[w++] = c ? c : 'x';
      }
    }
    buf[w] = 0;
    for (int k = 0; k < 2; k++) {
      vlp_tokenizer *tk = k ? clip : bert;
      int *x = NULL, nx = 0;
      char *txt = NULL, **pc = NULL;
      int np = 0;
      if (tok_encode(tk, buf, 77, &x, &nx, NULL) || tok_decode(tk, x, nx, &txt) ||
          tok_pieces(tk, buf, &pc, &np))
        fuzz_ok = 0;
      free(x);
      free(txt);
      tok_free_pieces(pc, np);
    }
  }
  CHECK(fuzz_ok);

  tok_free(bert);
  tok_free(clip);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", root);
  return test_done();
}
