/* clip: CLIPModel - loading a folder, image / text embeddings, logits, zero-shot tags
 * (see clip.h). */
#include "fusion/clip.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/json.h"
#include "core/ops.h"
#include "core/weights.h"

struct clip_model {
  vlp_weights *w;
  vlp_tokenizer *tok;
  prep_config prep;
  clip_text_config tc;
  vit_config vc;
  clip_text_model *text;
  vit_model *vision;
  int P;
  const float *visual_proj; /* (P, Dv) */
  const float *text_proj;   /* (P, Dt) */
  float logit_scale;
};

/* ---- loading --------------------------------------------------------------------------- */

static vlp_status check_architecture(const cJSON *cfg, const char *path) {
  const char *a = json_architecture(cfg);
  if (!a)
    return vlp_fail(VLP_ERR_UNSUPPORTED, "%s: no \"architectures\" entry; expected CLIPModel",
                    path);
  if (strcmp(a, "CLIPModel") != 0)
    return vlp_fail(VLP_ERR_UNSUPPORTED,
                    "%s: architectures[0] is \"%s\", not CLIPModel (this loader handles CLIPModel)",
                    path, a);
  return VLP_OK;
}

vlp_status clip_load(const char *dir, clip_model **out) {
  return clip_load_parts(dir, VLP_LOAD_ALL, out);
}

vlp_status clip_load_parts(const char *dir, unsigned parts, clip_model **out) {
  *out = NULL;
  char path[4096];
  cJSON *cfg = NULL;
  vlp_status st = json_load_config(dir, path, sizeof path, &cfg);
  if (st) return st;
  clip_model *m = calloc(1, sizeof *m);
  if (!m) {
    cJSON_Delete(cfg);
    return vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", dir);
  }
  if ((st = check_architecture(cfg, path))) goto fail;
  if ((st = clip_text_config_from_json(json_obj(cfg, "text_config"), path, &m->tc))) goto fail;
  if ((st = vit_config_from_json(json_obj(cfg, "vision_config"), VIT_CLIP, path, &m->vc)))
    goto fail;
  m->P = json_int(cfg, "projection_dim", 512);
  if (m->P <= 0) {
    st = vlp_fail(VLP_ERR_MODEL, "%s: projection_dim = %d must be positive", path, m->P);
    goto fail;
  }
  if ((st = weights_open(dir, &m->w))) goto fail;
  /* A tower left out is not bound, so weights_prepare_linears does not pack it either. */
  int text = (parts & VLP_LOAD_TEXT) != 0, vision = (parts & VLP_LOAD_VISION) != 0;
  if (text && (st = clip_text_load(m->w, "text_model.", &m->tc, &m->text))) goto fail;
  if (vision && (st = vit_load(m->w, "vision_model.", &m->vc, &m->vision))) goto fail;
  if ((vision && (st = weights_f32(m->w, "visual_projection.weight", &m->visual_proj, 2, m->P,
                                   m->vc.hidden))) ||
      (text &&
       (st = weights_f32(m->w, "text_projection.weight", &m->text_proj, 2, m->P, m->tc.hidden))))
    goto fail;
  if ((st = weights_scalar(m->w, "logit_scale", dir, &m->logit_scale))) goto fail;
  if ((st = tok_load(dir, &m->tok))) goto fail;
  if (tok_kind_of(m->tok) != TOK_CLIP) {
    st = vlp_fail(VLP_ERR_MODEL, "%s: the tokenizer is not CLIP's BPE (vocab.json + merges.txt)",
                  dir);
    goto fail;
  }
  if (tok_vocab_size(m->tok) > m->tc.vocab) {
    st = vlp_fail(VLP_ERR_MODEL, "%s: the tokenizer has %d tokens but text_config.vocab_size is %d",
                  dir, tok_vocab_size(m->tok), m->tc.vocab);
    goto fail;
  }
  if ((st = prep_config_load(dir, &m->prep))) goto fail;
  if (prep_out_h(&m->prep) != m->vc.image_size || prep_out_w(&m->prep) != m->vc.image_size) {
    st = vlp_fail(
        VLP_ERR_MODEL,
        "%s/preprocessor_config.json: output %dx%d does not match vision_config.image_size %d", dir,
        prep_out_w(&m->prep), prep_out_h(&m->prep), m->vc.image_size);
    goto fail;
  }
  cJSON_Delete(cfg);
  *out = m;
  return VLP_OK;
fail:
  cJSON_Delete(cfg);
  clip_free(m);
  return st;
}

