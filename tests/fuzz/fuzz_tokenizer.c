/* fuzz_tokenizer: the tokenizer files and the text. The first byte picks what the rest is:
 *   0 vocab.txt (BERT), 1 vocab.json + NUL + merges.txt (CLIP), 2 tokenizer_config.json of
 *   a BERT folder, 3 special_tokens_map.json of a BERT folder, 4 added_tokens.json of a
 *   BERT folder, 5 tokenizer_config.json of a CLIP folder,
 *   6 text for the BERT tokenizer, 7 text for the CLIP tokenizer (golden files).
 * Loaded tokenizers encode a few texts and decode ids around their vocabulary. vlp reads no
 * tokenizer.json (the slow tokenizers' files are enough), so there is nothing of it to fuzz. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "text/tokenizer.h"

static void exercise(const vlp_tokenizer *t, const char *text) {
  int *ids = NULL, n = 0, full = 0;
  if (tok_encode(t, text, 16, &ids, &n, &full) == VLP_OK) {
    char *back = NULL;
    if (tok_decode(t, ids, n, &back) == VLP_OK) free(back);
    free(ids);
  }
}

static void exercise_all(const vlp_tokenizer *t) {
  static const char *const texts[] = {"a photo of a cat", "Héllo, wörld!  [SEP] <|endoftext|>",
                                      "ﬁ 你好 🙂 don't", ""};
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) exercise(t, texts[i]);
  int v = tok_vocab_size(t);
  int ids[8] = {0, 1, 2, v - 1, v, v + 1, -1, 100};
  char *s = NULL;
  if (tok_decode(t, ids, 8, &s) == VLP_OK) free(s);
}

static vlp_tokenizer *golden(int clip) {
  static vlp_tokenizer *t[2];
  if (!t[clip]) {
    char p[1024];
    snprintf(p, sizeof p, "%s/models/%s", VLP_FUZZ_GOLDEN,
             clip ? "clip-tiny" : "blip-caption-tiny");
    if (tok_load(p, &t[clip]) != VLP_OK) abort();
  }
  return t[clip];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  int what = data[0] % 8;
  data++, size--;
  if (what >= 6) {
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    exercise(golden(what == 7), text);
    free(text);
    return 0;
  }
  int clip = what == 1 || what == 5;
  static const char *const bert_files[] = {"vocab.txt", "vocab.txt", "tokenizer_config.json",
                                           "special_tokens_map.json", "added_tokens.json"};
  static char *dirs[6];
  if (!dirs[what]) {
    const char *except[3] = {what == 1   ? "vocab.json"
                             : what == 5 ? "tokenizer_config.json"
                                         : bert_files[what],
                             what == 1 ? "merges.txt" : NULL, NULL};
    char sub[16];
    snprintf(sub, sizeof sub, "tok%d", what);
    if (!(dirs[what] = fuzz_model_dir(sub, clip ? "clip-tiny" : "blip-caption-tiny", except)))
      abort();
  }
  if (what == 1) {
    const uint8_t *nul = memchr(data, 0, size);
    size_t a = nul ? (size_t)(nul - data) : size;
    if (fuzz_put(dirs[1], "vocab.json", data, a) ||
        fuzz_put(dirs[1], "merges.txt", nul ? nul + 1 : data, nul ? size - a - 1 : 0))
      return 0;
  } else if (fuzz_put(dirs[what], what == 5 ? "tokenizer_config.json" : bert_files[what], data,
                      size)) {
    return 0;
  }
  vlp_tokenizer *t = NULL;
  if (tok_load(dirs[what], &t) == VLP_OK) {
    exercise_all(t);
    tok_free(t);
  }
  return 0;
}
