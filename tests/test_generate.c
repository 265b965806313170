/* test_generate: fusion/generate.c against hand-traced toy decoders (greedy, min_length,
 * repetition penalty, max_new_tokens, beam search with length penalty / early stopping /
 * the transformers 4.47 stopping rule, batches) and against an independent, deliberately
 * naive re-implementation of HF's search on pseudo-random toy models.
 *
 * The toy decoder is stateful like a real one: it keeps each row's history (what it was
 * fed), checks the T protocol (whole prompt first, then 1 token) and permutes histories
 * in reorder(); its logits are a pure function of (item, history). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "fusion/generate.h"
#include "testlib.h"

#define V 5 /* hand-traced cases: 0 = bos/pad, 1 = eos, 2..4 words */
#define EOS 1
#define MAXROWS 32
#define MAXLEN 64

/* ---- toy models --------------------------------------------------------------------- */

typedef struct {
  int seq[8];
  int len;
  double w[V]; /* weights (log taken) or raw logits */
} rule;

typedef struct {
  const rule *rules;
  int n_rules;
  int raw;    /* w are raw logits, else probabilities -> logits = log(w) */
  int loop;   /* no rule: argmax token 2 + len % 3, never eos */
  int random; /* pseudo-random logits from a hash of (salt, history) */
  unsigned salt;
  int vocab;
} model;

static void model_logits(const model *m, const int *h, int len, float *out) {
  if (m->random) {
    uint64_t x = 1469598103934665603ull ^ m->salt;
    for (int i = 0; i < len; i++) x = (x ^ (uint64_t)(h[i] + 1)) * 1099511628211ull;
    for (int t = 0; t < m->vocab; t++) {
      uint64_t y = x ^ (uint64_t)(t + 1) * 0x9E3779B97F4A7C15ull;
      y ^= y >> 31;
      y *= 0xBF58476D1CE4E5B9ull;
      y ^= y >> 29;
      out[t] = (float)((double)(y >> 11) / 9007199254740992.0 * 8.0 - 4.0);
      if (t == EOS) out[t] += 0.8f;
    }
    return;
  }
  for (int r = 0; r < m->n_rules; r++) {
    const rule *ru = &m->rules[r];
    if (ru->len == len && memcmp(ru->seq, h, (size_t)len * sizeof(int)) == 0) {
      for (int t = 0; t < V; t++) out[t] = m->raw ? (float)ru->w[t] : (float)log(ru->w[t]);
      return;
    }
  }
  if (m->loop) {
    for (int t = 0; t < V; t++) out[t] = 0.0f;
    out[2 + len % 3] = 1.0f;
    return;
  }
  /* default: eos almost surely */
  for (int t = 0; t < V; t++) out[t] = m->raw ? 0.0f : (float)log(0.01);
  out[EOS] = m->raw ? 5.0f : (float)log(0.96);
}

typedef struct {
  const model *item_model[8]; /* per batch item */
  int nb;
  int hist[MAXROWS][MAXLEN];
  int len[MAXROWS];
  int calls, protocol_errors, prompt_len;
} toy;

static vlp_status toy_step(void *ctx, const int *ids, int N, int T, float *logits) {
  toy *d = ctx;
  if (N > MAXROWS) return vlp_fail(VLP_ERR_INVALID, "toy: %d rows", N);
  if ((d->calls == 0 && T != d->prompt_len) || (d->calls > 0 && T != 1)) d->protocol_errors++;
  d->calls++;
  for (int r = 0; r < N; r++) {
    if (d->len[r] + T > MAXLEN) return vlp_fail(VLP_ERR_INVALID, "toy: too long");
    memcpy(d->hist[r] + d->len[r], ids + (size_t)r * T, (size_t)T * sizeof(int));
    d->len[r] += T;
    const model *m = d->item_model[r / d->nb];
    model_logits(m, d->hist[r], d->len[r], logits + (size_t)r * m->vocab);
  }
  return VLP_OK;
}

static void toy_reorder(void *ctx, const int *src, int N) {
  toy *d = ctx;
  static int h2[MAXROWS][MAXLEN], l2[MAXROWS];
  for (int r = 0; r < N; r++) {
    memcpy(h2[r], d->hist[src[r]], sizeof h2[r]);
    l2[r] = d->len[src[r]];
  }
  memcpy(d->hist, h2, sizeof(int) * MAXLEN * (size_t)N);
  memcpy(d->len, l2, sizeof(int) * (size_t)N);
}

