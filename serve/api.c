/* api: the /v1 endpoints: caption, vqa, itm, tag, embeddings, search. Each one checks its
 * inputs on the HTTP thread (a 4xx right away), then hands a job to the workers. */
#include "api.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void free_images(vlp_image *imgs, int n) {
  for (int i = 0; i < n; i++) vlp_image_free(&imgs[i]);
  free(imgs);
}

static const char *arch_list(unsigned mask, char *buf, size_t size) {
  buf[0] = 0;
  for (int a = 0; a < 16; a++) {
    if (!(mask & (1u << a))) continue;
    size_t len = strlen(buf);
    snprintf(buf + len, size - len, "%s%s", len ? " or " : "", vlp_arch_name((vlp_arch)a));
  }
  return buf;
}

srv_model *pick_model(request *r, form *f, unsigned mask, const char *task) {
  int bad = 0;
  const char *name = form_str(f, "model", &bad);
  char archs[256];
  if (bad) return NULL;
  srv_model *m;
  if (name) {
    m = find_model(r->srv, name);
    if (!m) {
      reply_error(&r->rep, 404, "unknown model '%.100s' (GET /v1/models lists the loaded ones)",
                  name);
      return NULL;
    }
    if (!(mask & (1u << m->arch))) {
      reply_error(&r->rep, 400, "model '%s' is a %s; %s needs %s", m->name, vlp_arch_name(m->arch),
                  task, arch_list(mask, archs, sizeof archs));
      return NULL;
    }
    return m;
  }
  m = default_model(r->srv, mask);
  if (!m)
    reply_error(&r->rep, 400, "no loaded model does %s (it needs %s)", task,
                arch_list(mask, archs, sizeof archs));
  return m;
}

srv_index *pick_index(request *r, form *f, const char *key) {
  int bad = 0;
  const char *name = form_str(f, key, &bad);
  if (bad) return NULL;
  if (!r->srv->n_indexes) {
    reply_error(&r->rep, 404, "no index is loaded (start vlp serve with --index DIR)");
    return NULL;
  }
  if (!name) return r->srv->indexes[0];
  srv_index *x = find_index(r->srv, name);
  if (!x) reply_error(&r->rep, 404, "unknown index '%.100s' (GET /v1/indexes lists them)", name);
  return x;
}

static void submit_or_free(request *r, job *j) {
  if (!j) {
    reply_error(&r->rep, 503, "out of memory");
    return;
  }
  job_submit(r->srv, r, j);
}

static int need_images(request *r, form *f, vlp_image **imgs, const char *task) {
  int n = form_images(f, imgs);
  if (n == 0)
    reply_error(&r->rep, 400,
                "%s needs an image: a multipart file, the raw bytes, \"image\": BASE64 or "
                "{\"id\": N} of an indexed image",
                task);
  return n > 0 ? n : -1;
}

/* ---- caption ------------------------------------------------------------------------ */

static void write_text_result(sbuf *b, const vlp_text_result *t, const char *key) {
  sb_printf(b, "\"%s\": ", key);
  sb_json_str(b, t->text ? t->text : "");
  sb_puts(b, ", \"tokens\": ");
  sb_json_ints(b, t->ids, t->n_ids);
}

static void caption_finish(job *j, worker *w) {
  (void)w;
  sbuf b = {0};
  sb_puts(&b, "{\"model\": ");
  sb_json_str(&b, j->model->name);
  sb_puts(&b, ", \"data\": [");
  for (int i = 0; i < j->n; i++) {
    sb_printf(&b, "%s{\"index\": %d, ", i ? ", " : "", i);
    write_text_result(&b, &j->caps[i], "caption");
    sb_puts(&b, "}");
  }
  sb_puts(&b, "]}");
  reply_json(&j->rep, 200, &b);
}

