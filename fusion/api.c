/* api: the public interface of vlp.h on top of the BLIP and CLIP models (fusion/blip.h,
 * fusion/clip.h), the image processors and the tokenizers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/json.h"
#include "core/npy.h"
#include "fusion/blip.h"
#include "fusion/clip.h"
#include "media/preprocess.h"
#include "text/tokenizer.h"
#include "vlp.h"

struct vlp_model {
  vlp_arch arch;
  blip_model *blip;
  clip_model *clip;
};

static const char *const arch_names[] = {
    [VLP_ARCH_BLIP_CAPTION] = "BlipForConditionalGeneration",
    [VLP_ARCH_BLIP_ITM] = "BlipForImageTextRetrieval",
    [VLP_ARCH_BLIP_VQA] = "BlipForQuestionAnswering",
    [VLP_ARCH_CLIP] = "CLIPModel",
};

const char *vlp_arch_name(vlp_arch a) {
  return (unsigned)a < sizeof arch_names / sizeof arch_names[0] ? arch_names[a] : "unknown";
}

vlp_status vlp_write_npy_f32(const char *path, const float *data, int ndim, const int64_t *shape) {
  return npy_save(path, NPY_F32, ndim, shape, data);
}

/* ---- preprocessing and tokenizers ------------------------------------------------------ */

/* pixels (3, S, S) for one image under processor c, with an optional size override. */
static vlp_status preprocess_with(const prep_config *base, const vlp_image *img, int size,
                                  float **pixels, int *S) {
  prep_config c = *base;
  if (size > 0) prep_config_set_size(&c, size);
  int h = prep_out_h(&c), w = prep_out_w(&c);
  if (h != w)
    return vlp_fail(VLP_ERR_UNSUPPORTED, "image processor output %dx%d is not square", w, h);
  *pixels = malloc((size_t)3 * (size_t)h * (size_t)w * sizeof **pixels);
  if (!*pixels) return vlp_fail(VLP_ERR_NOMEM, "out of memory for pixel values");
  vlp_status st = prep_run(&c, img, *pixels);
  if (st) {
    free(*pixels);
    *pixels = NULL;
    return st;
  }
  *S = h;
  return VLP_OK;
}

vlp_status vlp_preprocess(const char *model_dir, const vlp_image *img, int image_size,
                          float **pixels, int *S) {
  char dir[4096]; /* a cache name -> its folder (hub/model_cache.c) */
  vlp_status st = vlp_resolve_model(model_dir, dir, sizeof dir);
  if (st) return st;
  prep_config c;
  st = prep_config_load(dir, &c);
  if (st) return st;
  return preprocess_with(&c, img, image_size, pixels, S);
}

vlp_status vlp_tokenizer_load(const char *model_dir, vlp_tokenizer **out) {
  char dir[4096];
  *out = NULL;
  vlp_status st = vlp_resolve_model(model_dir, dir, sizeof dir);
  if (st) return st;
  return tok_load(dir, out);
}

void vlp_tokenizer_free(vlp_tokenizer *t) {
  tok_free(t);
}

/* The text encoders' limits: BERT position table 512, CLIP context 77 (the tokenizers'
 * model_max_length in the Hugging Face folders). */
static int tokenizer_max_len(const vlp_tokenizer *t) {
  return tok_kind_of(t) == TOK_CLIP ? 77 : 512;
}

vlp_status vlp_tokenize(const vlp_tokenizer *t, const char *text, int **ids, int *n) {
  return tok_encode(t, text, tokenizer_max_len(t), ids, n, NULL);
}

vlp_status vlp_detokenize(const vlp_tokenizer *t, const int *ids, int n, char **text) {
  return tok_decode(t, ids, n, text);
}

/* ---- models ---------------------------------------------------------------------------- */

vlp_status vlp_model_load(const char *model_dir_or_name, vlp_model **out) {
  *out = NULL;
  char model_dir[4096];
  vlp_status st = vlp_resolve_model(model_dir_or_name, model_dir, sizeof model_dir);
  if (st) return st;
  char path[4096 + 16];
  snprintf(path, sizeof path, "%s/config.json", model_dir);
  cJSON *cfg;
  st = json_load_file(path, &cfg);
  if (st) return st;
  const cJSON *archs = json_arr(cfg, "architectures");
  const char *arch = cJSON_GetStringValue(archs ? cJSON_GetArrayItem(archs, 0) : NULL);
  int a = -1;
  for (int i = 0; arch && i < (int)(sizeof arch_names / sizeof arch_names[0]); i++)
    if (!strcmp(arch, arch_names[i])) a = i;
  if (a < 0) {
    st = vlp_fail(arch ? VLP_ERR_UNSUPPORTED : VLP_ERR_MODEL,
                  "%s: %s%s%s (vlp runs BlipForConditionalGeneration, BlipForImageTextRetrieval, "
                  "BlipForQuestionAnswering and CLIPModel)",
                  path, arch ? "architecture " : "no \"architectures\" entry", arch ? arch : "",
                  arch ? " is not supported" : "");
    cJSON_Delete(cfg);
    return st;
  }
  cJSON_Delete(cfg);
  vlp_model *m = calloc(1, sizeof *m);
  if (!m) return vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", model_dir);
  m->arch = (vlp_arch)a;
  st = m->arch == VLP_ARCH_CLIP ? clip_load(model_dir, &m->clip) : blip_load(model_dir, &m->blip);
  if (st) {
    free(m);
    return st;
  }
  *out = m;
  return VLP_OK;
}

