/* server: what the parts of the HTTP service share (private to serve/). */
#ifndef VLP_SERVE_SERVER_H
#define VLP_SERVE_SERVER_H

#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "multipart.h"
#include "sbuf.h"
#include "serve.h"
#include "vlp.h"

typedef enum {
  EP_PAGE,
  EP_CAPTION,
  EP_VQA,
  EP_ITM,
  EP_TAG,
  EP_EMBED,
  EP_SEARCH,
  EP_MODELS,
  EP_INDEXES,
  EP_PREDICT,
  EP_PING,
  EP_KNN,
  EP_INDICES_LIST,
  EP_HEALTHZ,
  EP_METRICS,
  EP_THUMB,
  EP_OTHER,
  EP_COUNT
} endpoint;

extern const char *const endpoint_path[EP_COUNT];

typedef struct srv_model {
  char *name; /* what clients call it */
  char *path; /* resolved folder */
  vlp_model *m;
  vlp_arch arch;
  int dim; /* embedding width, 0 when the model has none */
  uint64_t weight_bytes;
  vlp_precision precision;
} srv_model;

typedef struct srv_index srv_index; /* search.c */

/* An HTTP reply: status, body (malloc'd unless is_static), content type. */
typedef struct {
  int status;
  char *body;
  size_t len;
  const char *ctype;
  int retry_after; /* seconds, 0: none */
  int is_static;
  int cache_seconds; /* > 0: Cache-Control max-age */
} reply;

