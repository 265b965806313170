/* test_tokenizer_siglip: every case of golden/cases/tokenizer_siglip.json through the SigLIP
 * SentencePiece tokenizer: input_ids_64 (truncate to 64, pad with </s>), input_ids_full,
 * num_tokens_untruncated, pieces, the strings handed to SentencePiece and the decoded text
 * must be identical. Then bad folders: spiece.model missing, empty, corrupt or truncated,
 * each one clear error naming the file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/json.h"
#include "golden_common.h"
#include "testlib.h"
#include "text/tokenizer.h"

#define MAXLEN 64
#define GOLDEN_DIR "golden/models/siglip-tiny"

static void golden_cases(void) {
  cJSON *m = golden_manifest("tokenizer_siglip.json");
  if (!m) return;
  vlp_tokenizer *t = NULL;
  if (tok_load(GOLDEN_DIR, &t)) {
    fprintf(stderr, "%s\n", vlp_last_error());
    CHECK(0);
    cJSON_Delete(m);
    return;
  }
  CHECK(tok_kind_of(t) == TOK_SIGLIP);
  CHECK(tok_vocab_size(t) == 1000);
  CHECK(tok_model_max_length(t) == MAXLEN);
  CHECK(tok_id(t, "</s>") == 1 && tok_id(t, "<unk>") == 2 && tok_pad_id(t) == 1);
  const cJSON *c;
  int n_cases = 0, n_ok = 0;
  cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(m, "cases")) {
    const char *id = json_str(c, "id", "?");
    const char *text = json_str(json_obj(c, "inputs"), "text", NULL);
    if (!text) continue;
    n_cases++;
    int ok = 1, *full = NULL, nf = 0, nfu = 0, *tr = NULL, nt = 0, ntu = 0, np = 0, ns = 0;
    char **pieces = NULL, **sp = NULL, *dec = NULL;
    if (tok_encode(t, text, 0, &full, &nf, &nfu) || tok_encode(t, text, MAXLEN, &tr, &nt, &ntu) ||
        tok_pieces(t, text, &pieces, &np) || tok_sp_inputs(t, text, &sp, &ns) ||
        tok_decode(t, full, nf, &dec)) {
      fprintf(stderr, "%s: %s\n", id, vlp_last_error());
      ok = 0;
    } else {
      int padded[MAXLEN];
      for (int i = 0; i < MAXLEN; i++) padded[i] = i < nt ? tr[i] : tok_pad_id(t);
      const cJSON *w;
      if ((w = golden_value(c, "input_ids_64")) && !golden_ints_equal(w, padded, MAXLEN)) ok = 0;
      if ((w = golden_value(c, "input_ids_full")) && !golden_ints_equal(w, full, nf)) ok = 0;
      if ((w = golden_value(c, "num_tokens_untruncated")) && w->valueint != nfu) ok = 0;
      if (nfu != nf || ntu != nf || nt > MAXLEN || tr[nt - 1] != 1) ok = 0;
      if ((w = golden_value(c, "pieces")) && !golden_strs_equal(w, pieces, np)) ok = 0;
      if ((w = golden_value(c, "sp_inputs")) && !golden_strs_equal(w, sp, ns)) ok = 0;
      if ((w = golden_value(c, "decoded")) && strcmp(cJSON_GetStringValue(w), dec)) ok = 0;
      if (!ok)
        fprintf(stderr, "%s: differs from the reference (%d ids, decoded \"%s\")\n", id, nf, dec);
    }
    n_ok += ok;
    free(full);
    free(tr);
    free(dec);
    tok_free_pieces(pieces, np);
    tok_free_pieces(sp, ns);
  }
  fprintf(stderr, "tokenizer_siglip: %d of %d cases identical\n", n_ok, n_cases);
  CHECK(n_cases == 65 && n_ok == n_cases);
  /* An out-of-range id is an error, not a crash. */
  int bad[] = {5, 100000};
  char *dec = NULL;
  CHECK(tok_decode(t, bad, 2, &dec) == VLP_ERR_INVALID && dec == NULL);
  /* A text far longer than 64 tokens is cut to 63 pieces + </s>. */
  char *big = golden_words_text(1 << 20);
  int *ids = NULL, n = 0, nu = 0;
  CHECK(big && tok_encode(t, big, MAXLEN, &ids, &n, &nu) == VLP_OK && n == MAXLEN &&
        ids[MAXLEN - 1] == 1 && nu > 100000);
  free(ids);
  free(big);
  tok_free(t);
  cJSON_Delete(m);
}

