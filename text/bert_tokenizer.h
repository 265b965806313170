/* bert_tokenizer: Hugging Face's slow BertTokenizer (WordPiece over vocab.txt), as BLIP
 * uses it: added/special tokens matched in the text first, then BasicTokenizer (clean,
 * CJK spacing, NFC, lowercase + accent stripping, punctuation split) and greedy
 * longest-match WordPiece. Settings come from tokenizer_config.json. Internal to text/;
 * the rest of vlp uses text/tokenizer.h. */
#ifndef VLP_TEXT_BERT_TOKENIZER_H
#define VLP_TEXT_BERT_TOKENIZER_H

#include "text/tok_util.h"
#include "vlp.h"

typedef struct bert_tokenizer bert_tokenizer;

/* Reads model_dir/vocab.txt (+ tokenizer_config.json, special_tokens_map.json,
 * added_tokens.json when present). */
vlp_status bert_tok_load(const char *model_dir, bert_tokenizer **out);
void bert_tok_free(bert_tokenizer *t);
/* tokenizer.tokenize(text) and the ids of its pieces: no [CLS] / [SEP] added. */
vlp_status bert_tok_tokenize(const bert_tokenizer *t, const char *text, tok_out *out);
int bert_tok_cls_id(const bert_tokenizer *t);
int bert_tok_sep_id(const bert_tokenizer *t);
/* decode(ids, skip_special_tokens=True); *text malloc'd. */
vlp_status bert_tok_decode(const bert_tokenizer *t, const int *ids, int n, char **text);
/* len(tokenizer): vocabulary plus added tokens. */
int bert_tok_vocab_size(const bert_tokenizer *t);
/* Id of a token string (added tokens first, then the vocabulary), or -1. */
int bert_tok_id(const bert_tokenizer *t, const char *token);

#endif
