/* vlp.h — the public interface of libvlp, a vision-language pipeline (BLIP, CLIP) in C11.
 *
 * Conventions: every function that can fail returns a vlp_status; on failure the
 * message (which file, which tensor, what was expected) is in vlp_last_error(),
 * a thread-local string valid until the next failing call on that thread.
 * Objects are opaque handles created by *_load / *_open and released by *_free. */
#ifndef VLP_H
#define VLP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  VLP_OK = 0,
  VLP_ERR_IO,          /* a file could not be opened / read / written */
  VLP_ERR_FORMAT,      /* a file's content is malformed (corrupt image, bad header, not JSON) */
  VLP_ERR_UNSUPPORTED, /* well-formed but not something vlp handles (GIF, unknown dtype, architecture) */
  VLP_ERR_MODEL,       /* model folder inconsistent: missing tensor, wrong shape, config mismatch */
  VLP_ERR_INVALID,     /* bad argument from the caller (empty text, size out of range) */
  VLP_ERR_NOMEM,       /* allocation failed or a size would overflow */
} vlp_status;

/* The message of the last failure on this thread ("" if none). */
const char *vlp_last_error(void);
/* A short name for a status ("io error", "format error", ...). */
const char *vlp_status_str(vlp_status st);

/* Threads: one knob for OpenBLAS and vlp's own loops. n <= 0 means VLP_THREADS or,
 * if unset, the number of cores. */
void vlp_set_threads(int n);
int vlp_get_threads(void);

/* ---- images ---------------------------------------------------------------------- */

/* An 8-bit RGB image, rows top to bottom, pixels interleaved: rgb[(y * w + x) * 3 + c]. */
typedef struct {
  int w, h;
  uint8_t *rgb; /* owned; (h, w, 3) */
} vlp_image;

/* Decode a PNG or JPEG file (format chosen by magic bytes), apply EXIF orientation and
 * convert to RGB exactly as transformers' load_image (PIL open, exif_transpose,
 * convert("RGB")) does. */
vlp_status vlp_image_load(const char *path, vlp_image *out);
vlp_status vlp_image_load_memory(const uint8_t *data, size_t size, const char *name,
                                 vlp_image *out);
void vlp_image_free(vlp_image *img);

/* Write a float32 array as a NumPy .npy file (atomically: temp file + rename). */
vlp_status vlp_write_npy_f32(const char *path, const float *data, int ndim, const int64_t *shape);


/* ---- preprocessing and tokenizers (no weights needed) ------------------------------ */

/* Pixel values (3, S, S) float32 for the model folder's image processor
 * (preprocessor_config.json). image_size > 0 overrides the processor's size (as for
 * interpolated position embeddings). *pixels is malloc'd; *S receives the side. */
vlp_status vlp_preprocess(const char *model_dir, const vlp_image *img, int image_size,
                          float **pixels, int *S);

typedef struct vlp_tokenizer vlp_tokenizer;
/* The tokenizer of a model folder: vocab.txt (BERT WordPiece) or vocab.json + merges.txt
 * (CLIP BPE). */
vlp_status vlp_tokenizer_load(const char *model_dir, vlp_tokenizer **out);
void vlp_tokenizer_free(vlp_tokenizer *t);
/* The ids the text encoder receives: specials included, truncated to the model's maximum
 * (tokenizer_config.json model_max_length), not padded. *ids is malloc'd. */
vlp_status vlp_tokenize(const vlp_tokenizer *t, const char *text, int **ids, int *n);
/* decode(ids, skip_special_tokens=True); *text is malloc'd. */
vlp_status vlp_detokenize(const vlp_tokenizer *t, const int *ids, int n, char **text);

/* ---- models ------------------------------------------------------------------------- */

typedef enum {
  VLP_ARCH_BLIP_CAPTION, /* BlipForConditionalGeneration */
  VLP_ARCH_BLIP_ITM,     /* BlipForImageTextRetrieval */
  VLP_ARCH_BLIP_VQA,     /* BlipForQuestionAnswering */
  VLP_ARCH_CLIP,         /* CLIPModel */
} vlp_arch;

typedef struct vlp_model vlp_model;

/* Load a Hugging Face model folder (config.json, model.safetensors, tokenizer and
 * preprocessor files). Weights are memory-mapped. */
vlp_status vlp_model_load(const char *model_dir, vlp_model **out);
void vlp_model_free(vlp_model *m);
vlp_arch vlp_model_arch(const vlp_model *m);
/* "BlipForConditionalGeneration", ... */
const char *vlp_arch_name(vlp_arch a);
/* Width of the embeddings vlp_embed_* returns. */
int vlp_model_embed_dim(const vlp_model *m);
const vlp_tokenizer *vlp_model_tokenizer(const vlp_model *m);

/* Generation options, named as transformers' generate() arguments. */
typedef struct {
  const char *prompt;       /* caption prefix, e.g. "a picture of"; NULL for none */
  int num_beams;            /* 1 = greedy */
  int max_length;           /* whole sequence, [DEC] and prompt included */
  int max_new_tokens;       /* > 0: overrides max_length with prompt length + this */
  int min_length;           /* whole sequence */
  float repetition_penalty; /* 1 = off */
  float length_penalty;
  int image_size;           /* > 0: run the vision tower at this resolution */
} vlp_gen_params;

vlp_gen_params vlp_gen_default_params(void);

typedef struct {
  int *ids; /* the full sequence as the reference's generate() returns it */
  int n_ids;
  char *text; /* decoded, special tokens skipped */
} vlp_text_result;

void vlp_text_result_free(vlp_text_result *r);

/* Captions for n images in one batch (BLIP captioning models). out[n]. */
vlp_status vlp_caption(vlp_model *m, const vlp_image *imgs, int n, const vlp_gen_params *p,
                       vlp_text_result *out);
/* Answer to a question about an image (BLIP VQA models). */
vlp_status vlp_vqa(vlp_model *m, const vlp_image *img, const char *question,
                   const vlp_gen_params *p, vlp_text_result *out);
/* Image-text matching (BLIP retrieval models): itm = probability of a match, itc = cosine
 * of the projected, normalised embeddings. */
vlp_status vlp_itm(vlp_model *m, const vlp_image *img, const char *text, int image_size,
                   float *itm, float *itc);
/* Projected, L2-normalised embeddings (CLIP image_embeds / text_embeds, BLIP image_feat /
 * text_feat): out (n, vlp_model_embed_dim). */
vlp_status vlp_embed_images(vlp_model *m, const vlp_image *imgs, int n, int image_size,
                            float *out);
vlp_status vlp_embed_texts(vlp_model *m, const char *const *texts, int n, float *out);
/* Zero-shot scores (CLIP): softmax over the L labels of exp(logit_scale) * cosine.
 * image_embed (dim), label_embeds (L, dim), scores (L). */
vlp_status vlp_tag_scores(const vlp_model *m, const float *image_embed, const float *label_embeds,
                          int L, float *scores);

#ifdef __cplusplus
}
#endif
#endif
