/* api_tasks: the compute calls of vlp.h - captions, answers, image-text matching,
 * embeddings and zero-shot scores - run in a session on image features. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "fusion/api_types.h"
#include "text/tokenizer.h"

vlp_gen_params vlp_gen_default_params(void) {
  return (vlp_gen_params){.num_beams = 1,
                          .max_length = 20,
                          .min_length = 0,
                          .repetition_penalty = 1.0f,
                          .length_penalty = 1.0f};
}

void vlp_text_result_free(vlp_text_result *r) {
  free(r->ids);
  free(r->text);
  memset(r, 0, sizeof *r);
}

/* gen_params.on_step: the session's progress callback, decoder steps of max_len. */
static int on_step(void *ctx, int len, int max_len) {
  return api_progress(ctx, "generate", len, max_len) != VLP_OK;
}

static gen_params to_gen_params(const vlp_session *s, const vlp_gen_params *p) {
  const vlp_model *m = s->m;
  gen_params g = blip_gen_params(m->blip, p->num_beams > 0 ? p->num_beams : 1);
  g.max_length = p->max_length;
  g.max_new_tokens = p->max_new_tokens;
  g.min_length = p->min_length;
  g.repetition_penalty = p->repetition_penalty;
  g.length_penalty = p->length_penalty;
  if (s->progress) g.on_step = on_step, g.step_ctx = (void *)s;
  return g;
}

/* Fill out[i] from the generated sequences (taking ownership of seqs[i]). */
static vlp_status finish_texts(const vlp_model *m, int **seqs, const int *lens, int n,
                               vlp_text_result *out) {
  vlp_status st = VLP_OK;
  int eos = blip_get_dims(m->blip).eos_id;
  for (int i = 0; i < n; i++) {
    out[i].ids = seqs[i];
    out[i].n_ids = lens[i];
    out[i].truncated = lens[i] < 1 || seqs[i][lens[i] - 1] != eos;
    if (!st) st = tok_decode(vlp_model_tokenizer(m), seqs[i], lens[i], &out[i].text);
  }
  return st;
}

/* Image i's rows of BLIP features: (Ti, Dv). */
static const float *blip_rows(const vlp_features *f, int i) {
  return f->hidden + (size_t)i * f->Ti * blip_get_dims(f->m->blip).vision_hidden;
}

/* ---- captions and answers ------------------------------------------------------------ */

static vlp_status caption(vlp_session *s, const vlp_features *f, const vlp_gen_params *p,
                          vlp_text_result *out) {
  const vlp_model *m = s->m;
  int n = f->n, *prompt = NULL, np = 0;
  int **seqs = calloc((size_t)n, sizeof *seqs), *lens = calloc((size_t)n, sizeof *lens);
  vlp_status st = VLP_OK;
  if (!seqs || !lens) st = vlp_fail(VLP_ERR_NOMEM, "out of memory");
  if (!st) st = blip_caption_prompt_ids(m->blip, p->prompt, &prompt, &np);
  gen_params g = to_gen_params(s, p);
  if (!st)
    st = blip_caption_generate(m->blip, &s->ws, f->hidden, n, f->Ti, prompt, np, &g, seqs, lens);
  if (!st)
    st = finish_texts(m, seqs, lens, n, out);
  else
    for (int i = 0; seqs && i < n; i++) free(seqs[i]);
  free(seqs);
  free(lens);
  free(prompt);
  return st;
}

vlp_status vlp_caption(vlp_session *s, const vlp_features *f, const vlp_gen_params *p,
                       vlp_text_result *out) {
  vlp_status st = api_need(s->m, VLP_ARCH_BLIP_CAPTION);
  if (!st) st = api_need_part(s->m, VLP_LOAD_TEXT);
  if (!st) st = api_check_features(s, f, 0);
  if (st) return st;
  memset(out, 0, (size_t)f->n * sizeof *out);
  vlp_gen_params def = vlp_gen_default_params();
  int prev = api_enter(s);
  st = caption(s, f, p ? p : &def, out);
  api_leave(prev);
  return st;
}

