/* vlp.h — the public interface of libvlp, a vision-language pipeline (BLIP, CLIP) in C11.
 *
 * Conventions: every function that can fail returns a vlp_status; on failure the
 * message (which file, which tensor, what was expected) is in vlp_last_error(),
 * a thread-local string valid until the next failing call on that thread.
 * Objects are opaque handles created by *_load / *_new / *_open and released by *_free.
 *
 * Threads: a vlp_model is read-only after loading and may be shared by any number of
 * threads. Everything a computation writes (activations, KV caches, workspaces) belongs to
 * a vlp_session: one session per thread, a session is never used by two threads at once.
 * vlp_features, vlp_tokenizer and the other result objects are read-only after they are
 * made and may be read by several threads. A session's compute call runs its own OpenMP
 * threads (vlp_session_params.n_threads); nothing process-wide is changed by loading a
 * model or creating a session, except that libvlp keeps OpenBLAS at one thread per call
 * (set once, at the first matrix product: OpenBLAS's own thread pool would fight
 * libvlp's). */
#ifndef VLP_H
#define VLP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this header; vlp_version() gives the library's ("MAJOR.MINOR.PATCH").
 * The shared library's SONAME carries the major version (libvlp.so.MAJOR), which changes
 * whenever a program built against the previous one could not run on this one: 1 because
 * vlp_model_params gained `parts` (0.x programs passed the shorter struct). The minor
 * version changes when functions are added (1.1: vlp_model_mlp_widths,
 * vlp_precision_name). */
#define VLP_VERSION_MAJOR 1
#define VLP_VERSION_MINOR 1
#define VLP_VERSION_PATCH 0

/* VLP_API marks what libvlp exports: the library is built with -fvisibility=hidden, so
 * every function declared here carries it (a test checks that the shared library exports
 * exactly the functions of this header). */
#if defined(__GNUC__) || defined(__clang__)
#define VLP_API __attribute__((visibility("default")))
#else
#define VLP_API
#endif

typedef enum {
  VLP_OK = 0,
  VLP_ERR_IO,          /* a file could not be opened / read / written */
  VLP_ERR_FORMAT,      /* a file's content is malformed (corrupt image, bad header, not JSON) */
  VLP_ERR_UNSUPPORTED, /* well-formed but not something vlp handles (JPEG XL, unknown dtype,
                          architecture) */
  VLP_ERR_MODEL,       /* model folder inconsistent: missing tensor, wrong shape, config mismatch */
  VLP_ERR_INVALID,     /* bad argument from the caller (NULL text, size out of range)   */
  VLP_ERR_NOMEM,       /* allocation failed or a size would overflow */
  VLP_ERR_CANCELLED,   /* a progress callback asked to stop */
} vlp_status;

/* "MAJOR.MINOR.PATCH" of the linked library (may be newer than VLP_VERSION_* of the header
 * a program was compiled with, never older in major). */
VLP_API const char *vlp_version(void);

/* Releases a plain buffer the library handed out: the ids of vlp_tokenize, the text of
 * vlp_detokenize, the pixels of vlp_preprocess, the text of vlp_apply_template. NULL is
 * fine. Objects and structs have their own *_free (vlp_model_free, vlp_image_free,
 * vlp_text_result_free, ...). */
VLP_API void vlp_free(void *p);

/* The message of the last failure on this thread ("" if none). */
VLP_API const char *vlp_last_error(void);
/* A short name for a status ("io error", "format error", ...). */
VLP_API const char *vlp_status_str(vlp_status st);
/* Make message this thread's last error and return st: for a caller's own failure inside
 * a callback, so that what reports vlp_last_error() reports it. */
VLP_API vlp_status vlp_set_error(vlp_status st, const char *message);

/* What libvlp may change process-wide, chosen by the program (optional; call it before
 * anything else). Without it libvlp changes nothing global except OpenBLAS's thread count
 * (see above). */
typedef struct {
  /* 1: route FFmpeg's log (av_log_set_callback, process-wide) into libvlp, which keeps
   * the last error line for its own messages and prints nothing; 0 (default): FFmpeg's
   * log is left as it is (FFmpeg prints to stderr). libvlp opens FFmpeg at its first video,
   * so the choice takes effect then. */
  int capture_ffmpeg_log;
} vlp_init_options;
VLP_API vlp_status vlp_init(const vlp_init_options *o);

/* The thread count a session uses when none is asked for: VLP_THREADS when set (1..4096),
 * else the number of online cores. */
VLP_API int vlp_default_threads(void);

/* ---- images ---------------------------------------------------------------------- */

/* An 8-bit RGB image, rows top to bottom, pixels interleaved: rgb[(y * w + x) * 3 + c]. */
typedef struct {
  int w, h;
  uint8_t *rgb; /* owned; (h, w, 3) */
} vlp_image;