/* Generation options of a request into j->gen; -1 with r->rep set. */
static int gen_options(request *r, form *f, job *j) {
  int bad = 0;
  vlp_gen_params *p = &j->gen;
  const char *prompt = form_str(f, "prompt", &bad);
  p->num_beams = form_int(f, "beams", 1, 16, p->num_beams, &bad);
  p->max_length = form_int(f, "max_length", 1, 512, p->max_length, &bad);
  p->max_new_tokens = form_int(f, "max_new_tokens", 0, 512, p->max_new_tokens, &bad);
  p->min_length = form_int(f, "min_length", 0, 512, p->min_length, &bad);
  p->repetition_penalty =
      (float)form_num(f, "repetition_penalty", 0.01, 100, p->repetition_penalty, &bad);
  p->length_penalty = (float)form_num(f, "length_penalty", -10, 10, p->length_penalty, &bad);
  if (bad) return -1;
  if (prompt && prompt[0]) {
    if (!(j->prompt = strdup(prompt))) {
      reply_error(&r->rep, 503, "out of memory");
      return -1;
    }
  }
  p->prompt = j->prompt;
  return 0;
}

void h_caption(request *r, form *f) {
  srv_model *m = pick_model(r, f, ARCH_BIT(VLP_ARCH_BLIP_CAPTION), "captioning");
  if (!m) return;
  job *j = job_new(K_CAPTION, m);
  if (!j) return submit_or_free(r, NULL);
  if (gen_options(r, f, j) || (j->n = need_images(r, f, &j->imgs, "captioning")) < 0) {
    j->n = 0;
    job_free(j);
    return;
  }
  j->finish = caption_finish;
  submit_or_free(r, j);
}

/* ---- vqa ---------------------------------------------------------------------------- */

static void vqa_run(job *j, worker *w) {
  j->caps = calloc(1, sizeof *j->caps);
  j->st =
      j->caps ? eng_vqa(w, j->model, &j->imgs[0], j->texts[0], &j->gen, j->caps) : VLP_ERR_NOMEM;
  if (j->st) snprintf(j->err, sizeof j->err, "%s", vlp_last_error());
}

static void vqa_finish(job *j, worker *w) {
  (void)w;
  sbuf b = {0};
  sb_puts(&b, "{\"model\": ");
  sb_json_str(&b, j->model->name);
  sb_puts(&b, ", \"question\": ");
  sb_json_str(&b, j->texts[0]);
  sb_puts(&b, ", ");
  write_text_result(&b, &j->caps[0], "answer");
  sb_puts(&b, "}");
  reply_json(&j->rep, 200, &b);
}

void h_vqa(request *r, form *f) {
  srv_model *m = pick_model(r, f, ARCH_BIT(VLP_ARCH_BLIP_VQA), "question answering");
  if (!m) return;
  int bad = 0;
  const char *q = form_str(f, "question", &bad);
  if (bad) return;
  if (!q || !q[0]) return reply_error(&r->rep, 400, "\"question\" (a non-empty string) is missing");
  job *j = job_new(K_CUSTOM, m);
  if (!j) return submit_or_free(r, NULL);
  vlp_image *imgs = NULL;
  int n = -1;
  if (gen_options(r, f, j) || (n = need_images(r, f, &imgs, "question answering")) < 0) {
    job_free(j);
    return;
  }
  if (n != 1) {
    free_images(imgs, n);
    job_free(j);
    return reply_error(&r->rep, 400, "question answering takes one image, not %d", n);
  }
  j->imgs = imgs;
  j->texts = calloc(1, sizeof *j->texts);
  if (!j->texts || !(j->texts[0] = strdup(q))) {
    j->n = 1;
    job_free(j);
    return reply_error(&r->rep, 503, "out of memory");
  }
  j->n = 1;
  j->run = vqa_run;
  j->finish = vqa_finish;
  submit_or_free(r, j);
}

/* ---- texts of a request: "text" or "texts" / "labels" ---------------------------------- */

/* A JSON array of strings, a JSON string, or a form / query string split at commas (when
 * split is set). Returns the count (0 when absent) or -1 with r->rep set. */
