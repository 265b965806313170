/* generate: greedy search and beam search over a gen_decoder, reproducing transformers
 * 4.47's generate() (GenerationMixin._sample / _beam_search with BeamSearchScorer and
 * BeamHypotheses) token for token:
 *   - max_length / min_length count the whole sequence (prompt included);
 *   - logits processors in HF order: repetition penalty over every id in the row's
 *     sequence (prompt included; each distinct id once), then min_length (eos -> -inf);
 *   - greedy: argmax (first maximum) of the processed raw logits; finished rows are fed
 *     pad like HF does (keeps the decoder's row layout fixed);
 *   - beam: log_softmax of the raw logits, then the processors, plus the beam's running
 *     score (float32 as in torch); top 2*num_beams of the (num_beams * vocab) candidates
 *     (descending, ties -> lower flat index); an eos candidate ranked in the first num_beams
 *     becomes a finished hypothesis scored sum_logprobs / generated_len ** length_penalty
 *     (generated_len counts the new tokens including the eos); other candidates fill the
 *     next beams. A batch item is done (early_stopping 0 = HF False) once it holds
 *     num_beams hypotheses and best_candidate / (cur_len + 1 - prompt_len) ** lp <= worst
 *     kept score (the 4.47 rule), or (early_stopping 1 = True) as soon as it holds
 *     num_beams hypotheses; early_stopping 2 = HF "never". At max_length the open beams
 *     join the hypotheses; the best one is returned, with the eos appended when it ended
 *     on eos.
 * All buffers are allocated once per call. */
#include "fusion/generate.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

gen_params gen_default_params(void) {
  gen_params p = {0}; /* no on_step */
  p.num_beams = 1;
  p.max_length = 20; /* HF GenerationConfig defaults */
  p.max_new_tokens = 0;
  p.min_length = 0;
  p.repetition_penalty = 1.0f;
  p.length_penalty = 1.0f;
  p.early_stopping = 0;
  p.eos_id = 102; /* BLIP's [SEP] / pad; set both for other decoders (eos_id < 0 = none) */
  p.pad_id = 0;
  return p;
}

/* ---- size helpers ------------------------------------------------------------------ */

static int mul_ok(size_t a, size_t b, size_t *out) {
  if (a != 0 && b > SIZE_MAX / a) return 0;
  *out = a * b;
  return 1;
}

static void *alloc_n(size_t n, size_t elem, int *fail) {
  size_t bytes;
  if (!mul_ok(n ? n : 1, elem, &bytes)) {
    *fail = 1;
    return NULL;
  }
  void *p = calloc(1, bytes);
  if (!p) *fail = 1;
  return p;
}

/* ---- logits processing ------------------------------------------------------------- */

/* HF's logits processors on one row x (vocab) whose current sequence is seq[0..len):
 * RepetitionPenaltyLogitsProcessor then MinLengthLogitsProcessor. mark is a zeroed
 * scratch of vocab bytes (left zeroed). */
static void process_row(const gen_params *p, float *x, const int *seq, int len,
                        unsigned char *mark) {
  if (p->repetition_penalty != 1.0f) {
    const float pen = p->repetition_penalty;
    for (int i = 0; i < len; i++) {
      int t = seq[i];
      if (mark[t]) continue; /* a repeated id is penalised once (torch gather/scatter) */
      mark[t] = 1;
      x[t] = x[t] < 0.0f ? x[t] * pen : x[t] / pen;
    }
    for (int i = 0; i < len; i++) mark[seq[i]] = 0;
  }
  if (p->eos_id >= 0 && len < p->min_length) x[p->eos_id] = -INFINITY;
}

/* In-place log_softmax over n floats: (x - max) - log(sum(exp(x - max))). */
static void log_softmax(float *x, int n) {
  float mx = x[0];
  for (int i = 1; i < n; i++)
    if (x[i] > mx) mx = x[i];
  double sum = 0.0;
  for (int i = 0; i < n; i++) sum += exp((double)(x[i] - mx));
  const float lse = (float)log(sum);
  for (int i = 0; i < n; i++) x[i] = (x[i] - mx) - lse;
}

/* torch.argmax: the first maximum. */
static int argmax(const float *x, int n) {
  int best = 0;
  for (int i = 1; i < n; i++)
    if (x[i] > x[best]) best = i;
  return best;
}

/* ---- beam hypotheses (HF BeamHypotheses) --------------------------------------------- */

