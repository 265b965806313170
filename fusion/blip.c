/* blip: loading a BLIP model folder and running its task (see blip.h): captioning,
 * ITM / ITC retrieval and VQA on top of the ViT image tower and the BERT text model. */
#include "fusion/blip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/json.h"
#include "core/ops.h"
#include "core/weights.h"

struct blip_model {
  blip_task task;
  vit_config vc;
  bert_config tc;
  int E; /* image_text_hidden_size */
  int bos, eos, pad;
  vlp_weights *w;
  vit_model *vit;
  bert_model *enc;                /* text_encoder (retrieval, vqa) */
  bert_model *dec;                /* text_decoder (caption, vqa) */
  const float *vproj_w, *vproj_b; /* (E, Dv), (E) */
  const float *tproj_w, *tproj_b; /* (E, Dt), (E) */
  const float *itm_w, *itm_b;     /* (2, Dt), (2) */
  vlp_tokenizer *tok;
  prep_config prep;
};

/* ---- loading ----------------------------------------------------------------------- */

static vlp_status read_arch(const cJSON *root, const char *path, blip_task *task) {
  const char *a = json_architecture(root);
  if (!a)
    return vlp_fail(VLP_ERR_MODEL, "%s: no \"architectures\" list naming the model class", path);
  if (!strcmp(a, "BlipForConditionalGeneration"))
    *task = BLIP_CAPTION;
  else if (!strcmp(a, "BlipForImageTextRetrieval"))
    *task = BLIP_RETRIEVAL;
  else if (!strcmp(a, "BlipForQuestionAnswering"))
    *task = BLIP_VQA;
  else
    return vlp_fail(VLP_ERR_UNSUPPORTED,
                    "%s: architecture \"%s\" is not a BLIP model vlp supports "
                    "(BlipForConditionalGeneration, BlipForImageTextRetrieval, "
                    "BlipForQuestionAnswering)",
                    path, a);
  return VLP_OK;
}

static vlp_status read_config(blip_model *m, const char *dir) {
  char path[4096];
  cJSON *root = NULL;
  vlp_status st = json_load_config(dir, path, sizeof path, &root);
  if (st) return st;
  const cJSON *tcj = json_obj(root, "text_config"), *vcj = json_obj(root, "vision_config");
  st = read_arch(root, path, &m->task);
  if (!st) st = vit_config_from_json(vcj, VIT_BLIP, path, &m->vc);
  if (!st) st = bert_config_from_json(tcj, path, &m->tc);
  if (!st) {
    m->E = json_int(root, "image_text_hidden_size", 256);
    m->bos = json_int(tcj, "bos_token_id", 30522);
    m->eos = json_int(tcj, "sep_token_id", 102);
    m->pad = json_int(tcj, "pad_token_id", 0);
    int V = m->tc.vocab;
    if (m->E <= 0 || m->E > (1 << 24))
      st = vlp_fail(VLP_ERR_MODEL, "%s: image_text_hidden_size %d is out of range", path, m->E);
    else if (m->bos < 0 || m->bos >= V || m->eos < 0 || m->eos >= V || m->pad < 0 || m->pad >= V)
      st = vlp_fail(VLP_ERR_MODEL,
                    "%s: text_config bos_token_id %d / sep_token_id %d / pad_token_id %d "
                    "outside the vocabulary (%d)",
                    path, m->bos, m->eos, m->pad, V);
    else if (m->tc.encoder_hidden != m->vc.hidden)
      st = vlp_fail(VLP_ERR_MODEL,
                    "%s: text_config.encoder_hidden_size %d differs from vision_config.hidden_size "
                    "%d (the text model cross-attends to the image)",
                    path, m->tc.encoder_hidden, m->vc.hidden);
    else if (m->task == BLIP_VQA && m->tc.encoder_hidden != m->tc.hidden)
      st = vlp_fail(VLP_ERR_MODEL,
                    "%s: text_config.encoder_hidden_size %d differs from text_config.hidden_size "
                    "%d (the VQA answer decoder cross-attends to the question encoder)",
                    path, m->tc.encoder_hidden, m->tc.hidden);
  }
  cJSON_Delete(root);
  return st;
}

static vlp_status need_cross(const bert_model *b, const char *dir, const char *prefix) {
  if (bert_has_cross(b)) return VLP_OK;
  return vlp_fail(
      VLP_ERR_MODEL,
      "%s/model.safetensors: missing tensor %sencoder.layer.0.crossattention.self.query.weight "
      "(the BLIP text model needs cross-attention)",
      dir, prefix);
}

