/* test_threads: one model, many threads. Each of 4 threads makes its own sessions on the
 * same loaded models (BLIP caption, VQA, retrieval and CLIP) and runs the same work twice:
 * every result (token ids, embeddings, scores) must be bit-identical to what a single
 * thread computes first. Sessions run 1 OpenMP thread each, so the numbers do not depend
 * on how a product is split over threads; and vlp_image_reader's thread against its caller,
 * and the team barrier (core/team.h) that orders the passes of a fused decoder step.
 * Also built with ThreadSanitizer in CI (.ci/run). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/team.h"
#include "testlib.h"
#include "vlp.h"

enum { N_THREADS = 4, REPEATS = 2, N_MODELS = 4, N_IMAGES = 3 };

static const char *const model_dirs[N_MODELS] = {
    "golden/models/blip-caption-tiny", "golden/models/blip-vqa-tiny", "golden/models/blip-itm-tiny",
    "golden/models/clip-tiny"};
static const char *const image_paths[N_IMAGES] = {
    "golden/images/chelsea_cat.png", "golden/images/coffee.jpg", "golden/images/rocket.jpg"};
static const char *const texts[] = {"a cat lying on a blanket", "a cup of coffee", "a rocket",
                                    "two dogs"};
enum { N_TEXTS = sizeof texts / sizeof texts[0] };

static vlp_model *models[N_MODELS];
static vlp_image images[N_IMAGES];

/* Everything one run computed, as bytes. */
typedef struct {
  unsigned char *p;
  size_t n, cap;
  int failed; /* a call failed: the message is in err */
  char err[512];
} blob;

static void put(blob *b, const void *data, size_t n) {
  if (b->n + n > b->cap) {
    size_t cap = (b->n + n) * 2;
    unsigned char *p = realloc(b->p, cap);
    if (!p) {
      b->failed = 1;
      return;
    }
    b->p = p, b->cap = cap;
  }
  memcpy(b->p + b->n, data, n);
  b->n += n;
}

static int ok(blob *b, vlp_status st) {
  if (st && !b->failed) {
    b->failed = 1;
    snprintf(b->err, sizeof b->err, "%s", vlp_last_error());
  }
  return st == VLP_OK;
}

static void put_text(blob *b, vlp_text_result *r) {
  put(b, r->ids, (size_t)r->n_ids * sizeof *r->ids);
  put(b, r->text, strlen(r->text) + 1);
  vlp_text_result_free(r);
}

/* The work of one model in session s: captions (greedy and beam search, one at an
 * interpolated size), answers, image-text matching, embeddings and zero-shot scores. */
static void run_model(int mi, vlp_session *s, blob *b) {
  vlp_features *f = NULL;
  if (!ok(b, vlp_encode_images(s, images, N_IMAGES, 0, &f))) return;
  vlp_gen_params p = vlp_gen_default_params();
  if (mi == 0) {
    vlp_text_result r[N_IMAGES];
    if (ok(b, vlp_caption(s, f, &p, r)))
      for (int i = 0; i < N_IMAGES; i++) put_text(b, &r[i]);
    p.num_beams = 3;
    p.prompt = "a picture of";
    if (ok(b, vlp_caption(s, f, &p, r)))
      for (int i = 0; i < N_IMAGES; i++) put_text(b, &r[i]);
    vlp_features *g = NULL;
    if (ok(b, vlp_encode_images(s, images, 1, 96, &g)) && ok(b, vlp_caption(s, g, &p, r)))
      put_text(b, &r[0]);
    vlp_features_free(g);
  } else if (mi == 1) {
    static const char *const q[] = {"what is in the picture?", "what color is it?"};
    for (int i = 0; i < N_IMAGES; i++)
      for (int k = 0; k < 2; k++) {
        vlp_text_result r;
        if (ok(b, vlp_vqa(s, f, i, q[k], &p, &r))) put_text(b, &r);
      }
  } else if (mi == 2) {
    for (int i = 0; i < N_IMAGES; i++)
      for (int t = 0; t < N_TEXTS; t++) {
        float itm = 0, itc = 0;
        if (ok(b, vlp_itm(s, f, i, texts[t], &itm, &itc))) put(b, &itm, 4), put(b, &itc, 4);
      }
    float e[N_TEXTS * 1024];
    if (vlp_model_embed_dim(models[mi]) <= 1024 && ok(b, vlp_embed_texts(s, texts, N_TEXTS, e)))
      put(b, e, (size_t)N_TEXTS * vlp_model_embed_dim(models[mi]) * sizeof *e);
  } else {
    int dim = vlp_model_embed_dim(models[mi]);
    float *e = malloc((size_t)(N_IMAGES + N_TEXTS) * dim * sizeof *e), scores[N_TEXTS];
    if (e && ok(b, vlp_embed_images(s, images, N_IMAGES, 0, e)) &&
        ok(b, vlp_embed_texts(s, texts, N_TEXTS, e + (size_t)N_IMAGES * dim))) {
      put(b, e, (size_t)(N_IMAGES + N_TEXTS) * dim * sizeof *e);
      for (int i = 0; i < N_IMAGES; i++)
        if (ok(b, vlp_tag_scores(s, f, i, e + (size_t)N_IMAGES * dim, N_TEXTS, scores)))
          put(b, scores, sizeof scores);
    }
    free(e);
  }
  vlp_features_free(f);
}

