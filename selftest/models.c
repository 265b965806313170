/* selftest_models: the model manifests — BLIP captioning, VQA, retrieval, CLIP and
 * interpolated position embeddings. Every case runs from the image file through vlp's own
 * decoding and preprocessing, so the whole chain is checked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "fusion/blip.h"
#include "fusion/clip.h"
#include "media/preprocess.h"
#include "selftest/selftest.h"
#include "text/tokenizer.h"

static blip_model *blip;
static clip_model *clip;
static vlp_ws ws; /* the runners' workspace (the selftest is single-threaded) */

vlp_ws *st_ws(void) {
  return &ws;
}

void st_release_text(void);
void st_release_video(void);
void st_release_siglip(void);
void st_release_cache(void) {
  blip_free(blip);
  clip_free(clip);
  blip = NULL;
  clip = NULL;
  ws_release(&ws);
  st_release_text();
  st_release_video();
  st_release_siglip();
}

static const char *input_str(const cJSON *c, const char *key) {
  return cJSON_GetStringValue(
      cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(c, "inputs"), key));
}

static int load_models(st_run *r, const char *rel) {
  if (blip || clip) return 1;
  char dir[4096];
  st_path(r, rel ? rel : "", dir, sizeof dir);
  vlp_status st = strncmp(r->kind, "clip", 4) ? blip_load(dir, &blip) : clip_load(dir, &clip);
  if (!rel || st) {
    st_failf(r, "%s", rel ? vlp_last_error() : "manifest names no model");
    return 0;
  }
  return st_prepare(r, blip ? blip_weights(blip) : clip_weights(clip), blip);
}

static int load_model(st_run *r) {
  return load_models(r,
                     cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r->manifest, "model")));
}

/* Pixel values of the case's image through the processor p (size override > 0). */
static float *pixels_of(st_run *r, const char *rel, const prep_config *p, int size, int *S) {
  char path[4096];
  st_path(r, rel ? rel : "", path, sizeof path);
  vlp_image img = {0};
  if (!rel || vlp_image_load(path, &img)) {
    st_failf(r, "%s", rel ? vlp_last_error() : "case has no inputs.image");
    return NULL;
  }
  prep_config c = *p;
  if (size > 0) prep_config_set_size(&c, size);
  *S = prep_out_h(&c);
  float *px = malloc((size_t)3 * (size_t)*S * (size_t)*S * sizeof *px);
  if (!px || prep_run(&c, &img, px)) {
    st_failf(r, "%s", px ? vlp_last_error() : "out of memory");
    free(px);
    px = NULL;
  }
  vlp_image_free(&img);
  return px;
}

/* BLIP image embeds (1, Ti, Dv) of the case's image, checking the vision entries. */
static float *blip_vision(st_run *r, const cJSON *c, int *Ti, const char *hidden_name) {
  int S;
  float *px = pixels_of(r, input_str(c, "image"), blip_prep(blip), 0, &S);
  if (!px) return NULL;
  blip_dims d = blip_get_dims(blip);
  *Ti = blip_vision_tokens(blip, S);
  float *emb = malloc((size_t)*Ti * (size_t)d.vision_hidden * sizeof *emb);
  float *pooled = malloc((size_t)d.vision_hidden * sizeof *pooled);
  if (!emb || !pooled || blip_encode_images(blip, &ws, px, 1, S, emb, pooled)) {
    st_failf(r, "vision: %s", emb && pooled ? vlp_last_error() : "out of memory");
    free(emb);
    emb = NULL;
  } else {
    st_check_floats(r, hidden_name, emb, (size_t)*Ti * (size_t)d.vision_hidden);
    st_check_floats(r, "vision_pooler_output", pooled, (size_t)d.vision_hidden);
  }
  free(pooled);
  free(px);
  return emb;
}

