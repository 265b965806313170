/* siglip: the SigLIP manifests (siglip, siglip_bf16): text cases (ids padded to
 * the model's text length, hidden states, pooled output, embeddings, the optional masked
 * variant), image cases (resize, pixel values, vision hidden states, pooled output,
 * embeddings, logits and sigmoid probabilities against every text case) and zero-shot
 * cases (templated label ids, logits, sigmoid scores, ranking). */
#include "fusion/siglip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/preprocess.h"
#include "selftest/selftest.h"

static siglip_model *model;
static float *text_embeds; /* (n_texts, D) of the manifest's text cases, made once */
static int n_texts;

void st_release_siglip(void);
void st_release_siglip(void) {
  siglip_free(model);
  model = NULL;
  free(text_embeds);
  text_embeds = NULL;
  n_texts = 0;
}

static const char *input_str(const cJSON *c, const char *key) {
  return cJSON_GetStringValue(
      cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(c, "inputs"), key));
}

static int load(st_run *r) {
  if (model) return 1;
  const char *rel = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r->manifest, "model"));
  char dir[4096];
  st_path(r, rel ? rel : "", dir, sizeof dir);
  if (!rel || siglip_load(dir, &model)) {
    st_failf(r, "%s", rel ? vlp_last_error() : "manifest names no model");
    return 0;
  }
  return st_prepare(r, siglip_weights(model), NULL);
}

/* Text embeddings of n strings (n, D) as the tower runs them; NULL on failure. */
static float *embed_texts(st_run *r, const char *const *texts, int n) {
  float *e = malloc(((size_t)n * (size_t)siglip_get_dims(model).dim + 1) * sizeof *e);
  if (!e || (n && siglip_encode_strings(model, st_ws(), texts, n, e))) {
    st_failf(r, "texts: %s", e ? vlp_last_error() : "out of memory");
    free(e);
    return NULL;
  }
  return e;
}

static void text_case(st_run *r, const char *text) {
  siglip_dims d = siglip_get_dims(model);
  const int L = d.text_len;
  int *ids = malloc((size_t)L * sizeof *ids), *v = NULL, n = 0, full = 0;
  float *h = malloc((size_t)L * (size_t)d.text_hidden * sizeof *h);
  float *pooled = malloc((size_t)d.dim * sizeof *pooled),
        *emb = malloc((size_t)d.dim * sizeof *emb);
  if (!ids || !h || !pooled || !emb) {
    st_failf(r, "out of memory");
  } else if (siglip_text_ids(model, text, ids) ||
             tok_encode(siglip_tokenizer(model), text, 0, &v, &n, &full) ||
             siglip_encode_ids(model, st_ws(), ids, 1, NULL, h, pooled, emb)) {
    st_failf(r, "text: %s", vlp_last_error());
  } else {
    st_check_ints(r, "input_ids", ids, L);
    st_check_number(r, "num_tokens_untruncated", full);
    st_check_floats(r, "text_last_hidden_state", h, (size_t)L * (size_t)d.text_hidden);
    st_check_floats(r, "text_pooler_output", pooled, (size_t)d.dim);
    st_check_floats(r, "text_embeds", emb, (size_t)d.dim);
    if (st_entry(r, "text_embeds_with_attention_mask")) {
      int real = n < L ? n : L; /* the mask is 1 on the (truncated) ids, 0 on the pads */
      if (siglip_encode_ids(model, st_ws(), ids, 1, &real, NULL, NULL, emb))
        st_failf(r, "masked text: %s", vlp_last_error());
      else
        st_check_floats(r, "text_embeds_with_attention_mask", emb, (size_t)d.dim);
    }
  }
  free(ids);
  free(v);
  free(h);
  free(pooled);
  free(emb);
}

/* The case's image through vlp's decoder and the model's processor: resized uint8 and
 * pixel values checked; pixels (3, S, S) returned (NULL on failure). */
static float *image_pixels(st_run *r, const char *rel, int *S) {
  char path[4096];
  st_path(r, rel ? rel : "", path, sizeof path);
  vlp_image img = {0}, a = {0}, b = {0};
  if (!rel || vlp_image_load(path, &img)) {
    st_failf(r, "%s", rel ? vlp_last_error() : "case has no inputs.image");
    return NULL;
  }
  const prep_config *p = siglip_prep(model);
  *S = prep_out_h(p);
  size_t np = (size_t)3 * (size_t)*S * (size_t)*S;
  float *px = malloc(np * sizeof *px);
  if (!px || prep_run_u8(p, &img, &a, &b) || prep_run(p, &img, px)) {
    st_failf(r, "%s", px ? vlp_last_error() : "out of memory");
    free(px);
    px = NULL;
  } else {
    st_check_u8(r, "resized_u8", a.rgb, (size_t)a.w * (size_t)a.h * 3);
    st_check_floats(r, "pixel_values", px, np);
  }
  vlp_image_free(&img);
  vlp_image_free(&a);
  vlp_image_free(&b);
  return px;
}

