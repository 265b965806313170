/* api: helpers the endpoint files share (private to serve/). */
#ifndef VLP_SERVE_API_H
#define VLP_SERVE_API_H

#include "server.h"

#define ARCH_BIT(a) (1u << (a))
#define EMBED_ARCHS \
  (ARCH_BIT(VLP_ARCH_CLIP) | ARCH_BIT(VLP_ARCH_SIGLIP) | ARCH_BIT(VLP_ARCH_BLIP_ITM))

/* The request's "model" (or the first loaded one in mask); NULL with r->rep set. */
srv_model *pick_model(request *r, form *f, unsigned mask, const char *task);
/* The request's "index" under key (or the first loaded one); NULL with r->rep set. */
srv_index *pick_index(request *r, form *f, const char *key);

/* A search over one index, finished on a worker: the query is the job's embedding
 * (text or image jobs) or q (id / embedding queries, K_CUSTOM jobs). */
typedef struct {
  srv_index *ix;
  int k, rerank;
  char *text; /* for the ITM re-ranking */
  float *q;
  int knn_style; /* clip-retrieval's result list instead of vlp's object */
} search_ctx;

void search_ctx_free(void *p);
void search_finish(job *j, worker *w);
/* The job of a search request (query by text_key, an image, "id" or emb_key); NULL with
 * r->rep set. */
job *search_job(request *r, form *f, srv_index *x, int k, int rerank, const char *text_key,
                const char *emb_key, int knn_style);
/* Release what a handler built when it ends with an error before submitting. */
void free_images(vlp_image *imgs, int n);

#endif