/* Generation options from the manifest's conventions[key] ("greedy" / "beam"). */
static gen_params gen_of(st_run *r, const char *key) {
  const cJSON *conv = cJSON_GetObjectItemCaseSensitive(r->manifest, "conventions");
  const cJSON *g = cJSON_GetObjectItemCaseSensitive(conv, key);
  gen_params p = blip_gen_params(blip, json_int(g, "num_beams", 1));
  p.max_length = json_int(g, "max_length", p.max_length);
  p.min_length = json_int(g, "min_length", p.min_length);
  p.length_penalty = (float)json_num(g, "length_penalty", p.length_penalty);
  p.repetition_penalty = (float)json_num(g, "repetition_penalty", p.repetition_penalty);
  p.early_stopping = json_bool(g, "early_stopping", p.early_stopping);
  return p;
}

/* Greedy and beam sequences (and their texts) for the entries present. enc (1, Te, D). */
static void check_generation(st_run *r, const float *enc, int Te, const int *ids, int n, int vqa) {
  static const char *const modes[2][3] = {{"greedy", "greedy_sequence", "greedy_text"},
                                          {"beam", "beam_sequence", "beam_text"}};
  for (int k = 0; k < 2; k++) {
    if (!st_entry(r, modes[k][1]) && !st_entry(r, modes[k][2])) continue;
    gen_params p = gen_of(r, modes[k][0]);
    int *seq = NULL, len = 0;
    vlp_status st = vqa ? blip_vqa_generate(blip, &ws, enc, 1, Te, &p, &seq, &len)
                        : blip_caption_generate(blip, &ws, enc, 1, Te, ids, n, &p, &seq, &len);
    if (st) {
      st_failf(r, "%s: %s", modes[k][0], vlp_last_error());
      continue;
    }
    st_check_ints(r, modes[k][1], seq, len);
    char *text = NULL;
    if (tok_decode(blip_tokenizer(blip), seq, len, &text))
      st_failf(r, "decode: %s", vlp_last_error());
    else
      st_check_str(r, modes[k][2], text);
    free(text);
    free(seq);
  }
}

int st_case_blip_caption(st_run *r, const cJSON *c) {
  static const char *const known[] = {"vision_last_hidden_state",
                                      "vision_pooler_output",
                                      "decoder_input_ids",
                                      "first_step_logits",
                                      "greedy_sequence",
                                      "greedy_text",
                                      "beam_sequence",
                                      "beam_text",
                                      NULL};
  st_require_known(r, known);
  if (!load_model(r)) return 0;
  int Ti, *ids = NULL, n = 0;
  float *emb = blip_vision(r, c, &Ti, "vision_last_hidden_state");
  if (!emb) return 0;
  const cJSON *prompt =
      cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(c, "inputs"), "prompt");
  int has_text = st_entry(r, "decoder_input_ids") || st_entry(r, "first_step_logits") ||
                 st_entry(r, "greedy_sequence") || st_entry(r, "beam_sequence");
  if (has_text) {
    if (blip_caption_prompt_ids(blip, cJSON_GetStringValue(prompt), &ids, &n)) {
      st_failf(r, "prompt: %s", vlp_last_error());
    } else {
      st_check_ints(r, "decoder_input_ids", ids, n);
      int V = blip_get_dims(blip).vocab;
      float *logits = malloc((size_t)V * sizeof *logits);
      if (st_entry(r, "first_step_logits")) {
        if (!logits || blip_caption_first_logits(blip, &ws, emb, Ti, ids, n, logits))
          st_failf(r, "first step: %s", logits ? vlp_last_error() : "out of memory");
        else
          st_check_floats(r, "first_step_logits", logits, (size_t)V);
      }
      free(logits);
      check_generation(r, emb, Ti, ids, n, 0);
    }
  }
  free(ids);
  free(emb);
  return 0;
}