/* One model's work in a new session of 1 thread. */
static void run_in_new_session(int mi, blob *b) {
  vlp_session_params sp = vlp_session_default_params();
  sp.n_threads = 1;
  vlp_session *s = NULL;
  if (ok(b, vlp_session_new(models[mi], &sp, &s))) run_model(mi, s, b);
  vlp_session_free(s);
}

typedef struct {
  int id;
  blob out[REPEATS][N_MODELS];
} worker;

static void *work(void *arg) {
  worker *w = arg;
  /* threads start on different models so that different models run at the same time */
  for (int r = 0; r < REPEATS; r++)
    for (int k = 0; k < N_MODELS; k++) {
      int mi = (w->id + k) % N_MODELS;
      run_in_new_session(mi, &w->out[r][mi]);
    }
  return NULL;
}

/* vlp_image_reader: its threads (one at ahead 1, two at ahead 3) decode and fit
 * (CLIP's processor) while this one adds paths and takes images in between;
 * every image equals the same file fitted here, in queue order (images of
 * different sizes, so the two threads can finish out of order); the reader is freed
 * with paths still queued. */
static void check_reader(const vlp_model *m) {
  vlp_image want[N_IMAGES];
  for (int i = 0; i < N_IMAGES; i++) CHECK(vlp_model_fit_image(m, &images[i], 0, &want[i]) == 0);
  for (int ahead = 1; ahead <= 3; ahead += 2) {
    vlp_image_reader *r = NULL;
    CHECK(vlp_image_reader_new(m, 0, ahead, &r) == VLP_OK);
    if (!r) break;
    for (int k = 0; k < 4 * N_IMAGES; k++) {
      CHECK(vlp_image_reader_add(r, image_paths[k % N_IMAGES]) == VLP_OK);
      if (k % 2 == 0)
        continue; /* two added, one taken: the queue grows as the thread works
                   */
      vlp_image img;
      const vlp_image *w = &want[(k / 2) % N_IMAGES];
      CHECK(vlp_image_reader_next(r, &img) == VLP_OK && img.w == w->w && img.h == w->h &&
            !memcmp(img.rgb, w->rgb, (size_t)img.w * (size_t)img.h * 3));
      vlp_image_free(&img);
    }
    vlp_image_reader_free(r);
  }
  for (int i = 0; i < N_IMAGES; i++) vlp_image_free(&want[i]);
}

/* team_wait between rounds: each thread writes its own slot (plain memory), waits, reads
 * every slot, waits again, as a fused step's passes write and read shared buffers; and in
 * between, the items of a pass handed out by team_next: each taken exactly once. */
enum { TEAM = 3, ROUNDS = 3000, ITEMS = 40 };
static team_barrier team_bar;
static int team_slot[TEAM], team_bad[TEAM], team_item[ITEMS];