static int form_texts(request *r, form *f, const char *key, int split, char ***out) {
  int max = r->srv->o.max_inputs, n = 0, bad = 0;
  *out = NULL;
  const cJSON *v = f->json ? cJSON_GetObjectItemCaseSensitive(f->json, key) : NULL;
  char **t = calloc((size_t)max, sizeof *t);
  if (!t) {
    reply_error(&r->rep, 503, "out of memory");
    return -1;
  }
  if (v && cJSON_IsArray(v)) {
    const cJSON *e;
    cJSON_ArrayForEach(e, v) {
      if (!cJSON_IsString(e)) {
        reply_error(&r->rep, 400, "\"%s\" must be an array of strings", key);
        bad = 1;
        break;
      }
      if (n == max) {
        reply_error(&r->rep, 413, "more than %d entries in \"%s\"", max, key);
        bad = 1;
        break;
      }
      if (!(t[n++] = strdup(e->valuestring))) bad = 1;
    }
  } else {
    const char *s = form_str(f, key, &bad);
    while (s && !bad) {
      const char *c = split ? strchr(s, ',') : NULL;
      size_t len = c ? (size_t)(c - s) : strlen(s);
      while (split && len && *s == ' ') s++, len--;
      while (split && len && s[len - 1] == ' ') len--;
      if (len || !split) {
        if (n == max) {
          reply_error(&r->rep, 413, "more than %d entries in \"%s\"", max, key);
          bad = 1;
          break;
        }
        if (!(t[n++] = strndup(s, len))) bad = 1;
      }
      s = c ? c + 1 : NULL;
    }
  }
  if (bad) {
    if (!r->rep.status) reply_error(&r->rep, 503, "out of memory");
    for (int i = 0; i < n; i++) free(t[i]);
    free(t);
    return -1;
  }
  if (!n) free(t);
  *out = n ? t : NULL;
  return n;
}

static void free_texts(char **t, int n) {
  for (int i = 0; i < n; i++) free(t[i]);
  free(t);
}

/* ---- itm ---------------------------------------------------------------------------- */

typedef struct {
  float *itm, *itc;
  char **texts;
  int n;
} itm_ctx;

static void itm_ctx_free(void *p) {
  itm_ctx *c = p;
  if (!c) return;
  free(c->itm);
  free(c->itc);
  free_texts(c->texts, c->n);
  free(c);
}

static void itm_run(job *j, worker *w) {
  itm_ctx *c = j->ctx;
  j->st = eng_itm(w, j->model, &j->imgs[0], (const char *const *)c->texts, c->n, c->itm, c->itc);
  if (j->st) snprintf(j->err, sizeof j->err, "%s", vlp_last_error());
}

static void itm_finish(job *j, worker *w) {
  (void)w;
  itm_ctx *c = j->ctx;
  sbuf b = {0};
  sb_puts(&b, "{\"model\": ");
  sb_json_str(&b, j->model->name);
  sb_puts(&b, ", \"data\": [");
  for (int i = 0; i < c->n; i++) {
    sb_printf(&b, "%s{\"index\": %d, \"text\": ", i ? ", " : "", i);
    sb_json_str(&b, c->texts[i]);
    sb_puts(&b, ", \"itm\": ");
    sb_json_float(&b, c->itm[i]);
    sb_puts(&b, ", \"itc\": ");
    sb_json_float(&b, c->itc[i]);
    sb_puts(&b, "}");
  }
  sb_puts(&b, "]}");
  reply_json(&j->rep, 200, &b);
}

void h_itm(request *r, form *f) {
  srv_model *m = pick_model(r, f, ARCH_BIT(VLP_ARCH_BLIP_ITM), "image-text matching");
  if (!m) return;
  char **texts = NULL;
  int nt = form_texts(r, f, "texts", 0, &texts);
  if (nt == 0) nt = form_texts(r, f, "text", 0, &texts);
  if (nt < 0) return;
  if (nt == 0) return reply_error(&r->rep, 400, "\"text\" or \"texts\" is missing");
  vlp_image *imgs = NULL;
  int n = need_images(r, f, &imgs, "image-text matching");
  if (n != 1) {
    if (n > 1) reply_error(&r->rep, 400, "image-text matching takes one image, not %d", n);
    free_images(imgs, n > 0 ? n : 0);
    free_texts(texts, nt);
    return;
  }
  job *j = job_new(K_CUSTOM, m);
  itm_ctx *c = calloc(1, sizeof *c);
  if (!j || !c || !(c->itm = calloc((size_t)nt, sizeof(float))) ||
      !(c->itc = calloc((size_t)nt, sizeof(float)))) {
    if (c) c->texts = texts, c->n = nt;
    itm_ctx_free(c);
    free_images(imgs, 1);
    job_free(j);
    return reply_error(&r->rep, 503, "out of memory");
  }
  c->texts = texts;
  c->n = nt;
  j->imgs = imgs;
  j->n = 1;
  j->ctx = c;
  j->ctx_free = itm_ctx_free;
  j->run = itm_run;
  j->finish = itm_finish;
  submit_or_free(r, j);
}