int st_case_blip_vqa(st_run *r, const cJSON *c) {
  static const char *const known[] = {"vision_last_hidden_state",
                                      "question_ids",
                                      "question_embeds",
                                      "first_step_logits",
                                      "greedy_sequence",
                                      "greedy_text",
                                      "beam_sequence",
                                      "beam_text",
                                      NULL};
  st_require_known(r, known);
  if (!load_model(r)) return 0;
  int Ti;
  float *emb = blip_vision(r, c, &Ti, "vision_last_hidden_state");
  const char *q = input_str(c, "question");
  if (!emb || !q) {
    free(emb);
    return 0;
  }
  int *ids = NULL, n = 0;
  blip_dims d = blip_get_dims(blip);
  if (blip_tokenize(blip, q, &ids, &n)) {
    st_failf(r, "question: %s", vlp_last_error());
  } else {
    st_check_ints(r, "question_ids", ids, n);
    float *qe = malloc((size_t)n * (size_t)d.text_hidden * sizeof *qe);
    float *logits = malloc((size_t)d.vocab * sizeof *logits);
    if (!qe || !logits || blip_vqa_encode_question(blip, &ws, emb, Ti, ids, n, qe)) {
      st_failf(r, "question: %s", qe && logits ? vlp_last_error() : "out of memory");
    } else {
      st_check_floats(r, "question_embeds", qe, (size_t)n * (size_t)d.text_hidden);
      if (st_entry(r, "first_step_logits")) {
        if (blip_vqa_first_logits(blip, &ws, qe, n, logits))
          st_failf(r, "first step: %s", vlp_last_error());
        else
          st_check_floats(r, "first_step_logits", logits, (size_t)d.vocab);
      }
      check_generation(r, qe, n, NULL, 0, 1);
    }
    free(qe);
    free(logits);
  }
  free(ids);
  free(emb);
  return 0;
}

/* The texts of the manifest's text cases, in order (image cases score against all). */
static int manifest_texts(const st_run *r, const char **texts, int cap) {
  int n = 0;
  const cJSON *c;
  cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(r->manifest, "cases")) {
    const char *t = input_str(c, "text");
    if (t && n < cap) texts[n++] = t;
  }
  return n;
}

/* Tokenize texts with the model's tokenizer and maximum length. */
static int tokenize_all(st_run *r, const vlp_tokenizer *t, int max, const char **texts, int n,
                        int **ids, int *lens) {
  for (int i = 0; i < n; i++)
    if (tok_encode(t, texts[i], max, &ids[i], &lens[i], NULL)) {
      st_failf(r, "tokenize: %s", vlp_last_error());
      return 0;
    }
  return 1;
}