/* Decode an image file (format chosen by magic bytes: PNG, JPEG, WebP, GIF (first frame),
 * BMP, TIFF (first page), HEIF/AVIF), apply EXIF orientation and convert to RGB exactly as
 * transformers' load_image (PIL open, exif_transpose, convert("RGB")) does. Images over
 * Pillow's decompression-bomb limit (178956970 pixels) are refused before any allocation. */
VLP_API vlp_status vlp_image_load(const char *path, vlp_image *out);
VLP_API vlp_status vlp_image_load_memory(const uint8_t *data, size_t size, const char *name,
                                         vlp_image *out);
VLP_API void vlp_image_free(vlp_image *img);

/* What the first bytes of a file say it is (vlp_image_sniff_file). */
enum {
  VLP_SNIFF_UNREADABLE = -1, /* could not be opened or read (message in vlp_last_error) */
  VLP_SNIFF_OTHER = 0,       /* readable, not an image (or empty) */
  VLP_SNIFF_IMAGE = 1,       /* PNG, JPEG, WebP, GIF, BMP, TIFF, HEIF or AVIF: vlp_image_load
                                decodes it (the file may still turn out corrupt) */
  VLP_SNIFF_UNSUPPORTED = 2, /* another image format (JPEG XL, JPEG 2000, PSD, QOI, ICO) */
};
/* Classify a file by its magic bytes (reads at most its first 16 bytes). */
VLP_API int vlp_image_sniff_file(const char *path);

/* The image as the model folder's image processor resizes (and crops) it, still 8-bit:
 * the step before rescale/normalise. Preprocessing the result again is the identity, so
 * vlp_caption(fitted) == vlp_caption(original); a reader thread can do the expensive
 * resampling ahead of the model and queue small images. image_size > 0 overrides the
 * processor's size as in vlp_encode_images. */
VLP_API vlp_status vlp_image_fit(const char *model_dir, const vlp_image *img, int image_size,
                                 vlp_image *out);

typedef struct vlp_model vlp_model; /* (see "models" below) */
/* vlp_image_fit with the image processor of a loaded model (its preprocessor config was
 * read once, at load): for a reader thread fitting many images. Thread-safe. */
VLP_API vlp_status vlp_model_fit_image(const vlp_model *m, const vlp_image *img, int image_size,
                                       vlp_image *out);

/* Images read ahead: background threads (two, or one when ahead is 1) decode
 * (vlp_image_load) the queued paths and, when a model is given, fit them to its input size
 * (vlp_model_fit_image), so that decoding the next images overlaps the caller's model
 * calls; images are taken in the order their paths were added. At most `ahead` images are
 * decoded (or decoding) and not yet taken. A reader is used by one thread at a time. */
typedef struct vlp_image_reader vlp_image_reader;
/* m may be NULL (images as decoded); image_size as in vlp_model_fit_image; ahead <= 0
 * means 1. VLP_ERR_NOMEM when no thread can start. */
VLP_API vlp_status vlp_image_reader_new(const vlp_model *m, int image_size, int ahead,
                                        vlp_image_reader **out);
/* Queue a path (copied). */
VLP_API vlp_status vlp_image_reader_add(vlp_image_reader *r, const char *path);
/* The image of the oldest queued path not yet taken, waiting for it when needed: VLP_OK
 * and *img (release with vlp_image_free), or that file's own error (its status, and the
 * one-line message naming the file in vlp_last_error) with *img empty. VLP_ERR_INVALID
 * when nothing is queued. */
VLP_API vlp_status vlp_image_reader_next(vlp_image_reader *r, vlp_image *img);
/* Stop the threads (paths still queued are dropped) and free what was not taken. NULL is
 * fine. */
VLP_API void vlp_image_reader_free(vlp_image_reader *r);

/* Write a float32 array as a NumPy .npy file (atomically: temp file + rename). */
VLP_API vlp_status vlp_write_npy_f32(const char *path, const float *data, int ndim,
                                     const int64_t *shape);

/* ---- preprocessing and tokenizers (no weights needed) ------------------------------ */

/* Pixel values (3, S, S) float32 for the model folder's image processor
 * (preprocessor_config.json). image_size > 0 overrides the processor's size (as for
 * interpolated position embeddings). *pixels is malloc'd (release with vlp_free); *S receives the
 * side. */
VLP_API vlp_status vlp_preprocess(const char *model_dir, const vlp_image *img, int image_size,
                                  float **pixels, int *S);

typedef struct vlp_tokenizer vlp_tokenizer;
/* The tokenizer of a model folder: vocab.txt (BERT WordPiece) or vocab.json + merges.txt
 * (CLIP BPE). */
VLP_API vlp_status vlp_tokenizer_load(const char *model_dir, vlp_tokenizer **out);
VLP_API void vlp_tokenizer_free(vlp_tokenizer *t);
/* The ids the text encoder receives: specials included, truncated to the model's maximum
 * (tokenizer_config.json model_max_length), not padded. *ids is malloc'd (release with vlp_free).
 */