/* ---- tag ---------------------------------------------------------------------------- */

typedef struct {
  char **labels;
  int n;
  char *template; /* NULL: the model's default */
  int top;
  float *scores; /* (images, labels) */
} tag_ctx;

static void tag_ctx_free(void *p) {
  tag_ctx *c = p;
  if (!c) return;
  free_texts(c->labels, c->n);
  free(c->template);
  free(c->scores);
  free(c);
}

typedef struct {
  float score;
  int label;
} scored;

static int by_score(const void *a, const void *b) {
  const scored *x = a, *y = b;
  if (x->score != y->score) return x->score > y->score ? -1 : 1;
  return x->label - y->label;
}

/* The label set (template applied by the library) and the images' scores for it. */
static void tag_run(job *j, worker *w) {
  tag_ctx *c = j->ctx;
  c->scores = malloc((size_t)j->n * (size_t)c->n * sizeof *c->scores);
  j->st = c->scores ? eng_tag(w, j->model, j->imgs, j->n, (const char *const *)c->labels, c->n,
                              c->template, c->scores)
                    : VLP_ERR_NOMEM;
  if (j->st == VLP_ERR_NOMEM)
    snprintf(j->err, sizeof j->err, "out of memory");
  else if (j->st)
    snprintf(j->err, sizeof j->err, "%s", vlp_last_error());
}

static void tag_finish(job *j, worker *w) {
  (void)w;
  tag_ctx *c = j->ctx;
  int L = c->n;
  scored *order = malloc((size_t)L * sizeof *order);
  if (!order) return reply_error(&j->rep, 503, "out of memory");
  sbuf b = {0};
  sb_puts(&b, "{\"model\": ");
  sb_json_str(&b, j->model->name);
  sb_puts(&b, ", \"data\": [");
  for (int i = 0; i < j->n; i++) {
    for (int l = 0; l < L; l++) order[l] = (scored){c->scores[(size_t)i * L + l], l};
    qsort(order, (size_t)L, sizeof *order, by_score);
    sb_printf(&b, "%s{\"index\": %d, \"tags\": [", i ? ", " : "", i);
    int top = c->top > 0 && c->top < L ? c->top : L;
    for (int l = 0; l < top; l++) {
      sb_puts(&b, l ? ", {\"label\": " : "{\"label\": ");
      sb_json_str(&b, c->labels[order[l].label]);
      sb_puts(&b, ", \"score\": ");
      sb_json_float(&b, order[l].score);
      sb_puts(&b, "}");
    }
    sb_puts(&b, "]}");
  }
  sb_puts(&b, "]}");
  reply_json(&j->rep, 200, &b);
  free(order);
}

void h_tag(request *r, form *f) {
  srv_model *m =
      pick_model(r, f, ARCH_BIT(VLP_ARCH_CLIP) | ARCH_BIT(VLP_ARCH_SIGLIP), "zero-shot tagging");
  if (!m) return;
  int bad = 0;
  const char *tmpl = form_str(f, "template", &bad);
  int top = form_int(f, "top", 0, 100000, 0, &bad);
  if (bad) return;
  char **labels = NULL;
  int nl = form_texts(r, f, "labels", 1, &labels);
  if (nl < 0) return;
  if (nl == 0) return reply_error(&r->rep, 400, "\"labels\" is missing (an array of strings)");
  for (int i = 0; i < nl; i++)
    if (!labels[i][0]) {
      free_texts(labels, nl);
      return reply_error(&r->rep, 400, "label %d is empty", i);
    }
  vlp_image *imgs = NULL;
  int n = need_images(r, f, &imgs, "tagging");
  job *j = n > 0 ? job_new(K_CUSTOM, m) : NULL;
  tag_ctx *c = j ? calloc(1, sizeof *c) : NULL;
  if (c) {
    c->labels = labels;
    c->n = nl;
    c->top = top;
    c->template = tmpl ? strdup(tmpl) : NULL;
  }
  if (!c || (tmpl && !c->template)) {
    if (n > 0) reply_error(&r->rep, 503, "out of memory");
    if (c)
      tag_ctx_free(c);
    else
      free_texts(labels, nl);
    free_images(imgs, n > 0 ? n : 0);
    job_free(j);
    return;
  }
  j->imgs = imgs;
  j->n = n;
  j->ctx = c;
  j->ctx_free = tag_ctx_free;
  j->run = tag_run;
  j->finish = tag_finish;
  submit_or_free(r, j);
}

