/* siglip: SiglipModel - loading a folder, image / text embeddings, logits and sigmoid
 * scores (see siglip.h). The towers are the shared ViT (vision/vit.c, VIT_SIGLIP) with the
 * attention-pooling head (vision/siglip_head.c) and the CLIP text tower in its SigLIP
 * variant (text/clip_text.c). */
#include "fusion/siglip.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/json.h"
#include "core/ops.h"
#include "core/weights.h"
#include "vision/siglip_head.h"

struct siglip_model {
  vlp_weights *w;
  vlp_tokenizer *tok;
  prep_config prep;
  clip_text_config tc;
  vit_config vc;
  clip_text_model *text;
  vit_model *vision;
  siglip_head *head;
  int L; /* text positions every text runs with */
  float logit_scale, logit_bias;
};

/* ---- loading --------------------------------------------------------------------------- */

static vlp_status check_architecture(const cJSON *cfg, const char *path) {
  const char *a = json_architecture(cfg);
  if (!a && !strcmp(json_str(cfg, "model_type", ""), "siglip")) return VLP_OK;
  if (!a)
    return vlp_fail(VLP_ERR_UNSUPPORTED, "%s: no \"architectures\" entry; expected SiglipModel",
                    path);
  if (strcmp(a, "SiglipModel") != 0)
    return vlp_fail(VLP_ERR_UNSUPPORTED,
                    "%s: architectures[0] is \"%s\", not SiglipModel (this loader handles "
                    "SiglipModel)",
                    path, a);
  return VLP_OK;
}

/* The parts of config.json, the tokenizer and the image processor that must agree. */
static vlp_status check_consistency(const siglip_model *m, const char *dir) {
  if (m->tc.projection_dim != m->vc.hidden)
    return vlp_fail(VLP_ERR_MODEL,
                    "%s/config.json: the text head's width %d (text_config.projection_size, "
                    "default hidden_size) differs from vision_config.hidden_size %d",
                    dir, m->tc.projection_dim, m->vc.hidden);
  if (m->L > m->tc.max_pos)
    return vlp_fail(VLP_ERR_MODEL,
                    "%s: tokenizer_config.json model_max_length %d exceeds "
                    "text_config.max_position_embeddings %d",
                    dir, m->L, m->tc.max_pos);
  if (tok_vocab_size(m->tok) > m->tc.vocab)
    return vlp_fail(VLP_ERR_MODEL,
                    "%s: spiece.model has %d pieces but text_config.vocab_size is %d", dir,
                    tok_vocab_size(m->tok), m->tc.vocab);
  if (prep_out_h(&m->prep) != m->vc.image_size || prep_out_w(&m->prep) != m->vc.image_size)
    return vlp_fail(
        VLP_ERR_MODEL,
        "%s/preprocessor_config.json: output %dx%d does not match vision_config.image_size %d", dir,
        prep_out_w(&m->prep), prep_out_h(&m->prep), m->vc.image_size);
  return VLP_OK;
}

vlp_status siglip_load(const char *dir, siglip_model **out) {
  return siglip_load_parts(dir, VLP_LOAD_ALL, out);
}