static vlp_status bind_lin(vlp_weights *w, const char *name, int out, int in, const float **W,
                           const float **b) {
  char n[256];
  snprintf(n, sizeof n, "%s.weight", name);
  vlp_status st = weights_f32(w, n, W, 2, out, in);
  if (st) return st;
  snprintf(n, sizeof n, "%s.bias", name);
  return weights_f32(w, n, b, 1, out);
}

vlp_status blip_load(const char *dir, blip_model **out) {
  return blip_load_parts(dir, VLP_LOAD_ALL, out);
}

vlp_status blip_load_parts(const char *dir, unsigned parts, blip_model **out) {
  *out = NULL;
  blip_model *m = calloc(1, sizeof *m);
  if (!m) return vlp_fail(VLP_ERR_NOMEM, "blip: out of memory");
  /* A part left out is not bound, so weights_prepare_linears does not pack it either. */
  int vision = (parts & VLP_LOAD_VISION) != 0, text = (parts & VLP_LOAD_TEXT) != 0;
  vlp_status st = read_config(m, dir);
  if (!st) st = weights_open(dir, &m->w);
  if (!st && vision) st = vit_load(m->w, "vision_model.", &m->vc, &m->vit);
  if (!st && text && m->task != BLIP_CAPTION) {
    st = bert_load(m->w, "text_encoder.", NULL, &m->tc, &m->enc);
    if (!st) st = need_cross(m->enc, dir, "text_encoder.");
  }
  if (!st && text && m->task != BLIP_RETRIEVAL) {
    st = bert_load(m->w, "text_decoder.bert.", "text_decoder.cls.", &m->tc, &m->dec);
    if (!st) st = need_cross(m->dec, dir, "text_decoder.bert.");
  }
  if (!st && vision && m->task == BLIP_RETRIEVAL)
    st = bind_lin(m->w, "vision_proj", m->E, m->vc.hidden, &m->vproj_w, &m->vproj_b);
  if (!st && text && m->task == BLIP_RETRIEVAL) {
    st = bind_lin(m->w, "text_proj", m->E, m->tc.hidden, &m->tproj_w, &m->tproj_b);
    if (!st) st = bind_lin(m->w, "itm_head", 2, m->tc.hidden, &m->itm_w, &m->itm_b);
  }
  if (!st) st = tok_load(dir, &m->tok);
  if (!st && tok_kind_of(m->tok) != TOK_BERT)
    st = vlp_fail(VLP_ERR_MODEL, "%s: BLIP needs a BERT vocab.txt tokenizer", dir);
  if (!st && tok_vocab_size(m->tok) != m->tc.vocab)
    st = vlp_fail(VLP_ERR_MODEL,
                  "%s/vocab.txt: the tokenizer has %d tokens (with added_tokens.json) but "
                  "config.json text_config.vocab_size is %d",
                  dir, tok_vocab_size(m->tok), m->tc.vocab);
  if (!st) st = prep_config_load(dir, &m->prep);
  if (st) {
    blip_free(m);
    return st;
  }
  *out = m;
  return VLP_OK;
}

void blip_free(blip_model *m) {
  if (!m) return;
  bert_free(m->enc);
  bert_free(m->dec);
  vit_free(m->vit);
  tok_free(m->tok);
  weights_close(m->w);
  free(m);
}

blip_task blip_task_of(const blip_model *m) {
  return m->task;
}

const char *blip_task_name(blip_task t) {
  switch (t) {
    case BLIP_CAPTION:
      return "caption";
    case BLIP_RETRIEVAL:
      return "retrieval";
    case BLIP_VQA:
      return "vqa";
  }
  return "?";
}

blip_dims blip_get_dims(const blip_model *m) {
  blip_dims d = {.task = m->task,
                 .vision_hidden = m->vc.hidden,
                 .text_hidden = m->tc.hidden,
                 .embed_dim = m->task == BLIP_RETRIEVAL ? m->E : 0,
                 .vocab = m->tc.vocab,
                 .image_size = m->vc.image_size,
                 .patch_size = m->vc.patch_size,
                 .max_text_len = m->tc.max_pos,
                 .bos_id = m->bos,
                 .eos_id = m->eos,
                 .pad_id = m->pad};
  return d;
}

const vlp_tokenizer *blip_tokenizer(const blip_model *m) {
  return m->tok;
}
vlp_weights *blip_weights(const blip_model *m) {
  return m->w;
}
vlp_status blip_prepare_greedy(blip_model *m, size_t *bytes) {
  if (bytes) *bytes = 0;
  return m->dec ? bert_prepare_greedy(m->dec, bytes) : VLP_OK;
}