void clip_free(clip_model *m) {
  if (!m) return;
  clip_text_free(m->text);
  vit_free(m->vision);
  tok_free(m->tok);
  weights_close(m->w);
  free(m);
}

clip_dims clip_get_dims(const clip_model *m) {
  clip_dims d = {m->P,         m->tc.hidden, m->vc.hidden, m->vc.image_size, m->vc.patch_size,
                 m->tc.max_pos};
  return d;
}
const vlp_tokenizer *clip_tokenizer(const clip_model *m) {
  return m->tok;
}
vlp_weights *clip_weights(const clip_model *m) {
  return m->w;
}

const prep_config *clip_prep(const clip_model *m) {
  return &m->prep;
}
float clip_logit_scale(const clip_model *m) {
  return m->logit_scale;
}
int clip_vision_tokens(const clip_model *m, int S) {
  return m->vision ? vit_tokens(m->vision, S) : 0;
}

/* ---- encoding -------------------------------------------------------------------------- */

/* features (B, P) = proj(pooled); embeds = features / ||features||. */
static void project(const float *pooled, const float *W, int B, int D, int P, float *features,
                    float *embeds) {
  op_linear(embeds, pooled, W, NULL, B, D, P);
  if (features) memcpy(features, embeds, (size_t)B * P * sizeof(float));
  op_l2_normalize(embeds, B, P);
}

vlp_status clip_encode_images(const clip_model *m, vlp_ws *ws, const float *pixels, int B, int S,
                              float *last_hidden, float *pooled, float *features, float *embeds) {
  if (!m->vision) return vlp_fail(VLP_ERR_INVALID, "clip: model loaded without its vision tower");
  if (B <= 0) return vlp_fail(VLP_ERR_INVALID, "clip: %d images", B);
  const int Dv = m->vc.hidden;
  if (S <= 0 || S % m->vc.patch_size != 0)
    return vlp_fail(VLP_ERR_INVALID,
                    "clip: image size %d is not a positive multiple of the patch size %d", S,
                    m->vc.patch_size);
  const int T = vit_tokens(m->vision, S);
  size_t nh = (size_t)B * T;
  if (nh > SIZE_MAX / 4 / (size_t)Dv)
    return vlp_fail(VLP_ERR_NOMEM, "clip: %d images too large", B);
  nh *= (size_t)Dv;
  size_t need = (last_hidden ? 0 : nh) + (pooled ? 0 : (size_t)B * Dv);
  float *s = ws_floats(ws, WS_FUSION, need ? need : 1);
  if (!s) return VLP_ERR_NOMEM;
  float *lh = last_hidden ? last_hidden : s;                /* (B, T, Dv) */
  float *po = pooled ? pooled : s + (last_hidden ? 0 : nh); /* (B, Dv) */
  /* without last_hidden wanted, the last layer runs on the pooled rows only */
  vlp_status st = last_hidden ? vit_forward(m->vision, ws, pixels, B, S, lh)
                              : vit_forward_pooled(m->vision, ws, pixels, B, S, lh, po);
  if (st) return st;
  if (last_hidden) vit_pool(m->vision, lh, B, T, po);
  project(po, m->visual_proj, B, Dv, m->P, features, embeds);
  return VLP_OK;
}