static void *team_member(void *arg) {
  int t = (int)(long)arg;
  for (int r = 1; r <= ROUNDS; r++) {
    team_slot[t] = r;
    team_wait(&team_bar, TEAM);
    for (int u = 0; u < TEAM; u++) team_bad[t] += team_slot[u] != r;
    long lo, hi, n = ITEMS - r % 7, chunk = 1 + r % 3;
    while (team_next(&team_bar, t, TEAM, n, chunk, &lo, &hi))
      for (long i = lo; i < hi; i++) team_item[i]++;
    team_wait(&team_bar, TEAM);
    if (t == 0)
      for (long i = 0; i < ITEMS; i++) {
        team_bad[t] += team_item[i] != (i < n);
        team_item[i] = 0;
      }
    team_wait(&team_bar, TEAM);
  }
  return NULL;
}

/* One thread asking for every item of a pass: its own share front to back first, then the
 * next threads' shares (shares of 10 items over 3 threads: [0, 3), [3, 6), [6, 10)). */
static void check_team_order(void) {
  team_barrier b;
  team_init(&b);
  long want[][2] = {{3, 5}, {5, 6}, {6, 8}, {8, 10}, {0, 2}, {2, 3}}, lo, hi;
  for (int i = 0; i < 6; i++) {
    CHECK(team_next(&b, 1, 3, 10, 2, &lo, &hi));
    CHECK(lo == want[i][0] && hi == want[i][1]);
  }
  CHECK(!team_next(&b, 1, 3, 10, 2, &lo, &hi));
  team_wait(&b, 1); /* a new pass starts from the front again */
  CHECK(team_next(&b, 0, 3, 10, 2, &lo, &hi) && lo == 0 && hi == 2);
}

static void check_team(void) {
  team_init(&team_bar);
  pthread_t th[TEAM];
  for (long t = 0; t < TEAM; t++) CHECK(pthread_create(&th[t], NULL, team_member, (void *)t) == 0);
  for (int t = 0; t < TEAM; t++) pthread_join(th[t], NULL);
  for (int t = 0; t < TEAM; t++) CHECK(team_bad[t] == 0);
}

int main(void) {
  check_team_order();
  check_team();
  /* loaded with 1 thread too (packing the weights runs the model's threads) */
  vlp_model_params mp = vlp_model_default_params();
  mp.n_threads = 1;
  for (int i = 0; i < N_MODELS; i++)
    if (vlp_model_load_with(model_dirs[i], &mp, &models[i])) {
      fprintf(stderr, "%s\n", vlp_last_error());
      return 1;
    }
  for (int i = 0; i < N_IMAGES; i++)
    if (vlp_image_load(image_paths[i], &images[i])) {
      fprintf(stderr, "%s\n", vlp_last_error());
      return 1;
    }
  blob ref[N_MODELS] = {0};
  for (int mi = 0; mi < N_MODELS; mi++) {
    run_in_new_session(mi, &ref[mi]);
    if (ref[mi].failed) fprintf(stderr, "%s: %s\n", model_dirs[mi], ref[mi].err);
    CHECK(!ref[mi].failed && ref[mi].n > 0);
  }
  static worker w[N_THREADS];
  pthread_t th[N_THREADS];
  for (int t = 0; t < N_THREADS; t++) {
    w[t].id = t;
    CHECK(pthread_create(&th[t], NULL, work, &w[t]) == 0);
  }
  for (int t = 0; t < N_THREADS; t++) pthread_join(th[t], NULL);
  for (int t = 0; t < N_THREADS; t++)
    for (int r = 0; r < REPEATS; r++)
      for (int mi = 0; mi < N_MODELS; mi++) {
        blob *b = &w[t].out[r][mi];
        int same = !b->failed && b->n == ref[mi].n && !memcmp(b->p, ref[mi].p, b->n);
        if (!same)
          fprintf(stderr, "thread %d, run %d, %s: %s\n", t, r, model_dirs[mi],
                  b->failed ? b->err : "results differ from the single-thread run");
        CHECK(same);
        free(b->p);
      }
  for (int mi = 0; mi < N_MODELS; mi++) free(ref[mi].p);
  check_reader(models[3]);
  for (int i = 0; i < N_IMAGES; i++) vlp_image_free(&images[i]);
  for (int i = 0; i < N_MODELS; i++) vlp_model_free(models[i]);
  return test_done();
}
