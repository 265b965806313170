/* test_tokenizer_clip: every case of golden/cases/tokenizer_clip.json through the CLIP BPE
 * tokenizer: input_ids_77 + attention_mask_77 (truncate to 77, pad with the pad id 49407,
 * mask 0 on pads), input_ids_full, bpe_tokens and decoded text must be identical. Also a
 * 1 MB text and a single very long word, and literal special tokens. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/json.h"
#include "golden_common.h"
#include "testlib.h"
#include "text/tokenizer.h"

#define CTX 77

int main(void) {
  cJSON *m = golden_manifest("tokenizer_clip.json");
  if (!m) return test_done();
  char dir[512];
  snprintf(dir, sizeof dir, "golden/%s", json_str(m, "model", ""));
  vlp_tokenizer *t = NULL;
  if (tok_load(dir, &t)) {
    fprintf(stderr, "%s\n", vlp_last_error());
    return 1;
  }
  CHECK(tok_kind_of(t) == TOK_CLIP);
  CHECK(tok_vocab_size(t) == 49408);
  CHECK(tok_id(t, "<|startoftext|>") == 49406 && tok_id(t, "<|endoftext|>") == 49407);
  const int pad = tok_id(t, "<|endoftext|>");

  const cJSON *cases = cJSON_GetObjectItemCaseSensitive(m, "cases"), *c;
  int n_cases = 0, n_match = 0, n_agree = 0, n_agree_match = 0;
  cJSON_ArrayForEach(c, cases) {
    const char *id = json_str(c, "id", "?");
    const char *text = json_str(json_obj(c, "inputs"), "text", NULL);
    if (!text) continue;
    int agree = json_bool(json_obj(c, "variants"), "agree", 0);
    n_cases++;
    n_agree += agree;
    int ok = 1, *ids = NULL, n = 0, full = 0, *tr = NULL, ntr = 0, full2 = 0;
    if (tok_encode(t, text, 0, &ids, &n, &full) || tok_encode(t, text, CTX, &tr, &ntr, &full2)) {
      fprintf(stderr, "%s: encode failed: %s\n", id, vlp_last_error());
      ok = 0;
    } else {
      const cJSON *w;
      if ((w = golden_value(c, "input_ids_full")) && !golden_ints_equal(w, ids, n)) {
        fprintf(stderr, "%s: input_ids_full differ (got %d ids):", id, n);
        for (int i = 0; i < n && i < 40; i++) fprintf(stderr, " %d", ids[i]);
        fprintf(stderr, "\n");
        ok = 0;
      }
      if (full != n || full2 != n || ntr != (n < CTX ? n : CTX)) ok = 0;
      int padded[CTX], mask[CTX];
      for (int i = 0; i < CTX; i++) {
        padded[i] = i < ntr ? tr[i] : pad;
        mask[i] = i < ntr;
      }
      if ((w = golden_value(c, "input_ids_77")) && !golden_ints_equal(w, padded, CTX)) {
        fprintf(stderr, "%s: input_ids_77 differ\n", id);
        ok = 0;
      }
      if ((w = golden_value(c, "attention_mask_77")) && !golden_ints_equal(w, mask, CTX)) {
        fprintf(stderr, "%s: attention_mask_77 differs\n", id);
        ok = 0;
      }
      if ((w = golden_value(c, "decoded"))) {
        char *d = NULL;
        if (tok_decode(t, ids, n, &d) || strcmp(d, w->valuestring) != 0) {
          fprintf(stderr, "%s: decoded \"%s\", want \"%s\"\n", id, d ? d : vlp_last_error(),
                  w->valuestring);
          ok = 0;
        }
        free(d);
      }
    }
    const cJSON *bp = golden_value(c, "bpe_tokens");
    if (bp) {
      char **p = NULL;
      int np = 0;
      if (tok_pieces(t, text, &p, &np) || !golden_strs_equal(bp, p, np)) {
        fprintf(stderr, "%s: bpe tokens differ (got %d)\n", id, np);
        ok = 0;
      }
      tok_free_pieces(p, np);
    }
    free(ids);
    free(tr);
    CHECK(ok);
    n_match += ok;
    n_agree_match += ok && agree;
  }
  printf("clip golden: %d of %d cases match (%d of %d where all reference variants agree)\n",
         n_match, n_cases, n_agree_match, n_agree);
  CHECK(n_cases > 0 && n_match == n_cases);

  /* Literal special tokens are the special ids; other case is text. */
  int *ids = NULL, n = 0, full = 0;
  CHECK(tok_encode(t, "a<|startoftext|>b", 0, &ids, &n, &full) == VLP_OK);
  CHECK(n == 5 && ids[1] == 320 && ids[2] == 49406);
  free(ids);
  /* HTML entities are not unescaped once a '<' appears on the line. */
  int *a = NULL, na = 0, *b = NULL, nb = 0;
  CHECK(tok_encode(t, "&amp;", 0, &a, &na, NULL) == VLP_OK && na == 3);
  CHECK(tok_encode(t, "<b>&amp;", 0, &b, &nb, NULL) == VLP_OK && nb > 5);
  free(a);
  free(b);

  /* 1 MB of words, then one 200 kB word: truncated right. The time is printed, not checked
   * (speed is for benchmarks); a BPE gone quadratic hits the test's ctest timeout. */
  char *text = golden_words_text((size_t)1 << 20);
  clock_t t0 = clock();
  CHECK(tok_encode(t, text, CTX, &ids, &n, &full) == VLP_OK);
  double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
  printf("clip: 1 MB text -> %d tokens in %.3f s\n", full, secs);
  CHECK(n == CTX && ids[0] == 49406 && ids[CTX - 1] == 49407 && full > 200000);
  free(ids);
  memset(text, 'q', 200000);
  text[200000] = 0;
  t0 = clock();
  CHECK(tok_encode(t, text, CTX, &ids, &n, &full) == VLP_OK);
  secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
  printf("clip: one 200 kB word -> %d tokens in %.3f s\n", full, secs);
  CHECK(n == CTX);
  free(ids);
  free(text);

  tok_free(t);
  cJSON_Delete(m);
  return test_done();
}