int st_case_blip_itm(st_run *r, const cJSON *c) {
  static const char *const known[] = {"input_ids",      "text_unimodal_last_hidden_state",
                                      "text_feat",      "vision_last_hidden_state",
                                      "image_feat",     "itc",
                                      "itm_logits",     "itm_prob",
                                      "multimodal_cls", NULL};
  st_require_known(r, known);
  if (!load_model(r)) return 0;
  blip_dims d = blip_get_dims(blip);
  const char *text = input_str(c, "text");
  if (text) {
    int *ids = NULL, n = 0;
    if (blip_tokenize(blip, text, &ids, &n)) {
      st_failf(r, "tokenize: %s", vlp_last_error());
      return 0;
    }
    st_check_ints(r, "input_ids", ids, n);
    float *h = malloc((size_t)n * (size_t)d.text_hidden * sizeof *h);
    float *f = malloc((size_t)d.embed_dim * sizeof *f);
    const int *const idv[1] = {ids};
    if (!h || !f || blip_encode_texts(blip, &ws, idv, &n, 1, h, f)) {
      st_failf(r, "text: %s", h && f ? vlp_last_error() : "out of memory");
    } else {
      st_check_floats(r, "text_unimodal_last_hidden_state", h, (size_t)n * (size_t)d.text_hidden);
      st_check_floats(r, "text_feat", f, (size_t)d.embed_dim);
    }
    free(h);
    free(f);
    free(ids);
    return 0;
  }
  int Ti;
  float *emb = blip_vision(r, c, &Ti, "vision_last_hidden_state");
  if (!emb) return 0;
  const char *texts[256];
  int nt = manifest_texts(r, texts, 256);
  int *ids[256] = {0}, lens[256];
  float *img_feat = malloc((size_t)d.embed_dim * sizeof *img_feat);
  float *text_feat = malloc((size_t)nt * (size_t)d.embed_dim * sizeof *text_feat + 1);
  float *itc = malloc((size_t)nt * sizeof *itc + 1), *prob = malloc((size_t)nt * sizeof *prob + 1);
  float *logits = malloc((size_t)nt * 2 * sizeof *logits + 1);
  float *cls = malloc((size_t)nt * (size_t)d.text_hidden * sizeof *cls + 1);
  float *embs = malloc((size_t)nt * (size_t)Ti * (size_t)d.vision_hidden * sizeof *embs + 1);
  if (!img_feat || !text_feat || !itc || !prob || !logits || !cls || !embs) {
    st_failf(r, "out of memory");
  } else if (tokenize_all(r, blip_tokenizer(blip), d.max_text_len, texts, nt, ids, lens)) {
    for (int i = 0; i < nt; i++)
      memcpy(embs + (size_t)i * (size_t)Ti * (size_t)d.vision_hidden, emb,
             (size_t)Ti * (size_t)d.vision_hidden * sizeof *emb);
    if (blip_image_feat(blip, emb, 1, Ti, img_feat) ||
        blip_encode_texts(blip, &ws, (const int *const *)ids, lens, nt, NULL, text_feat) ||
        blip_itm(blip, &ws, embs, Ti, (const int *const *)ids, lens, nt, logits, prob, cls)) {
      st_failf(r, "%s", vlp_last_error());
    } else {
      for (int i = 0; i < nt; i++) {
        double dot = 0;
        for (int k = 0; k < d.embed_dim; k++)
          dot += (double)img_feat[k] * text_feat[(size_t)i * (size_t)d.embed_dim + (size_t)k];
        itc[i] = (float)dot;
      }
      st_check_floats(r, "image_feat", img_feat, (size_t)d.embed_dim);
      st_check_floats(r, "itc", itc, (size_t)nt);
      st_check_floats(r, "itm_logits", logits, (size_t)nt * 2);
      st_check_floats(r, "itm_prob", prob, (size_t)nt);
      st_check_floats(r, "multimodal_cls", cls, (size_t)nt * (size_t)d.text_hidden);
    }
  }
  for (int i = 0; i < nt; i++) free(ids[i]);
  free(embs);
  free(cls);
  free(logits);
  free(prob);
  free(itc);
  free(text_feat);
  free(img_feat);
  free(emb);
  return 0;
}

/* Expected rows where the attention mask is 0 are not meaningful (the reference ran the pads
 * through the padding mask): got (T, D) is widened to the expected (Tpad, D) with those rows
 * taken from the expectation, so only the real tokens are compared. */
static void check_masked_rows(st_run *r, const char *name, const float *got, int T, int D) {
  size_t n = 0;
  float *want = st_entry_f32(r, name, &n);
  if (!want) return;
  if (n % (size_t)D || n < (size_t)T * (size_t)D) {
    st_failf(r, "%s: %zu expected values for %d tokens of width %d", name, n, T, D);
  } else {
    memcpy(want, got, (size_t)T * (size_t)D * sizeof *got);
    st_check_floats(r, name, want, n);
  }
  free(want);
}

