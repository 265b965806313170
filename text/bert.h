/* bert: BLIP's BERT-style text model (BlipTextModel / BlipTextLMHeadModel).
 *
 * word + absolute position embeddings (no token types) -> LayerNorm -> layers of
 * self-attention (+ cross-attention to encoder states when the model has it and they are
 * given) + GELU MLP, each sub-block post-LN: LayerNorm(x + dense(...)), eps from config.
 * Used bidirectionally (ITM/ITC text encoder, VQA question encoder) and causally with the
 * LM head (caption / answer decoder) through an incremental KV cache. */
#ifndef VLP_TEXT_BERT_H
#define VLP_TEXT_BERT_H

#include <cjson/cJSON.h>

#include "core/weights.h"
#include "core/workspace.h"

typedef struct {
  int vocab, hidden, layers, heads, mlp, max_pos;
  int encoder_hidden; /* width of the states cross-attention reads */
  float eps;
} bert_config;

typedef struct bert_model bert_model;

/* Read a BlipTextConfig object (config.json "text_config"); absent fields take the
 * transformers 4.47 defaults (vocab 30524, hidden 768, encoder_hidden 768, mlp 3072,
 * 12 layers, 8 heads, max_pos 512, gelu, eps 1e-12). text_config may be NULL (all
 * defaults). Bad values (non-positive sizes, hidden not a multiple of heads, an activation
 * other than gelu) are errors naming path_for_errors and the field. */
vlp_status bert_config_from_json(const cJSON *text_config, const char *path_for_errors,
                                 bert_config *out);

/* Bind tensors under `prefix` ("text_decoder.bert.", "text_encoder.", ...). Cross-attention
 * layers are bound when present. lm_prefix ("text_decoder.cls.") binds the LM head, or
 * NULL for none. */
vlp_status bert_load(vlp_weights *w, const char *prefix, const char *lm_prefix,
                     const bert_config *c, bert_model **out);
void bert_free(bert_model *m);
const bert_config *bert_cfg(const bert_model *m);
int bert_has_cross(const bert_model *m);

/* The model is read-only after loading; scratch comes from the caller's workspace:
 * bert_forward uses WS_TEXT, bert_lm_logits WS_TMP0, the decoding cache WS_DECODER.
 *
 * Full forward. ids (B, T); mask (B, T) of 0/1 or NULL (all ones); causal adds the decoder
 * mask; enc (B, Te, encoder_hidden) or NULL (no cross-attention), enc_mask (B, Te) or NULL.
 * hidden (B, T, hidden), not in WS_TEXT. */
vlp_status bert_forward(const bert_model *m, vlp_ws *ws, const int *ids, const int *mask, int B,
                        int T, int causal, const float *enc, const int *enc_mask, int Te,
                        float *hidden);
/* LM head: hidden (n, hidden) -> logits (n, vocab). */
vlp_status bert_lm_logits(const bert_model *m, vlp_ws *ws, const float *hidden, int n,
                          float *logits);

/* Incremental causal decoding for generation. N rows (batch x beams) share cross-attention
 * K/V computed once per encoder item: row r reads encoder item enc_of_row[r]. */
typedef struct bert_cache bert_cache;
/* enc (Nenc, Te, encoder_hidden), all-ones encoder mask. cap = longest sequence. The
 * cache's buffers are the workspace's WS_DECODER slot: one cache per workspace at a time. */
vlp_status bert_cache_new(const bert_model *m, vlp_ws *ws, int N, int cap, const float *enc,
                          int Nenc, int Te, const int *enc_of_row, bert_cache **out);
void bert_cache_free(bert_cache *c);
/* Feed T new tokens per row (T > 1 for a prompt at the first step; every row the same T);
 * ids (N, T); attention over everything cached so far (causal). logits (N, vocab) of each
 * row's last new position. */
vlp_status bert_cache_step(const bert_model *m, bert_cache *c, const int *ids, int T,
                           float *logits);
/* Greedy steps from bounds (core/gemm_bound.h, fusion/generate.h's step_bounds): after the
 * model's weights are prepared, an int8 copy of the LM head, when its weight is in panels
 * and the CPU has the instructions (else nothing is done); *bytes (may be NULL) receives
 * the memory it takes. */
vlp_status bert_prepare_greedy(bert_model *m, size_t *bytes);
/* 1 when the cache's steps can give bounds (the model has the copy, the step is fused). */
int bert_cache_has_bounds(const bert_cache *c);
/* bert_cache_step writing est and rad (N, vocab) instead of the logits: every logit within
 * est +- rad. */
vlp_status bert_cache_step_bounds(const bert_model *m, bert_cache *c, const int *ids, int T,
                                  float *est, float *rad);
/* After bert_cache_step_bounds, before the next step: the logits of n ids of row `row`, the
 * bits bert_cache_step would have given. */
void bert_cache_exact_logits(const bert_model *m, const bert_cache *c, int row, const int *ids,
                             int n, float *out);
/* Speculative greedy steps (fusion/generate.h's draft / verify) on one-row caches.
 * bert_prepare_draft makes, once per model (thread-safe), the draft decoder: an int8 copy
 * of every weight a step multiplies (~100 MB for BLIP-base), whose products are the
 * estimates of core/gemm_bound.h, when `make` and the model has none yet. It needs the LM
 * head's copy (bert_prepare_greedy); returns 1 when the model has a draft. Caches made after it
 * with one row hold the draft's own K/V (bert_cache_has_draft). */
int bert_prepare_draft(const bert_model *m, int make);
int bert_cache_has_draft(const bert_cache *c);
/* The draft's approximate logits est (vocab) of position len: feeds it seq[d, len), d the
 * length it has seen (its K/V of the cross-attention are the decoder's). */
vlp_status bert_cache_draft(const bert_model *m, bert_cache *c, const int *seq, int len,
                            float *est);
/* bert_cache_step_bounds with the bounds of all N * T positions (est, rad (N * T, vocab));
 * bert_cache_exact_logits then takes position r of that as its row. Each position's
 * values have the bits T one-token steps would give it. N * T at most the cache's length
 * for one row, else N. */
vlp_status bert_cache_step_bounds_all(const bert_model *m, bert_cache *c, const int *ids, int T,
                                      float *est, float *rad);
/* Drop every position from len on, the decoder's and the draft's. */
void bert_cache_rewind(bert_cache *c, int len);
/* After beam selection: new row r takes old row src[r] (self-attention K/V and enc item). */
void bert_cache_reorder(bert_cache *c, const int *src);

#endif