void vlp_model_free(vlp_model *m) {
  if (!m) return;
  if (m->blip) blip_free(m->blip);
  if (m->clip) clip_free(m->clip);
  free(m);
}

vlp_arch vlp_model_arch(const vlp_model *m) {
  return m->arch;
}

int vlp_model_embed_dim(const vlp_model *m) {
  return m->clip ? clip_get_dims(m->clip).projection_dim : blip_get_dims(m->blip).embed_dim;
}

const vlp_tokenizer *vlp_model_tokenizer(const vlp_model *m) {
  return m->clip ? clip_tokenizer(m->clip) : blip_tokenizer(m->blip);
}

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

static vlp_status need(const vlp_model *m, vlp_arch a) {
  if (m->arch == a) return VLP_OK;
  return vlp_fail(VLP_ERR_INVALID, "the model is %s; this needs %s", vlp_arch_name(m->arch),
                  vlp_arch_name(a));
}

/* image_embeds (n, Ti, Dv) of n images for a BLIP model; *Ti receives the token count. */
static vlp_status blip_images(vlp_model *m, const vlp_image *imgs, int n, int size, float **embeds,
                              int *Ti) {
  blip_dims d = blip_get_dims(m->blip);
  float *pixels = NULL, *one = NULL;
  int S = 0;
  *embeds = NULL;
  vlp_status st = VLP_OK;
  for (int i = 0; i < n && !st; i++) {
    st = preprocess_with(blip_prep(m->blip), &imgs[i], size, &one, &S);
    if (st) break;
    size_t per = (size_t)3 * (size_t)S * (size_t)S;
    if (!pixels && !(pixels = malloc((size_t)n * per * sizeof *pixels)))
      st = vlp_fail(VLP_ERR_NOMEM, "out of memory for %d images", n);
    else
      memcpy(pixels + (size_t)i * per, one, per * sizeof *one);
    free(one);
  }
  if (!st) {
    *Ti = blip_vision_tokens(m->blip, S);
    *embeds = malloc((size_t)n * (size_t)*Ti * (size_t)d.vision_hidden * sizeof **embeds);
    if (!*embeds)
      st = vlp_fail(VLP_ERR_NOMEM, "out of memory for image embeddings");
    else
      st = blip_encode_images(m->blip, pixels, n, S, *embeds, NULL);
  }
  free(pixels);
  if (st) {
    free(*embeds);
    *embeds = NULL;
  }
  return st;
}

static gen_params to_gen_params(const vlp_model *m, const vlp_gen_params *p) {
  gen_params g = blip_gen_params(m->blip, p->num_beams > 0 ? p->num_beams : 1);
  g.max_length = p->max_length;
  g.max_new_tokens = p->max_new_tokens;
  g.min_length = p->min_length;
  g.repetition_penalty = p->repetition_penalty;
  g.length_penalty = p->length_penalty;
  return g;
}

/* Fill out[i] from the generated sequences (taking ownership of seqs[i]). */
static vlp_status finish_texts(const vlp_model *m, int **seqs, const int *lens, int n,
                               vlp_text_result *out) {
  vlp_status st = VLP_OK;
  for (int i = 0; i < n; i++) {
    out[i].ids = seqs[i];
    out[i].n_ids = lens[i];
    if (!st) st = tok_decode(vlp_model_tokenizer(m), seqs[i], lens[i], &out[i].text);
  }
  return st;
}

vlp_status vlp_caption(vlp_model *m, const vlp_image *imgs, int n, const vlp_gen_params *p,
                       vlp_text_result *out) {
  vlp_status st = need(m, VLP_ARCH_BLIP_CAPTION);
  if (st) return st;
  float *embeds = NULL;
  int Ti = 0, *prompt = NULL, np = 0;
  int **seqs = calloc((size_t)n, sizeof *seqs), *lens = calloc((size_t)n, sizeof *lens);
  if (!seqs || !lens) st = vlp_fail(VLP_ERR_NOMEM, "out of memory");
  if (!st) st = blip_images(m, imgs, n, p->image_size, &embeds, &Ti);
  if (!st) st = blip_caption_prompt_ids(m->blip, p->prompt, &prompt, &np);
  gen_params g = to_gen_params(m, p);
  if (!st) st = blip_caption_generate(m->blip, embeds, n, Ti, prompt, np, &g, seqs, lens);
  if (!st)
    st = finish_texts(m, seqs, lens, n, out);
  else
    for (int i = 0; seqs && i < n; i++) free(seqs[i]);
  free(seqs);
  free(lens);
  free(prompt);
  free(embeds);
  return st;
}