const prep_config *blip_prep(const blip_model *m) {
  return &m->prep;
}
int blip_vision_tokens(const blip_model *m, int S) {
  return m->vit ? vit_tokens(m->vit, S) : 0;
}
size_t blip_vision_ws_bytes(const blip_model *m, int B, int S) {
  return m->vit ? vit_workspace_bytes(m->vit, B, S) : 0;
}

gen_params blip_gen_params(const blip_model *m, int num_beams) {
  gen_params p = gen_default_params();
  p.num_beams = num_beams < 1 ? 1 : num_beams;
  p.max_length = 20;
  p.min_length = 0;
  p.repetition_penalty = 1.0f;
  p.length_penalty = 1.0f;
  p.early_stopping = 0;
  p.eos_id = m->eos;
  p.pad_id = m->pad;
  return p;
}

/* ---- helpers ----------------------------------------------------------------------- */

static vlp_status task_is(const blip_model *m, blip_task t, const char *fn) {
  if (m->task == t) return VLP_OK;
  return vlp_fail(VLP_ERR_INVALID, "%s: needs a %s model, this one is a %s model", fn,
                  blip_task_name(t), blip_task_name(m->task));
}

/* task_is, and the text encoder / decoder were loaded (blip_load_parts). */
static vlp_status text_task_is(const blip_model *m, blip_task t, const char *fn) {
  vlp_status st = task_is(m, t, fn);
  if (!st && !m->enc && !m->dec)
    st = vlp_fail(VLP_ERR_INVALID, "%s: model loaded without its text encoder and decoder", fn);
  return st;
}

static void *alloc_floats(size_t a, size_t b, size_t c) {
  if (!a || !b || !c) return NULL;
  if (a > SIZE_MAX / b || a * b > SIZE_MAX / c / sizeof(float)) return NULL;
  return malloc(a * b * c * sizeof(float));
}

/* Pad B texts to Tmax: ids (B, Tmax) (pad id), mask (B, Tmax) of 0/1. */
static vlp_status pad_texts(const blip_model *m, const int *const *ids, const int *lens, int B,
                            int **pids, int **pmask, int *Tmax) {
  int T = 0;
  if (B <= 0) return vlp_fail(VLP_ERR_INVALID, "blip: no texts");
  for (int b = 0; b < B; b++) {
    if (lens[b] <= 0) return vlp_fail(VLP_ERR_INVALID, "blip: text %d is empty", b);
    if (lens[b] > m->tc.max_pos)
      return vlp_fail(VLP_ERR_INVALID, "blip: text %d has %d tokens, more than %d", b, lens[b],
                      m->tc.max_pos);
    if (lens[b] > T) T = lens[b];
  }
  size_t n = (size_t)B * T;
  int *i = malloc(n * sizeof(int)), *k = malloc(n * sizeof(int));
  if (!i || !k) {
    free(i), free(k);
    return vlp_fail(VLP_ERR_NOMEM, "blip: out of memory");
  }
  for (int b = 0; b < B; b++)
    for (int t = 0; t < T; t++) {
      i[(size_t)b * T + t] = t < lens[b] ? ids[b][t] : m->pad;
      k[(size_t)b * T + t] = t < lens[b];
    }
  *pids = i, *pmask = k, *Tmax = T;
  return VLP_OK;
}

/* feat (B, E) = normalize(W x[b * stride] + b). */
static void project_rows(const float *x, size_t stride, int B, int in, const float *W,
                         const float *bias, int E, float *row_buf, float *feat) {
  for (int b = 0; b < B; b++)
    memcpy(row_buf + (size_t)b * in, x + b * stride, (size_t)in * sizeof(float));
  op_linear(feat, row_buf, W, bias, B, in, E);
  op_l2_normalize(feat, B, E);
}

/* ---- vision ------------------------------------------------------------------------ */

vlp_status blip_encode_images(const blip_model *m, vlp_ws *ws, const float *pixels, int B, int S,
                              float *image_embeds, float *pooled) {
  if (!m->vit) return vlp_fail(VLP_ERR_INVALID, "blip: model loaded without its vision tower");
  vlp_status st = vit_forward(m->vit, ws, pixels, B, S, image_embeds);
  if (st) return st;
  if (pooled) vit_pool(m->vit, image_embeds, B, vit_tokens(m->vit, S), pooled);
  return VLP_OK;
}