vlp_status clip_encode_texts(const clip_model *m, vlp_ws *ws, const int *const *ids,
                             const int *lens, int B, float *last_hidden, float *pooled,
                             float *features, float *embeds) {
  if (!m->text) return vlp_fail(VLP_ERR_INVALID, "clip: model loaded without its text tower");
  if (B <= 0) return vlp_fail(VLP_ERR_INVALID, "clip: %d texts", B);
  const int Dt = m->tc.hidden;
  int T = 0;
  for (int b = 0; b < B; b++) {
    if (lens[b] < 1 || lens[b] > m->tc.max_pos)
      return vlp_fail(VLP_ERR_INVALID, "clip: text %d has %d tokens (must be 1..%d)", b, lens[b],
                      m->tc.max_pos);
    if (lens[b] > T) T = lens[b];
  }
  /* scratch: padded ids (B, T) as ints, then pooled (B, Dt) */
  size_t nid = (size_t)B * T;
  size_t need = nid + (pooled ? 0 : (size_t)B * Dt);
  float *s = ws_floats(ws, WS_FUSION, need);
  if (!s) return VLP_ERR_NOMEM;
  int *padded = (int *)s;
  float *po = pooled ? pooled : s + nid;
  for (int b = 0; b < B; b++)
    for (int t = 0; t < T; t++) padded[(size_t)b * T + t] = t < lens[b] ? ids[b][t] : 0;
  vlp_status st = clip_text_forward(m->text, ws, padded, lens, B, T, last_hidden, po);
  if (st) return st;
  project(po, m->text_proj, B, Dt, m->P, features, embeds);
  return VLP_OK;
}

vlp_status clip_encode_strings(const clip_model *m, vlp_ws *ws, const char *const *texts, int B,
                               float *embeds) {
  if (B <= 0) return vlp_fail(VLP_ERR_INVALID, "clip: %d texts", B);
  int **ids = calloc((size_t)B, sizeof *ids);
  int *lens = calloc((size_t)B, sizeof *lens);
  vlp_status st = VLP_OK;
  if (!ids || !lens) {
    st = vlp_fail(VLP_ERR_NOMEM, "clip: out of memory for %d texts", B);
    goto done;
  }
  for (int b = 0; b < B && !st; b++)
    st = tok_encode(m->tok, texts[b], m->tc.max_pos, &ids[b], &lens[b], NULL);
  /* passes of consecutive texts, each padded to its longest, of at most
   * CLIP_TEXT_PASS_ROWS padded tokens (one text at least) */
  for (int b0 = 0, n; !st && b0 < B; b0 += n) {
    int T = lens[b0];
    for (n = 1; b0 + n < B; n++) {
      int t = lens[b0 + n] > T ? lens[b0 + n] : T;
      if ((long)(n + 1) * t > CLIP_TEXT_PASS_ROWS) break;
      T = t;
    }
    st = clip_encode_texts(m, ws, (const int *const *)ids + b0, lens + b0, n, NULL, NULL, NULL,
                           embeds + (size_t)b0 * m->P);
  }
done:
  if (ids)
    for (int b = 0; b < B; b++) free(ids[b]);
  free(ids);
  free(lens);
  return st;
}

/* ---- scores ---------------------------------------------------------------------------- */

void clip_logits(const clip_model *m, const float *image_embeds, int Bi, const float *text_embeds,
                 int Bt, float *logits) {
  const int P = m->P;
  const float scale = expf(m->logit_scale);
  for (int i = 0; i < Bi; i++)
    for (int t = 0; t < Bt; t++) {
      const float *a = image_embeds + (size_t)i * P, *b = text_embeds + (size_t)t * P;
      double dot = 0.0;
      for (int p = 0; p < P; p++) dot += (double)a[p] * b[p];
      logits[(size_t)i * Bt + t] = (float)dot * scale;
    }
}

void clip_probs(const clip_model *m, const float *image_embeds, int Bi, const float *text_embeds,
                int Bt, float *probs) {
  clip_logits(m, image_embeds, Bi, text_embeds, Bt, probs);
  op_softmax(probs, Bi, Bt);
}

void clip_tag(const clip_model *m, const float *label_embeds, int L, const float *image_embeds,
              int B, float *scores) {
  clip_probs(m, image_embeds, B, label_embeds, L, scores);
}