vlp_status vlp_vqa(vlp_model *m, const vlp_image *img, const char *question,
                   const vlp_gen_params *p, vlp_text_result *out) {
  vlp_status st = need(m, VLP_ARCH_BLIP_VQA);
  if (st) return st;
  if (!question || !question[0]) return vlp_fail(VLP_ERR_INVALID, "the question is empty");
  float *embeds = NULL, *q = NULL;
  int Ti = 0, *ids = NULL, n = 0, *seq = NULL, len = 0;
  st = blip_images(m, img, 1, p->image_size, &embeds, &Ti);
  if (!st) st = blip_tokenize(m->blip, question, &ids, &n);
  if (!st && !(q = malloc((size_t)n * (size_t)blip_get_dims(m->blip).text_hidden * sizeof *q)))
    st = vlp_fail(VLP_ERR_NOMEM, "out of memory");
  if (!st) st = blip_vqa_encode_question(m->blip, embeds, Ti, ids, n, q);
  gen_params g = to_gen_params(m, p);
  if (!st) st = blip_vqa_generate(m->blip, q, 1, n, &g, &seq, &len);
  if (!st)
    st = finish_texts(m, &seq, &len, 1, out);
  else
    free(seq);
  free(q);
  free(ids);
  free(embeds);
  return st;
}

vlp_status vlp_itm(vlp_model *m, const vlp_image *img, const char *text, int image_size, float *itm,
                   float *itc) {
  vlp_status st = need(m, VLP_ARCH_BLIP_ITM);
  if (st) return st;
  if (!text || !text[0]) return vlp_fail(VLP_ERR_INVALID, "the text is empty");
  int E = blip_get_dims(m->blip).embed_dim;
  float *embeds = NULL, *feats = malloc(2 * (size_t)E * sizeof *feats);
  int Ti = 0, *ids = NULL, n = 0;
  if (!feats) return vlp_fail(VLP_ERR_NOMEM, "out of memory");
  st = blip_images(m, img, 1, image_size, &embeds, &Ti);
  if (!st) st = blip_tokenize(m->blip, text, &ids, &n);
  const int *const idv[1] = {ids};
  if (!st) st = blip_itm(m->blip, embeds, Ti, idv, &n, 1, NULL, itm, NULL);
  if (!st) st = blip_image_feat(m->blip, embeds, 1, Ti, feats);
  if (!st) st = blip_encode_texts(m->blip, idv, &n, 1, NULL, feats + E);
  if (!st) {
    double dot = 0;
    for (int i = 0; i < E; i++) dot += (double)feats[i] * feats[E + i];
    *itc = (float)dot;
  }
  free(ids);
  free(embeds);
  free(feats);
  return st;
}

vlp_status vlp_embed_images(vlp_model *m, const vlp_image *imgs, int n, int image_size,
                            float *out) {
  vlp_status st = VLP_OK;
  if (m->arch == VLP_ARCH_BLIP_ITM) {
    float *embeds = NULL;
    int Ti = 0;
    st = blip_images(m, imgs, n, image_size, &embeds, &Ti);
    if (!st) st = blip_image_feat(m->blip, embeds, n, Ti, out);
    free(embeds);
    return st;
  }
  if ((st = need(m, VLP_ARCH_CLIP))) return st;
  clip_dims d = clip_get_dims(m->clip);
  for (int i = 0; i < n && !st; i++) {
    float *pixels = NULL;
    int S = 0;
    st = preprocess_with(clip_prep(m->clip), &imgs[i], image_size, &pixels, &S);
    if (!st)
      st = clip_encode_images(m->clip, pixels, 1, S, NULL, NULL, NULL,
                              out + (size_t)i * (size_t)d.projection_dim);
    free(pixels);
  }
  return st;
}

vlp_status vlp_embed_texts(vlp_model *m, const char *const *texts, int n, float *out) {
  for (int i = 0; i < n; i++)
    if (!texts[i] || !texts[i][0]) return vlp_fail(VLP_ERR_INVALID, "text %d is empty", i + 1);
  if (m->arch == VLP_ARCH_CLIP) return clip_encode_strings(m->clip, texts, n, out);
  vlp_status st = need(m, VLP_ARCH_BLIP_ITM);
  int E = blip_get_dims(m->blip).embed_dim;
  for (int i = 0; i < n && !st; i++) {
    int *ids = NULL, len = 0;
    st = blip_tokenize(m->blip, texts[i], &ids, &len);
    const int *const idv[1] = {ids};
    if (!st) st = blip_encode_texts(m->blip, idv, &len, 1, NULL, out + (size_t)i * (size_t)E);
    free(ids);
  }
  return st;
}

vlp_status vlp_tag_scores(const vlp_model *m, const float *image_embed, const float *label_embeds,
                          int L, float *scores) {
  vlp_status st = need(m, VLP_ARCH_CLIP);
  if (st) return st;
  clip_tag(m->clip, label_embeds, L, image_embed, 1, scores);
  return VLP_OK;
}