/* Run generate on toy models (one per item); returns the status, fills seqs/lens. */
static vlp_status run(const gen_params *p, const model **items, int batch, const int *prompt,
                      int plen, int **seqs, int *lens, int *protocol_errors) {
  static toy d;
  memset(&d, 0, sizeof d);
  for (int b = 0; b < batch; b++) d.item_model[b] = items[b];
  d.nb = p->num_beams;
  d.prompt_len = plen;
  gen_decoder dec = {.ctx = &d, .vocab = items[0]->vocab, .step = toy_step, .reorder = toy_reorder};
  vlp_status st = generate(p, &dec, prompt, plen, batch, seqs, lens);
  if (protocol_errors) *protocol_errors = d.protocol_errors;
  return st;
}

/* generate with a single model; compare with want[0..nwant). */
static int expect(const char *name, const gen_params *p, const model *m, const int *prompt,
                  int plen, const int *want, int nwant) {
  int *seq = NULL, len = 0, perr = 0;
  const model *items[1] = {m};
  vlp_status st = run(p, items, 1, prompt, plen, &seq, &len, &perr);
  int ok = st == VLP_OK && len == nwant && memcmp(seq, want, (size_t)nwant * sizeof(int)) == 0 &&
           perr == 0;
  if (!ok) {
    fprintf(stderr, "%s: status %d (%s) protocol errors %d, got", name, (int)st, vlp_last_error(),
            perr);
    for (int i = 0; st == VLP_OK && i < len; i++) fprintf(stderr, " %d", seq[i]);
    fprintf(stderr, "\n");
  }
  free(seq);
  return ok;
}

#define EXPECT(name, p, m, prompt, want)                                      \
  CHECK(expect(name, p, m, prompt, (int)(sizeof(prompt) / sizeof(int)), want, \
               (int)(sizeof(want) / sizeof(int))))

/* ---- hand-traced models ------------------------------------------------------------- */

/* G: greedy on raw logits. [0] -> 2, [0,2] -> 3, [0,2,3] -> eos (4 second), default eos */
static const rule G_rules[] = {
    {{0}, 1, {0, 0.5, 3, 1, 0}},
    {{0, 2}, 2, {0, 0, 0, 2, 0}},
    {{0, 2, 3}, 3, {0, 4, 0, 0, 3.5}},
};
/* R: repetition penalty. [0]: 0 (4.0) beats 2 (3.0) unless 0 is penalised;
 * [0,2]: 2 (-0.6) beats 3 (-1.0) unless 2 is penalised by more than 1/0.6 */
static const rule R_rules[] = {
    {{0}, 1, {4, -5, 3, -5, -5}},
    {{0, 2}, 2, {-5, -5, -0.6, -1.0, -5}},
    {{0, 2, 3}, 3, {0, 4, 0, 0, 0}},
};
/* B1 (probabilities). Traced with num_beams 2, prompt [0]:
 * step 1: [0,eos] -0.693 (hyp, gen_len 1), beams [0,2] -1.204, [0,3] -1.609.
 * step 2: [0,2,eos] -1.309, [0,3,eos] -2.120 (both rank < 2 -> hyps), beams [0,3,4] -2.525,
 *         [0,2,4] -3.507.
 * step 3: [0,3,4] and [0,2,4] follow the default (eos .96): [0,3,4,eos] -2.566.
 * lp 0: hyps -0.693, -1.309 after step 2; best candidate -1.309 <= worst -> done: [0,1].
 * lp 1: hyps -0.693, -0.654 ([0,3,eos] -1.060 dropped); 4.47 test: -1.309/2 = -0.654 >
 *       worst -0.693 -> go on; step 3: -2.566/3 = -0.855 not kept, -0.855 <= worst -> done:
 *       [0,2,1].
 * lp 2: hyps -0.327 ([0,2,eos]), -0.530 ([0,3,eos]); not done (-0.327 > -0.530); step 3:
 *       [0,3,4,eos] -2.566/9 = -0.285 kept, worst -0.327 < -0.285 -> go on; step 4: best
 *       candidate from the default ~ -7.17/16 = -0.448 <= worst -> done: [0,3,4,1].
 * min_length 3, lp 1: eos blocked at steps 1-2: beams [0,3,4] -2.526, [0,2,4] -3.51; step
 *       3: hyps [0,3,4,eos] -0.855, [0,2,4,eos] -1.183; -0.855 > worst -> go on; step 4:
 *       default eos -7.17/4 <= worst -> done: [0,3,4,1]. */
