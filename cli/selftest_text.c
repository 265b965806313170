/* selftest_text: tokenizer manifests (tokenizer_bert, tokenizer_clip, tokenizer_siglip). */
#include <stdlib.h>
#include <string.h>

#include "cli/selftest.h"
#include "text/tokenizer.h"

static vlp_tokenizer *tok;

void st_release_text(void);
void st_release_text(void) {
  tok_free(tok);
  tok = NULL;
}

/* Check input_ids_N (padding="max_length" to N with the pad id) when the case has it. */
static void check_padded(st_run *r, const char *name, const int *ids, int n, int N) {
  if (!st_entry(r, name)) return;
  int *padded = malloc((size_t)N * sizeof *padded);
  if (!padded) {
    st_failf(r, "out of memory");
    return;
  }
  for (int i = 0; i < N; i++) padded[i] = i < n ? ids[i] : tok_pad_id(tok);
  st_check_ints(r, name, padded, N);
  free(padded);
}

int st_case_tokenizer(st_run *r, const cJSON *c) {
  static const char *const known[] = {"input_ids",      "num_tokens_untruncated",
                                      "wordpieces",     "decoded",
                                      "input_ids_77",   "attention_mask_77",
                                      "input_ids_full", "bpe_tokens",
                                      "input_ids_64",   "pieces",
                                      "sp_inputs",      NULL};
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
  int max = tok_model_max_length(tok), *ids = NULL, n = 0, full_n = 0, *full = NULL;
  if (tok_encode(tok, text, max, &ids, &n, &full_n) ||
      tok_encode(tok, text, 0, &full, &full_n, NULL)) {
    st_failf(r, "tokenize: %s", vlp_last_error());
    free(ids);
    return 0;
  }
  st_check_ints(r, "input_ids", ids, n);
  st_check_number(r, "num_tokens_untruncated", full_n);
  st_check_ints(r, "input_ids_full", full, full_n);
  check_padded(r, "input_ids_77", ids, n, 77);
  check_padded(r, "input_ids_64", ids, n, 64);
  if (st_entry(r, "attention_mask_77")) {
    int mask77[77];
    for (int i = 0; i < 77; i++) mask77[i] = i < n;
    st_check_ints(r, "attention_mask_77", mask77, 77);
  }
  char **pieces = NULL;
  int np = 0;
  if (st_entry(r, "wordpieces") || st_entry(r, "bpe_tokens") || st_entry(r, "pieces")) {
    if (tok_pieces(tok, text, &pieces, &np)) {
      st_failf(r, "pieces: %s", vlp_last_error());
    } else {
      st_check_strs(r, "wordpieces", pieces, np);
      st_check_strs(r, "bpe_tokens", pieces, np);
      st_check_strs(r, "pieces", pieces, np);
    }
    tok_free_pieces(pieces, np);
  }
  if (st_entry(r, "sp_inputs")) {
    if (tok_sp_inputs(tok, text, &pieces, &np)) {
      st_failf(r, "sp_inputs: %s", vlp_last_error());
    } else {
      st_check_strs(r, "sp_inputs", pieces, np);
    }
    tok_free_pieces(pieces, np);
  }
  char *decoded = NULL;
  if (st_entry(r, "decoded")) {
    /* the reference decodes the truncated ids for BERT, the full ones for CLIP and SigLIP */
    int clip = strcmp(r->kind, "tokenizer_bert") != 0;
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
