/* siglip_tokenizer: transformers 4.47's SiglipTokenizer (slow, the only one it has) over a
 * SentencePiece model (spiece.model, read through text/spm.h). tokenize(text):
 *   1. "▁" + text with every U+2581 replaced by a space;
 *   2. lowercase ONE CHARACTER AT A TIME with Python's str.lower() (no final-sigma rule),
 *      special tokens kept as written (do_lower_case, default true);
 *   3. split on the special tokens (</s>, <unk>, additional ones; their lstrip / rstrip eat
 *      the whitespace next to them);
 *   4. every other chunk: drop the 32 ASCII punctuation characters, runs of Unicode
 *      whitespace -> one space, strip (canonicalize_text); this is what enters SentencePiece;
 *   5. SentencePiece with add_dummy_prefix forced off: encode("<unk>" + chunk), minus the
 *      pieces of "<unk>" alone;
 *   6. a lone "▁" first piece followed by a special token is dropped;
 *   pieces -> ids: special tokens by their id, others by SentencePiece's piece_to_id.
 * Encoding appends </s> unless the ids already end with it; truncation keeps the first
 * max_len - 1 ids and then </s> (as the reference's truncation=True). Internal to text/. */
#ifndef VLP_TEXT_SIGLIP_TOKENIZER_H
#define VLP_TEXT_SIGLIP_TOKENIZER_H

#include "text/tok_util.h"
#include "vlp.h"

typedef struct siglip_tokenizer siglip_tokenizer;

/* Reads model_dir/spiece.model (+ tokenizer_config.json, special_tokens_map.json when
 * present). A missing or unreadable spiece.model is VLP_ERR_MODEL / VLP_ERR_FORMAT with
 * the file named. */
vlp_status siglip_tok_load(const char *model_dir, siglip_tokenizer **out);
void siglip_tok_free(siglip_tokenizer *t);
/* tokenizer.tokenize(text): pieces and special tokens (no </s> appended) with their ids.
 * sp_inputs (may be NULL) receives, as pieces, the strings handed to SentencePiece (step
 * 4's output, one per chunk that is not a special token). */
vlp_status siglip_tok_tokenize(const siglip_tokenizer *t, const char *text, tok_out *out,
                               tok_out *sp_inputs);
/* The ids the text tower receives, not padded: tokenize + </s>, truncated to max_len when
 * max_len > 0. *n_untruncated (may be NULL) gets the count without truncation. */
vlp_status siglip_tok_encode(const siglip_tokenizer *t, const char *text, int max_len, int **ids,
                             int *n, int *n_untruncated);
/* decode(ids, skip_special_tokens=True): SentencePiece's decode of the other pieces,
 * stripped. An id outside the vocabulary is VLP_ERR_INVALID. */
vlp_status siglip_tok_decode(const siglip_tokenizer *t, const int *ids, int n, char **text);
int siglip_tok_vocab_size(const siglip_tokenizer *t);
int siglip_tok_id(const siglip_tokenizer *t, const char *token);
int siglip_tok_eos_id(const siglip_tokenizer *t);
int siglip_tok_pad_id(const siglip_tokenizer *t);
/* tokenizer_config.json model_max_length (64 by default). */
int siglip_tok_max_length(const siglip_tokenizer *t);

#endif