VLP_API vlp_status vlp_tokenize(const vlp_tokenizer *t, const char *text, int **ids, int *n);
/* decode(ids, skip_special_tokens=True); *text is malloc'd (release with vlp_free). */
VLP_API vlp_status vlp_detokenize(const vlp_tokenizer *t, const int *ids, int n, char **text);

/* ---- models ------------------------------------------------------------------------- */

typedef enum {
  VLP_ARCH_BLIP_CAPTION, /* BlipForConditionalGeneration */
  VLP_ARCH_BLIP_ITM,     /* BlipForImageTextRetrieval */
  VLP_ARCH_BLIP_VQA,     /* BlipForQuestionAnswering */
  VLP_ARCH_CLIP,         /* CLIPModel */
  VLP_ARCH_SIGLIP,       /* SiglipModel */
} vlp_arch;

typedef struct vlp_model vlp_model;

/* How weights are computed with. F32 is exact (the reference's numbers); BF16 and INT8
 * are opt-in fast modes: bf16 weights with f32 accumulation (needs AVX-512), int8 weights
 * per output channel with per-row dynamic activation scales (needs AVX-512 VNNI or
 * AVX-VNNI); VLP_ERR_UNSUPPORTED saying why on a CPU without them. */
typedef enum { VLP_PRECISION_F32 = 0, VLP_PRECISION_BF16, VLP_PRECISION_INT8 } vlp_precision;
/* "f32", "bf16" or "int8" (the --precision spellings). Since 1.1. */
VLP_API const char *vlp_precision_name(vlp_precision p);

/* The parts of a model to load (vlp_model_params.parts). A part left out is neither read
 * nor prepared, which makes loading faster and smaller (a text-only CLIP skips its vision
 * tower); a call that needs it fails with VLP_ERR_INVALID saying so. For BLIP, TEXT is the
 * text encoder and decoder: captions, VQA and ITM need both parts. */
enum {
  VLP_LOAD_VISION = 1, /* the vision tower (and its projection / head) */
  VLP_LOAD_TEXT = 2,   /* the text tower (and its projection) */
  VLP_LOAD_ALL = VLP_LOAD_VISION | VLP_LOAD_TEXT,
};

typedef struct {
  vlp_precision precision;
  int n_threads;  /* packing the weights at load, and the default for this model's
                     sessions; <= 0: vlp_default_threads() */
  unsigned parts; /* VLP_LOAD_* flags; 0 is VLP_LOAD_ALL */
} vlp_model_params;

/* F32 (or VLP_PRECISION=f32|bf16|int8 when set), n_threads 0, parts VLP_LOAD_ALL. */
VLP_API vlp_model_params vlp_model_default_params(void);

/* Load a Hugging Face model folder or cache name (see vlp_resolve_model): config.json,
 * model.safetensors, tokenizer and preprocessor files. Weights are memory-mapped. The
 * model is read-only afterwards; loading changes nothing process-wide. p may be NULL. */
VLP_API vlp_status vlp_model_load_with(const char *path, const vlp_model_params *p,
                                       vlp_model **out);
/* vlp_model_load_with(path, NULL, out). */
VLP_API vlp_status vlp_model_load(const char *model_dir, vlp_model **out);
VLP_API void vlp_model_free(vlp_model *m);
VLP_API vlp_arch vlp_model_arch(const vlp_model *m);
/* The model's folder (absolute): a cache name resolved to its snapshot. */
VLP_API const char *vlp_model_dir(const vlp_model *m);
/* "BlipForConditionalGeneration", ... */
VLP_API const char *vlp_arch_name(vlp_arch a);
/* Width of the embeddings vlp_embed_* returns (0 for captioning / VQA models). */
VLP_API int vlp_model_embed_dim(const vlp_model *m);
VLP_API const vlp_tokenizer *vlp_model_tokenizer(const vlp_model *m);

/* ---- sessions ------------------------------------------------------------------------ */

/* Per-thread state for running a model: every buffer a computation writes. Buffers grow
 * to the largest batch seen and are reused, so a steady-state loop does not allocate. */
typedef struct vlp_session vlp_session;

/* Progress of a long call: done of total steps (vlp_encode_images: images preprocessed;
 * vlp_caption / vlp_vqa: decoder steps, total = the longest possible). Return nonzero to
 * stop the call, which then fails with VLP_ERR_CANCELLED. Runs on the calling thread. */
typedef int (*vlp_step_fn)(void *ctx, const char *what, int64_t done, int64_t total);

typedef struct {
  int n_threads;        /* OpenMP threads of each call; <= 0: the model's n_threads */
  vlp_step_fn progress; /* NULL: none */
  void *progress_ctx;
} vlp_session_params;

VLP_API vlp_session_params vlp_session_default_params(void);
/* A session for model m (which must outlive it). p may be NULL (defaults). */
VLP_API vlp_status vlp_session_new(const vlp_model *m, const vlp_session_params *p,
                                   vlp_session **out);