static const rule B1_rules[] = {
    {{0}, 1, {0.0001, 0.5, 0.2998, 0.2, 0.0001}},
    {{0, 2}, 2, {0.0001, 0.9, 0.0001, 0.0001, 0.0997}},
    {{0, 3}, 2, {0.0001, 0.6, 0.0001, 0.0001, 0.3997}},
};
/* B3: the transformers 4.47 rule (best of ALL 2*num_beams candidates, eos included) keeps
 * searching where the >= 4.50 rule (best running beam) stops. num_beams 2, lp 1:
 * step 1: beams [0,2] -0.693, [0,3] -0.916 ([0,eos] ranks 3rd: not a hypothesis).
 * step 2: beams [0,2,4] -0.799, [0,3,4] -1.022.
 * step 3: [0,2,4,eos] -1.309 (hyp -0.436), [0,3,4,eos] -1.620 (hyp -0.540), beams
 *         [0,2,4,2] -1.715, [0,3,4,3] -1.821. early_stopping True stops here: [0,2,4,1].
 *         4.47: -1.309/3 = -0.436 > worst -0.540 -> go on (4.50 would stop: -1.715/3 < -0.540).
 * step 4: [0,2,4,2,eos] -1.716 (hyp -0.429, best; -0.540 dropped, worst -0.436),
 *         -1.716/4 = -0.429 > worst -> go on; step 5: default -> done: [0,2,4,2,1].
 * max_length 4 stops after step 3: open beams -0.572 / -0.607 lose: [0,2,4,1].
 * max_length 3 stops after step 2 without hypotheses: best open beam [0,2,4]. */
static const rule B3_rules[] = {
    {{0}, 1, {0.0001, 0.0997, 0.5, 0.4, 0.0002}},
    {{0, 2}, 2, {0.0001, 0.0997, 0.0001, 0.0001, 0.9}},
    {{0, 3}, 2, {0.0001, 0.0997, 0.0001, 0.0001, 0.9}},
    {{0, 2, 4}, 3, {0.0001, 0.6, 0.3998, 0.0001, 0.0001}},
    {{0, 3, 4}, 3, {0.0001, 0.55, 0.0001, 0.4498, 0.0001}},
    {{0, 2, 4, 2}, 4, {0.0001, 0.9996, 0.0001, 0.0001, 0.0001}},
};

/* ---- naive reference of HF's search (independent of generate.c's data layout) --------- */

typedef struct {
  int seq[MAXLEN];
  int len;
  int eos;
  double score;
} ref_hyp;

typedef struct {
  float s;
  int idx;
} cand;

static int cand_cmp(const void *a, const void *b) {
  const cand *x = a, *y = b;
  if (x->s > y->s) return -1;
  if (x->s < y->s) return 1;
  return x->idx - y->idx;
}

static void ref_process(const gen_params *p, float *x, int vocab, const int *seq, int len) {
  if (p->repetition_penalty != 1.0f) {
    unsigned char seen[64] = {0};
    for (int i = 0; i < len; i++) {
      if (seen[seq[i]]) continue;
      seen[seq[i]] = 1;
      float v = x[seq[i]];
      x[seq[i]] = v < 0 ? v * p->repetition_penalty : v / p->repetition_penalty;
    }
  }
  if (len < p->min_length) x[EOS] = -INFINITY;
  (void)vocab;
}

static int ref_max_len(const gen_params *p, int plen) {
  return p->max_new_tokens > 0 ? plen + p->max_new_tokens : p->max_length;
}

static int ref_greedy(const gen_params *p, const model *m, const int *prompt, int plen, int *out) {
  int len = plen, maxl = ref_max_len(p, plen);
  float x[64];
  memcpy(out, prompt, (size_t)plen * sizeof(int));
  for (;;) {
    model_logits(m, out, len, x);
    ref_process(p, x, m->vocab, out, len);
    int best = 0;
    for (int t = 1; t < m->vocab; t++)
      if (x[t] > x[best]) best = t;
    out[len++] = best;
    if (best == EOS || len >= maxl) return len;
  }
}

/* HF BeamHypotheses.add with a plain list: append, then remove the minimum when too many */
static void ref_add(ref_hyp *H, int *n, double *worst, int nb, const int *seq, int len, int eos,
                    double score) {
  if (*n < nb || score > *worst) {
    ref_hyp *h = &H[(*n)++];
    memcpy(h->seq, seq, (size_t)len * sizeof(int));
    h->len = len;
    h->eos = eos;
    h->score = score;
    if (*n > nb) {
      int lo = 0, second = -1;
      for (int i = 1; i < *n; i++)
        if (H[i].score < H[lo].score) lo = i;
      for (int i = 0; i < *n; i++)
        if (i != lo && (second < 0 || H[i].score < H[second].score)) second = i;
      *worst = H[second].score;
      for (int i = lo; i + 1 < *n; i++) H[i] = H[i + 1];
      (*n)--;
    } else {
      *worst = score < *worst ? score : *worst;
    }
  }
}

