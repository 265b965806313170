/* jobs: the bounded request queue and the compute workers. A worker takes the oldest job;
 * for embeddings and captions it also takes queued jobs of the same model, task and
 * options, waiting up to batch_wait_ms for more, and runs them as one batch (dynamic
 * batching). Every job has a deadline (the timeout after it was queued): one that waited
 * past it is answered 503 without running, and the worker's sessions stop a model call that
 * runs past it (their progress callback, engine.c), which is answered 503 too. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server.h"

enum { MAX_BATCH_JOBS = 256 };

job *job_new(job_kind kind, srv_model *m) {
  job *j = calloc(1, sizeof *j);
  if (!j) return NULL;
  j->kind = kind;
  j->model = m;
  j->gen = vlp_gen_default_params();
  return j;
}

void job_free(job *j) {
  if (!j) return;
  for (int i = 0; i < j->n; i++) {
    if (j->imgs) vlp_image_free(&j->imgs[i]);
    if (j->texts) free(j->texts[i]);
    if (j->caps) vlp_text_result_free(&j->caps[i]);
  }
  free(j->imgs);
  free(j->texts);
  free(j->caps);
  free(j->emb);
  free(j->prompt);
  if (j->ctx_free) j->ctx_free(j->ctx);
  reply_free(&j->rep);
  free(j);
}

/* Hand the reply to the request and wake its connection. */
static void deliver(job *j) {
  request *r = j->req;
  r->rep = j->rep;
  memset(&j->rep, 0, sizeof j->rep);
  r->job = NULL;
  job_free(j);
  atomic_store(&r->done, 1);
  MHD_resume_connection(r->conn);
}

void job_submit(server *s, request *req, job *j) {
  pthread_mutex_lock(&s->qlock);
  if (s->stopping || s->qlen >= s->o.queue_max) {
    int stopping = s->stopping;
    pthread_mutex_unlock(&s->qlock);
    job_free(j);
    if (stopping)
      reply_error(&req->rep, 503, "the server is shutting down");
    else
      reply_error(&req->rep, 503, "too many requests waiting (%d); retry shortly", s->o.queue_max);
    req->rep.retry_after = 1;
    return;
  }
  j->req = req;
  j->t_enq = now_seconds();
  j->deadline = j->t_enq + s->o.timeout_ms / 1000.0;
  req->job = j;
  if (req->receiving) { /* queued and counted in one step: a gathering worker sees it */
    req->receiving = 0;
    atomic_fetch_sub(&s->receiving, 1);
  }
  MHD_suspend_connection(req->conn);
  req->suspended = 1;
  if (s->qtail)
    s->qtail->next = j;
  else
    s->qhead = j;
  s->qtail = j;
  s->qlen++;
  pthread_cond_broadcast(&s->qcond);
  pthread_mutex_unlock(&s->qlock);
}

static int same_str(const char *a, const char *b) {
  return (!a && !b) || (a && b && !strcmp(a, b));
}

/* Can b run in one model call with a? */
static int batchable(const job *a, const job *b) {
  if (a->kind == K_CUSTOM || a->kind != b->kind || a->model != b->model) return 0;
  if (a->kind != K_CAPTION) return 1;
  const vlp_gen_params *p = &a->gen, *q = &b->gen;
  return same_str(a->prompt, b->prompt) && p->num_beams == q->num_beams &&
         p->max_length == q->max_length && p->max_new_tokens == q->max_new_tokens &&
         p->min_length == q->min_length && p->repetition_penalty == q->repetition_penalty &&
         p->length_penalty == q->length_penalty;
}

static void unlink_job(server *s, job **pp) {
  job *j = *pp;
  *pp = j->next;
  j->next = NULL;
  s->qlen--;
  s->qtail = NULL;
  for (job *t = s->qhead; t; t = t->next) s->qtail = t;
}

/* Jobs other workers are gathering a batch for (their first job), one slot per worker. */
static int gathered_elsewhere(server *s, const job *j, job **gathering) {
  for (int i = 0; i < s->o.workers; i++)
    if (gathering[i] && batchable(gathering[i], j)) return 1;
  return 0;
}

static void expire(job *j) {
  reply_error(&j->rep, 503, "the request waited longer than the timeout for a free worker");
  j->rep.retry_after = 1;
  deliver(j);
}

void reply_timeout(job *j) {
  reply_free(&j->rep);
  reply_error(&j->rep, 503, "the request took longer than the timeout (%d ms) to compute",
              j->req->srv->o.timeout_ms);
  j->rep.retry_after = 1;
}