static vlp_status vqa(vlp_session *s, const vlp_features *f, int i, const char *question,
                      const vlp_gen_params *p, vlp_text_result *out) {
  const vlp_model *m = s->m;
  int *ids = NULL, n = 0, *seq = NULL, len = 0;
  vlp_status st = blip_tokenize(m->blip, question, &ids, &n);
  float *q = NULL;
  if (!st) q = ws_floats(&s->ws, WS_TMP1, (size_t)n * (size_t)blip_get_dims(m->blip).text_hidden);
  if (!st && !q) st = VLP_ERR_NOMEM;
  if (!st) st = blip_vqa_encode_question(m->blip, &s->ws, blip_rows(f, i), f->Ti, ids, n, q);
  gen_params g = to_gen_params(s, p);
  if (!st) st = blip_vqa_generate(m->blip, &s->ws, q, 1, n, &g, &seq, &len);
  if (!st)
    st = finish_texts(m, &seq, &len, 1, out);
  else
    free(seq);
  free(ids);
  return st;
}

vlp_status vlp_vqa(vlp_session *s, const vlp_features *f, int i, const char *question,
                   const vlp_gen_params *p, vlp_text_result *out) {
  memset(out, 0, sizeof *out);
  vlp_status st = api_need(s->m, VLP_ARCH_BLIP_VQA);
  if (!st) st = api_need_part(s->m, VLP_LOAD_TEXT);
  if (!st) st = api_check_features(s, f, i);
  if (st) return st;
  if (!question || !question[0]) return vlp_fail(VLP_ERR_INVALID, "the question is empty");
  vlp_gen_params def = vlp_gen_default_params();
  int prev = api_enter(s);
  st = vqa(s, f, i, question, p ? p : &def, out);
  api_leave(prev);
  return st;
}

/* ---- retrieval ----------------------------------------------------------------------- */

static vlp_status itm(vlp_session *s, const vlp_features *f, int i, const char *text, float *p_itm,
                      float *p_itc) {
  const vlp_model *m = s->m;
  int E = f->dim, *ids = NULL, n = 0;
  float prob = 0, *tfeat = malloc((size_t)E * sizeof *tfeat);
  if (!tfeat) return vlp_fail(VLP_ERR_NOMEM, "out of memory");
  vlp_status st = blip_tokenize(m->blip, text, &ids, &n);
  const int *const idv[1] = {ids};
  if (!st) st = blip_itm(m->blip, &s->ws, blip_rows(f, i), f->Ti, idv, &n, 1, NULL, &prob, NULL);
  if (!st) st = blip_encode_texts(m->blip, &s->ws, idv, &n, 1, NULL, tfeat);
  if (!st) {
    const float *ifeat = f->embeds + (size_t)i * E;
    double dot = 0;
    for (int k = 0; k < E; k++) dot += (double)ifeat[k] * tfeat[k];
    if (p_itm) *p_itm = prob;
    if (p_itc) *p_itc = (float)dot;
  }
  free(ids);
  free(tfeat);
  return st;
}

vlp_status vlp_itm(vlp_session *s, const vlp_features *f, int i, const char *text, float *p_itm,
                   float *p_itc) {
  vlp_status st = api_need(s->m, VLP_ARCH_BLIP_ITM);
  if (!st) st = api_need_part(s->m, VLP_LOAD_TEXT);
  if (!st) st = api_check_features(s, f, i);
  if (st) return st;
  if (!text) return vlp_fail(VLP_ERR_INVALID, "vlp_itm: no text"); /* "" is a text */
  int prev = api_enter(s);
  st = itm(s, f, i, text, p_itm, p_itc);
  api_leave(prev);
  return st;
}

vlp_status vlp_embed_images(vlp_session *s, const vlp_image *imgs, int n, int image_size,
                            float *out) {
  if (vlp_model_embed_dim(s->m) <= 0)
    return vlp_fail(VLP_ERR_INVALID, "the model is %s; embeddings need %s, %s or %s",
                    vlp_arch_name(s->m->arch), vlp_arch_name(VLP_ARCH_CLIP),
                    vlp_arch_name(VLP_ARCH_SIGLIP), vlp_arch_name(VLP_ARCH_BLIP_ITM));
  vlp_features *f = NULL;
  vlp_status st = vlp_encode_images(s, imgs, n, image_size, &f);
  if (!st) st = vlp_features_embeddings(f, out);
  vlp_features_free(f);
  return st;
}

