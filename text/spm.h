/* spm: a small C interface to SentencePiece (Debian's libsentencepiece, a C++ library), the
 * only C++ in vlp (text/spm.cc). It exposes what the SigLIP tokenizer needs and nothing
 * more: load a serialized model, encode text to piece strings, piece <-> id, decode
 * pieces. No exception crosses it: failures return -1 with SentencePiece's message in err.
 * Everything around the SentencePiece call (clean-up, lowercasing, special tokens, eos,
 * truncation) is in text/siglip_tokenizer.c. */
#ifndef VLP_TEXT_SPM_H
#define VLP_TEXT_SPM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct spm_model spm_model;

/* Load a serialized ModelProto (the bytes of a .model file, possibly with extra fields
 * appended: protobuf merges repeated messages). 0 on success, -1 on failure. */
int spm_load(const char *data, size_t n, spm_model **out, char *err, size_t errsize);
void spm_free(spm_model *m);
/* Number of pieces (ids are 0 .. count - 1). */
int spm_piece_count(const spm_model *m);

/* Called once per piece of an encoding, in order; a non-zero return stops the encoding. */
typedef int (*spm_piece_fn)(void *ctx, const char *piece, size_t len);
/* Encode text[0..n) to pieces (SentencePiece's normaliser runs inside). 0 on success, -1 on a
 * SentencePiece error (err set), -2 when fn stopped it. */
int spm_encode(const spm_model *m, const char *text, size_t n, spm_piece_fn fn, void *ctx,
               char *err, size_t errsize);
/* The id of a piece (the unknown id when it is not a piece of the model). */
int spm_piece_to_id(const spm_model *m, const char *piece, size_t len);
/* The piece of an id (NUL-terminated, owned by the model), or NULL when out of range. */
const char *spm_id_to_piece(const spm_model *m, int id);
/* Decode pieces to text; *out is malloc'd. 0 on success, -1 on failure (err set). */
int spm_decode(const spm_model *m, const char *const *pieces, int n, char **out, char *err,
               size_t errsize);

#ifdef __cplusplus
}
#endif
#endif