static int ref_beam(const gen_params *p, const model *m, const int *prompt, int plen, int *out) {
  const int nb = p->num_beams, vocab = m->vocab, maxl = ref_max_len(p, plen);
  static int beams[16][MAXLEN], nbeams[16][MAXLEN];
  float score[16], nscore[16];
  ref_hyp H[17];
  int n = 0;
  double worst = 1e9;
  int len = plen, done = 0;
  for (int j = 0; j < nb; j++) {
    memcpy(beams[j], prompt, (size_t)plen * sizeof(int));
    score[j] = j == 0 ? 0.0f : -1e9f;
  }
  cand *all = malloc(sizeof(cand) * (size_t)nb * (size_t)vocab);
  while (!done) {
    for (int j = 0; j < nb; j++) {
      float x[64];
      model_logits(m, beams[j], len, x);
      float mx = x[0];
      for (int t = 1; t < vocab; t++) mx = x[t] > mx ? x[t] : mx;
      double sum = 0;
      for (int t = 0; t < vocab; t++) sum += exp((double)(x[t] - mx));
      float lse = (float)log(sum);
      for (int t = 0; t < vocab; t++) x[t] = (x[t] - mx) - lse;
      ref_process(p, x, vocab, beams[j], len);
      for (int t = 0; t < vocab; t++) {
        all[j * vocab + t].s = x[t] + score[j];
        all[j * vocab + t].idx = j * vocab + t;
      }
    }
    qsort(all, (size_t)nb * vocab, sizeof(cand), cand_cmp);
    int filled = 0;
    for (int rank = 0; rank < 2 * nb && filled < nb; rank++) {
      int j = all[rank].idx / vocab, t = all[rank].idx % vocab;
      if (t == EOS) {
        if (rank < nb)
          ref_add(H, &n, &worst, nb, beams[j], len, 1,
                  all[rank].s / pow(len + 1 - plen, p->length_penalty));
        continue;
      }
      memcpy(nbeams[filled], beams[j], (size_t)len * sizeof(int));
      nbeams[filled][len] = t;
      nscore[filled] = all[rank].s;
      filled++;
    }
    if (n >= nb) {
      if (p->early_stopping == 1) {
        done = 1;
      } else {
        int dl = (p->early_stopping == 2 && p->length_penalty > 0) ? maxl - plen : len + 1 - plen;
        done = worst >= all[0].s / pow(dl, p->length_penalty);
      }
    }
    memcpy(beams, nbeams, sizeof(beams[0]) * (size_t)nb);
    memcpy(score, nscore, sizeof(float) * (size_t)nb);
    len++;
    if (len >= maxl) break;
  }
  free(all);
  if (!done)
    for (int j = 0; j < nb; j++)
      ref_add(H, &n, &worst, nb, beams[j], len, 0, score[j] / pow(len - plen, p->length_penalty));
  int best = 0;
  for (int i = 1; i < n; i++)
    if (H[i].score >= H[best].score) best = i;
  memcpy(out, H[best].seq, (size_t)H[best].len * sizeof(int));
  int olen = H[best].len;
  if (H[best].eos) out[olen++] = EOS;
  return olen;
}

/* ---- tests ---------------------------------------------------------------------------- */

