/* generate: greedy and beam search over any decoder, with the semantics of transformers
 * 4.47's generate(): max_length / min_length count the whole sequence (prompt included),
 * min_length masks eos while too short, repetition penalty (CTRL-style: divide positive
 * logits / multiply negative ones of tokens already in the sequence), beam search with
 * length penalty and the 4.47 early-stopping rule (see the golden README "Generation"). */
#ifndef VLP_FUSION_GENERATE_H
#define VLP_FUSION_GENERATE_H

#include "vlp.h"

typedef struct {
  int num_beams;            /* 1 = greedy */
  int max_length;           /* whole sequence, as HF's max_length */
  int max_new_tokens;       /* > 0 overrides max_length: prompt length + this */
  int min_length;           /* whole sequence */
  float repetition_penalty; /* 1.0 = off */
  float length_penalty;     /* beam scores: sum_logprobs / generated_len ** length_penalty */
  int early_stopping;       /* 0 = HF's False (heuristic), 1 = True */
  int eos_id, pad_id;
  /* called before each decoder step with the sequence length so far; nonzero stops the
   * generation with VLP_ERR_CANCELLED (NULL: none) */
  int (*on_step)(void *ctx, int len, int max_len);
  void *step_ctx;
} gen_params;

gen_params gen_default_params(void);

/* The decoder as generation sees it. step() feeds T new tokens for each of N rows and
 * writes the raw logits (N, vocab) of each row's last position; reorder() makes new row r
 * continue old row src[r] (beam search). */
typedef struct {
  void *ctx;
  int vocab;
  vlp_status (*step)(void *ctx, const int *ids, int N, int T, float *logits);
  void (*reorder)(void *ctx, const int *src, int N);
  /* Optional, for greedy search (both or neither): step_bounds() is step() writing, instead
   * of the logits, estimates est (N, vocab) and radii rad (N, vocab) such that every logit
   * step() would have written lies within est +- rad, from fewer bytes read than the full
   * logits take (core/gemm_bound.h); exact() then writes the logits of n ids of row r with
   * the bits step() would have written. Greedy search asks exact() only for the ids that
   * can still be the maximum, so it picks the token step() would have given. */
  vlp_status (*step_bounds)(void *ctx, const int *ids, int N, int T, float *est, float *rad);
  void (*exact)(void *ctx, int row, const int *ids, int n, float *out);
  /* Optional, for greedy search of one sequence with step_bounds (all three or none):
   * draft() writes a cheaper approximation's logits (vocab) of position len of seq (the
   * approximation keeps its own state and is fed the ids it has not seen); verify() is
   * step_bounds() for one row of T ids, writing the bounds of each of the T positions
   * ((T, vocab)), exact()'s row then being the position; rewind(len) drops the positions
   * from len on, the decoder's and the approximation's. Greedy search then guesses a few
   * tokens with draft() and checks them in one step: a guess stands only when it is the
   * token the decoder gives there, so the tokens are those of one step at a time, from
   * one read of the weights for several tokens. */
  vlp_status (*draft)(void *ctx, const int *seq, int len, float *logits);
  vlp_status (*verify)(void *ctx, const int *ids, int T, float *est, float *rad);
  void (*rewind)(void *ctx, int len);
} gen_decoder;

/* Run generation for `batch` independent sequences that all start from the same prompt
 * (prompt_len ids). The decoder is stepped with batch * num_beams rows (row = b * num_beams
 * + beam). out_seqs[b] receives a malloc'd id array of out_lens[b] ids: the prompt followed
 * by the generated ids, as HF returns it. */
vlp_status generate(const gen_params *p, const gen_decoder *dec, const int *prompt, int prompt_len,
                    int batch, int **out_seqs, int *out_lens);

#endif