static char root[] = "/tmp/vlp_tok_siglip_XXXXXX";

/* A copy of the golden folder whose spiece.model holds `model` (NULL: no spiece.model). */
static char *folder_with(const char *name, const void *model, size_t n) {
  static char d[512];
  snprintf(d, sizeof d, "%s/%s", root, name);
  mkdir(d, 0755);
  static const char *const keep[] = {"tokenizer_config.json", "special_tokens_map.json",
                                     "config.json"};
  for (int i = 0; i < 3; i++) {
    char src[512], dst[600];
    snprintf(src, sizeof src, GOLDEN_DIR "/%s", keep[i]);
    snprintf(dst, sizeof dst, "%s/%s", d, keep[i]);
    char *data = NULL;
    size_t len = 0;
    if (read_file(src, &data, &len)) continue;
    FILE *f = fopen(dst, "wb");
    if (f) {
      fwrite(data, 1, len, f);
      fclose(f);
    }
    free(data);
  }
  if (model) {
    char p[600];
    snprintf(p, sizeof p, "%s/spiece.model", d);
    FILE *f = fopen(p, "wb");
    if (f) {
      fwrite(model, 1, n, f);
      fclose(f);
    }
  }
  return d;
}

static int load_fails(const char *dir, vlp_status want, const char *mention) {
  vlp_tokenizer *t = NULL;
  vlp_status st = tok_load(dir, &t);
  const char *msg = vlp_last_error();
  int ok =
      st == want && !t && strstr(msg, "spiece.model") && strstr(msg, mention) && !strchr(msg, '\n');
  fprintf(stderr, "%s: %s\n", ok ? "ok" : "UNEXPECTED", msg);
  tok_free(t);
  return ok;
}

static void bad_folders(void) {
  if (!mkdtemp(root)) {
    CHECK(0);
    return;
  }
  char *good = NULL;
  size_t n = 0;
  CHECK(read_file(GOLDEN_DIR "/spiece.model", &good, &n) == VLP_OK && n > 1000);
  if (!good) return;
  CHECK(load_fails(folder_with("missing", NULL, 0), VLP_ERR_MODEL, "missing"));
  CHECK(load_fails(folder_with("empty", "", 0), VLP_ERR_FORMAT, "empty"));
  CHECK(load_fails(folder_with("text", "this is not a model\n", 20), VLP_ERR_FORMAT,
                   "SentencePiece"));
  CHECK(load_fails(folder_with("truncated", good, n / 2), VLP_ERR_FORMAT, "SentencePiece"));
  char *junk = malloc(n);
  for (size_t i = 0; junk && i < n; i++) junk[i] = (char)(i * 2654435761u >> 13);
  if (junk) CHECK(load_fails(folder_with("junk", junk, n), VLP_ERR_FORMAT, "SentencePiece"));
  free(junk);
  /* the intact file in the same kind of folder loads */
  vlp_tokenizer *t = NULL;
  CHECK(tok_load(folder_with("good", good, n), &t) == VLP_OK && tok_kind_of(t) == TOK_SIGLIP);
  tok_free(t);
  free(good);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf %s", root);
  CHECK(system(cmd) == 0);
}

int main(void) {
  golden_cases();
  bad_folders();
  return test_done();
}
