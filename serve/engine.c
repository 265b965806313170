/* engine: the model calls of the workers. Every call goes through here so that the switch
 * to one session per worker touches one file. Today a model's buffers live in the model,
 * so calls on one model are serialised by its lock; calls on different models run in
 * parallel. */
#include "serve/server.h"

vlp_status eng_embed_images(worker *w, srv_model *m, const vlp_image *imgs, int n, float *out) {
  (void)w;
  pthread_mutex_lock(&m->lock);
  vlp_status st = vlp_embed_images(m->m, imgs, n, 0, out);
  pthread_mutex_unlock(&m->lock);
  return st;
}

vlp_status eng_embed_texts(worker *w, srv_model *m, const char *const *texts, int n, float *out) {
  (void)w;
  pthread_mutex_lock(&m->lock);
  vlp_status st = vlp_embed_texts(m->m, texts, n, out);
  pthread_mutex_unlock(&m->lock);
  return st;
}

vlp_status eng_caption(worker *w, srv_model *m, const vlp_image *imgs, int n,
                       const vlp_gen_params *p, vlp_text_result *out) {
  (void)w;
  pthread_mutex_lock(&m->lock);
  vlp_status st = vlp_caption(m->m, imgs, n, p, out);
  pthread_mutex_unlock(&m->lock);
  return st;
}

vlp_status eng_vqa(worker *w, srv_model *m, const vlp_image *img, const char *q,
                   const vlp_gen_params *p, vlp_text_result *out) {
  (void)w;
  pthread_mutex_lock(&m->lock);
  vlp_status st = vlp_vqa(m->m, img, q, p, out);
  pthread_mutex_unlock(&m->lock);
  return st;
}

vlp_status eng_itm(worker *w, srv_model *m, const vlp_image *img, const char *text, float *itm,
                   float *itc) {
  (void)w;
  pthread_mutex_lock(&m->lock);
  vlp_status st = vlp_itm(m->m, img, text, 0, itm, itc);
  pthread_mutex_unlock(&m->lock);
  return st;
}