vlp_status siglip_load_parts(const char *dir, unsigned parts, siglip_model **out) {
  *out = NULL;
  char path[4096];
  cJSON *cfg = NULL;
  vlp_status st = json_load_config(dir, path, sizeof path, &cfg);
  if (st) return st;
  siglip_model *m = calloc(1, sizeof *m);
  if (!m) {
    cJSON_Delete(cfg);
    return vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", dir);
  }
  if ((st = check_architecture(cfg, path)) ||
      (st = siglip_text_config_from_json(json_obj(cfg, "text_config"), path, &m->tc)) ||
      (st = vit_config_from_json(json_obj(cfg, "vision_config"), VIT_SIGLIP, path, &m->vc)) ||
      (st = tok_load(dir, &m->tok)))
    goto fail;
  if (tok_kind_of(m->tok) != TOK_SIGLIP) {
    st = vlp_fail(VLP_ERR_MODEL, "%s: the tokenizer is not SigLIP's SentencePiece (spiece.model)",
                  dir);
    goto fail;
  }
  m->L = tok_model_max_length(m->tok);
  if ((st = prep_config_load(dir, &m->prep)) || (st = check_consistency(m, dir)) ||
      (st = weights_open(dir, &m->w)))
    goto fail;
  /* A tower left out is not bound, so weights_prepare_linears does not pack it either. */
  if ((parts & VLP_LOAD_TEXT) && (st = clip_text_load(m->w, "text_model.", &m->tc, &m->text)))
    goto fail;
  if ((parts & VLP_LOAD_VISION) &&
      ((st = vit_load(m->w, "vision_model.", &m->vc, &m->vision)) ||
       (st = siglip_head_load(m->w, "vision_model.head.", &m->vc, &m->head))))
    goto fail;
  if ((st = weights_scalar(m->w, "logit_scale", dir, &m->logit_scale)) ||
      (st = weights_scalar(m->w, "logit_bias", dir, &m->logit_bias)))
    goto fail;
  cJSON_Delete(cfg);
  *out = m;
  return VLP_OK;
fail:
  cJSON_Delete(cfg);
  siglip_free(m);
  return st;
}

void siglip_free(siglip_model *m) {
  if (!m) return;
  clip_text_free(m->text);
  vit_free(m->vision);
  siglip_head_free(m->head);
  tok_free(m->tok);
  weights_close(m->w);
  free(m);
}

siglip_dims siglip_get_dims(const siglip_model *m) {
  siglip_dims d = {m->vc.hidden,     m->tc.hidden,     m->vc.hidden,
                   m->vc.image_size, m->vc.patch_size, m->L};
  return d;
}
vlp_weights *siglip_weights(const siglip_model *m) {
  return m->w;
}
const vlp_tokenizer *siglip_tokenizer(const siglip_model *m) {
  return m->tok;
}
const prep_config *siglip_prep(const siglip_model *m) {
  return &m->prep;
}
float siglip_logit_scale(const siglip_model *m) {
  return m->logit_scale;
}
float siglip_logit_bias(const siglip_model *m) {
  return m->logit_bias;
}
int siglip_vision_tokens(const siglip_model *m, int S) {
  return m->vision ? vit_tokens(m->vision, S) : 0;
}

/* ---- encoding -------------------------------------------------------------------------- */

vlp_status siglip_encode_images(const siglip_model *m, vlp_ws *ws, const float *pixels, int B,
                                int S, float *last_hidden, float *pooled, float *embeds) {
  if (!m->vision) return vlp_fail(VLP_ERR_INVALID, "siglip: model loaded without its vision tower");
  if (B <= 0) return vlp_fail(VLP_ERR_INVALID, "siglip: %d images", B);
  const int D = m->vc.hidden;
  if (S < m->vc.patch_size)
    return vlp_fail(VLP_ERR_INVALID, "siglip: image size %d is smaller than the patch size %d", S,
                    m->vc.patch_size);
  const int T = vit_tokens(m->vision, S);
  float *lh = last_hidden;
  if (!lh && !(lh = ws_floats(ws, WS_TMP0, (size_t)B * T * D))) return VLP_ERR_NOMEM;
  vlp_status st = vit_forward(m->vision, ws, pixels, B, S, lh);
  if (!st) st = siglip_head_forward(m->head, ws, lh, B, T, embeds);
  if (st) return st;
  if (pooled) memcpy(pooled, embeds, (size_t)B * D * sizeof *pooled);
  op_l2_normalize(embeds, B, D);
  return VLP_OK;
}