static int status_of(vlp_status st) {
  return st == VLP_ERR_INVALID || st == VLP_ERR_FORMAT || st == VLP_ERR_UNSUPPORTED ? 400 : 500;
}

/* One model call for jobs b[0..nb) of the same kind; results scattered back to each. */
static vlp_status run_group(worker *w, job **b, int nb, char *err, size_t errlen) {
  job *f = b[0];
  int items = 0;
  for (int i = 0; i < nb; i++) items += b[i]->n;
  vlp_image *imgs = NULL;
  const char **texts = NULL;
  float *emb = NULL;
  vlp_text_result *caps = NULL;
  int dim = f->model->dim;
  vlp_status st = VLP_ERR_NOMEM;
  if (f->kind == K_EMBED_TEXT)
    texts = malloc((size_t)items * sizeof *texts);
  else
    imgs = malloc((size_t)items * sizeof *imgs);
  if (f->kind == K_CAPTION)
    caps = calloc((size_t)items, sizeof *caps);
  else
    emb = malloc((size_t)items * (size_t)(dim > 0 ? dim : 1) * sizeof *emb);
  if ((!texts && !imgs) || (!caps && !emb)) goto done;
  for (int i = 0, k = 0; i < nb; i++)
    for (int t = 0; t < b[i]->n; t++, k++) {
      if (texts)
        texts[k] = b[i]->texts[t];
      else
        imgs[k] = b[i]->imgs[t];
    }
  if (f->kind == K_EMBED_TEXT)
    st = eng_embed_texts(w, f->model, texts, items, emb);
  else if (f->kind == K_EMBED_IMAGE)
    st = eng_embed_images(w, f->model, imgs, items, emb);
  else
    st = eng_caption(w, f->model, imgs, items, &f->gen, caps);
  if (st) {
    snprintf(err, errlen, "%s", vlp_last_error());
    goto done;
  }
  for (int i = 0, k = 0; i < nb; i++) {
    job *j = b[i];
    if (caps) {
      j->caps = calloc((size_t)j->n, sizeof *j->caps);
      if (!j->caps) st = VLP_ERR_NOMEM;
      for (int t = 0; t < j->n; t++, k++)
        if (j->caps) {
          j->caps[t] = caps[k];
          memset(&caps[k], 0, sizeof caps[k]);
        }
    } else {
      j->emb = malloc((size_t)j->n * (size_t)dim * sizeof *j->emb);
      if (!j->emb) st = VLP_ERR_NOMEM;
      if (j->emb) memcpy(j->emb, emb + (size_t)k * dim, (size_t)j->n * (size_t)dim * sizeof *emb);
      k += j->n;
    }
  }
  if (st) snprintf(err, errlen, "out of memory");
done:
  if (st == VLP_ERR_NOMEM && !err[0]) snprintf(err, errlen, "out of memory");
  if (caps)
    for (int k = 0; k < items; k++) vlp_text_result_free(&caps[k]);
  free(caps);
  free(imgs);
  free(texts);
  free(emb);
  return st;
}

static void run_batch(worker *w, job **b, int nb) {
  server *s = w->srv;
  job *f = b[0];
  int items = 0;
  for (int i = 0; i < nb; i++) items += b[i]->n;
  metrics_batch(s->met, f->kind, f->kind == K_CUSTOM ? 1 : items);
  if (f->kind == K_CUSTOM) {
    f->st = VLP_OK;
    w->deadline = f->deadline;
    if (f->run) f->run(f, w);
  } else {
    char err[512] = "";
    w->deadline = f->deadline;
    for (int i = 1; i < nb; i++)
      if (b[i]->deadline < w->deadline) w->deadline = b[i]->deadline;
    vlp_status st = run_group(w, b, nb, err, sizeof err);
    /* a failed batch is retried job by job so that one bad input fails only its request;
     * a batch stopped at the earliest deadline is retried for the jobs not yet past theirs */
    for (int i = 0; i < nb; i++) {
      b[i]->st = st;
      if (st && nb > 1 && !(st == VLP_ERR_CANCELLED && now_seconds() > b[i]->deadline)) {
        err[0] = 0;
        w->deadline = b[i]->deadline;
        b[i]->st = run_group(w, &b[i], 1, err, sizeof err);
      }
      if (b[i]->st) snprintf(b[i]->err, sizeof b[i]->err, "%s", err);
    }
  }
  for (int i = 0; i < nb; i++) {
    job *j = b[i];
    w->deadline = j->deadline; /* finish may compute too (search re-ranking) */
    if (!j->rep.status) {
      if (j->st == VLP_ERR_CANCELLED)
        reply_timeout(j);
      else if (j->st)
        reply_error(&j->rep, status_of(j->st), "%s", j->err[0] ? j->err : vlp_last_error());
      else if (j->finish)
        j->finish(j, w);
      if (!j->rep.status) reply_error(&j->rep, 500, "no result");
    }
    deliver(j);
  }
}