void reply_json(reply *r, int status, sbuf *b); /* takes b's buffer */
void reply_error(reply *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* FastAPI-style {"detail": ...} for the immich endpoints. */
void reply_detail(reply *r, int status, const char *msg);
void reply_free(reply *r);

typedef struct server server;
typedef struct worker worker;
typedef struct job job;

/* One HTTP request from its first byte to its reply. */
typedef struct request {
  server *srv;
  struct MHD_Connection *conn;
  endpoint ep;
  int is_post;
  char url[256];
  uint8_t *body;
  size_t len, cap;
  int too_large;
  int receiving; /* counted in server.receiving */
  double t0;
  job *job; /* while waiting for a worker */
  atomic_int done;
  int suspended;
  int counted; /* in the metrics already */
  reply rep;
} request;

/* What a request carries: a JSON object, multipart parts or a raw image body, plus query
 * arguments. */
typedef struct {
  request *req;
  cJSON *json; /* NULL unless a JSON body */
  mpart parts[32];
  char *ptext[32]; /* NUL-terminated copies of the text parts */
  int n_parts;
  const uint8_t *raw; /* raw image body */
  size_t raw_len;
} form;

/* ---- jobs (jobs.c) ---------------------------------------------------------------- */
typedef enum { K_EMBED_IMAGE, K_EMBED_TEXT, K_CAPTION, K_CUSTOM } job_kind;

struct job {
  job_kind kind;
  srv_model *model;
  vlp_image *imgs; /* (n) owned */
  char **texts;    /* (n) owned */
  int n;
  vlp_gen_params gen; /* K_CAPTION; gen.prompt points to prompt */
  char *prompt;
  float *emb;            /* K_EMBED_*: (n, dim) results */
  vlp_text_result *caps; /* K_CAPTION: (n) results */
  /* K_CUSTOM: the computation; all kinds: finish turns results into rep. Either sets
   * rep itself on failure. */
  void (*run)(job *j, worker *w);
  void (*finish)(job *j, worker *w);
  void *ctx;
  void (*ctx_free)(void *);
  vlp_status st;
  char err[512];
  reply rep;
  double t_enq, deadline;
  request *req;
  job *next;
};

job *job_new(job_kind kind, srv_model *m);
void job_free(job *j);
/* Queue j for req (suspends the connection) or reply 503 when the queue is full. */
void job_submit(server *s, request *req, job *j);
int workers_start(server *s);
/* The reply of a job whose computation ran past its deadline (same status as a job that
 * waited too long in the queue). */
void reply_timeout(job *j);
/* Finish every queued job, then join the workers. */
void workers_stop(server *s);

struct worker {
  server *srv;
  int id;
  pthread_t th;
  vlp_session **sess; /* one per model, made on first use (engine.c) */
  /* Deadline of the job(s) running now: the sessions' progress callback stops a model
   * call past it (VLP_ERR_CANCELLED). Only the worker's own thread touches it. */
  double deadline;
};

/* ---- engine (engine.c): model calls made by workers, each with its own sessions -------- */
vlp_status eng_embed_images(worker *w, srv_model *m, const vlp_image *imgs, int n, float *out);
vlp_status eng_embed_texts(worker *w, srv_model *m, const char *const *texts, int n, float *out);
vlp_status eng_caption(worker *w, srv_model *m, const vlp_image *imgs, int n,
                       const vlp_gen_params *p, vlp_text_result *out);
vlp_status eng_vqa(worker *w, srv_model *m, const vlp_image *img, const char *q,
                   const vlp_gen_params *p, vlp_text_result *out);
/* ITM of one image with n texts (the image encoded once). */
vlp_status eng_itm(worker *w, srv_model *m, const vlp_image *img, const char *const *texts, int n,
                   float *itm, float *itc);
/* Zero-shot scores (n, L) of n images for L labels (tmpl NULL: the model's default
 * template), in label order. */
vlp_status eng_tag(worker *w, srv_model *m, const vlp_image *imgs, int n, const char *const *labels,
                   int L, const char *tmpl, float *scores);
void eng_worker_free(worker *w);

/* ---- metrics (metrics.c) ------------------------------------------------------------ */
typedef struct metrics metrics;
metrics *metrics_new(void);
void metrics_free(metrics *m);
void metrics_request(metrics *m, endpoint ep, int status, double seconds);
void metrics_batch(metrics *m, job_kind kind, int items);
void metrics_write(metrics *m, server *s, sbuf *b);

/* ---- indexes (search.c): the one place that uses index/ internals ------------------- */
vlp_status srv_index_open(server *s, const char *spec, srv_index **out);
void srv_index_free(srv_index *x);
const char *srv_index_name(const srv_index *x);
int64_t srv_index_count(const srv_index *x);
int srv_index_dim(const srv_index *x);
const char *srv_index_model_path(const srv_index *x);
const char *srv_index_arch(const srv_index *x);
/* The file behind a global id (NULL when out of range). */
const char *srv_index_path_of(server *s, int64_t id);
/* The stored embedding of a global id into q (dim); 0 when found. */
int srv_index_embedding_of(server *s, int64_t id, srv_index **ix, float *q);
/* Exact top-k of q over x: global ids and scores, best first; returns how many. */
int srv_index_search(srv_index *x, const float *q, int k, int64_t *ids, float *scores);
int64_t srv_index_base(const srv_index *x);
void srv_index_set_base(srv_index *x, int64_t base);
void srv_index_set_model(srv_index *x, srv_model *m);
srv_model *srv_index_model(const srv_index *x);

/* ---- thumbnails (thumb.c) ----------------------------------------------------------- */
typedef struct thumb_cache thumb_cache;
thumb_cache *thumb_cache_new(size_t max_bytes);
void thumb_cache_free(thumb_cache *c);
size_t thumb_cache_bytes(thumb_cache *c);
/* A cached JPEG (malloc'd copy) or NULL. */
uint8_t *thumb_cache_get(thumb_cache *c, int64_t id, size_t *len);
/* Load path, shrink to fit side x side, encode as JPEG; stores it in the cache. */
vlp_status thumb_make(thumb_cache *c, int64_t id, const char *path, int side, uint8_t **jpeg,
                      size_t *len);

/* ---- the server ---------------------------------------------------------------------- */
struct server {
  serve_options o;
  srv_model *models;
  int n_models;
  srv_index **indexes;
  int n_indexes;
  struct MHD_Daemon *d;
  metrics *met;
  thumb_cache *thumbs;
  /* the job queue */
  pthread_mutex_t qlock;
  pthread_cond_t qcond;
  job *qhead, *qtail;
  int qlen, stopping;
  worker *workers;
  atomic_int receiving; /* requests whose body is still arriving: they may join a batch */
  atomic_int inflight;  /* HTTP requests begun, not yet completed */
  atomic_int draining;
};

double now_seconds(void);
srv_model *find_model(server *s, const char *name);
/* The first loaded model whose architecture is in mask (bit 1 << arch). */
srv_model *default_model(server *s, unsigned mask);
srv_index *find_index(server *s, const char *name);

/* ---- request inputs (form.c) ------------------------------------------------------- */
/* Parse the body by its Content-Type; on failure sets r->rep (400/415) and returns -1. */
int form_parse(request *r, form *f);
void form_free(form *f);
/* A string field from the JSON body, a multipart text field or the query string. Returns
 * NULL when absent; -1 in *bad (and r->rep set) when present with the wrong type. */
const char *form_str(form *f, const char *key, int *bad);
/* An integer field in [lo, hi]; def when absent. */
int form_int(form *f, const char *key, int lo, int hi, int def, int *bad);
double form_num(form *f, const char *key, double lo, double hi, double def, int *bad);
/* The images of a request: multipart files, a raw body, JSON "image" / "images" (base64
 * strings, or {"id": N} for an indexed file). Returns the count (0 when none), -1 with
 * r->rep set on a bad or oversized image. */
int form_images(form *f, vlp_image **imgs);
/* One JSON image value (a base64 string, {"image": BASE64} or {"id": N}), named "image i"
 * in errors; -1 with r->rep set. */
int form_json_image(form *f, const cJSON *v, int i, vlp_image *out);
/* Decode one image from memory with the server's limits; -1 with r->rep set. */
int decode_image(request *r, const uint8_t *data, size_t len, const char *what, vlp_image *out);
/* Load the indexed file behind a global id; -1 with r->rep set. */
int load_indexed_image(request *r, int64_t id, vlp_image *out);

/* ---- endpoints (api.c, compat.c, pages.c) -------------------------------------------- */
void h_caption(request *r, form *f);
void h_vqa(request *r, form *f);
void h_itm(request *r, form *f);
void h_tag(request *r, form *f);
void h_embeddings(request *r, form *f);
void h_search(request *r, form *f);
void h_models(request *r);
void h_indexes(request *r);
void h_predict(request *r, form *f);
void h_knn(request *r, form *f);
void h_indices_list(request *r);
void h_thumb(request *r);
void h_page(request *r);

#endif