/* ---- decoding (caption and VQA answers) -------------------------------------------- */

typedef struct {
  const bert_model *dec;
  bert_cache *cache;
  int N;
  const gen_params *p; /* for on_step */
  int len, max_len;    /* tokens fed so far, the cache's capacity */
} dec_ctx;

/* Before a step: the progress callback, the rows' check. */
static vlp_status dec_begin(dec_ctx *d, int N, int T) {
  if (d->p->on_step && d->p->on_step(d->p->step_ctx, d->len, d->max_len))
    return vlp_fail(VLP_ERR_CANCELLED, "cancelled");
  d->len += T;
  if (N != d->N)
    return vlp_fail(VLP_ERR_INVALID, "blip: decoder stepped with %d rows, cache has %d", N, d->N);
  return VLP_OK;
}

static vlp_status dec_step(void *ctx, const int *ids, int N, int T, float *logits) {
  dec_ctx *d = ctx;
  vlp_status st = dec_begin(d, N, T);
  return st ? st : bert_cache_step(d->dec, d->cache, ids, T, logits);
}

static vlp_status dec_step_bounds(void *ctx, const int *ids, int N, int T, float *est, float *rad) {
  dec_ctx *d = ctx;
  vlp_status st = dec_begin(d, N, T);
  return st ? st : bert_cache_step_bounds(d->dec, d->cache, ids, T, est, rad);
}

static void dec_exact(void *ctx, int row, const int *ids, int n, float *out) {
  dec_ctx *d = ctx;
  bert_cache_exact_logits(d->dec, d->cache, row, ids, n, out);
}

static vlp_status dec_draft(void *ctx, const int *seq, int len, float *logits) {
  dec_ctx *d = ctx;
  return bert_cache_draft(d->dec, d->cache, seq, len, logits);
}

static vlp_status dec_verify(void *ctx, const int *ids, int T, float *est, float *rad) {
  dec_ctx *d = ctx;
  vlp_status st = dec_begin(d, 1, T);
  return st ? st : bert_cache_step_bounds_all(d->dec, d->cache, ids, T, est, rad);
}

static void dec_rewind(void *ctx, int len) {
  dec_ctx *d = ctx;
  if (len < d->len) d->len = len;
  bert_cache_rewind(d->cache, len);
}

static void dec_reorder(void *ctx, const int *src, int N) {
  dec_ctx *d = ctx;
  if (N == d->N) bert_cache_reorder(d->cache, src);
}

/* Logits (V) at the last of n decoder input ids, cross-attending to enc (1, Te, De). */
static vlp_status first_logits(const bert_model *dec, vlp_ws *ws, const float *enc, int Te,
                               const int *ids, int n, float *logits) {
  const bert_config *c = bert_cfg(dec);
  if (n <= 0) return vlp_fail(VLP_ERR_INVALID, "blip: no decoder input ids");
  float *h = ws_floats(ws, WS_FUSION, (size_t)n * (size_t)c->hidden);
  if (!h) return VLP_ERR_NOMEM;
  vlp_status st = bert_forward(dec, ws, ids, NULL, 1, n, 1, enc, NULL, Te, h);
  if (!st) st = bert_lm_logits(dec, ws, h + (size_t)(n - 1) * c->hidden, 1, logits);
  return st;
}