static void wait_until(server *s, double t) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  double left = t - now_seconds();
  if (left <= 0) return;
  long ns = ts.tv_nsec + (long)(left * 1e9);
  ts.tv_sec += ns / 1000000000L;
  ts.tv_nsec = ns % 1000000000L;
  pthread_cond_timedwait(&s->qcond, &s->qlock, &ts);
}

static void *worker_main(void *arg) {
  worker *w = arg;
  server *s = w->srv;
  static job *gathering[64]; /* per worker; guarded by qlock */
  job **batch = malloc(MAX_BATCH_JOBS * sizeof *batch);
  if (!batch) return NULL;
  pthread_mutex_lock(&s->qlock);
  for (;;) {
    job *expired = NULL, **first_pp = NULL;
    for (job **pp = &s->qhead; *pp; pp = &(*pp)->next)
      if (!gathered_elsewhere(s, *pp, gathering)) {
        first_pp = pp;
        break;
      }
    if (!first_pp) {
      if (s->stopping && !s->qhead) break;
      pthread_cond_wait(&s->qcond, &s->qlock);
      continue;
    }
    job *f = *first_pp;
    unlink_job(s, first_pp);
    if (now_seconds() > f->deadline) {
      pthread_mutex_unlock(&s->qlock);
      expire(f);
      pthread_mutex_lock(&s->qlock);
      continue;
    }
    int nb = 1, items = f->n;
    batch[0] = f;
    if (f->kind != K_CUSTOM && s->o.max_batch > 1) {
      double until = f->t_enq + s->o.batch_wait_ms / 1000.0;
      gathering[w->id] = f;
      for (;;) {
        for (job **pp = &s->qhead; *pp && nb < MAX_BATCH_JOBS;) {
          job *j = *pp;
          if (now_seconds() > j->deadline) {
            unlink_job(s, pp);
            j->next = expired;
            expired = j;
          } else if (batchable(f, j) && items + j->n <= s->o.max_batch) {
            unlink_job(s, pp);
            batch[nb++] = j;
            items += j->n;
          } else {
            pp = &j->next;
          }
        }
        /* requests still being received could join; with none, waiting only adds latency */
        if (items >= s->o.max_batch || nb == MAX_BATCH_JOBS || s->stopping ||
            atomic_load(&s->receiving) <= 0 || now_seconds() >= until)
          break;
        wait_until(s, until);
      }
      gathering[w->id] = NULL;
    }
    pthread_mutex_unlock(&s->qlock);
    while (expired) {
      job *j = expired;
      expired = j->next;
      expire(j);
    }
    run_batch(w, batch, nb);
    pthread_mutex_lock(&s->qlock);
  }
  pthread_mutex_unlock(&s->qlock);
  free(batch);
  return NULL;
}

int workers_start(server *s) {
  s->workers = calloc((size_t)s->o.workers, sizeof *s->workers);
  if (!s->workers) return -1;
  for (int i = 0; i < s->o.workers; i++) {
    s->workers[i].srv = s;
    s->workers[i].id = i;
    s->workers[i].deadline = HUGE_VAL;
    s->workers[i].sess = calloc((size_t)s->n_models, sizeof *s->workers[i].sess);
    if (!s->workers[i].sess ||
        pthread_create(&s->workers[i].th, NULL, worker_main, &s->workers[i])) {
      free(s->workers[i].sess);
      s->o.workers = i;
      return -1;
    }
  }
  return 0;
}

void workers_stop(server *s) {
  pthread_mutex_lock(&s->qlock);
  s->stopping = 1;
  pthread_cond_broadcast(&s->qcond);
  pthread_mutex_unlock(&s->qlock);
  for (int i = 0; i < s->o.workers; i++) {
    pthread_join(s->workers[i].th, NULL);
    eng_worker_free(&s->workers[i]);
  }
  free(s->workers);
  s->workers = NULL;
}