typedef struct {
  double score; /* sum_logprobs / generated_len ** length_penalty */
  int len;      /* ids stored (the eos of a finished hypothesis is not stored) */
  int ends_eos;
  int slot; /* row of the id pool holding the ids */
} hyp;

typedef struct {
  hyp *h; /* (num_beams + 1) entries, h[0..n) in insertion order */
  int n;
  double worst; /* HF's worst_score, starts at 1e9 */
  int *pool;    /* (num_beams + 1, cap) ids */
} hyp_list;

static void hyp_add(hyp_list *L, int nb, int cap, float length_penalty, const int *seq, int len,
                    float sum_logprobs, int generated_len, int ends_eos) {
  double score = (double)sum_logprobs / pow((double)generated_len, (double)length_penalty);
  if (!(L->n < nb || score > L->worst)) return;
  /* a pool slot that no kept hypothesis uses (there are nb + 1 slots, n <= nb used) */
  int slot = 0;
  for (;; slot++) {
    int used = 0;
    for (int i = 0; i < L->n; i++)
      if (L->h[i].slot == slot) used = 1;
    if (!used) break;
  }
  memcpy(L->pool + (size_t)slot * (size_t)cap, seq, (size_t)len * sizeof(int));
  L->h[L->n].score = score;
  L->h[L->n].len = len;
  L->h[L->n].ends_eos = ends_eos;
  L->h[L->n].slot = slot;
  L->n++;
  if (L->n > nb) {
    /* drop the lowest score (ties: the earliest added, as sorting (score, index) does);
     * worst becomes the lowest remaining score */
    int m = 0;
    for (int i = 1; i < L->n; i++)
      if (L->h[i].score < L->h[m].score) m = i;
    memmove(L->h + m, L->h + m + 1, (size_t)(L->n - m - 1) * sizeof(hyp));
    L->n--;
    double w = L->h[0].score;
    for (int i = 1; i < L->n; i++)
      if (L->h[i].score < w) w = L->h[i].score;
    L->worst = w;
  } else if (score < L->worst) {
    L->worst = score;
  }
}

/* BeamHypotheses.is_done with cur_len = the length the candidate scores were computed on
 * (prompt + generated, including the token just chosen). */
static int hyp_done(const hyp_list *L, const gen_params *p, int nb, float best_sum_logprobs,
                    int cur_len, int prompt_len, int max_len) {
  if (L->n < nb) return 0;
  if (p->early_stopping == 1) return 1;
  int denom_len = cur_len - prompt_len;
  if (p->early_stopping != 0 && p->length_penalty > 0.0f) denom_len = max_len - prompt_len;
  double highest = (double)best_sum_logprobs / pow((double)denom_len, (double)p->length_penalty);
  return L->worst >= highest;
}

/* ---- top-k candidates ----------------------------------------------------------------- */

/* Keep the k best (score, flat index) pairs seen so far, sorted descending; indices are
 * offered in increasing order, so an equal score never displaces an earlier index. */
static void topk_offer(float *cs, int *ci, int *kc, int k, float s, int idx) {
  if (*kc == k && !(s > cs[k - 1])) return;
  int pos = *kc < k ? (*kc)++ : k - 1;
  while (pos > 0 && s > cs[pos - 1]) {
    cs[pos] = cs[pos - 1];
    ci[pos] = ci[pos - 1];
    pos--;
  }
  cs[pos] = s;
  ci[pos] = idx;
}

/* ---- greedy search on bounded logits ------------------------------------------------ */

/* What a greedy pick from bounds needs besides the estimates. */
typedef struct {
  const float *rad;    /* (V) the row's radii */
  int *ids, *known;    /* (V) candidate ids; (cap) the sequence's distinct ids */
  float *val, *kval;   /* their exact (processed) logits */
  unsigned char *mark; /* (V) zeroed scratch, left zeroed */
} bound_work;

/* The token argmax(process_row(logits)) gives, from the row's estimates est (V): every id
 * that the repetition penalty touches gets its exact logit processed; then only ids whose
 * upper end reaches the best lower end (or processed exact value) can be the first
 * maximum, and get their exact logits. Returns -1 when the bounds cannot decide (a NaN or
 * an infinity in them, or too many candidates): the caller then takes the full row. */