VLP_API void vlp_session_free(vlp_session *s);
VLP_API const vlp_model *vlp_session_model(const vlp_session *s);
/* Bytes the session's buffers hold now. */
VLP_API size_t vlp_session_bytes(const vlp_session *s);

/* ---- image features: encode once, query many ----------------------------------------- */

/* The vision tower's output for n images, kept by the caller and passed to vlp_caption,
 * vlp_vqa, vlp_itm and vlp_tag_scores, so asking many questions about one image runs the
 * vision tower once. Read-only once made; valid with the model that made it. */
typedef struct vlp_features vlp_features;

/* Preprocess (as the model folder's image processor) and encode n images in one batch.
 * image_size > 0 runs the vision tower at that resolution (interpolated position
 * embeddings, as the reference's interpolate_pos_encoding). */
VLP_API vlp_status vlp_encode_images(vlp_session *s, const vlp_image *imgs, int n, int image_size,
                                     vlp_features **out);
/* Number of images in f. */
VLP_API int vlp_features_count(const vlp_features *f);
VLP_API void vlp_features_free(vlp_features *f);
/* Projected, L2-normalised embeddings of f's images (CLIP image_embeds, BLIP retrieval
 * image_feat): out (count, vlp_model_embed_dim). */
VLP_API vlp_status vlp_features_embeddings(const vlp_features *f, float *out);

/* Generation options, named as transformers' generate() arguments. */
typedef struct {
  const char *prompt;       /* caption prefix, e.g. "a picture of"; NULL for none */
  int num_beams;            /* 1 = greedy */
  int max_length;           /* whole sequence, [DEC] and prompt included */
  int max_new_tokens;       /* > 0: overrides max_length with prompt length + this */
  int min_length;           /* whole sequence */
  float repetition_penalty; /* 1 = off */
  float length_penalty;
} vlp_gen_params;

VLP_API vlp_gen_params vlp_gen_default_params(void);

typedef struct {
  int *ids; /* the full sequence as the reference's generate() returns it */
  int n_ids;
  char *text;    /* decoded, special tokens skipped */
  int truncated; /* 1: the length limit ended the sequence before the end token */
} vlp_text_result;

VLP_API void vlp_text_result_free(vlp_text_result *r);

/* Captions for every image of f in one batch (BLIP captioning models): out[count]. */
VLP_API vlp_status vlp_caption(vlp_session *s, const vlp_features *f, const vlp_gen_params *p,
                               vlp_text_result *out);
/* Answer to a question about image i of f (BLIP VQA models). */
VLP_API vlp_status vlp_vqa(vlp_session *s, const vlp_features *f, int i, const char *question,
                           const vlp_gen_params *p, vlp_text_result *out);
/* Image-text matching of image i of f (BLIP retrieval models): itm = probability of a
 * match, itc = cosine of the projected, normalised embeddings. */
VLP_API vlp_status vlp_itm(vlp_session *s, const vlp_features *f, int i, const char *text,
                           float *itm, float *itc);
/* Projected, L2-normalised embeddings (CLIP image_embeds / text_embeds, BLIP image_feat /
 * text_feat): out (n, vlp_model_embed_dim). Images go through the vision tower in one
 * batch (vlp_encode_images + vlp_features_embeddings). */
VLP_API vlp_status vlp_embed_images(vlp_session *s, const vlp_image *imgs, int n, int image_size,
                                    float *out);
/* Texts run in passes of at most ~1024 padded tokens (CLIP and SigLIP; BLIP one at a time),
 * consecutive texts together, each pass padded to its longest: texts sorted by length pad
 * least, and short texts share a pass. Any n keeps the workspace bounded. */
VLP_API vlp_status vlp_embed_texts(vlp_session *s, const char *const *texts, int n, float *out);
/* Image-text match of image i of f (SigLIP): logit = exp(logit_scale) * cosine +
 * logit_bias, score = sigmoid(logit), the probability that this text matches. */
VLP_API vlp_status vlp_match(vlp_session *s, const vlp_features *f, int i, const char *text,
                             float *score, float *logit);
/* Zero-shot scores of image i of f: CLIP: softmax over the L labels of
 * exp(logit_scale) * cosine; SigLIP: each label's sigmoid(exp(logit_scale) * cosine +
 * logit_bias) on its own. label_embeds (L, dim) from vlp_embed_texts, scores (L). */
VLP_API vlp_status vlp_tag_scores(vlp_session *s, const vlp_features *f, int i,
                                  const float *label_embeds, int L, float *scores);

/* ---- zero-shot tags ------------------------------------------------------------------- */

/* "{}" in a template stands for the label: template "a photo of a {}." and label "cat" give
 * "a photo of a cat.". malloc'd; NULL when out of memory. */
