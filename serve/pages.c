/* pages: the search page (embedded at build time from serve/page.html), the model and
 * index lists, and thumbnails of indexed images. */
#include <stdlib.h>
#include <string.h>

#include "api.h"

extern const char serve_page_html[];
extern const size_t serve_page_html_len;

void h_page(request *r) {
  reply_free(&r->rep);
  r->rep.status = 200;
  r->rep.body = (char *)serve_page_html;
  r->rep.len = serve_page_html_len;
  r->rep.is_static = 1;
  r->rep.ctype = "text/html; charset=utf-8";
}

static const char *const tasks_of[] = {
    [VLP_ARCH_BLIP_CAPTION] = "[\"caption\"]",
    [VLP_ARCH_BLIP_ITM] = "[\"embeddings\", \"itm\", \"search\"]",
    [VLP_ARCH_BLIP_VQA] = "[\"vqa\"]",
    [VLP_ARCH_CLIP] = "[\"embeddings\", \"tag\", \"search\"]",
    [VLP_ARCH_SIGLIP] = "[\"embeddings\", \"tag\", \"search\"]",
};

void h_models(request *r) {
  server *s = r->srv;
  sbuf b = {0};
  sb_puts(&b, "{\"object\": \"list\", \"data\": [");
  for (int i = 0; i < s->n_models; i++) {
    srv_model *m = &s->models[i];
    sb_puts(&b, i ? ", {\"id\": " : "{\"id\": ");
    sb_json_str(&b, m->name);
    sb_puts(&b, ", \"object\": \"model\", \"owned_by\": \"vlp\", \"architecture\": ");
    sb_json_str(&b, vlp_arch_name(m->arch));
    const char *tasks = (size_t)m->arch < sizeof tasks_of / sizeof tasks_of[0] && tasks_of[m->arch]
                            ? tasks_of[m->arch]
                            : "[]";
    sb_printf(&b, ", \"tasks\": %s, \"embedding_dim\": %d, \"weight_bytes\": %llu", tasks, m->dim,
              (unsigned long long)m->weight_bytes);
    sb_printf(&b, ", \"precision\": \"%s\"}", vlp_precision_name(m->precision));
  }
  sb_puts(&b, "]}");
  reply_json(&r->rep, 200, &b);
}

void h_indexes(request *r) {
  server *s = r->srv;
  sbuf b = {0};
  sb_puts(&b, "{\"data\": [");
  for (int i = 0; i < s->n_indexes; i++) {
    srv_index *x = s->indexes[i];
    sb_puts(&b, i ? ", {\"name\": " : "{\"name\": ");
    sb_json_str(&b, srv_index_name(x));
    sb_printf(&b, ", \"count\": %lld, \"first_id\": %lld, \"dim\": %d, \"model\": ",
              (long long)srv_index_count(x), (long long)srv_index_base(x), srv_index_dim(x));
    sb_json_str(&b, srv_index_model(x)->name);
    sb_puts(&b, ", \"architecture\": ");
    sb_json_str(&b, srv_index_arch(x));
    sb_puts(&b, "}");
  }
  sb_puts(&b, "]}");
  reply_json(&r->rep, 200, &b);
}

typedef struct {
  int64_t id;
  uint8_t *jpeg;
  size_t len;
} thumb_ctx;

static void thumb_ctx_free(void *p) {
  thumb_ctx *c = p;
  if (c) free(c->jpeg);
  free(c);
}

static void set_jpeg(reply *rep, uint8_t *jpeg, size_t len) {
  reply_free(rep);
  rep->status = 200;
  rep->body = (char *)jpeg;
  rep->len = len;
  rep->ctype = "image/jpeg";
  rep->cache_seconds = 3600;
}

static void thumb_run(job *j, worker *w) {
  thumb_ctx *c = j->ctx;
  const char *path = srv_index_path_of(w->srv, c->id);
  if (!path || thumb_make(w->srv->thumbs, c->id, path, w->srv->o.thumb_size, &c->jpeg, &c->len))
    reply_error(&j->rep, 404, "the image behind id %lld cannot be read now", (long long)c->id);
}

static void thumb_finish(job *j, worker *w) {
  (void)w;
  thumb_ctx *c = j->ctx;
  set_jpeg(&j->rep, c->jpeg, c->len);
  c->jpeg = NULL;
}

void h_thumb(request *r) {
  /* /thumb/ID: digits only; the id selects an indexed file, nothing else is opened */
  const char *p = r->url + 7;
  size_t n = strspn(p, "0123456789");
  if (!n || n > 15 || (p[n] && strcmp(p + n, ".jpg")))
    return reply_error(&r->rep, 400, "a thumbnail is /thumb/ID with ID a number from a search");
  int64_t id = strtoll(p, NULL, 10);
  if (!srv_index_path_of(r->srv, id))
    return reply_error(&r->rep, 404, "no indexed image has id %lld", (long long)id);
  size_t len;
  uint8_t *jpeg = thumb_cache_get(r->srv->thumbs, id, &len);
  if (jpeg) return set_jpeg(&r->rep, jpeg, len);
  job *j = job_new(K_CUSTOM, srv_index_model(r->srv->indexes[0]));
  thumb_ctx *c = calloc(1, sizeof *c);
  if (!j || !c) {
    free(c);
    job_free(j);
    return reply_error(&r->rep, 503, "out of memory");
  }
  c->id = id;
  j->ctx = c;
  j->ctx_free = thumb_ctx_free;
  j->run = thumb_run;
  j->finish = thumb_finish;
  job_submit(r->srv, r, j);
}