int st_case_clip(st_run *r, const cJSON *c) {
  static const char *const known[] = {"input_ids",
                                      "attention_mask",
                                      "text_last_hidden_state",
                                      "text_pooler_output",
                                      "text_features",
                                      "text_embeds",
                                      "vision_last_hidden_state",
                                      "vision_pooler_output",
                                      "image_features",
                                      "image_embeds",
                                      "logits_per_image",
                                      "probs",
                                      NULL};
  st_require_known(r, known);
  if (!load_model(r)) return 0;
  clip_dims d = clip_get_dims(clip);
  const vlp_tokenizer *tok = clip_tokenizer(clip);
  const char *text = input_str(c, "text");
  if (text) {
    int *ids = NULL, n = 0;
    if (tok_encode(tok, text, d.max_text_len, &ids, &n, NULL)) {
      st_failf(r, "tokenize: %s", vlp_last_error());
      return 0;
    }
    int L = d.max_text_len, pad = tok_id(tok, "<|endoftext|>");
    int *padded = malloc((size_t)L * sizeof *padded), *mask = malloc((size_t)L * sizeof *mask);
    float *h = malloc((size_t)n * (size_t)d.text_hidden * sizeof *h);
    float *pooled = malloc((size_t)d.text_hidden * sizeof *pooled);
    float *feat = malloc((size_t)d.projection_dim * sizeof *feat);
    float *emb = malloc((size_t)d.projection_dim * sizeof *emb);
    const int *const idv[1] = {ids};
    if (!padded || !mask || !h || !pooled || !feat || !emb) {
      st_failf(r, "out of memory");
    } else {
      for (int i = 0; i < L; i++) {
        padded[i] = i < n ? ids[i] : pad;
        mask[i] = i < n;
      }
      st_check_ints(r, "input_ids", padded, L);
      st_check_ints(r, "attention_mask", mask, L);
      if (clip_encode_texts(clip, &ws, idv, &n, 1, h, pooled, feat, emb)) {
        st_failf(r, "text: %s", vlp_last_error());
      } else {
        check_masked_rows(r, "text_last_hidden_state", h, n, d.text_hidden);
        st_check_floats(r, "text_pooler_output", pooled, (size_t)d.text_hidden);
        st_check_floats(r, "text_features", feat, (size_t)d.projection_dim);
        st_check_floats(r, "text_embeds", emb, (size_t)d.projection_dim);
      }
    }
    free(padded);
    free(mask);
    free(h);
    free(pooled);
    free(feat);
    free(emb);
    free(ids);
    return 0;
  }
  int S;
  float *px = pixels_of(r, input_str(c, "image"), clip_prep(clip), 0, &S);
  if (!px) return 0;
  int Ti = clip_vision_tokens(clip, S);
  const char *texts[256];
  int nt = manifest_texts(r, texts, 256);
  float *h = malloc((size_t)Ti * (size_t)d.vision_hidden * sizeof *h);
  float *pooled = malloc((size_t)d.vision_hidden * sizeof *pooled);
  float *feat = malloc((size_t)d.projection_dim * sizeof *feat);
  float *emb = malloc((size_t)d.projection_dim * sizeof *emb);
  float *temb = malloc((size_t)nt * (size_t)d.projection_dim * sizeof *temb + 1);
  float *logits = malloc((size_t)nt * sizeof *logits + 1),
        *probs = malloc((size_t)nt * sizeof *probs + 1);
  if (!h || !pooled || !feat || !emb || !temb || !logits || !probs) {
    st_failf(r, "out of memory");
  } else if (clip_encode_images(clip, &ws, px, 1, S, h, pooled, feat, emb) ||
             (nt && clip_encode_strings(clip, &ws, texts, nt, temb))) {
    st_failf(r, "%s", vlp_last_error());
  } else {
    st_check_floats(r, "vision_last_hidden_state", h, (size_t)Ti * (size_t)d.vision_hidden);
    st_check_floats(r, "vision_pooler_output", pooled, (size_t)d.vision_hidden);
    st_check_floats(r, "image_features", feat, (size_t)d.projection_dim);
    st_check_floats(r, "image_embeds", emb, (size_t)d.projection_dim);
    clip_logits(clip, emb, 1, temb, nt, logits);
    clip_probs(clip, emb, 1, temb, nt, probs);
    st_check_floats(r, "logits_per_image", logits, (size_t)nt);
    st_check_floats(r, "probs", probs, (size_t)nt);
  }
  free(px);
  free(h);
  free(pooled);
  free(feat);
  free(emb);
  free(temb);
  free(logits);
  free(probs);
  return 0;
}

/* The folder (path) of the first model, among the set's manifests of these kinds, whose
 * vision width is `width` (the interpolation manifest names no model); when there is none,
 * fails the case naming the model kind `name` and returns 0. */
