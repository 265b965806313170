/* reader: a thread that decodes images and fits them to the model's input size ahead of
 * the model, through a bounded queue (the model thread never waits on the disk or on
 * resampling while the queue is full; memory stays at `depth` small images). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "caption_tool.h"

struct ct_reader {
  const char *model_dir;
  int image_size;
  char *const *paths;
  const char *const *errors; /* errors[i] != NULL: input i is already known to be bad */
  int n;
  ct_item *ring; /* (depth) */
  int depth, head, count;
  int produced, stop;
  pthread_mutex_t mu;
  pthread_cond_t not_full, not_empty;
  pthread_t thread;
};

static char *dup_msg(const char *s) {
  char *d = strdup(s && *s ? s : "unknown error");
  return d;
}

static void load_one(const struct ct_reader *r, int i, ct_item *it) {
  memset(it, 0, sizeof *it);
  it->index = i;
  if (r->errors && r->errors[i]) {
    it->error = dup_msg(r->errors[i]);
    return;
  }
  vlp_image full;
  if (vlp_image_load(r->paths[i], &full) != VLP_OK) {
    it->error = dup_msg(vlp_last_error());
    return;
  }
  if (vlp_image_fit(r->model_dir, &full, r->image_size, &it->img) != VLP_OK)
    it->error = dup_msg(vlp_last_error());
  vlp_image_free(&full);
}

static void *run(void *arg) {
  struct ct_reader *r = arg;
  for (int i = 0; i < r->n; i++) {
    ct_item it;
    load_one(r, i, &it);
    pthread_mutex_lock(&r->mu);
    while (r->count == r->depth && !r->stop) pthread_cond_wait(&r->not_full, &r->mu);
    if (r->stop) {
      pthread_mutex_unlock(&r->mu);
      vlp_image_free(&it.img);
      free(it.error);
      break;
    }
    r->ring[(r->head + r->count) % r->depth] = it;
    r->count++;
    r->produced = i + 1;
    pthread_cond_signal(&r->not_empty);
    pthread_mutex_unlock(&r->mu);
  }
  pthread_mutex_lock(&r->mu);
  r->produced = r->n; /* also after a stop: nothing more will come */
  pthread_cond_signal(&r->not_empty);
  pthread_mutex_unlock(&r->mu);
  return NULL;
}

ct_reader *ct_reader_start(const char *model_dir, int image_size, char *const *paths,
                           const char *const *errors, int n, int depth) {
  struct ct_reader *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->model_dir = model_dir;
  r->image_size = image_size;
  r->paths = paths;
  r->errors = errors;
  r->n = n;
  r->depth = depth > 0 ? depth : 1;
  r->ring = calloc((size_t)r->depth, sizeof *r->ring);
  if (!r->ring) {
    free(r);
    return NULL;
  }
  pthread_mutex_init(&r->mu, NULL);
  pthread_cond_init(&r->not_full, NULL);
  pthread_cond_init(&r->not_empty, NULL);
  if (pthread_create(&r->thread, NULL, run, r) != 0) {
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->not_full);
    pthread_cond_destroy(&r->not_empty);
    free(r->ring);
    free(r);
    return NULL;
  }
  return r;
}

int ct_reader_next(ct_reader *r, ct_item *out) {
  pthread_mutex_lock(&r->mu);
  while (r->count == 0 && r->produced < r->n) pthread_cond_wait(&r->not_empty, &r->mu);
  int got = r->count > 0;
  if (got) {
    *out = r->ring[r->head];
    r->head = (r->head + 1) % r->depth;
    r->count--;
    pthread_cond_signal(&r->not_full);
  }
  pthread_mutex_unlock(&r->mu);
  return got;
}

void ct_reader_stop(ct_reader *r) {
  if (!r) return;
  pthread_mutex_lock(&r->mu);
  r->stop = 1;
  pthread_cond_signal(&r->not_full);
  pthread_mutex_unlock(&r->mu);
  pthread_join(r->thread, NULL);
  for (; r->count > 0; r->count--) {
    ct_item *it = &r->ring[r->head];
    vlp_image_free(&it->img);
    free(it->error);
    r->head = (r->head + 1) % r->depth;
  }
  pthread_mutex_destroy(&r->mu);
  pthread_cond_destroy(&r->not_full);
  pthread_cond_destroy(&r->not_empty);
  free(r->ring);
  free(r);
}