vlp_status siglip_encode_ids(const siglip_model *m, vlp_ws *ws, const int *ids, int B,
                             const int *mask_lens, float *last_hidden, float *pooled,
                             float *embeds) {
  if (!m->text) return vlp_fail(VLP_ERR_INVALID, "siglip: model loaded without its text tower");
  if (B <= 0) return vlp_fail(VLP_ERR_INVALID, "siglip: %d texts", B);
  int *lens = ws_get(ws, WS_TMP1, (size_t)B * sizeof *lens);
  if (!lens) return VLP_ERR_NOMEM;
  for (int b = 0; b < B; b++) lens[b] = mask_lens ? mask_lens[b] : m->L;
  vlp_status st = clip_text_forward(m->text, ws, ids, lens, B, m->L, last_hidden, embeds);
  if (st) return st;
  const int D = m->tc.projection_dim;
  if (pooled) memcpy(pooled, embeds, (size_t)B * D * sizeof *pooled);
  op_l2_normalize(embeds, B, D);
  return VLP_OK;
}

vlp_status siglip_text_ids(const siglip_model *m, const char *text, int *ids) {
  int *v = NULL, n = 0;
  vlp_status st = tok_encode(m->tok, text, m->L, &v, &n, NULL);
  if (st) return st;
  for (int i = 0; i < m->L; i++) ids[i] = i < n ? v[i] : tok_pad_id(m->tok);
  free(v);
  return VLP_OK;
}

vlp_status siglip_encode_strings(const siglip_model *m, vlp_ws *ws, const char *const *texts, int B,
                                 float *embeds) {
  if (B <= 0) return vlp_fail(VLP_ERR_INVALID, "siglip: %d texts", B);
  if ((size_t)B > SIZE_MAX / sizeof(int) / (size_t)m->L)
    return vlp_fail(VLP_ERR_NOMEM, "siglip: %d texts are too many", B);
  /* passes of at most CLIP_TEXT_PASS_ROWS tokens: every text is padded to L */
  const int per = CLIP_TEXT_PASS_ROWS / m->L > 1 ? CLIP_TEXT_PASS_ROWS / m->L : 1;
  vlp_status st = VLP_OK;
  for (int b0 = 0; !st && b0 < B; b0 += per) {
    int n = B - b0 < per ? B - b0 : per;
    int *ids = ws_get(ws, WS_TMP0, (size_t)n * m->L * sizeof *ids);
    if (!ids) return VLP_ERR_NOMEM;
    for (int b = 0; b < n && !st; b++)
      st = siglip_text_ids(m, texts[b0 + b], ids + (size_t)b * m->L);
    if (!st)
      st = siglip_encode_ids(m, ws, ids, n, NULL, NULL, NULL,
                             embeds + (size_t)b0 * m->tc.projection_dim);
  }
  return st;
}

/* ---- scores ---------------------------------------------------------------------------- */

void siglip_logits(const siglip_model *m, const float *image_embeds, int Bi,
                   const float *text_embeds, int Bt, float *logits) {
  const int D = m->vc.hidden;
  const float scale = expf(m->logit_scale);
  for (int i = 0; i < Bi; i++)
    for (int t = 0; t < Bt; t++) {
      const float *a = image_embeds + (size_t)i * D, *b = text_embeds + (size_t)t * D;
      double dot = 0.0;
      for (int p = 0; p < D; p++) dot += (double)a[p] * b[p];
      logits[(size_t)i * Bt + t] = (float)dot * scale + m->logit_bias;
    }
}

float siglip_sigmoid(float x) {
  return x >= 0 ? 1.0f / (1.0f + expf(-x)) : expf(x) / (1.0f + expf(x));
}

void siglip_probs(const siglip_model *m, const float *image_embeds, int Bi,
                  const float *text_embeds, int Bt, float *probs) {
  siglip_logits(m, image_embeds, Bi, text_embeds, Bt, probs);
  for (size_t k = 0; k < (size_t)Bi * Bt; k++) probs[k] = siglip_sigmoid(probs[k]);
}