VLP_API char *vlp_apply_template(const char *tmpl, const char *label);
/* The template a model's zero-shot tags use by default (CLIP: "a photo of a {}.", SigLIP:
 * "This is a photo of {}." as the reference's zero-shot pipeline). */
VLP_API const char *vlp_tag_default_template(const vlp_model *m);

/* A label set, embedded once (text embedding of template(label) for each label) and then
 * used for any number of images. Read-only once made. */
typedef struct vlp_labels vlp_labels;
/* tmpl NULL: vlp_tag_default_template. Labels are copied. */
VLP_API vlp_status vlp_labels_new(vlp_session *s, const char *const *labels, int n,
                                  const char *tmpl, vlp_labels **out);
VLP_API int vlp_labels_count(const vlp_labels *l);
VLP_API const char *vlp_labels_text(const vlp_labels *l, int i);
VLP_API void vlp_labels_free(vlp_labels *l);

typedef struct {
  int label;        /* index in the label set */
  const char *text; /* the label (owned by the vlp_labels) */
  float score;      /* CLIP: softmax over all labels of exp(logit_scale) * cosine;
                       SigLIP: sigmoid of this label's logit */
} vlp_tag_result;

/* The labels of image i of f ranked by score, best first (ties: label order):
 * out[vlp_labels_count(l)]. */
VLP_API vlp_status vlp_tag(vlp_session *s, const vlp_features *f, int i, const vlp_labels *l,
                           vlp_tag_result *out);

/* ---- retrieval index ------------------------------------------------------------------ */

/* An index folder (see index/index.h for the files): the L2-normalised embeddings of
 * images and video frames of one model, with each file's path, size, mtime and hash. A
 * video frame's entry has a frame reference "<video path>#t=<seconds>" as its path.
 * An open vlp_index is read-only and may be searched by several threads. */
typedef struct {
  char *path;       /* absolute (realpath) */
  int64_t size;     /* bytes */
  int64_t mtime_ns; /* modification time, ns since the epoch */
  uint64_t hash;    /* FNV-1a 64 of the content */
} vlp_index_entry;

typedef struct {
  char *dir;
  char *model; /* model folder recorded at build time */
  char *arch;  /* vlp_arch_name() of that model */
  int dim;
  int64_t count;
  int64_t generation;
  vlp_index_entry *entries; /* (count), entries[i] is row i */
  const float *emb;         /* (count, dim), memory-mapped, read only */
  void *map;
  size_t map_size;
} vlp_index;

/* Open an index folder for reading: metadata + memory-mapped embeddings, all validated
 * (a truncated .npy or a corrupt database is a VLP_ERR_FORMAT with a one-line message). */
VLP_API vlp_status vlp_index_open(const char *dir, vlp_index **out);
VLP_API void vlp_index_close(vlp_index *ix);
/* 1 when dir holds an index.db. */
VLP_API int vlp_index_exists(const char *dir);

/* Create dir if needed and take its build lock (non-blocking): VLP_ERR_IO with "another
 * build is running" when it is held. *fd is released by vlp_index_unlock. */
VLP_API vlp_status vlp_index_lock(const char *dir, int *fd);
VLP_API void vlp_index_unlock(int fd);

/* Replace the index's content by n entries and their embeddings (n, dim); crash-safe as
 * described above. Needs the lock. */
VLP_API vlp_status vlp_index_commit(const char *dir, const char *model, const char *arch, int dim,
                                    const vlp_index_entry *entries, int64_t n, const float *emb);

/* Size, mtime and FNV-1a 64 hash of a file's content. */
VLP_API vlp_status vlp_index_file_info(const char *path, vlp_index_entry *e);

/* Exact search: scores = emb . q for every row, the k best (highest score, then lowest
 * row) in rows/scores, best first. Returns the number found (min(k, count)). */
VLP_API int vlp_index_search(const vlp_index *ix, const float *q, int k, int64_t *rows,
                             float *scores);

/* Write the embeddings as a FAISS IndexFlatIP file (faiss.read_index reads it). */
VLP_API vlp_status vlp_index_export_faiss(const vlp_index *ix, const char *path);

/* A frame reference "<video>#t=<seconds>" (shortest exact form of t); malloc'd. */
VLP_API char *vlp_frame_ref(const char *video, double t);
/* 1 when ref is a frame reference: *video (malloc'd) and *t set; else 0. */
VLP_API int vlp_frame_ref_split(const char *ref, char **video, double *t);
/* An image file, or the frame a frame reference points at. */
VLP_API vlp_status vlp_load_image_or_frame(const char *ref, vlp_image *img);

typedef struct {
  int64_t row;  /* entry of the index */
  float score;  /* cosine of the query and the entry's embedding */
  float itm;    /* ITM probability after vlp_index_rerank */
  int reranked; /* 1 when itm is set */
} vlp_index_hit;

/* The k best entries for a query, best first (highest score, then lowest row); *n =
 * min(k, count). The session's model must be the index's (architecture and width). */