static vlp_status embed_texts(vlp_session *s, const char *const *texts, int n, float *out) {
  const vlp_model *m = s->m;
  if (m->clip) return clip_encode_strings(m->clip, &s->ws, texts, n, out);
  if (m->siglip) return siglip_encode_strings(m->siglip, &s->ws, texts, n, out);
  int E = blip_get_dims(m->blip).embed_dim;
  vlp_status st = VLP_OK;
  for (int i = 0; i < n && !st; i++) {
    int *ids = NULL, len = 0;
    st = blip_tokenize(m->blip, texts[i], &ids, &len);
    const int *const idv[1] = {ids};
    if (!st) st = blip_encode_texts(m->blip, &s->ws, idv, &len, 1, NULL, out + (size_t)i * E);
    free(ids);
  }
  return st;
}

vlp_status vlp_embed_texts(vlp_session *s, const char *const *texts, int n, float *out) {
  if (vlp_model_embed_dim(s->m) <= 0)
    return vlp_fail(VLP_ERR_INVALID, "the model is %s; embeddings need %s, %s or %s",
                    vlp_arch_name(s->m->arch), vlp_arch_name(VLP_ARCH_CLIP),
                    vlp_arch_name(VLP_ARCH_SIGLIP), vlp_arch_name(VLP_ARCH_BLIP_ITM));
  vlp_status st = api_need_part(s->m, VLP_LOAD_TEXT);
  if (st) return st;
  if (n <= 0) return vlp_fail(VLP_ERR_INVALID, "vlp_embed_texts: no texts");
  for (int i = 0; i < n; i++) /* "" is a text: [CLS] [SEP] / start and end tokens */
    if (!texts[i]) return vlp_fail(VLP_ERR_INVALID, "text %d is NULL", i + 1);
  int prev = api_enter(s);
  st = embed_texts(s, texts, n, out);
  api_leave(prev);
  return st;
}

vlp_status vlp_tag_scores(vlp_session *s, const vlp_features *f, int i, const float *label_embeds,
                          int L, float *scores) {
  vlp_status st = s->m->siglip ? VLP_OK : api_need(s->m, VLP_ARCH_CLIP);
  if (!st) st = api_check_features(s, f, i);
  if (st) return st;
  if (L <= 0) return vlp_fail(VLP_ERR_INVALID, "vlp_tag_scores: no labels");
  int prev = api_enter(s);
  const float *img = f->embeds + (size_t)i * f->dim;
  if (s->m->siglip) /* a sigmoid per label, not a softmax over them */
    siglip_probs(s->m->siglip, img, 1, label_embeds, L, scores);
  else
    clip_tag(s->m->clip, label_embeds, L, img, 1, scores);
  api_leave(prev);
  return VLP_OK;
}

vlp_status vlp_match(vlp_session *s, const vlp_features *f, int i, const char *text, float *score,
                     float *logit) {
  vlp_status st = api_need(s->m, VLP_ARCH_SIGLIP);
  if (!st) st = api_need_part(s->m, VLP_LOAD_TEXT);
  if (!st) st = api_check_features(s, f, i);
  if (st) return st;
  if (!text) return vlp_fail(VLP_ERR_INVALID, "vlp_match: no text"); /* "" is a text */
  float *t = malloc((size_t)f->dim * sizeof *t), z = 0;
  if (!t) return vlp_fail(VLP_ERR_NOMEM, "out of memory");
  int prev = api_enter(s);
  st = siglip_encode_strings(s->m->siglip, &s->ws, &text, 1, t);
  if (!st) siglip_logits(s->m->siglip, f->embeds + (size_t)i * f->dim, 1, t, 1, &z);
  api_leave(prev);
  free(t);
  if (st) return st;
  if (logit) *logit = z;
  if (score) *score = siglip_sigmoid(z);
  return VLP_OK;
}