static int pick_bounded(const gen_params *p, const gen_decoder *dec, int r, const float *est,
                        const int *seq, int len, bound_work *b) {
  const int V = dec->vocab;
  const int masked = p->eos_id >= 0 && len < p->min_length ? p->eos_id : -1;
  int nk = 0;
  if (p->repetition_penalty != 1.0f)
    for (int i = 0; i < len; i++)
      if (!b->mark[seq[i]]) b->mark[seq[i]] = 1, b->known[nk++] = seq[i];
  if (masked >= 0 && !b->mark[masked]) b->mark[masked] = 1, b->known[nk++] = masked;
  dec->exact(dec->ctx, r, b->known, nk, b->kval);
  double thr = -INFINITY;
  for (int i = 0; i < nk; i++) {
    float x = b->kval[i];
    if (p->repetition_penalty != 1.0f && b->known[i] != masked)
      x = x < 0.0f ? x * p->repetition_penalty : x / p->repetition_penalty;
    if (b->known[i] == masked) x = -INFINITY;
    b->kval[i] = x;
    if (x > thr) thr = x;
  }
  /* one pass: the best lower end so far, and the ids whose upper end reaches it (a
   * superset of the final candidates, filtered below) */
  int ok = 1, n = 0;
  for (int j = 0; j < V; j++) {
    const double e = est[j], d = b->rad[j];
    if (b->mark[j]) continue;
    if (!(e - d <= thr)) { /* (also a NaN: then ok is cleared below) */
      ok &= isfinite(e) && isfinite(d);
      thr = e - d;
    }
    if (e + d >= thr) b->ids[n++] = j;
  }
  ok = ok && isfinite(thr);
  int m = 0;
  for (int i = 0; i < n && ok; i++)
    if ((double)est[b->ids[i]] + b->rad[b->ids[i]] >= thr) b->ids[m++] = b->ids[i];
  n = m;
  ok = ok && n <= V / 16; /* beyond that the full row costs about as much */
  for (int i = 0; i < nk; i++) b->mark[b->known[i]] = 0;
  if (!ok) return -1;
  dec->exact(dec->ctx, r, b->ids, n, b->val);
  /* the first maximum over both sets: the highest value, the lowest id among equals */
  int best = -1;
  float bv = 0;
  for (int i = 0; i < n + nk; i++) {
    int id = i < n ? b->ids[i] : b->known[i - n];
    float v = i < n ? b->val[i] : b->kval[i - n];
    if (best < 0 || v > bv || (v == bv && id < best)) best = id, bv = v;
  }
  return best;
}

/* ---- generate ------------------------------------------------------------------------- */

typedef struct {
  int *seq, *seq2;            /* (rows, cap) current sequences and the reorder target */
  int *ids;                   /* (rows, prompt_len) fed ids */
  float *logits;              /* (rows, V); greedy on bounds: the estimates */
  float *rad;                 /* greedy on bounds: (rows, V) radii */
  int *bids, *known;          /* greedy on bounds: (V) candidates, (cap) sequence ids */
  float *bval, *kval;         /* their exact logits */
  unsigned char *mark;        /* (V) repetition-penalty scratch */
  int *fin, *out_len;         /* greedy: (rows) */
  float *bscore, *next_score; /* beam: (rows) */
  int *next_tok, *next_src;   /* beam: (rows) */
  float *cs;                  /* beam: (2 * nb) candidate scores */
  int *ci;                    /* beam: (2 * nb) candidate flat indices (beam * V + token) */
  int *done;                  /* beam: (batch) */
  hyp *hyps;                  /* beam: (batch, nb + 1) */
  int *pool;                  /* beam: (batch, nb + 1, cap) */
  hyp_list *lists;            /* beam: (batch) */
} gen_work;

static void work_free(gen_work *w) {
  free(w->seq);
  free(w->seq2);
  free(w->ids);
  free(w->logits);
  free(w->rad);
  free(w->bids);
  free(w->known);
  free(w->bval);
  free(w->kval);
  free(w->mark);
  free(w->fin);
  free(w->out_len);
  free(w->bscore);
  free(w->next_score);
  free(w->next_tok);
  free(w->next_src);
  free(w->cs);
  free(w->ci);
  free(w->done);
  free(w->hyps);
  free(w->pool);
  free(w->lists);
}

