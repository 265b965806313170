/* image_reader: vlp_image_reader, threads that decode (and fit to a model's input size)
 * queued image files ahead of the caller, in queue order, with at most `ahead` images held.
 * The queue is a list of nodes: a thread claims the node at `cursor`, fills it outside the
 * lock (no one else touches a claimed node before it is done), and the caller takes done
 * nodes from the head, in queue order whichever thread finished first. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "vlp.h"

/* Decoding threads (at most `ahead`). Two decode the next images of a batch at once: a
 * 12-megapixel JPEG takes ~60 ms to decode and fit, longer than CLIP B/32 takes to embed it,
 * so one thread left the model waiting. `vlp embed` of 24 such photos, load included: f32
 * 3.0-4.0 s -> 2.0-2.4 s, bf16 2.3-2.6 -> 1.9-2.3 s (six alternating runs each); 256
 * 640x480 images the same (7.5-8.4 s, 7.5-7.6 s). */
#define READER_THREADS 2

typedef struct node {
  struct node *next;
  char *path;
  vlp_image img;
  vlp_status st;
  char *error; /* the message when st != VLP_OK (NULL: out of memory) */
  int done;
} node;

struct vlp_image_reader {
  const vlp_model *m;
  int image_size, ahead;
  node *head, *tail; /* queued, not taken */
  node *cursor;      /* the first node the thread has not claimed */
  int held;          /* claimed by the thread and not taken */
  int stop;
  pthread_mutex_t mu;
  pthread_cond_t work, ready;
  int nthreads;
  pthread_t thread[READER_THREADS];
};

static void load(const vlp_image_reader *r, node *x) {
  vlp_image full = {0};
  x->st = vlp_image_load(x->path, &full);
  if (!x->st && r->m) {
    x->st = vlp_model_fit_image(r->m, &full, r->image_size, &x->img);
    vlp_image_free(&full);
  } else {
    x->img = full;
  }
  if (x->st) x->error = strdup(vlp_last_error());
}

static void *run(void *arg) {
  vlp_image_reader *r = arg;
  pthread_mutex_lock(&r->mu);
  for (;;) {
    while (!r->stop && (!r->cursor || r->held >= r->ahead)) pthread_cond_wait(&r->work, &r->mu);
    if (r->stop) break;
    node *x = r->cursor;
    r->cursor = x->next;
    r->held++;
    pthread_mutex_unlock(&r->mu);
    load(r, x);
    pthread_mutex_lock(&r->mu);
    x->done = 1;
    pthread_cond_signal(&r->ready);
  }
  pthread_mutex_unlock(&r->mu);
  return NULL;
}

vlp_status vlp_image_reader_new(const vlp_model *m, int image_size, int ahead,
                                vlp_image_reader **out) {
  *out = NULL;
  vlp_image_reader *r = calloc(1, sizeof *r);
  if (!r) return vlp_fail(VLP_ERR_NOMEM, "image reader: out of memory");
  r->m = m;
  r->image_size = image_size;
  r->ahead = ahead > 0 ? ahead : 1;
  pthread_mutex_init(&r->mu, NULL);
  pthread_cond_init(&r->work, NULL);
  pthread_cond_init(&r->ready, NULL);
  int want = r->ahead < READER_THREADS ? r->ahead : READER_THREADS;
  while (r->nthreads < want && !pthread_create(&r->thread[r->nthreads], NULL, run, r))
    r->nthreads++;
  if (r->nthreads == 0) {
    pthread_cond_destroy(&r->ready);
    pthread_cond_destroy(&r->work);
    pthread_mutex_destroy(&r->mu);
    free(r);
    return vlp_fail(VLP_ERR_NOMEM, "image reader: cannot start a thread");
  }
  *out = r;
  return VLP_OK;
}

vlp_status vlp_image_reader_add(vlp_image_reader *r, const char *path) {
  node *x = calloc(1, sizeof *x);
  if (x) x->path = strdup(path);
  if (!x || !x->path) {
    free(x);
    return vlp_fail(VLP_ERR_NOMEM, "image reader: out of memory");
  }
  pthread_mutex_lock(&r->mu);
  if (r->tail)
    r->tail->next = x;
  else
    r->head = x;
  r->tail = x;
  if (!r->cursor) r->cursor = x;
  pthread_cond_signal(&r->work);
  pthread_mutex_unlock(&r->mu);
  return VLP_OK;
}

static void free_node(node *x) {
  vlp_image_free(&x->img);
  free(x->error);
  free(x->path);
  free(x);
}

vlp_status vlp_image_reader_next(vlp_image_reader *r, vlp_image *img) {
  memset(img, 0, sizeof *img);
  pthread_mutex_lock(&r->mu);
  node *x = r->head;
  while (x && !x->done) pthread_cond_wait(&r->ready, &r->mu);
  if (x) {
    r->head = x->next;
    if (!r->head) r->tail = NULL;
    r->held--;
    pthread_cond_signal(&r->work);
  }
  pthread_mutex_unlock(&r->mu);
  if (!x) return vlp_fail(VLP_ERR_INVALID, "image reader: no path queued");
  vlp_status st = x->st;
  if (st)
    vlp_set_error(x->error ? st : VLP_ERR_NOMEM, x->error ? x->error : "out of memory");
  else
    *img = x->img, x->img = (vlp_image){0};
  free_node(x);
  return st;
}

void vlp_image_reader_free(vlp_image_reader *r) {
  if (!r) return;
  pthread_mutex_lock(&r->mu);
  r->stop = 1;
  pthread_cond_broadcast(&r->work);
  pthread_mutex_unlock(&r->mu);
  for (int i = 0; i < r->nthreads; i++) pthread_join(r->thread[i], NULL);
  while (r->head) {
    node *x = r->head;
    r->head = x->next;
    free_node(x);
  }
  pthread_cond_destroy(&r->ready);
  pthread_cond_destroy(&r->work);
  pthread_mutex_destroy(&r->mu);
  free(r);
}