/* ---- embeddings (OpenAI style) -------------------------------------------------------- */

typedef struct {
  int base64;
  int tokens;
  /* the inputs, texts and images apart; is_image[i] tells which kind input i is */
  char **texts;
  vlp_image *imgs;
  int nt, ni;
  unsigned char *is_image;
} embed_ctx;

static void embed_ctx_free(void *p) {
  embed_ctx *c = p;
  if (!c) return;
  free_texts(c->texts, c->nt);
  free_images(c->imgs, c->ni);
  free(c->is_image);
  free(c);
}

/* A list mixing texts and images: both towers, the embeddings put back in input order. */
static void embed_mixed_run(job *j, worker *w) {
  embed_ctx *c = j->ctx;
  size_t dim = (size_t)j->model->dim;
  float *te = malloc((size_t)c->nt * dim * sizeof *te);
  float *ie = malloc((size_t)c->ni * dim * sizeof *ie);
  j->emb = malloc((size_t)j->n * dim * sizeof *j->emb);
  j->st = te && ie && j->emb ? VLP_OK : VLP_ERR_NOMEM;
  if (!j->st) j->st = eng_embed_texts(w, j->model, (const char *const *)c->texts, c->nt, te);
  if (!j->st) j->st = eng_embed_images(w, j->model, c->imgs, c->ni, ie);
  if (j->st == VLP_ERR_NOMEM)
    snprintf(j->err, sizeof j->err, "out of memory");
  else if (j->st)
    snprintf(j->err, sizeof j->err, "%s", vlp_last_error());
  for (int i = 0, t = 0, m = 0; i < j->n && !j->st; i++) {
    const float *src = c->is_image[i] ? ie + (size_t)m++ * dim : te + (size_t)t++ * dim;
    memcpy(j->emb + (size_t)i * dim, src, dim * sizeof *src);
  }
  free(te);
  free(ie);
}

static void embed_finish(job *j, worker *w) {
  (void)w;
  embed_ctx *c = j->ctx;
  int dim = j->model->dim;
  sbuf b = {0};
  sb_puts(&b, "{\"object\": \"list\", \"data\": [");
  for (int i = 0; i < j->n; i++) {
    sb_printf(&b, "%s{\"object\": \"embedding\", \"index\": %d, \"embedding\": ", i ? ", " : "", i);
    const float *e = j->emb + (size_t)i * dim;
    if (c->base64) {
      sb_puts(&b, "\"");
      sb_base64(&b, (const uint8_t *)e, (size_t)dim * sizeof *e); /* little-endian float32 */
      sb_puts(&b, "\"");
    } else {
      sb_json_floats(&b, e, dim);
    }
    sb_puts(&b, "}");
  }
  sb_puts(&b, "], \"model\": ");
  sb_json_str(&b, j->model->name);
  sb_printf(&b, ", \"usage\": {\"prompt_tokens\": %d, \"total_tokens\": %d}}", c->tokens,
            c->tokens);
  reply_json(&j->rep, 200, &b);
}

/* A JSON "input" array into c: strings are texts, objects images ({"image": BASE64} or
 * {"id": N}). -1 with r->rep set. */
static int embed_list(request *r, form *f, const cJSON *in, embed_ctx *c) {
  int n = cJSON_GetArraySize(in), max = r->srv->o.max_inputs, i = 0;
  if (!n) {
    reply_error(&r->rep, 400, "\"input\" is empty");
    return -1;
  }
  if (n > max) {
    reply_error(&r->rep, 413, "more than %d inputs", max);
    return -1;
  }
  c->texts = calloc((size_t)n, sizeof *c->texts);
  c->imgs = calloc((size_t)n, sizeof *c->imgs);
  c->is_image = calloc((size_t)n, 1);
  if (!c->texts || !c->imgs || !c->is_image) {
    reply_error(&r->rep, 503, "out of memory");
    return -1;
  }
  const cJSON *e;
  cJSON_ArrayForEach(e, in) {
    if (cJSON_IsString(e)) {
      if (!(c->texts[c->nt] = strdup(e->valuestring))) {
        reply_error(&r->rep, 503, "out of memory");
        return -1;
      }
      c->nt++;
    } else if (cJSON_IsObject(e)) {
      if (form_json_image(f, e, i, &c->imgs[c->ni])) return -1;
      c->ni++;
      c->is_image[i] = 1;
    } else {
      reply_error(&r->rep, 400,
                  "input %d must be a string or an image as {\"image\": BASE64} or {\"id\": N} "
                  "(token arrays are not supported)",
                  i);
      return -1;
    }
    i++;
  }
  return 0;
}