/* Copy the per-item results into malloc'd arrays; on failure nothing is left allocated. */
static vlp_status emit(int batch, int **out_seqs, int *out_lens, const int *const *src,
                       const int *lens, const int *append_eos, int eos_id) {
  for (int b = 0; b < batch; b++) out_seqs[b] = NULL;
  for (int b = 0; b < batch; b++) {
    int n = lens[b] + (append_eos && append_eos[b] ? 1 : 0);
    out_seqs[b] = malloc((size_t)n * sizeof(int));
    if (!out_seqs[b]) {
      for (int i = 0; i < b; i++) {
        free(out_seqs[i]);
        out_seqs[i] = NULL;
      }
      return vlp_fail(VLP_ERR_NOMEM, "generate: out of memory for %d output ids", n);
    }
    memcpy(out_seqs[b], src[b], (size_t)lens[b] * sizeof(int));
    if (n > lens[b]) out_seqs[b][lens[b]] = eos_id;
    out_lens[b] = n;
  }
  return VLP_OK;
}

/* The greedy token of row r (x: its logits, or its estimates when w->rad is set) after the
 * sequence s of len ids. */
static int greedy_pick(const gen_params *p, const gen_decoder *dec, gen_work *w, int r, float *x,
                       const int *s, int len) {
  const int V = dec->vocab;
  int tok = -1;
  if (w->rad) {
    bound_work b = {w->rad + (size_t)r * V, w->bids, w->known, w->bval, w->kval, w->mark};
    tok = pick_bounded(p, dec, r, x, s, len, &b);
    if (tok < 0) { /* undecided: the row's full logits in place of its estimates */
      for (int j = 0; j < V; j++) w->bids[j] = j;
      dec->exact(dec->ctx, r, w->bids, V, x);
    }
  }
  if (tok < 0) {
    process_row(p, x, s, len, w->mark);
    tok = argmax(x, V);
  }
  return tok;
}

/* Guesses per verifying step of the draft (gen_decoder.draft). */
#define DRAFT_TOKENS 3

/* Greedy search of one sequence with a draft: each round guesses k tokens with it and
 * feeds the decoder the ids it has not seen followed by the guesses, in one step; the
 * token picked at each position stands, and the guesses up to the first one that differs
 * from it, so every token is the one a step at a time picks there. w->logits and w->rad
 * hold `bufrows` positions. */
static vlp_status run_draft(const gen_params *p, const gen_decoder *dec, int prompt_len,
                            int max_len, int bufrows, gen_work *w, int **out_seqs, int *out_lens) {
  const int V = dec->vocab;
  int *s = w->seq;
  int cur = prompt_len, fed = 0; /* ids in s; ids the decoder has seen */
  for (;;) {
    int k = DRAFT_TOKENS;
    if (k > max_len - cur - 1) k = max_len - cur - 1; /* the round's last token at most */
    if (k > bufrows - (cur - fed)) k = bufrows - (cur - fed);
    if (k < 0) k = 0;
    for (int i = 0; i < k; i++) {
      vlp_status st = dec->draft(dec->ctx, s, cur + i, w->logits);
      if (st != VLP_OK) return vlp_fail_prefix(st, "generate: draft at length %d", cur + i);
      process_row(p, w->logits, s, cur + i, w->mark);
      s[cur + i] = argmax(w->logits, V);
    }
    vlp_status st = dec->verify(dec->ctx, s + fed, cur + k - fed, w->logits, w->rad);
    if (st != VLP_OK) return vlp_fail_prefix(st, "generate: decoder step at length %d", cur);
    /* position cur + i is decided by the step's row cur - 1 - fed + i */
    int i = 0, done = 0;
    for (;; i++) {
      const int r = cur - 1 - fed + i, pos = cur + i, guess = i < k ? s[pos] : -1;
      const int tok = greedy_pick(p, dec, w, r, w->logits + (size_t)r * V, s, pos);
      s[pos] = tok;
      done = (p->eos_id >= 0 && tok == p->eos_id) || pos + 1 >= max_len;
      if (done || tok != guess) break;
    }
    cur += i + 1;
    if (done) break;
    fed = cur - 1;
    dec->rewind(dec->ctx, fed);
  }
  const int *src = s;
  return emit(1, out_seqs, out_lens, &src, &cur, NULL, p->eos_id);
}

