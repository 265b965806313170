/* tokenizer: the tokenizer of a model folder, BERT WordPiece (vocab.txt, BLIP), CLIP
 * byte-level BPE (vocab.json + merges.txt) or SigLIP SentencePiece (spiece.model), behind
 * one interface. */
#ifndef VLP_TEXT_TOKENIZER_H
#define VLP_TEXT_TOKENIZER_H

#include "vlp.h"

typedef enum { TOK_BERT, TOK_CLIP, TOK_SIGLIP } tok_kind;
typedef struct vlp_tokenizer vlp_tokenizer;

/* vocab.txt -> BERT; vocab.json + merges.txt -> CLIP; spiece.model (or a config naming
 * SiglipTokenizer) -> SigLIP. */
vlp_status tok_load(const char *model_dir, vlp_tokenizer **out);
void tok_free(vlp_tokenizer *t);
tok_kind tok_kind_of(const vlp_tokenizer *t);
/* The ids the text encoder receives, specials included ([CLS] .. [SEP],
 * <|startoftext|> .. <|endoftext|>, or SigLIP's pieces .. </s>), not padded. max_len > 0
 * truncates as Hugging Face's truncation=True does: the first max_len - 1 ids, then the
 * closing special. *ids is
 * malloc'd; *n_untruncated (may be NULL) receives the full count. */
vlp_status tok_encode(const vlp_tokenizer *t, const char *text, int max_len, int **ids, int *n,
                      int *n_untruncated);
/* The word pieces / BPE tokens without specials (for tests): *pieces is a malloc'd array of
 * malloc'd strings; free with tok_free_pieces. */
vlp_status tok_pieces(const vlp_tokenizer *t, const char *text, char ***pieces, int *n);
void tok_free_pieces(char **pieces, int n);
/* decode(ids, skip_special_tokens=True) as Hugging Face does it. *text is malloc'd. */
vlp_status tok_decode(const vlp_tokenizer *t, const int *ids, int n, char **text);
int tok_vocab_size(const vlp_tokenizer *t);
/* Id of a token string, or -1. */
int tok_id(const vlp_tokenizer *t, const char *token);
/* The longest id sequence the text encoder takes: 512 BERT, 77 CLIP, SigLIP's
 * model_max_length (64). */
int tok_model_max_length(const vlp_tokenizer *t);
/* The id padding="max_length" appends (SigLIP: </s>; CLIP: <|endoftext|>; BERT: [PAD]). */
int tok_pad_id(const vlp_tokenizer *t);
/* SigLIP only (for tests): the strings handed to SentencePiece, one per chunk of text
 * between special tokens, after the clean-up; free with tok_free_pieces. */
vlp_status tok_sp_inputs(const vlp_tokenizer *t, const char *text, char ***inputs, int *n);

#endif