void h_embeddings(request *r, form *f) {
  srv_model *m = pick_model(r, f, EMBED_ARCHS, "embeddings");
  if (!m) return;
  int bad = 0;
  const char *fmt = form_str(f, "encoding_format", &bad);
  if (bad) return;
  if (fmt && strcmp(fmt, "float") && strcmp(fmt, "base64"))
    return reply_error(&r->rep, 400, "\"encoding_format\" must be \"float\" or \"base64\"");
  embed_ctx *c = calloc(1, sizeof *c);
  if (!c) return reply_error(&r->rep, 503, "out of memory");
  c->base64 = fmt && !strcmp(fmt, "base64");
  /* "input": a string, or a list of strings and images in any mix; without it, the images
   * of the request (multipart files, the raw body) */
  const cJSON *in = f->json ? cJSON_GetObjectItemCaseSensitive(f->json, "input") : NULL;
  if (in && cJSON_IsArray(in)) {
    if (embed_list(r, f, in, c)) return embed_ctx_free(c);
  } else if (in && !cJSON_IsString(in) && !cJSON_IsNull(in)) {
    embed_ctx_free(c);
    return reply_error(&r->rep, 400, "\"input\" must be a string or an array");
  } else {
    c->nt = form_texts(r, f, "input", 0, &c->texts);
    if (c->nt < 0) {
      c->nt = 0;
      return embed_ctx_free(c);
    }
    if ((c->ni = form_images(f, &c->imgs)) < 0) {
      c->ni = 0;
      return embed_ctx_free(c);
    }
    if (c->nt && c->ni) {
      embed_ctx_free(c);
      return reply_error(&r->rep, 400,
                         "texts and images together go in one JSON \"input\" list, in order");
    }
  }
  if (!c->nt && !c->ni) {
    embed_ctx_free(c);
    return reply_error(&r->rep, 400,
                       "\"input\" is missing: texts, or images as {\"image\": BASE64}, a "
                       "multipart file or the raw bytes");
  }
  for (int i = 0; i < c->nt; i++) {
    int *ids = NULL, k = 0;
    if (vlp_tokenize(vlp_model_tokenizer(m->m), c->texts[i], &ids, &k)) {
      reply_error(&r->rep, 400, "input %d: %s", i, vlp_last_error());
      return embed_ctx_free(c);
    }
    c->tokens += k;
    free(ids);
  }
  /* one kind: a job the workers batch with others; a mix: one job running both towers */
  job *j = job_new(!c->ni ? K_EMBED_TEXT : !c->nt ? K_EMBED_IMAGE : K_CUSTOM, m);
  if (!j) {
    embed_ctx_free(c);
    return reply_error(&r->rep, 503, "out of memory");
  }
  j->n = c->nt + c->ni;
  if (j->kind == K_EMBED_TEXT) {
    j->texts = c->texts;
    c->texts = NULL;
    c->nt = 0;
  } else if (j->kind == K_EMBED_IMAGE) {
    j->imgs = c->imgs;
    c->imgs = NULL;
    c->ni = 0;
  } else {
    j->run = embed_mixed_run;
  }
  j->ctx = c;
  j->ctx_free = embed_ctx_free;
  j->finish = embed_finish;
  submit_or_free(r, j);
}

/* ---- search ------------------------------------------------------------------------- */

void search_ctx_free(void *p) {
  search_ctx *c = p;
  if (!c) return;
  free(c->text);
  free(c->q);
  free(c);
}

typedef struct {
  int64_t id;
  float score, itm;
  int has_itm;
} hit;

static int by_itm(const void *a, const void *b) {
  const hit *x = a, *y = b;
  if (x->itm != y->itm) return x->itm > y->itm ? -1 : 1;
  return x->score > y->score ? -1 : x->score < y->score;
}