static vlp_status run_greedy(const gen_params *p, const gen_decoder *dec, int prompt_len, int rows,
                             int cap, int max_len, gen_work *w, int **out_seqs, int *out_lens) {
  const int V = dec->vocab;
  int cur = prompt_len, T = prompt_len;
  for (;;) {
    vlp_status st = w->rad ? dec->step_bounds(dec->ctx, w->ids, rows, T, w->logits, w->rad)
                           : dec->step(dec->ctx, w->ids, rows, T, w->logits);
    if (st != VLP_OK) return vlp_fail_prefix(st, "generate: decoder step at length %d", cur);
    int all_done = 1;
    for (int r = 0; r < rows; r++) {
      int *s = w->seq + (size_t)r * cap;
      int tok = p->pad_id;
      if (!w->fin[r]) tok = greedy_pick(p, dec, w, r, w->logits + (size_t)r * V, s, cur);
      s[cur] = tok;
      w->ids[r] = tok;
      if (!w->fin[r] && ((p->eos_id >= 0 && tok == p->eos_id) || cur + 1 >= max_len)) {
        w->fin[r] = 1;
        w->out_len[r] = cur + 1;
      }
      if (!w->fin[r]) all_done = 0;
    }
    cur++;
    if (all_done) break;
    T = 1;
  }
  const int **src = malloc((size_t)rows * sizeof(*src));
  if (!src) return vlp_fail(VLP_ERR_NOMEM, "generate: out of memory");
  for (int r = 0; r < rows; r++) src[r] = w->seq + (size_t)r * cap;
  vlp_status st = emit(rows, out_seqs, out_lens, src, w->out_len, NULL, p->eos_id);
  free(src);
  return st;
}

static vlp_status run_beam(const gen_params *p, const gen_decoder *dec, int prompt_len, int batch,
                           int nb, int cap, int max_len, gen_work *w, int **out_seqs,
                           int *out_lens) {
  const int V = dec->vocab, rows = batch * nb, k = 2 * nb;
  /* only beam 0 is live at the start so the identical beams do not repeat candidates */
  for (int r = 0; r < rows; r++) w->bscore[r] = (r % nb == 0) ? 0.0f : -1e9f;
  for (int b = 0; b < batch; b++) {
    w->lists[b].h = w->hyps + (size_t)b * (nb + 1);
    w->lists[b].n = 0;
    w->lists[b].worst = 1e9;
    w->lists[b].pool = w->pool + (size_t)b * (nb + 1) * cap;
  }
  int cur = prompt_len, T = prompt_len;
  for (;;) {
    vlp_status st = dec->step(dec->ctx, w->ids, rows, T, w->logits);
    if (st != VLP_OK) return vlp_fail_prefix(st, "generate: decoder step at length %d", cur);
    int all_done = 1;
    for (int b = 0; b < batch; b++) {
      if (w->done[b]) { /* HF pads finished items; their rows are never read again */
        for (int j = 0; j < nb; j++) {
          int r = b * nb + j;
          w->next_score[r] = 0.0f;
          w->next_tok[r] = p->pad_id;
          w->next_src[r] = r;
        }
        continue;
      }
      int kc = 0;
      for (int j = 0; j < nb; j++) {
        int r = b * nb + j;
        float *x = w->logits + (size_t)r * V;
        log_softmax(x, V);
        process_row(p, x, w->seq + (size_t)r * cap, cur, w->mark);
        const float s = w->bscore[r];
        for (int t = 0; t < V; t++) topk_offer(w->cs, w->ci, &kc, k, x[t] + s, j * V + t);
      }
      /* BeamSearchScorer.process */
      int filled = 0;
      for (int rank = 0; rank < kc && filled < nb; rank++) {
        int tok = w->ci[rank] % V, src = b * nb + w->ci[rank] / V;
        if (p->eos_id >= 0 && tok == p->eos_id) {
          if (rank >= nb) continue;
          hyp_add(&w->lists[b], nb, cap, p->length_penalty, w->seq + (size_t)src * cap, cur,
                  w->cs[rank], cur + 1 - prompt_len, 1);
        } else {
          int dst = b * nb + filled++;
          w->next_score[dst] = w->cs[rank];
          w->next_tok[dst] = tok;
          w->next_src[dst] = src;
        }
      }
      if (filled < nb)
        return vlp_fail(VLP_ERR_INVALID,
                        "generate: fewer than %d non-eos candidates among the top %d (vocab %d)",
                        nb, k, V);
      w->done[b] = hyp_done(&w->lists[b], p, nb, w->cs[0], cur + 1, prompt_len, max_len);
      if (!w->done[b]) all_done = 0;
    }
    /* the chosen beams continue their source rows with the chosen tokens */
    for (int r = 0; r < rows; r++) {
      int *d = w->seq2 + (size_t)r * cap;
      memcpy(d, w->seq + (size_t)w->next_src[r] * cap, (size_t)cur * sizeof(int));
      d[cur] = w->next_tok[r];
      w->bscore[r] = w->next_score[r];
      w->ids[r] = w->next_tok[r];
    }
    int *tmp = w->seq;
    w->seq = w->seq2;
    w->seq2 = tmp;
    cur++;
    if (all_done || cur >= max_len) break;
    dec->reorder(dec->ctx, w->next_src, rows);
    T = 1;
  }
  /* finalize: open beams of unfinished items become hypotheses */
  for (int b = 0; b < batch; b++) {
    if (w->done[b]) continue;
    for (int j = 0; j < nb; j++) {
      int r = b * nb + j;
      hyp_add(&w->lists[b], nb, cap, p->length_penalty, w->seq + (size_t)r * cap, cur, w->bscore[r],
              cur - prompt_len, 0);
    }
  }
  /* best hypothesis: HF sorts by score (stable) and pops the last -> among equal scores the
   * latest kept one. next_tok / next_src are free now and hold the lengths / eos flags. */
  const int **src = malloc((size_t)batch * sizeof(*src));
  if (!src) return vlp_fail(VLP_ERR_NOMEM, "generate: out of memory");
  int *lens = w->next_tok, *eos = w->next_src;
  for (int b = 0; b < batch; b++) {
    const hyp_list *L = &w->lists[b];
    int best = 0;
    for (int i = 1; i < L->n; i++)
      if (L->h[i].score >= L->h[best].score) best = i;
    src[b] = L->pool + (size_t)L->h[best].slot * cap;
    lens[b] = L->h[best].len;
    eos[b] = L->h[best].ends_eos;
  }
  vlp_status st = emit(batch, out_seqs, out_lens, src, lens, eos, p->eos_id);
  free(src);
  return st;
}