static int find_model(st_run *r, const char *prefix, const char *name, int width, char *out,
                      size_t size) {
  static const char *const files[] = {"blip_caption.json", "blip_itm.json", "blip_vqa.json",
                                      "clip.json", NULL};
  for (int i = 0; files[i]; i++) {
    if (strncmp(files[i], prefix, strlen(prefix))) continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/cases/%s", r->dir, files[i]);
    cJSON *m = NULL;
    if (json_load_file(path, &m)) continue;
    const char *model = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "model"));
    int ok = 0;
    if (model) {
      snprintf(out, size, "%s/%s/config.json", r->dir, model);
      cJSON *cfg = NULL;
      if (!json_load_file(out, &cfg)) {
        ok = json_int(json_obj(cfg, "vision_config"), "hidden_size", 0) == width;
        cJSON_Delete(cfg);
      }
      st_path(r, model, out, size);
    }
    cJSON_Delete(m);
    if (ok) return 1;
  }
  st_failf(r, "no %s model of vision width %d in this set", name, width);
  return 0;
}

static int last_dim(st_run *r, const char *name) {
  const cJSON *shape = cJSON_GetObjectItemCaseSensitive(st_entry(r, name), "shape");
  int n = cJSON_GetArraySize(shape);
  return n ? cJSON_GetArrayItem(shape, n - 1)->valueint : 0;
}

int st_case_interp(st_run *r, const cJSON *c) {
  static const char *const known[] = {"blip_pixel_values",         "blip_vision_last_hidden_state",
                                      "clip_pixel_values",         "clip_vision_last_hidden_state",
                                      "clip_vision_pooler_output", NULL};
  st_require_known(r, known);
  const cJSON *in = cJSON_GetObjectItemCaseSensitive(c, "inputs");
  const char *image = input_str(c, "image");
  int bw = last_dim(r, "blip_vision_last_hidden_state"),
      cw = last_dim(r, "clip_vision_last_hidden_state");
  if (bw) {
    char dir[4096];
    if (!find_model(r, "blip", "BLIP", bw, dir, sizeof dir)) return 0;
    if (!blip && (blip_load(dir, &blip) || !st_prepare(r, blip_weights(blip), blip))) {
      st_failf(r, "%s", vlp_last_error());
      return 0;
    }
    int S;
    float *px = pixels_of(r, image, blip_prep(blip), json_int(in, "blip_size", 0), &S);
    if (!px) return 0;
    st_check_floats(r, "blip_pixel_values", px, (size_t)3 * (size_t)S * (size_t)S);
    int Ti = blip_vision_tokens(blip, S);
    float *h = malloc((size_t)Ti * (size_t)bw * sizeof *h);
    if (!h || blip_encode_images(blip, &ws, px, 1, S, h, NULL))
      st_failf(r, "blip vision: %s", vlp_last_error());
    else
      st_check_floats(r, "blip_vision_last_hidden_state", h, (size_t)Ti * (size_t)bw);
    free(h);
    free(px);
  }
  if (cw) {
    char dir[4096];
    if (!find_model(r, "clip", "CLIP", cw, dir, sizeof dir)) return 0;
    if (!clip && (clip_load(dir, &clip) || !st_prepare(r, clip_weights(clip), NULL))) {
      st_failf(r, "%s", vlp_last_error());
      return 0;
    }
    int S;
    float *px = pixels_of(r, image, clip_prep(clip), json_int(in, "clip_size", 0), &S);
    if (!px) return 0;
    st_check_floats(r, "clip_pixel_values", px, (size_t)3 * (size_t)S * (size_t)S);
    clip_dims d = clip_get_dims(clip);
    int Ti = clip_vision_tokens(clip, S);
    float *h = malloc((size_t)Ti * (size_t)cw * sizeof *h),
          *pooled = malloc((size_t)cw * sizeof *pooled);
    float *emb = malloc((size_t)d.projection_dim * sizeof *emb);
    if (!h || !pooled || !emb || clip_encode_images(clip, &ws, px, 1, S, h, pooled, NULL, emb)) {
      st_failf(r, "clip vision: %s", vlp_last_error());
    } else {
      st_check_floats(r, "clip_vision_last_hidden_state", h, (size_t)Ti * (size_t)cw);
      st_check_floats(r, "clip_vision_pooler_output", pooled, (size_t)cw);
    }
    free(h);
    free(pooled);
    free(emb);
    free(px);
  }
  return 0;
}