VLP_API vlp_status vlp_index_query_text(vlp_session *s, const vlp_index *ix, const char *text,
                                        int k, vlp_index_hit *hits, int *n);
VLP_API vlp_status vlp_index_query_image(vlp_session *s, const vlp_index *ix, const vlp_image *img,
                                         int k, vlp_index_hit *hits, int *n);
VLP_API vlp_status vlp_index_query_embedding(const vlp_index *ix, const float *q, int k,
                                             vlp_index_hit *hits, int *n);

/* Called for an entry that could not be reranked (its file unreadable, ...). */
typedef void (*vlp_entry_error_fn)(void *ctx, const char *path, const char *message);
/* Stage two of a search: the n hits by the ITM probability of (text, entry image) with a
 * BLIP retrieval session, best first; entries that fail get reranked = 0, go last (in
 * their order) and are reported to on_error (may be NULL). */
VLP_API vlp_status vlp_index_rerank(vlp_session *s, const vlp_index *ix, const char *text,
                                    vlp_index_hit *hits, int n, vlp_entry_error_fn on_error,
                                    void *ctx);

/* ---- self-test against reference data ------------------------------------------------ */

/* Called once per case: outcome 1 passed (message: a note, may be ""), 0 failed (message:
 * the first difference), -1 a manifest of a kind this vlp does not cover (name is the
 * manifest file; its cases are counted as skipped). name is "MANIFEST/CASE_ID". */
typedef void (*vlp_selftest_fn)(void *ctx, const char *name, int outcome, const char *message);

typedef struct {
  const char *filter;      /* only cases whose name contains it; NULL: all */
  int n_threads;           /* <= 0: vlp_default_threads() */
  vlp_selftest_fn on_case; /* NULL: only the counts */
  void *ctx;
} vlp_selftest_options;

typedef struct {
  int passed, failed, skipped;
} vlp_selftest_counts;

/* Run every case of every manifest golden_dir/cases/NAME.json (schema blip-clip-golden/v1,
 * the reference's own numbers) and compare every expected entry with the manifest's
 * comparison and tolerance. A case that fails is a count, not an error: the status is an
 * error only when golden_dir is not a golden set. o may be NULL. */
VLP_API vlp_status vlp_selftest(const char *golden_dir, const vlp_selftest_options *o,
                                vlp_selftest_counts *out);

/* ---- video (FFmpeg's libavformat / libavcodec / libswscale, in-process) -------------- */

/* Which frames vlp_video_next returns. A frame's time t is its presentation time in
 * seconds from the stream's start (pts - start_time, in time_base units); its index is
 * round(t * frame rate). A sample at time T takes the first frame with t >= T (within
 * 1 us), i.e. the frame shown at T; a frame is returned at most once. Every mode only
 * returns frames with start <= t < end. */
typedef enum {
  VLP_SAMPLE_ALL = 0,   /* every frame */
  VLP_SAMPLE_EVERY,     /* samples at T = start + k * every */
  VLP_SAMPLE_FPS,       /* samples at T = start + k / fps */
  VLP_SAMPLE_KEYFRAMES, /* frames the decoder marks as key frames */
  VLP_SAMPLE_SCENES,    /* the first frame, then every frame whose 32x32 grayscale thumbnail
                         * differs from the previous decoded frame's by a mean absolute
                         * difference > scene_threshold (0..1 of the 0..255 range) */
} vlp_sample_mode;

typedef struct {
  vlp_sample_mode mode;
  double every;           /* VLP_SAMPLE_EVERY: seconds between samples, > 0 */
  double fps;             /* VLP_SAMPLE_FPS: samples per second, > 0 */
  double scene_threshold; /* VLP_SAMPLE_SCENES, default 0.1 */
  double start;           /* seconds, default 0 */
  double end;             /* seconds, exclusive; < 0 (default) = to the end */
  int64_t max_frames;     /* stop after this many frames; 0 (default) = no limit */
} vlp_video_sampling;

/* Every frame of the whole video. */
VLP_API vlp_video_sampling vlp_video_default_sampling(void);

typedef struct vlp_video vlp_video;

typedef struct {
  int width, height;
  double fps;        /* frame rate for frame numbers: the average rate, or the base rate
                      * (r_frame_rate) when the two agree within 2%; 0 when unknown */
  double duration;   /* seconds; 0 when unknown */
  const char *codec; /* decoder name, e.g. "h264" */
} vlp_video_info;

/* Open the best video stream of a file (any container and codec the installed FFmpeg
 * libraries decode; libvlp opens them at the first video). Errors name the file: empty file,
 * not a video, no video stream, no decoder for the codec, bad sampling parameters, FFmpeg's
 * libraries missing. */
VLP_API vlp_status vlp_video_open(const char *path, const vlp_video_sampling *s, vlp_video **out);
VLP_API vlp_video_info vlp_video_get_info(const vlp_video *v);
/* The next sampled frame as RGB24 (FFmpeg's default YUV->RGB: the stream's matrix or
 * BT.601, its range): *got = 1 with *frame (release with vlp_image_free), *t and *index
 * set; *got = 0 when there are no more. A damaged or truncated file returns the frames
 * before the damage, then an error naming the file; after an error *got stays 0. */
