/* clip_tokenizer: Hugging Face's slow CLIPTokenizer (byte-level BPE over vocab.json +
 * merges.txt) as it runs with ftfy installed: added tokens matched first, then per piece
 * of text ftfy.fix_text (the subset in tok_ftfy.h), whitespace collapsed, lower(), the
 * pre-tokenisation regex (PCRE2), UTF-8 bytes through the GPT-2 byte->unicode table and
 * BPE by merge rank with "</w>" on the last symbol. Internal to text/; the rest of vlp
 * uses text/tokenizer.h. */
#ifndef VLP_TEXT_CLIP_TOKENIZER_H
#define VLP_TEXT_CLIP_TOKENIZER_H

#include "text/tok_util.h"
#include "vlp.h"

typedef struct clip_tokenizer clip_tokenizer;

/* Reads model_dir/vocab.json and merges.txt (+ tokenizer_config.json,
 * special_tokens_map.json, added_tokens.json when present). */
vlp_status clip_tok_load(const char *model_dir, clip_tokenizer **out);
void clip_tok_free(clip_tokenizer *t);
/* tokenizer.tokenize(text) and the ids of its pieces: no <|startoftext|> /
 * <|endoftext|> added. */
vlp_status clip_tok_tokenize(const clip_tokenizer *t, const char *text, tok_out *out);
int clip_tok_bos_id(const clip_tokenizer *t);
int clip_tok_eos_id(const clip_tokenizer *t);
/* decode(ids, skip_special_tokens=True); *text malloc'd. An id that is neither in
 * vocab.json nor an added token is VLP_ERR_INVALID. */
vlp_status clip_tok_decode(const clip_tokenizer *t, const int *ids, int n, char **text);
int clip_tok_vocab_size(const clip_tokenizer *t);
int clip_tok_id(const clip_tokenizer *t, const char *token);

#endif