static void test_greedy(void) {
  model G = {G_rules, 3, 1, 0, 0, 0, V};
  model R = {R_rules, 3, 1, 0, 0, 0, V};
  model L = {NULL, 0, 1, 1, 0, 0, V};
  gen_params p = gen_default_params();
  p.eos_id = EOS;
  p.pad_id = 0;
  int pr[] = {0};
  int w1[] = {0, 2, 3, 1};
  EXPECT("greedy", &p, &G, pr, w1);
  p.min_length = 4; /* [0,2,3] has length 3 < 4: eos masked, 4 instead, then default eos */
  int w2[] = {0, 2, 3, 4, 1};
  EXPECT("greedy min_length", &p, &G, pr, w2);
  p.min_length = 3; /* length 3 is not < 3: eos allowed */
  EXPECT("greedy min_length 3", &p, &G, pr, w1);
  p = gen_default_params();
  p.eos_id = EOS;
  int w3[] = {0, 0, 1};
  EXPECT("no repetition penalty", &p, &R, pr, w3);
  p.repetition_penalty = 2.0f; /* 4/2 < 3; -0.6*2 < -1.0 */
  int w4[] = {0, 2, 3, 1};
  EXPECT("repetition penalty 2", &p, &R, pr, w4);
  p.repetition_penalty = 1.5f; /* 4/1.5 < 3; -0.6*1.5 > -1.0 */
  int w5[] = {0, 2, 2, 1};
  EXPECT("repetition penalty 1.5", &p, &R, pr, w5);
  /* max_length counts the prompt; max_new_tokens overrides it */
  p = gen_default_params();
  p.eos_id = EOS;
  p.max_length = 5;
  int pr2[] = {0, 3};
  int w6[] = {0, 3, 4, 2, 3};
  EXPECT("max_length", &p, &L, pr2, w6);
  p.max_new_tokens = 4;
  int w7[] = {0, 3, 4, 2, 3, 4};
  EXPECT("max_new_tokens", &p, &L, pr2, w7);
  /* a prompt already at max_length still gets one token, like HF */
  p.max_new_tokens = 0;
  p.max_length = 2;
  int w8[] = {0, 3, 4};
  EXPECT("prompt at max_length", &p, &L, pr2, w8);

  /* batch of 2: item 0 stops at eos (then is fed pad), item 1 runs to max_length */
  p = gen_default_params();
  p.eos_id = EOS;
  p.max_length = 6;
  const model *items[2] = {&G, &L};
  int *seqs[2] = {NULL, NULL}, lens[2] = {0, 0}, perr = -1;
  vlp_status st = run(&p, items, 2, pr, 1, seqs, lens, &perr);
  int b0[] = {0, 2, 3, 1}, b1[] = {0, 3, 4, 2, 3, 4};
  CHECK(st == VLP_OK && perr == 0);
  CHECK(st == VLP_OK && lens[0] == 4 && memcmp(seqs[0], b0, sizeof b0) == 0);
  CHECK(st == VLP_OK && lens[1] == 6 && memcmp(seqs[1], b1, sizeof b1) == 0);
  free(seqs[0]);
  free(seqs[1]);
}

static void test_beam(void) {
  model B1 = {B1_rules, 3, 0, 0, 0, 0, V};
  model B3 = {B3_rules, 6, 0, 0, 0, 0, V};
  gen_params p = gen_default_params();
  p.eos_id = EOS;
  p.pad_id = 0;
  p.num_beams = 2;
  p.max_length = 10;
  int pr[] = {0};
  p.length_penalty = 0.0f;
  int w0[] = {0, 1};
  EXPECT("beam lp 0: short finished hypothesis wins", &p, &B1, pr, w0);
  p.length_penalty = 1.0f;
  int w1[] = {0, 2, 1};
  EXPECT("beam lp 1", &p, &B1, pr, w1);
  p.length_penalty = 2.0f;
  int w2[] = {0, 3, 4, 1};
  EXPECT("beam lp 2: longer hypothesis wins", &p, &B1, pr, w2);
  p.length_penalty = 1.0f;
  p.min_length = 3;
  int w3[] = {0, 3, 4, 1};
  EXPECT("beam min_length", &p, &B1, pr, w3);
  p.min_length = 0;

  int w4[] = {0, 2, 4, 2, 1};
  EXPECT("beam 4.47 stopping rule", &p, &B3, pr, w4);
  p.early_stopping = 1;
  int w5[] = {0, 2, 4, 1};
  EXPECT("beam early_stopping True", &p, &B3, pr, w5);
  p.early_stopping = 0;
  p.max_length = 4;
  EXPECT("beam max_length 4", &p, &B3, pr, w5);
  p.max_length = 3;
  int w6[] = {0, 2, 4};
  EXPECT("beam max_length 3: open beam", &p, &B3, pr, w6);
  p.max_length = 20;
  p.max_new_tokens = 2;
  EXPECT("beam max_new_tokens 2", &p, &B3, pr, w6);
  p.max_new_tokens = 0;

  /* batch of 2: item 0 finishes at step 3 (then padded), item 1 at step 5 */
  p.max_length = 10;
  const model *items[2] = {&B1, &B3};
  int *seqs[2] = {NULL, NULL}, lens[2] = {0, 0}, perr = -1;
  vlp_status st = run(&p, items, 2, pr, 1, seqs, lens, &perr);
  CHECK(st == VLP_OK && perr == 0);
  CHECK(st == VLP_OK && lens[0] == 3 && memcmp(seqs[0], w1, sizeof w1) == 0);
  CHECK(st == VLP_OK && lens[1] == 5 && memcmp(seqs[1], w4, sizeof w4) == 0);
  free(seqs[0]);
  free(seqs[1]);
}

