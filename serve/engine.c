/* engine: the model calls of the workers. Each worker has its own vlp_session per model
 * (made on first use, sized by the largest batch it has seen, reused afterwards); the
 * models themselves are shared read-only by all workers. */
#include <stdlib.h>

#include "server.h"

/* Progress callback of every worker session: stop the call once the deadline of the
 * job(s) the worker runs has passed. */
static int past_deadline(void *ctx, const char *what, int64_t done, int64_t total) {
  (void)what;
  (void)done;
  (void)total;
  return now_seconds() > ((const worker *)ctx)->deadline;
}

static vlp_session *session_of(worker *w, srv_model *m) {
  server *s = w->srv;
  int i = (int)(m - s->models);
  if (!w->sess[i]) {
    vlp_session_params p = vlp_session_default_params();
    p.n_threads = s->o.threads;
    p.progress = past_deadline;
    p.progress_ctx = w;
    if (vlp_session_new(m->m, &p, &w->sess[i])) return NULL;
  }
  return w->sess[i];
}

#define SESSION_OR_FAIL(w, m)              \
  vlp_session *ses = session_of((w), (m)); \
  if (!ses) return VLP_ERR_NOMEM

vlp_status eng_embed_images(worker *w, srv_model *m, const vlp_image *imgs, int n, float *out) {
  SESSION_OR_FAIL(w, m);
  return vlp_embed_images(ses, imgs, n, 0, out);
}

vlp_status eng_embed_texts(worker *w, srv_model *m, const char *const *texts, int n, float *out) {
  SESSION_OR_FAIL(w, m);
  return vlp_embed_texts(ses, texts, n, out);
}

vlp_status eng_caption(worker *w, srv_model *m, const vlp_image *imgs, int n,
                       const vlp_gen_params *p, vlp_text_result *out) {
  SESSION_OR_FAIL(w, m);
  vlp_features *f = NULL;
  vlp_status st = vlp_encode_images(ses, imgs, n, 0, &f);
  if (!st) st = vlp_caption(ses, f, p, out);
  vlp_features_free(f);
  return st;
}

vlp_status eng_vqa(worker *w, srv_model *m, const vlp_image *img, const char *q,
                   const vlp_gen_params *p, vlp_text_result *out) {
  SESSION_OR_FAIL(w, m);
  vlp_features *f = NULL;
  vlp_status st = vlp_encode_images(ses, img, 1, 0, &f);
  if (!st) st = vlp_vqa(ses, f, 0, q, p, out);
  vlp_features_free(f);
  return st;
}

vlp_status eng_itm(worker *w, srv_model *m, const vlp_image *img, const char *const *texts, int n,
                   float *itm, float *itc) {
  SESSION_OR_FAIL(w, m);
  vlp_features *f = NULL;
  vlp_status st = vlp_encode_images(ses, img, 1, 0, &f);
  for (int i = 0; i < n && !st; i++) st = vlp_itm(ses, f, 0, texts[i], &itm[i], &itc[i]);
  vlp_features_free(f);
  return st;
}

vlp_status eng_tag(worker *w, srv_model *m, const vlp_image *imgs, int n, const char *const *labels,
                   int L, const char *tmpl, float *scores) {
  SESSION_OR_FAIL(w, m);
  vlp_features *f = NULL;
  vlp_labels *set = NULL;
  vlp_tag_result *res = malloc((size_t)L * sizeof *res);
  if (!res) return VLP_ERR_NOMEM;
  vlp_status st = vlp_labels_new(ses, labels, L, tmpl, &set);
  if (!st) st = vlp_encode_images(ses, imgs, n, 0, &f);
  for (int i = 0; i < n && !st; i++) {
    st = vlp_tag(ses, f, i, set, res);
    for (int k = 0; k < L && !st; k++) scores[(size_t)i * L + res[k].label] = res[k].score;
  }
  free(res);
  vlp_labels_free(set);
  vlp_features_free(f);
  return st;
}

void eng_worker_free(worker *w) {
  if (!w->sess) return;
  for (int i = 0; i < w->srv->n_models; i++) vlp_session_free(w->sess[i]);
  free(w->sess);
  w->sess = NULL;
}
