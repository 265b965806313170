/* test_tokenizer_bert: every case of golden/cases/tokenizer_bert.json through the BERT
 * WordPiece tokenizer: input_ids (truncated at the manifest's max_length), the untruncated
 * count, the word pieces and the decoded text must all be identical. Also vocabulary size,
 * added tokens and a 1 MB text (truncation). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/json.h"
#include "golden_common.h"
#include "testlib.h"
#include "text/tokenizer.h"

int main(void) {
  cJSON *m = golden_manifest("tokenizer_bert.json");
  if (!m) return test_done();
  char dir[512];
  snprintf(dir, sizeof dir, "golden/%s", json_str(m, "model", ""));
  vlp_tokenizer *t = NULL;
  if (tok_load(dir, &t)) {
    fprintf(stderr, "%s\n", vlp_last_error());
    return 1;
  }
  CHECK(tok_kind_of(t) == TOK_BERT);
  CHECK(tok_vocab_size(t) == 30524);
  CHECK(tok_id(t, "[DEC]") == 30522);
  CHECK(tok_id(t, "[ENC]") == 30523);
  CHECK(tok_id(t, "[CLS]") == 101 && tok_id(t, "[SEP]") == 102 && tok_id(t, "[UNK]") == 100);
  CHECK(tok_id(t, "no-such-token") == -1);

  /* max_length from the manifest's convention "... max_length=512 ..." */
  int max_len = 512;
  const char *call = json_str(json_obj(m, "conventions"), "call", "");
  const char *ml = strstr(call, "max_length=");
  if (ml) max_len = atoi(ml + strlen("max_length="));

  const cJSON *cases = cJSON_GetObjectItemCaseSensitive(m, "cases"), *c;
  int n_cases = 0, n_match = 0;
  cJSON_ArrayForEach(c, cases) {
    const char *id = json_str(c, "id", "?");
    const char *text = json_str(json_obj(c, "inputs"), "text", NULL);
    if (!text) continue;
    n_cases++;
    int ok = 1, *ids = NULL, n = 0, full = 0;
    if (tok_encode(t, text, max_len, &ids, &n, &full)) {
      fprintf(stderr, "%s: encode failed: %s\n", id, vlp_last_error());
      ok = 0;
    } else {
      const cJSON *w;
      if ((w = golden_value(c, "input_ids")) && !golden_ints_equal(w, ids, n)) {
        fprintf(stderr, "%s: input_ids differ (got %d ids)\n", id, n);
        ok = 0;
      }
      if ((w = golden_value(c, "num_tokens_untruncated")) && (int)w->valuedouble != full) {
        fprintf(stderr, "%s: untruncated count %d, want %d\n", id, full, (int)w->valuedouble);
        ok = 0;
      }
      if ((w = golden_value(c, "decoded"))) {
        char *d = NULL;
        if (tok_decode(t, ids, n, &d) || strcmp(d, w->valuestring) != 0) {
          fprintf(stderr, "%s: decoded \"%s\", want \"%s\"\n", id, d ? d : "(error)",
                  w->valuestring);
          ok = 0;
        }
        free(d);
      }
    }
    const cJSON *wp = golden_value(c, "wordpieces");
    if (wp) {
      char **p = NULL;
      int np = 0;
      if (tok_pieces(t, text, &p, &np) || !golden_strs_equal(wp, p, np)) {
        fprintf(stderr, "%s: word pieces differ (got %d)\n", id, np);
        for (int i = 0; i < np && i < 40; i++) fprintf(stderr, " [%s]", p[i]);
        fprintf(stderr, "\n");
        ok = 0;
      }
      tok_free_pieces(p, np);
    }
    free(ids);
    CHECK(ok);
    n_match += ok;
  }
  printf("bert golden: %d of %d cases match\n", n_match, n_cases);
  CHECK(n_cases > 0 && n_match == n_cases);

  /* Literal added tokens, and whitespace / case around them. */
  int *ids = NULL, n = 0, full = 0;
  CHECK(tok_encode(t, "[DEC]a picture of[ENC]", 0, &ids, &n, &full) == VLP_OK);
  int want1[] = {101, 30522, 1037, 3861, 1997, 30523, 102};
  CHECK(n == 7 && memcmp(ids, want1, sizeof want1) == 0);
  free(ids);
  /* "[mask]" is not the special token once lowered; it is split as text. */
  CHECK(tok_encode(t, "[mask]", 0, &ids, &n, &full) == VLP_OK);
  CHECK(n > 3 && ids[1] != 103);
  free(ids);
  /* Truncation keeps max_len - 1 ids, then [SEP]. */
  CHECK(tok_encode(t, "a b c d e f", 4, &ids, &n, &full) == VLP_OK);
  CHECK(n == 4 && ids[0] == 101 && ids[3] == 102 && full == 8);
  free(ids);

  /* 1 MB of words: truncated right. The time is printed, not checked (speed is for
   * benchmarks); a tokenizer gone quadratic hits the test's ctest timeout. */
  char *text = golden_words_text((size_t)1 << 20);
  clock_t t0 = clock();
  CHECK(tok_encode(t, text, 512, &ids, &n, &full) == VLP_OK);
  double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
  printf("bert: 1 MB text -> %d tokens in %.3f s\n", full, secs);
  CHECK(n == 512 && ids[0] == 101 && ids[511] == 102 && full > 200000);
  free(ids);
  free(text);

  tok_free(t);
  cJSON_Delete(m);
  return test_done();
}