static const char *file_name(const char *p) {
  const char *s = strrchr(p, '/');
  return s ? s + 1 : p;
}

void search_finish(job *j, worker *w) {
  search_ctx *c = j->ctx;
  srv_index *x = c->ix;
  const float *q = c->q ? c->q : j->emb;
  int want = c->k > c->rerank ? c->k : c->rerank;
  int64_t *ids = malloc((size_t)want * sizeof *ids);
  float *scores = malloc((size_t)want * sizeof *scores);
  hit *hits = malloc((size_t)want * sizeof *hits);
  if (!ids || !scores || !hits) {
    reply_error(&j->rep, 503, "out of memory");
    goto done;
  }
  int n = srv_index_search(x, q, want, ids, scores);
  for (int i = 0; i < n; i++) hits[i] = (hit){ids[i], scores[i], 0, 0};
  int nr = c->rerank < n ? c->rerank : n;
  for (int i = 0; i < nr; i++) { /* BLIP's second stage: ITM probability */
    vlp_image img = {0};
    const char *path = srv_index_path_of(w->srv, hits[i].id);
    const char *text = c->text;
    vlp_status st = VLP_ERR_IO;
    if (path && !vlp_load_image_or_frame(path, &img))
      st = eng_itm(w, j->model, &img, &text, 1, &hits[i].itm, &(float){0});
    vlp_image_free(&img);
    if (st == VLP_ERR_CANCELLED) {
      reply_timeout(j);
      goto done;
    }
    hits[i].has_itm = !st;
    if (st) hits[i].itm = -INFINITY; /* unreadable now: last */
  }
  if (nr) qsort(hits, (size_t)nr, sizeof *hits, by_itm);
  if (n > c->k) n = c->k;
  sbuf b = {0};
  if (c->knn_style) {
    sb_puts(&b, "[");
    for (int i = 0; i < n; i++) {
      sb_printf(&b, "%s{\"id\": %lld, \"similarity\": ", i ? ", " : "", (long long)hits[i].id);
      sb_json_float(&b, hits[i].score);
      sb_printf(&b, ", \"url\": \"/thumb/%lld\", \"caption\": ", (long long)hits[i].id);
      sb_json_str(&b, file_name(srv_index_path_of(w->srv, hits[i].id)));
      sb_puts(&b, "}");
    }
    sb_puts(&b, "]");
  } else {
    sb_puts(&b, "{\"index\": ");
    sb_json_str(&b, srv_index_name(x));
    sb_puts(&b, ", \"model\": ");
    sb_json_str(&b, j->model->name);
    sb_puts(&b, ", \"results\": [");
    for (int i = 0; i < n; i++) {
      sb_printf(&b, "%s{\"rank\": %d, \"id\": %lld, \"score\": ", i ? ", " : "", i + 1,
                (long long)hits[i].id);
      sb_json_float(&b, hits[i].score);
      if (hits[i].has_itm) {
        sb_puts(&b, ", \"itm\": ");
        sb_json_float(&b, hits[i].itm);
      }
      sb_puts(&b, ", \"name\": ");
      sb_json_str(&b, file_name(srv_index_path_of(w->srv, hits[i].id)));
      sb_printf(&b, ", \"thumb\": \"/thumb/%lld\"}", (long long)hits[i].id);
    }
    sb_puts(&b, "]}");
  }
  reply_json(&j->rep, 200, &b);
done:
  free(ids);
  free(scores);
  free(hits);
}

/* The query of a search request into a job: "id" (the stored embedding of an indexed
 * image), "embedding", "text" or an image. Shared by /v1/search and /knn-service. */
