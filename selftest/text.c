/* selftest_text: tokenizer manifests (tokenizer_bert, tokenizer_clip). */
#include <stdlib.h>
#include <string.h>

#include "selftest/selftest.h"
#include "text/tokenizer.h"

static vlp_tokenizer *tok;

void st_release_text(void);
void st_release_text(void) {
  tok_free(tok);
  tok = NULL;
}

/* model_max_length of the manifest's tokenizer (input_ids truncation): 512 BERT, 77 CLIP. */
static int max_len_of(const st_run *r) {
  return strcmp(r->kind, "tokenizer_clip") ? 512 : 77;
}

int st_case_tokenizer(st_run *r, const cJSON *c) {
  static const char *const known[] = {
      "input_ids",         "num_tokens_untruncated", "wordpieces", "decoded", "input_ids_77",
      "attention_mask_77", "input_ids_full",         "bpe_tokens", NULL};
  st_require_known(r, known);
  if (!tok) {
    const char *model =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r->manifest, "model"));
    char dir[4096];
    st_path(r, model ? model : "", dir, sizeof dir);
    if (!model || tok_load(dir, &tok)) {
      st_failf(r, "%s", model ? vlp_last_error() : "manifest names no model");
      return 0;
    }
  }
  const cJSON *in = cJSON_GetObjectItemCaseSensitive(c, "inputs");
  const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "text"));
  if (!text) {
    st_failf(r, "case has no inputs.text");
    return 0;
  }
  int max = max_len_of(r), *ids = NULL, n = 0, full_n = 0, *full = NULL;
  if (tok_encode(tok, text, max, &ids, &n, &full_n) ||
      tok_encode(tok, text, 0, &full, &full_n, NULL)) {
    st_failf(r, "tokenize: %s", vlp_last_error());
    free(ids);
    return 0;
  }
  st_check_ints(r, "input_ids", ids, n);
  st_check_number(r, "num_tokens_untruncated", full_n);
  st_check_ints(r, "input_ids_full", full, full_n);
  if (st_entry(r, "input_ids_77")) {
    /* padding="max_length": the pad token is <|endoftext|> in the reference's CLIP folders */
    int pad = tok_id(tok, "<|endoftext|>"), ids77[77], mask77[77];
    for (int i = 0; i < 77; i++) {
      ids77[i] = i < n ? ids[i] : pad;
      mask77[i] = i < n;
    }
    st_check_ints(r, "input_ids_77", ids77, 77);
    st_check_ints(r, "attention_mask_77", mask77, 77);
  }
  char **pieces = NULL;
  int np = 0;
  if (st_entry(r, "wordpieces") || st_entry(r, "bpe_tokens")) {
    if (tok_pieces(tok, text, &pieces, &np)) {
      st_failf(r, "pieces: %s", vlp_last_error());
    } else {
      st_check_strs(r, "wordpieces", pieces, np);
      st_check_strs(r, "bpe_tokens", pieces, np);
    }
    tok_free_pieces(pieces, np);
  }
  char *decoded = NULL;
  if (st_entry(r, "decoded")) {
    /* the reference decodes the truncated ids for BERT, the full ones for CLIP */
    int clip = !strcmp(r->kind, "tokenizer_clip");
    if (tok_decode(tok, clip ? full : ids, clip ? full_n : n, &decoded))
      st_failf(r, "decode: %s", vlp_last_error());
    else
      st_check_str(r, "decoded", decoded);
  }
  free(decoded);
  free(ids);
  free(full);
  return 0;
}