static void test_errors(void) {
  model G = {G_rules, 3, 1, 0, 0, 0, V};
  gen_params p = gen_default_params();
  p.eos_id = EOS;
  int pr[] = {0}, bad[] = {7};
  int *seq = NULL, len = 0;
  const model *items[1] = {&G};
  CHECK(run(&p, items, 1, bad, 1, &seq, &len, NULL) == VLP_ERR_INVALID);
  CHECK(strstr(vlp_last_error(), "prompt id 7") != NULL);
  p.eos_id = 9;
  CHECK(run(&p, items, 1, pr, 1, &seq, &len, NULL) == VLP_ERR_INVALID);
  p.eos_id = EOS;
  p.repetition_penalty = 0.0f;
  CHECK(run(&p, items, 1, pr, 1, &seq, &len, NULL) == VLP_ERR_INVALID);
  p.repetition_penalty = 1.0f;
  p.num_beams = 2;
  gen_decoder dec = {.ctx = NULL, .vocab = V, .step = toy_step};
  CHECK(generate(&p, &dec, pr, 1, 1, &seq, &len) == VLP_ERR_INVALID);
}

/* Random toy models: generate vs the naive reference over many settings. */
static void test_random(void) {
  const float lps[] = {1.0f, 0.0f, 0.5f, 2.0f, -0.5f};
  int mismatches = 0, runs = 0;
  for (int trial = 0; trial < 400; trial++) {
    gen_params p = gen_default_params();
    p.eos_id = EOS;
    p.pad_id = 0;
    p.num_beams = trial % 4 == 0 ? 1 : 2 + trial % 3;
    p.max_length = 4 + trial % 9;
    p.min_length = (trial / 3) % 4 == 0 ? 3 + trial % 3 : 0;
    p.repetition_penalty = (trial / 5) % 3 == 0 ? 1.3f : 1.0f;
    p.length_penalty = lps[(trial / 7) % 5];
    p.early_stopping = (trial / 11) % 3;
    if (trial % 13 == 0) p.max_new_tokens = 1 + trial % 5;
    int vocab = 3 + trial % 5 + (p.num_beams > 2 ? 2 : 0);
    int batch = 1 + trial % 3;
    int plen = 1 + trial % 3;
    int prompt[3] = {0, 2, vocab - 1};
    model ms[3];
    const model *items[3];
    for (int b = 0; b < batch; b++) {
      ms[b] = (model){NULL, 0, 1, 0, 1, (unsigned)(trial * 7 + b), vocab};
      items[b] = &ms[b];
    }
    int *seqs[3] = {NULL, NULL, NULL}, lens[3], perr = -1;
    vlp_status st = run(&p, items, batch, prompt, plen, seqs, lens, &perr);
    runs++;
    if (st != VLP_OK || perr != 0) {
      fprintf(stderr, "random trial %d: status %d %s\n", trial, (int)st, vlp_last_error());
      mismatches++;
      continue;
    }
    for (int b = 0; b < batch; b++) {
      int want[MAXLEN];
      int n = p.num_beams == 1 ? ref_greedy(&p, &ms[b], prompt, plen, want)
                               : ref_beam(&p, &ms[b], prompt, plen, want);
      if (n != lens[b] || memcmp(want, seqs[b], (size_t)n * sizeof(int)) != 0) {
        fprintf(stderr, "random trial %d item %d (beams %d): mismatch\n", trial, b, p.num_beams);
        mismatches++;
      }
      free(seqs[b]);
    }
  }
  printf("random: %d runs, %d mismatches\n", runs, mismatches);
  CHECK(mismatches == 0);
}

/* ---- greedy search on bounds ------------------------------------------------------------ */

#define BV 320 /* largest vocabulary of the bounded trials */

/* A toy decoder that also hands out estimates within pseudo-random radii of its logits
 * (step_bounds) and the logits themselves for the ids asked (exact). With `ties` its logits
 * are multiples of 1/2, so equal maxima happen and the lowest id must win. */
typedef struct {
  toy t;
  const model *m;
  int vocab, ties, tight;
  int nan_step; /* the step whose row 0 estimates hold a NaN (-1: none) */
  int steps;
  long asked, offered; /* ids passed to exact(); ids of the rows bounded */
  float truth[MAXROWS][BV];
} btoy;

static vlp_status btoy_step(void *ctx, const int *ids, int N, int T, float *logits) {
  btoy *b = ctx;
  vlp_status st = toy_step(&b->t, ids, N, T, logits);
  for (int r = 0; r < N && !st; r++)
    for (int j = 0; j < b->vocab; j++) {
      float *x = logits + (size_t)r * b->vocab + j;
      if (b->ties) *x = roundf(*x * 2.0f) / 2.0f;
      b->truth[r][j] = *x;
    }
  return st;
}