VLP_API vlp_status vlp_video_next(vlp_video *v, vlp_image *frame, double *t, int64_t *index,
                                  int *got);
VLP_API void vlp_video_close(vlp_video *v);

/* ---- building a retrieval index (see "retrieval index" above) ---------------------- */

/* What vlp_index_build did. files: entries in the new index (a video counts once per
 * frame); embedded: computed now; unchanged: taken from the old index (same content);
 * removed: old entries dropped; failed: files that could not be read or decoded. */
typedef struct {
  int64_t files, embedded, unchanged, removed, failed;
} vlp_index_build_stats;

/* A file the build reports: kind "error" (left out; message says why) or "removed" (an old
 * entry dropped; message: "the file is gone", "not under the PATHs given" or "it could not
 * be read"). */
typedef void (*vlp_index_report_fn)(void *ctx, const char *path, const char *kind,
                                    const char *message);

typedef struct {
  vlp_video_sampling video; /* frames of videos (default: one per second) */
  vlp_step_fn progress;     /* ("index", files done, files); nonzero cancels: VLP_ERR_CANCELLED
                             * and the index is left as it was */
  void *progress_ctx;
  vlp_index_report_fn report; /* NULL: failures are only counted */
  void *report_ctx;
  int batch; /* images (or video frames) per forward pass (< 0: 1); image files are
              * decoded one batch ahead on another thread. 0 (the default): 16 where
              * vlp_batch_invariant() is 1, else 1. An index is bit for bit the same whether it
              * was built at once, resumed, or merged from shards when each image's embedding
              * does not depend on its batch: always at batch 1, and at any batch where
              * vlp_batch_invariant() is 1 (elsewhere batches change the last bits, within
              * 1e-6). */
} vlp_index_build_options;

VLP_API vlp_index_build_options vlp_index_build_default_options(void);

/* Make dir hold exactly the n files of paths (images; videos by extension, one entry per
 * sampled frame "<video>#t=<seconds>") embedded by the session's model (CLIP, SigLIP or
 * BLIP retrieval). An existing index is updated: files whose content is unchanged (hash and
 * size, even when moved) keep their embeddings when the model is the same; entries of files
 * not in paths are removed. Paths inside dir are skipped; a file that fails is reported
 * and left out, and the call still succeeds. Takes the index lock (VLP_ERR_IO when another
 * build holds it); commits once, so a failed or cancelled build leaves the old index.
 * o may be NULL; stats may be NULL. */
VLP_API vlp_status vlp_index_build(vlp_session *s, const char *dir, const char *const *paths, int n,
                                   const vlp_index_build_options *o, vlp_index_build_stats *stats);
/* 1 when path names a video by its extension (.mp4 .m4v .mov .mkv .webm .avi .mpg .mpeg
 * .ts .m2ts .wmv .flv .3gp .ogv, any case): what vlp_index_build treats as a video. */
VLP_API int vlp_is_video_path(const char *path);

/* ---- model cache, downloads and model summaries ------------------------------------- */

/* The model cache folder: VLP_HOME, else $HOME/.cache/vlp. Models are stored as in a
 * Hugging Face hub cache: models--ORG--NAME/snapshots/COMMIT/FILES and
 * models--ORG--NAME/refs/REVISION (a file holding COMMIT). */
VLP_API vlp_status vlp_cache_dir(char *out, size_t size);

/* What -m names, as a folder path in out[size]:
 * - an existing folder is itself (a hub cache repo folder models--ORG--NAME means the
 *   snapshot its refs/main names);
 * - otherwise a cache name "ORG/NAME" or "NAME" (unique across orgs), optionally with
 *   "@REVISION", looked up in VLP_HOME, then in the Hugging Face hub cache (HF_HUB_CACHE,
 *   HF_HOME/hub or ~/.cache/huggingface/hub).
 * vlp_model_load, vlp_tokenizer_load, vlp_preprocess and vlp_model_info call it. */
VLP_API vlp_status vlp_resolve_model(const char *name_or_path, char *out, size_t size);

/* One model of the cache (vlp_cache_list). */
typedef struct {
  char *name;     /* "ORG/NAME" */
  char *revision; /* the ref, e.g. "main" */
  char *path;     /* the snapshot folder */
} vlp_cached_model;

/* The models of VLP_HOME and of the Hugging Face hub cache (HF_HUB_CACHE, HF_HOME/hub or
 * ~/.cache/huggingface/hub) with a ref (one entry per cache, repo and ref), sorted by name. */
VLP_API vlp_status vlp_cache_list(vlp_cached_model **out, int *n);
VLP_API void vlp_cache_list_free(vlp_cached_model *list, int n);