job *search_job(request *r, form *f, srv_index *x, int k, int rerank, const char *text_key,
                const char *emb_key, int knn_style) {
  srv_model *m = srv_index_model(x);
  int dim = srv_index_dim(x), bad = 0;
  search_ctx *c = calloc(1, sizeof *c);
  if (!c) {
    reply_error(&r->rep, 503, "out of memory");
    return NULL;
  }
  c->ix = x;
  c->k = k;
  c->rerank = rerank;
  c->knn_style = knn_style;
  job *j = NULL;
  const cJSON *id = f->json ? cJSON_GetObjectItemCaseSensitive(f->json, "id") : NULL;
  const cJSON *emb = f->json ? cJSON_GetObjectItemCaseSensitive(f->json, emb_key) : NULL;
  const char *qid = id ? NULL : form_str(f, "id", &bad);
  const char *text = form_str(f, text_key, &bad);
  if (bad) goto fail;
  if (id && cJSON_IsNull(id)) id = NULL;
  if (emb && cJSON_IsNull(emb)) emb = NULL;
  if ((id || qid) + !!emb + !!text > 1) {
    reply_error(&r->rep, 400, "give one query: \"%s\", an image, \"id\" or \"%s\"", text_key,
                emb_key);
    goto fail;
  }
  if (rerank && (!text || m->arch != VLP_ARCH_BLIP_ITM)) {
    reply_error(&r->rep, 400, "\"rerank\" needs a text query and an index of a %s model",
                vlp_arch_name(VLP_ARCH_BLIP_ITM));
    goto fail;
  }
  if (id || qid || emb) {
    if (!(c->q = malloc((size_t)dim * sizeof *c->q))) goto oom;
    if (id || qid) {
      char *end = NULL;
      double v = id && cJSON_IsNumber(id) ? id->valuedouble : qid ? strtod(qid, &end) : -1;
      srv_index *owner = NULL;
      if (v < 0 || v != floor(v) || (qid && *end)) {
        reply_error(&r->rep, 400, "\"id\" must be the id of an indexed image");
        goto fail;
      }
      if (srv_index_embedding_of(r->srv, (int64_t)v, &owner, c->q) || owner != x) {
        reply_error(&r->rep, 404, "index '%s' has no image with id %lld", srv_index_name(x),
                    (long long)v);
        goto fail;
      }
    } else {
      if (!cJSON_IsArray(emb) || cJSON_GetArraySize(emb) != dim) {
        reply_error(&r->rep, 400, "\"%s\" must be an array of %d numbers", emb_key, dim);
        goto fail;
      }
      double norm = 0;
      int i = 0;
      const cJSON *e;
      cJSON_ArrayForEach(e, emb) {
        if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble)) {
          reply_error(&r->rep, 400, "\"%s\" must be an array of %d numbers", emb_key, dim);
          goto fail;
        }
        c->q[i++] = (float)e->valuedouble;
        norm += e->valuedouble * e->valuedouble;
      }
      if (norm <= 0) {
        reply_error(&r->rep, 400, "\"%s\" is all zeros", emb_key);
        goto fail;
      }
      for (i = 0; i < dim; i++) c->q[i] = (float)(c->q[i] / sqrt(norm));
    }
    if (!(j = job_new(K_CUSTOM, m))) goto oom; /* no model call: finish searches */
  } else if (text) {
    if (!text[0]) {
      reply_error(&r->rep, 400, "the text query is empty");
      goto fail;
    }
    if (!(j = job_new(K_EMBED_TEXT, m)) || !(j->texts = calloc(1, sizeof *j->texts)) ||
        !(j->texts[0] = strdup(text)) || !(c->text = strdup(text))) {
      if (j && j->texts) j->n = 1;
      goto oom;
    }
    j->n = 1;
  } else {
    vlp_image *imgs = NULL;
    int n = form_images(f, &imgs);
    if (n < 0) goto fail;
    if (n != 1) {
      free_images(imgs, n);
      if (n)
        reply_error(&r->rep, 400, "search takes one image, not %d", n);
      else
        reply_error(&r->rep, 400, "no query: give \"%s\", an image, \"id\" or \"%s\"", text_key,
                    emb_key);
      goto fail;
    }
    if (!(j = job_new(K_EMBED_IMAGE, m))) {
      free_images(imgs, n);
      goto oom;
    }
    j->imgs = imgs;
    j->n = 1;
  }
  j->ctx = c;
  j->ctx_free = search_ctx_free;
  j->finish = search_finish;
  return j;
oom:
  reply_error(&r->rep, 503, "out of memory");
fail:
  job_free(j);
  search_ctx_free(c);
  return NULL;
}

void h_search(request *r, form *f) {
  int bad = 0;
  int k = form_int(f, "k", 1, 1000, 10, &bad);
  int rerank = form_int(f, "rerank", 0, 100, 0, &bad);
  if (bad) return;
  srv_index *x = pick_index(r, f, "index");
  if (!x) return;
  job *j = search_job(r, f, x, k, rerank, "text", "embedding", 0);
  if (j) submit_or_free(r, j);
}