static vlp_status btoy_step_bounds(void *ctx, const int *ids, int N, int T, float *est,
                                   float *rad) {
  btoy *b = ctx;
  vlp_status st = btoy_step(ctx, ids, N, T, est);
  uint64_t h = 0x9E3779B97F4A7C15ull * (uint64_t)(b->steps + 1);
  for (int r = 0; r < N && !st; r++)
    for (int j = 0; j < b->vocab; j++) {
      h ^= h >> 29, h *= 0xBF58476D1CE4E5B9ull, h ^= h >> 32;
      double u = (double)(h >> 11) / 9007199254740992.0, v = (double)(h & 0xffff) / 65536.0;
      float d = (float)(b->tight ? 0.01 + 0.05 * u : 0.2 + 3.0 * u);
      size_t at = (size_t)r * b->vocab + j;
      est[at] = b->truth[r][j] + (float)((2.0 * v - 1.0) * 0.99 * d);
      rad[at] = d;
    }
  if (!st && b->steps == b->nan_step) est[0] = NAN;
  b->offered += (long)N * b->vocab;
  b->steps++;
  return st;
}

static void btoy_exact(void *ctx, int row, const int *ids, int n, float *out) {
  btoy *b = ctx;
  for (int i = 0; i < n; i++) out[i] = b->truth[row][ids[i]];
  b->asked += n;
}

/* Greedy settings of a trial: repetition penalty 1, 1.3, 0.7 in turn, min_length
 * `min_length` in one trial of four. */
static gen_params trial_params(int trial, int max_length, int min_length) {
  const float pens[] = {1.0f, 1.3f, 0.7f};
  gen_params p = gen_default_params();
  p.eos_id = EOS, p.pad_id = 0;
  p.max_length = max_length;
  p.min_length = trial % 4 == 1 ? min_length : 0;
  p.repetition_penalty = pens[trial % 3];
  return p;
}

/* Greedy search on bounds picks exactly the tokens of the full logits: repetition penalty
 * above and below 1, min_length, ties, batches, a NaN estimate; and with tight radii asks
 * for few exact logits. */
static void test_bounded(void) {
  static btoy b;
  int mismatches = 0;
  long asked_tight = 0, offered_tight = 0;
  for (int trial = 0; trial < 120; trial++) {
    gen_params p = trial_params(trial, 6 + trial % 7, 5);
    int vocab = 40 + 23 * (trial % 13), batch = 1 + trial % 3;
    int prompt[2] = {0, 2 + trial % 5};
    model m = {NULL, 0, 1, 0, 1, (unsigned)(trial * 31 + 5), vocab};
    int *want[3] = {0}, *got[3] = {0}, wl[3], gl[3];
    for (int pass = 0; pass < 2; pass++) {
      memset(&b, 0, sizeof b);
      for (int i = 0; i < batch; i++) b.t.item_model[i] = &m;
      b.t.nb = 1, b.t.prompt_len = 2;
      b.m = &m, b.vocab = vocab, b.ties = trial % 5 == 2, b.tight = trial % 2;
      b.nan_step = trial % 7 == 3 ? 1 : -1;
      gen_decoder dec = {.ctx = &b, .vocab = vocab, .step = btoy_step};
      if (pass) dec.step_bounds = btoy_step_bounds, dec.exact = btoy_exact;
      CHECK(generate(&p, &dec, prompt, 2, batch, pass ? got : want, pass ? gl : wl) == VLP_OK);
    }
    if (b.tight && b.nan_step < 0) asked_tight += b.asked, offered_tight += b.offered;
    CHECK(b.steps > 0);
    for (int i = 0; i < batch; i++) {
      if (gl[i] != wl[i] || memcmp(got[i], want[i], (size_t)wl[i] * sizeof(int)) != 0) {
        fprintf(stderr, "bounded trial %d item %d: tokens differ from the full logits\n", trial, i);
        mismatches++;
      }
      free(want[i]), free(got[i]);
    }
  }
  printf("bounded: %d mismatches, tight radii asked %ld exact logits of %ld\n", mismatches,
         asked_tight, offered_tight);
  CHECK(mismatches == 0);
  CHECK(asked_tight > 0 && asked_tight * 20 < offered_tight);
}

/* btoy with a draft (gen_decoder.draft / verify / rewind): the draft's logits are the
 * model's plus pseudo-random noise of amplitude `noise`, so its guesses are right or wrong
 * in turn. Both keep their history and check that what they are fed continues it. */
typedef struct {
  btoy b;
  float noise;
  int dhist[MAXLEN], dlen;
  int verifies, guesses, protocol_errors;
} dtoy;