/* B encoder items enc (B, Te, De); every sequence starts from prompt (n ids). */
static vlp_status run_generate(const bert_model *dec, vlp_ws *ws, const float *enc, int B, int Te,
                               const int *prompt, int n, const gen_params *p, int **out_seqs,
                               int *out_lens) {
  if (B <= 0 || n <= 0) return vlp_fail(VLP_ERR_INVALID, "blip: nothing to generate from");
  int beams = p->num_beams < 1 ? 1 : p->num_beams;
  if (beams > 4096 || B > (1 << 20) / beams)
    return vlp_fail(VLP_ERR_INVALID, "blip: %d images x %d beams is too many", B, beams);
  int N = B * beams;
  long cap = p->max_new_tokens > 0 ? (long)n + p->max_new_tokens : p->max_length;
  if (cap < n + 1) cap = n + 1;
  if (cap > bert_cfg(dec)->max_pos) cap = bert_cfg(dec)->max_pos;
  int *enc_of_row = malloc((size_t)N * sizeof(int));
  if (!enc_of_row) return vlp_fail(VLP_ERR_NOMEM, "blip: out of memory");
  for (int r = 0; r < N; r++) enc_of_row[r] = r / beams;
  dec_ctx ctx = {.dec = dec, .N = N, .p = p, .len = 0, .max_len = (int)cap};
  /* greedy steps read the LM head's int8 copy (text/bert.h), unless VLP_LM_HEAD=full; one
   * sequence's also guess tokens with the int8 draft, unless VLP_DRAFT=off */
  const char *head = getenv("VLP_LM_HEAD"), *draft = getenv("VLP_DRAFT");
  const int bounds = beams == 1 && !(head && strcmp(head, "full") == 0);
  const int drafts = bounds && N == 1 && !(draft && strcmp(draft, "off") == 0);
  /* the draft's copy (~100 MB for BLIP-base) is made when the session holds no larger
   * batch's buffers (cross-attention K/V of more than two images), which it would add to */
  const bert_config *bc = bert_cfg(dec);
  size_t kv_one = (size_t)bc->layers * 2 * (size_t)Te * (size_t)bc->hidden * sizeof(float);
  if (drafts) bert_prepare_draft(dec, ws_slot_bytes(ws, WS_DECODER) <= 2 * kv_one);
  vlp_status st = bert_cache_new(dec, ws, N, (int)cap, enc, B, Te, enc_of_row, &ctx.cache);
  free(enc_of_row);
  if (st) return st;
  gen_decoder gd = {
      .ctx = &ctx, .vocab = bert_cfg(dec)->vocab, .step = dec_step, .reorder = dec_reorder};
  if (bounds && bert_cache_has_bounds(ctx.cache))
    gd.step_bounds = dec_step_bounds, gd.exact = dec_exact;
  if (drafts && gd.step_bounds && bert_cache_has_draft(ctx.cache))
    gd.draft = dec_draft, gd.verify = dec_verify, gd.rewind = dec_rewind;
  st = generate(p, &gd, prompt, n, B, out_seqs, out_lens);
  bert_cache_free(ctx.cache);
  return st;
}

/* ---- captioning -------------------------------------------------------------------- */

vlp_status blip_caption_prompt_ids(const blip_model *m, const char *prompt, int **ids, int *n) {
  *ids = NULL, *n = 0;
  if (!prompt || !*prompt) {
    int *one = malloc(sizeof(int));
    if (!one) return vlp_fail(VLP_ERR_NOMEM, "blip: out of memory");
    one[0] = m->bos;
    *ids = one, *n = 1;
    return VLP_OK;
  }
  int *t = NULL, k = 0;
  vlp_status st = tok_encode(m->tok, prompt, 0, &t, &k, NULL);
  if (st) return st;
  if (k < 2) {
    free(t);
    return vlp_fail(VLP_ERR_INVALID, "blip: prompt \"%.60s\" did not tokenize to [CLS] .. [SEP]",
                    prompt);
  }
  t[0] = m->bos;        /* [CLS] -> [DEC] */
  *ids = t, *n = k - 1; /* drop the trailing [SEP] */
  return VLP_OK;
}

vlp_status blip_caption_first_logits(const blip_model *m, vlp_ws *ws, const float *image_embeds,
                                     int Ti, const int *ids, int n, float *logits) {
  vlp_status st = text_task_is(m, BLIP_CAPTION, "blip_caption_first_logits");
  if (st) return st;
  return first_logits(m->dec, ws, image_embeds, Ti, ids, n, logits);
}

vlp_status blip_caption_generate(const blip_model *m, vlp_ws *ws, const float *image_embeds, int B,
                                 int Ti, const int *ids, int n, const gen_params *p, int **out_seqs,
                                 int *out_lens) {
  vlp_status st = text_task_is(m, BLIP_CAPTION, "blip_caption_generate");
  if (st) return st;
  return run_generate(m->dec, ws, image_embeds, B, Ti, ids, n, p, out_seqs, out_lens);
}

/* ---- retrieval --------------------------------------------------------------------- */

vlp_status blip_tokenize(const blip_model *m, const char *text, int **ids, int *n) {
  return tok_encode(m->tok, text, m->tc.max_pos, ids, n, NULL);
}