static void image_case(st_run *r, const cJSON *c) {
  siglip_dims d = siglip_get_dims(model);
  int S = 0;
  float *px = image_pixels(r, input_str(c, "image"), &S);
  if (!px) return;
  if (!text_embeds) { /* every text case of the manifest, in order */
    const char *texts[256];
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(r->manifest, "cases")) {
      const char *s = input_str(t, "text");
      if (s && n_texts < 256) texts[n_texts++] = s;
    }
    if (!(text_embeds = embed_texts(r, texts, n_texts))) {
      n_texts = 0;
      free(px);
      return;
    }
  }
  const int nt = n_texts;
  const float *temb = text_embeds;
  int T = siglip_vision_tokens(model, S);
  float *h = malloc((size_t)T * (size_t)d.vision_hidden * sizeof *h);
  float *pooled = malloc((size_t)d.dim * sizeof *pooled),
        *emb = malloc((size_t)d.dim * sizeof *emb);
  float *logits = malloc(((size_t)nt + 1) * sizeof *logits);
  float *probs = malloc(((size_t)nt + 1) * sizeof *probs);
  if (!h || !pooled || !emb || !logits || !probs) {
    st_failf(r, "out of memory");
  } else if (siglip_encode_images(model, st_ws(), px, 1, S, h, pooled, emb)) {
    st_failf(r, "image: %s", vlp_last_error());
  } else {
    st_check_floats(r, "vision_last_hidden_state", h, (size_t)T * (size_t)d.vision_hidden);
    st_check_floats(r, "vision_pooler_output", pooled, (size_t)d.dim);
    st_check_floats(r, "image_embeds", emb, (size_t)d.dim);
    siglip_logits(model, emb, 1, temb, nt, logits);
    siglip_probs(model, emb, 1, temb, nt, probs);
    st_check_floats(r, "logits_per_image", logits, (size_t)nt);
    st_check_floats(r, "probs", probs, (size_t)nt);
  }
  free(px);
  free(h);
  free(pooled);
  free(emb);
  free(logits);
  free(probs);
}

static void zeroshot_case(st_run *r, const cJSON *c) {
  siglip_dims d = siglip_get_dims(model);
  const cJSON *in = cJSON_GetObjectItemCaseSensitive(c, "inputs");
  const cJSON *labels = cJSON_GetObjectItemCaseSensitive(in, "candidate_labels");
  const char *tmpl = input_str(c, "hypothesis_template");
  int nl = cJSON_GetArraySize(labels);
  if (!cJSON_IsArray(labels) || nl <= 0 || nl > 256 || !tmpl || !strstr(tmpl, "{}")) {
    st_failf(r, "case needs candidate_labels and a hypothesis_template with {}");
    return;
  }
  char *texts[256] = {0};
  const char *names[256];
  for (int i = 0; i < nl; i++) {
    names[i] = cJSON_GetStringValue(cJSON_GetArrayItem(labels, i));
    const char *at = strstr(tmpl, "{}");
    size_t len = strlen(tmpl) + (names[i] ? strlen(names[i]) : 0);
    if (names[i] && (texts[i] = malloc(len))) /* template.format(label) */
      snprintf(texts[i], len, "%.*s%s%s", (int)(at - tmpl), tmpl, names[i], at + 2);
  }
  int S = 0, *ids = malloc((size_t)nl * (size_t)d.text_len * sizeof *ids);
  float *px = image_pixels(r, input_str(c, "image"), &S);
  float *emb = malloc((size_t)d.dim * sizeof *emb), *temb = NULL;
  float *logits = malloc((size_t)nl * sizeof *logits),
        *scores = malloc((size_t)nl * sizeof *scores);
  int ok = px && ids && emb && logits && scores;
  for (int i = 0; ok && i < nl; i++)
    if (!texts[i] || siglip_text_ids(model, texts[i], ids + (size_t)i * d.text_len)) ok = 0;
  if (!ok || siglip_encode_images(model, st_ws(), px, 1, S, NULL, NULL, emb) ||
      !(temb = embed_texts(r, (const char *const *)texts, nl))) {
    st_failf(r, "zero-shot: %s", vlp_last_error());
  } else {
    st_check_ints(r, "label_input_ids", ids, nl * d.text_len);
    siglip_logits(model, emb, 1, temb, nl, logits);
    siglip_probs(model, emb, 1, temb, nl, scores);
    st_check_floats(r, "logits", logits, (size_t)nl);
    st_check_floats(r, "scores", scores, (size_t)nl);
    /* ranking: labels by score, descending (stable) */
    int order[256];
    for (int i = 0; i < nl; i++) {
      int j = i;
      for (; j > 0 && scores[order[j - 1]] < scores[i]; j--) order[j] = order[j - 1];
      order[j] = i;
    }
    char *ranked[256];
    for (int i = 0; i < nl; i++) ranked[i] = (char *)names[order[i]];
    st_check_strs(r, "ranking", ranked, nl);
  }
  for (int i = 0; i < nl; i++) free(texts[i]);
  free(ids);
  free(px);
  free(emb);
  free(temb);
  free(logits);
  free(scores);
}

int st_case_siglip(st_run *r, const cJSON *c) {
  static const char *const known[] = {"input_ids",
                                      "num_tokens_untruncated",
                                      "text_last_hidden_state",
                                      "text_pooler_output",
                                      "text_embeds",
                                      "text_embeds_with_attention_mask",
                                      "resized_u8",
                                      "pixel_values",
                                      "vision_last_hidden_state",
                                      "vision_pooler_output",
                                      "image_embeds",
                                      "logits_per_image",
                                      "probs",
                                      "label_input_ids",
                                      "logits",
                                      "scores",
                                      "ranking",
                                      NULL};
  st_require_known(r, known);
  if (!load(r)) return 0;
  const char *text = input_str(c, "text");
  if (text)
    text_case(r, text);
  else if (cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(c, "inputs"),
                                            "candidate_labels"))
    zeroshot_case(r, c);
  else
    image_case(r, c);
  return 0;
}