/* Download progress of one file: done of total bytes (total 0 when unknown); called with
 * done == total when the file is complete. Return nonzero to stop: vlp_pull then fails with
 * VLP_ERR_CANCELLED and keeps the partial file, which the next vlp_pull resumes. */
typedef int (*vlp_progress_fn)(void *ctx, const char *file, uint64_t done, uint64_t total);

typedef struct {
  const char *revision;     /* NULL: "main" */
  const char *endpoint;     /* NULL: HF_ENDPOINT, else https://huggingface.co */
  const char *token;        /* NULL: HF_TOKEN when set */
  const char *cache_dir;    /* NULL: vlp_cache_dir() */
  vlp_progress_fn progress; /* NULL: none */
  void *progress_ctx;
} vlp_pull_options;

typedef struct {
  char *path;   /* the snapshot folder the files are in */
  char *commit; /* the hub's commit id (X-Repo-Commit), else the revision */
  char **files; /* the files of the snapshot vlp uses */
  int n_files;
  uint64_t bytes_downloaded; /* 0 when everything was cached already */
} vlp_pull_result;

/* Download what vlp needs of a hub repository (config.json, model.safetensors or its
 * shards, tokenizer and preprocessor files) into the cache: resumes partial downloads,
 * checks sha256 where the hub reports it, places files atomically. */
VLP_API vlp_status vlp_pull(const char *repo_id, const vlp_pull_options *o, vlp_pull_result *out);
VLP_API void vlp_pull_result_free(vlp_pull_result *r);

/* Throughput in GFLOP/s of the f32 matrix product vlp's models use (the selected GEMM
 * backend on packed weights): x (m, k) times W^T, W (n, k), best of reps runs on
 * n_threads threads (<= 0: the default). The reference `vlp bench` divides by. < 0 when
 * memory is short. */
VLP_API double vlp_gemm_gflops(int m, int n, int k, int reps, int n_threads);
/* The arithmetic ceiling for products of precision p, in GFLOP/s (GOP/s for int8): the
 * multiply-adds vlp's products of that precision run on (f32: fused multiply-adds, AVX-512
 * or AVX2; bf16: AVX512_BF16 pair dot products; int8: AVX512_VNNI quad dot products),
 * counted as two operations each, issued with every operand in a register, best of reps
 * runs on n_threads threads (<= 0: the default). < 0 when this CPU lacks the instruction. */
VLP_API double vlp_isa_peak_gflops(vlp_precision p, int reps, int n_threads);
/* Memory read bandwidth in GB/s: a buffer of bytes (well above the caches, e.g. 256 MiB)
 * read once per run, best of reps runs on n_threads threads (<= 0: the default). What a
 * decoder step, which reads every decoder weight, is bound by. < 0 when memory is short. */
VLP_API double vlp_memory_read_gbs(size_t bytes, int reps, int n_threads);
/* The GEMM backend in use ("dnnl" or "openblas") and the vectorised kernels ("avx512",
 * "avx2" or "generic"), for reports. */
VLP_API const char *vlp_gemm_backend(void);
VLP_API const char *vlp_kernel_isa(void);
/* 1 when the products run so far give each image the same embedding, bit for bit, whatever
 * batch it went in, its place there and the thread count (oneDNN's AVX-512 kernels, f32,
 * bf16 and int8); 0 where they depend on the batch in the last bits (AVX2-only CPUs,
 * VLP_GEMM=openblas). Meaningful once a model is loaded. */
VLP_API int vlp_batch_invariant(void);

/* A model folder's summary for `vlp info` / `vlp models`, from config.json and the
 * safetensors headers (no weights are read). */
typedef struct {
  char architecture[96]; /* config.json architectures[0] */
  char model_type[32];
  int supported; /* 1 when vlp runs this architecture; then arch is set */
  vlp_arch arch;
  char dtype[8];    /* the dtype of most parameters: "F32", "F16", "BF16", ... */
  int64_t n_params; /* sum of the tensors' element counts */
  int n_tensors, n_weight_files;
  uint64_t weight_bytes; /* tensor data */
  uint64_t disk_bytes;   /* all files of the folder */
  struct {
    int hidden, layers, heads, image_size, patch_size;
  } vision;
  struct {
    int hidden, layers, heads, vocab_size, max_positions;
  } text;
  int projection_dim; /* width of the retrieval embeddings (0 for captioning / VQA) */
} vlp_model_summary;

VLP_API vlp_status vlp_model_info(const char *name_or_path, vlp_model_summary *out);
/* The widths of the vision and text towers' MLPs (intermediate_size, or the default the
 * model loaders take when config.json leaves it out, as transformers does), from config.json
 * alone; 0 for a tower on failure. For FLOP counts such as `vlp bench`'s. Since 1.1. */
VLP_API vlp_status vlp_model_mlp_widths(const char *name_or_path, int *vision, int *text);

#ifdef __cplusplus
}
#endif
#endif