vlp_status blip_encode_texts(const blip_model *m, vlp_ws *ws, const int *const *ids,
                             const int *lens, int B, float *last_hidden, float *text_feat) {
  vlp_status st = text_task_is(m, BLIP_RETRIEVAL, "blip_encode_texts");
  if (st) return st;
  int *pids = NULL, *pmask = NULL, T = 0, D = m->tc.hidden;
  st = pad_texts(m, ids, lens, B, &pids, &pmask, &T);
  if (st) return st;
  float *h = last_hidden ? last_hidden : ws_floats(ws, WS_FUSION, (size_t)B * T * (size_t)D);
  float *rows = alloc_floats((size_t)B, (size_t)D, 1);
  if (!h || !rows) {
    st = vlp_fail(VLP_ERR_NOMEM, "blip: out of memory");
  } else {
    st = bert_forward(m->enc, ws, pids, pmask, B, T, 0, NULL, NULL, 0, h);
    if (!st && text_feat)
      project_rows(h, (size_t)T * D, B, D, m->tproj_w, m->tproj_b, m->E, rows, text_feat);
  }
  free(rows), free(pids), free(pmask);
  return st;
}

vlp_status blip_image_feat(const blip_model *m, const float *image_embeds, int B, int Ti,
                           float *image_feat) {
  vlp_status st = task_is(m, BLIP_RETRIEVAL, "blip_image_feat");
  if (st) return st;
  if (!m->vproj_w)
    return vlp_fail(VLP_ERR_INVALID, "blip_image_feat: model loaded without its vision tower");
  int Dv = m->vc.hidden;
  float *rows = alloc_floats((size_t)B, (size_t)Dv, 1);
  if (!rows) return vlp_fail(VLP_ERR_NOMEM, "blip: out of memory");
  project_rows(image_embeds, (size_t)Ti * Dv, B, Dv, m->vproj_w, m->vproj_b, m->E, rows,
               image_feat);
  free(rows);
  return VLP_OK;
}

vlp_status blip_itm(const blip_model *m, vlp_ws *ws, const float *image_embeds, int Ti,
                    const int *const *ids, const int *lens, int B, float *logits, float *prob,
                    float *cls) {
  vlp_status st = text_task_is(m, BLIP_RETRIEVAL, "blip_itm");
  if (st) return st;
  int *pids = NULL, *pmask = NULL, T = 0, D = m->tc.hidden;
  st = pad_texts(m, ids, lens, B, &pids, &pmask, &T);
  if (st) return st;
  float *h = ws_floats(ws, WS_FUSION, (size_t)B * T * (size_t)D);
  float *rows = alloc_floats((size_t)B, (size_t)D, 1);
  float *lg = alloc_floats((size_t)B, 2, 1);
  if (!h || !rows || !lg) {
    st = vlp_fail(VLP_ERR_NOMEM, "blip: out of memory");
  } else {
    st = bert_forward(m->enc, ws, pids, pmask, B, T, 0, image_embeds, NULL, Ti, h);
  }
  if (!st) {
    for (int b = 0; b < B; b++)
      memcpy(rows + (size_t)b * D, h + (size_t)b * T * D, (size_t)D * sizeof(float));
    if (cls) memcpy(cls, rows, (size_t)B * D * sizeof(float));
    op_linear(lg, rows, m->itm_w, m->itm_b, B, D, 2);
    if (logits) memcpy(logits, lg, (size_t)B * 2 * sizeof(float));
    op_softmax(lg, B, 2);
    if (prob)
      for (int b = 0; b < B; b++) prob[b] = lg[2 * b + 1];
  }
  free(rows), free(lg), free(pids), free(pmask);
  return st;
}

/* ---- VQA --------------------------------------------------------------------------- */

vlp_status blip_vqa_encode_question(const blip_model *m, vlp_ws *ws, const float *image_embeds,
                                    int Ti, const int *ids, int T, float *question_embeds) {
  vlp_status st = text_task_is(m, BLIP_VQA, "blip_vqa_encode_question");
  if (st) return st;
  return bert_forward(m->enc, ws, ids, NULL, 1, T, 0, image_embeds, NULL, Ti, question_embeds);
}

vlp_status blip_vqa_first_logits(const blip_model *m, vlp_ws *ws, const float *question_embeds,
                                 int T, float *logits) {
  vlp_status st = text_task_is(m, BLIP_VQA, "blip_vqa_first_logits");
  if (st) return st;
  return first_logits(m->dec, ws, question_embeds, T, &m->bos, 1, logits);
}

vlp_status blip_vqa_generate(const blip_model *m, vlp_ws *ws, const float *question_embeds, int B,
                             int T, const gen_params *p, int **out_seqs, int *out_lens) {
  vlp_status st = text_task_is(m, BLIP_VQA, "blip_vqa_generate");
  if (st) return st;
  return run_generate(m->dec, ws, question_embeds, B, T, &m->bos, 1, p, out_seqs, out_lens);
}