static vlp_status dtoy_draft(void *ctx, const int *seq, int len, float *logits) {
  dtoy *d = ctx;
  if (len <= d->dlen || len > MAXLEN) return vlp_fail(VLP_ERR_INVALID, "dtoy: draft to %d", len);
  if (memcmp(d->dhist, seq, (size_t)d->dlen * sizeof(int)) != 0) d->protocol_errors++;
  memcpy(d->dhist, seq, (size_t)len * sizeof(int));
  d->dlen = len;
  model_logits(d->b.m, seq, len, logits);
  uint64_t h = 0xD1B54A32D192ED03ull * (uint64_t)(len + 7 * d->guesses + 1);
  for (int j = 0; j < d->b.vocab; j++) {
    h ^= h >> 29, h *= 0xBF58476D1CE4E5B9ull, h ^= h >> 32;
    logits[j] += d->noise * (float)((double)(h >> 11) / 9007199254740992.0 - 0.5);
  }
  d->guesses++;
  return VLP_OK;
}

/* step_bounds of one row's T positions: position i's truth in b.truth[i] */
static vlp_status dtoy_verify(void *ctx, const int *ids, int T, float *est, float *rad) {
  dtoy *d = ctx;
  toy *t = &d->b.t;
  if (T <= 0 || T > MAXROWS || t->len[0] + T > MAXLEN)
    return vlp_fail(VLP_ERR_INVALID, "dtoy: verify %d ids", T);
  d->verifies++;
  for (int i = 0; i < T; i++) {
    t->hist[0][t->len[0]++] = ids[i];
    float *x = est + (size_t)i * d->b.vocab;
    model_logits(d->b.m, t->hist[0], t->len[0], x);
    for (int j = 0; j < d->b.vocab; j++) {
      if (d->b.ties) x[j] = roundf(x[j] * 2.0f) / 2.0f;
      d->b.truth[i][j] = x[j];
      float r = 0.05f + 0.3f * (float)((i * 7 + j * 13 + t->len[0]) % 10) / 10.0f;
      x[j] += r * (float)((j * 29 + i) % 19 - 9) / 9.5f;
      rad[(size_t)i * d->b.vocab + j] = r;
    }
  }
  return VLP_OK;
}

static void dtoy_rewind(void *ctx, int len) {
  dtoy *d = ctx;
  if (len < d->b.t.len[0]) d->b.t.len[0] = len;
  if (len < d->dlen) d->dlen = len;
}

/* Greedy search with a draft gives the tokens of one step at a time, whether the guesses
 * hold or not: eos, max_length, min_length, repetition penalty, ties; and a right draft
 * saves steps. */
static void test_draft(void) {
  static dtoy d;
  int mismatches = 0, protocol = 0, saved = 0;
  const float noises[] = {0.0f, 0.5f, 3.0f, 20.0f};
  for (int trial = 0; trial < 96; trial++) {
    gen_params p = trial_params(trial, 3 + trial % 11, 7);
    int vocab = 30 + 17 * (trial % 7), plen = 1 + trial % 3;
    int prompt[3] = {0, 2 + trial % 5, 3};
    model m = {NULL, 0, 1, 0, 1, (unsigned)(trial * 17 + 3), vocab};
    int *want = NULL, *got = NULL, wl = 0, gl = 0;
    for (int pass = 0; pass < 2; pass++) {
      memset(&d, 0, sizeof d);
      d.b.t.item_model[0] = &m;
      d.b.t.nb = 1, d.b.t.prompt_len = plen;
      d.b.m = &m, d.b.vocab = vocab, d.b.ties = trial % 5 == 2, d.b.nan_step = -1;
      d.noise = noises[trial % 4];
      gen_decoder dec = {.ctx = &d, .vocab = vocab, .step = btoy_step};
      if (pass)
        dec.step_bounds = btoy_step_bounds, dec.exact = btoy_exact, dec.draft = dtoy_draft,
        dec.verify = dtoy_verify, dec.rewind = dtoy_rewind;
      CHECK(generate(&p, &dec, prompt, plen, 1, pass ? &got : &want, pass ? &gl : &wl) == VLP_OK);
    }
    CHECK(d.verifies > 0);
    if (gl != wl || memcmp(got, want, (size_t)wl * sizeof(int)) != 0) {
      fprintf(stderr, "draft trial %d: tokens differ from one step at a time\n", trial);
      mismatches++;
    }
    /* what the decoder was fed up to the last token is the sequence */
    if (memcmp(d.b.t.hist[0], got, (size_t)(gl - 1) * sizeof(int)) != 0) protocol++;
    protocol += d.protocol_errors;
    if (d.noise == 0.0f) saved += (gl - plen) - d.verifies;
    free(want), free(got);
  }
  printf("draft: %d mismatches, %d protocol errors, %d steps saved by exact guesses\n", mismatches,
         protocol, saved);
  CHECK(mismatches == 0);
  CHECK(protocol == 0);
  CHECK(saved > 24);
}

int main(void) {
  test_greedy();
  test_beam();
  test_errors();
  test_random();
  test_bounded();
  test_draft();
  return test_done();
}