vlp_status generate(const gen_params *p, const gen_decoder *dec, const int *prompt, int prompt_len,
                    int batch, int **out_seqs, int *out_lens) {
  if (!p || !dec || !dec->step || !prompt || !out_seqs || !out_lens)
    return vlp_fail(VLP_ERR_INVALID, "generate: missing argument");
  const int V = dec->vocab, nb = p->num_beams;
  if (V <= 0) return vlp_fail(VLP_ERR_INVALID, "generate: vocab size %d", V);
  if (prompt_len <= 0) return vlp_fail(VLP_ERR_INVALID, "generate: empty prompt");
  if (batch <= 0) return vlp_fail(VLP_ERR_INVALID, "generate: batch %d", batch);
  if (nb <= 0) return vlp_fail(VLP_ERR_INVALID, "generate: num_beams %d", nb);
  if (nb > 1 && !dec->reorder)
    return vlp_fail(VLP_ERR_INVALID, "generate: beam search needs a decoder reorder()");
  if (nb > 1 && V < 2)
    return vlp_fail(VLP_ERR_INVALID, "generate: beam search needs a vocabulary of 2 or more");
  if (!(p->repetition_penalty > 0.0f))
    return vlp_fail(VLP_ERR_INVALID, "generate: repetition_penalty %g must be > 0",
                    (double)p->repetition_penalty);
  if (p->eos_id >= V)
    return vlp_fail(VLP_ERR_INVALID, "generate: eos id %d outside the vocabulary (%d)", p->eos_id,
                    V);
  if (p->pad_id < 0 || p->pad_id >= V)
    return vlp_fail(VLP_ERR_INVALID, "generate: pad id %d outside the vocabulary (%d)", p->pad_id,
                    V);
  for (int i = 0; i < prompt_len; i++)
    if (prompt[i] < 0 || prompt[i] >= V)
      return vlp_fail(VLP_ERR_INVALID, "generate: prompt id %d at %d outside the vocabulary (%d)",
                      prompt[i], i, V);
  if (nb > INT32_MAX / 2 || batch > INT32_MAX / nb || (size_t)nb * V > INT32_MAX)
    return vlp_fail(VLP_ERR_NOMEM, "generate: batch %d x beams %d too large", batch, nb);
  int max_len = p->max_length;
  if (p->max_new_tokens > 0) {
    if (p->max_new_tokens > INT32_MAX - prompt_len)
      return vlp_fail(VLP_ERR_INVALID, "generate: max_new_tokens %d too large", p->max_new_tokens);
    max_len = prompt_len + p->max_new_tokens;
  }
  /* like HF, a prompt already at max_length still gets one step */
  if (prompt_len == INT32_MAX) return vlp_fail(VLP_ERR_INVALID, "generate: prompt too long");
  const int cap = max_len > prompt_len ? max_len : prompt_len + 1;
  const int rows = batch * nb;

  gen_work w;
  memset(&w, 0, sizeof w);
  int fail = 0;
  size_t seq_n, ids_n, logit_n;
  if (!mul_ok((size_t)rows, (size_t)cap, &seq_n) ||
      !mul_ok((size_t)rows, (size_t)prompt_len, &ids_n) ||
      !mul_ok((size_t)rows, (size_t)V, &logit_n))
    return vlp_fail(VLP_ERR_NOMEM, "generate: buffer sizes overflow");
  /* one sequence with a draft: a step's bounds for the unseen ids and the guesses */
  const int drafting = nb == 1 && rows == 1 && dec->step_bounds && dec->exact && dec->draft &&
                       dec->verify && dec->rewind;
  int bufrows = 1;
  if (drafting) {
    bufrows = prompt_len < cap - DRAFT_TOKENS ? prompt_len + DRAFT_TOKENS : cap;
    if (!mul_ok((size_t)bufrows, (size_t)V, &logit_n))
      return vlp_fail(VLP_ERR_NOMEM, "generate: buffer sizes overflow");
  }
  w.seq = alloc_n(seq_n, sizeof(int), &fail);
  w.ids = alloc_n(ids_n, sizeof(int), &fail);
  w.logits = alloc_n(logit_n, sizeof(float), &fail);
  w.mark = alloc_n((size_t)V, 1, &fail);
  if (nb == 1) {
    w.fin = alloc_n((size_t)rows, sizeof(int), &fail);
    w.out_len = alloc_n((size_t)rows, sizeof(int), &fail);
    if (dec->step_bounds && dec->exact) {
      w.rad = alloc_n(logit_n, sizeof(float), &fail);
      w.bids = alloc_n((size_t)V, sizeof(int), &fail);
      w.bval = alloc_n((size_t)V, sizeof(float), &fail);
      w.known = alloc_n((size_t)cap + 1, sizeof(int), &fail);
      w.kval = alloc_n((size_t)cap + 1, sizeof(float), &fail);
    }
  } else {
    size_t pool_n = 0; /* (batch, nb + 1, cap) */
    if (!mul_ok((size_t)batch * (size_t)(nb + 1), (size_t)cap, &pool_n)) fail = 1;
    w.seq2 = alloc_n(seq_n, sizeof(int), &fail);
    w.bscore = alloc_n((size_t)rows, sizeof(float), &fail);
    w.next_score = alloc_n((size_t)rows, sizeof(float), &fail);
    w.next_tok = alloc_n((size_t)rows, sizeof(int), &fail);
    w.next_src = alloc_n((size_t)rows, sizeof(int), &fail);
    w.cs = alloc_n((size_t)2 * nb, sizeof(float), &fail);
    w.ci = alloc_n((size_t)2 * nb, sizeof(int), &fail);
    w.done = alloc_n((size_t)batch, sizeof(int), &fail);
    w.hyps = alloc_n((size_t)batch * (nb + 1), sizeof(hyp), &fail);
    if (!fail) w.pool = alloc_n(pool_n, sizeof(int), &fail);
    w.lists = alloc_n((size_t)batch, sizeof(hyp_list), &fail);
  }
  if (fail) {
    work_free(&w);
    return vlp_fail(VLP_ERR_NOMEM, "generate: out of memory for %d rows x vocab %d", rows, V);
  }
  for (int r = 0; r < rows; r++) {
    memcpy(w.seq + (size_t)r * cap, prompt, (size_t)prompt_len * sizeof(int));
    memcpy(w.ids + (size_t)r * prompt_len, prompt, (size_t)prompt_len * sizeof(int));
  }
  vlp_status st =
      drafting  ? run_draft(p, dec, prompt_len, max_len, bufrows, &w, out_seqs, out_lens)
      : nb == 1 ? run_greedy(p, dec, prompt_len, rows, cap, max_len, &w, out_seqs, out_lens)
                : run_beam(p, dec, prompt_len, batch, nb, cap, max_len, &w, out_seqs, out_lens);
  work_free(&w);
  return st;
}
