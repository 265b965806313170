/* blip: the three BLIP models of a Hugging Face model folder - captioning
 * (BlipForConditionalGeneration), image-text retrieval (BlipForImageTextRetrieval: ITM + ITC)
 * and visual question answering (BlipForQuestionAnswering) - built on vision/vit (the image
 * tower), text/bert (text encoder / decoder) and fusion/generate (greedy and beam search).
 *
 * A folder holds config.json (architectures[0] picks the task; vision_config / text_config
 * with the transformers 4.47 defaults where absent), model.safetensors (F32 / F16 / BF16),
 * vocab.txt (+ added_tokens.json) and preprocessor_config.json.
 *
 * Tensors: every task "vision_model."; caption "text_decoder.bert." + "text_decoder.cls.";
 * retrieval "text_encoder." + "vision_proj" + "text_proj" + "itm_head"; VQA "text_encoder."
 * + "text_decoder.bert." + "text_decoder.cls.".
 *
 * Shapes: Dv = vision hidden, Dt = text hidden, E = image_text_hidden_size (ITC width),
 * V = text vocab, Ti = blip_vision_tokens(S) = 1 + (S / patch)^2.
 * The model is read-only after loading and may be shared by threads; every forward takes
 * the caller's workspace (one per thread): the towers' slots plus WS_FUSION. */
#ifndef VLP_FUSION_BLIP_H
#define VLP_FUSION_BLIP_H

#include "fusion/generate.h"
#include "media/preprocess.h"
#include "text/bert.h"
#include "text/tokenizer.h"
#include "vision/vit.h"
#include "vlp.h"

typedef enum { BLIP_CAPTION, BLIP_RETRIEVAL, BLIP_VQA } blip_task;

typedef struct blip_model blip_model;

typedef struct {
  blip_task task;
  int vision_hidden; /* Dv */
  int text_hidden;   /* Dt */
  int embed_dim;     /* E (retrieval only, else 0) */
  int vocab;         /* V */
  int image_size;    /* S the position table was trained for */
  int patch_size;
  int max_text_len;           /* text max_position_embeddings */
  int bos_id, eos_id, pad_id; /* [DEC] 30522, [SEP] 102, [PAD] 0 from text_config */
} blip_dims;

/* Load a BLIP folder. An architecture other than the three is VLP_ERR_UNSUPPORTED naming it;
 * a missing tensor, a tensor of the wrong shape, a config disagreeing with the weights or a
 * vocab.txt whose size differs from text_config.vocab_size is VLP_ERR_MODEL; each error is
 * one line naming the file and the tensor / field. */
vlp_status blip_load(const char *model_dir, blip_model **out);
/* Only the parts in parts: VLP_LOAD_VISION (the ViT, and the retrieval model's vision_proj),
 * VLP_LOAD_TEXT (the text encoder / decoder, text_proj and itm_head). The other is neither
 * bound nor packed; a call that needs it fails with VLP_ERR_INVALID. blip_load loads all. */
vlp_status blip_load_parts(const char *model_dir, unsigned parts, blip_model **out);
void blip_free(blip_model *m);

blip_task blip_task_of(const blip_model *m);
const char *blip_task_name(blip_task t); /* "caption", "retrieval", "vqa" */
blip_dims blip_get_dims(const blip_model *m);
const vlp_tokenizer *blip_tokenizer(const blip_model *m);
const prep_config *blip_prep(const blip_model *m);
/* The model's tensors (for weights_prepare_linears). */
vlp_weights *blip_weights(const blip_model *m);
/* After weights_prepare_linears: what greedy decoding reads instead of the LM head where it
 * can (text/bert.h bert_prepare_greedy); *bytes receives its size (0: none). */
vlp_status blip_prepare_greedy(blip_model *m, size_t *bytes);
int blip_vision_tokens(const blip_model *m, int S);
/* Workspace bytes the vision tower takes for B images of S x S (0: too large). */
size_t blip_vision_ws_bytes(const blip_model *m, int B, int S);
/* Generation defaults for this model: num_beams as given, max_length 20, min_length 0,
 * eos = sep_token_id, pad = pad_token_id, no repetition penalty, length_penalty 1. */
gen_params blip_gen_params(const blip_model *m, int num_beams);

/* ---- vision ------------------------------------------------------------------------ */

/* pixels (B, 3, S, S) as prep_run makes them (S a multiple of patch_size; S != image_size
 * interpolates the position embeddings) -> image_embeds (B, Ti, Dv) = vision
 * last_hidden_state (post_layernorm applied). pooled (B, Dv) = post_layernorm again on the
 * CLS row, or NULL. */
vlp_status blip_encode_images(const blip_model *m, vlp_ws *ws, const float *pixels, int B, int S,
                              float *image_embeds, float *pooled);

/* ---- captioning (BLIP_CAPTION) ----------------------------------------------------- */

/* Decoder input for an optional prompt: NULL / "" -> [bos]; else tokenizer(prompt) with
 * [CLS] replaced by bos and the trailing [SEP] dropped: [bos, p..]. *ids malloc'd. */
vlp_status blip_caption_prompt_ids(const blip_model *m, const char *prompt, int **ids, int *n);
/* Raw decoder logits (V) at the last position of ids (n) for one image:
 * image_embeds (1, Ti, Dv). */
vlp_status blip_caption_first_logits(const blip_model *m, vlp_ws *ws, const float *image_embeds,
                                     int Ti, const int *ids, int n, float *logits);
/* Captions for B images (image_embeds (B, Ti, Dv)) from the same decoder input ids (n):
 * batch x beams rows go through one decoder step; the cross-attention K/V of each image is
 * computed once. out_seqs[b] (malloc'd, out_lens[b] ids) is the full sequence as HF's
 * generate returns it: [bos, prompt.., generated.., eos unless max_length was hit]. */
vlp_status blip_caption_generate(const blip_model *m, vlp_ws *ws, const float *image_embeds, int B,
                                 int Ti, const int *ids, int n, const gen_params *p, int **out_seqs,
                                 int *out_lens);

/* ---- retrieval (BLIP_RETRIEVAL) ---------------------------------------------------- */

/* Texts already tokenized ([CLS] .. [SEP], as tok_encode gives them with max_len =
 * max_text_len): ids[b] holds lens[b] ids. Texts of different lengths are padded and
 * masked internally; row b of an output only depends on text b.
 *
 * Unimodal text encoder (no image): last_hidden (B, Tmax, Dt) with Tmax = max(lens) (rows
 * past a text's length are padding) or NULL; text_feat (B, E) = normalize(text_proj(
 * last_hidden[:, 0])) or NULL. */
vlp_status blip_encode_texts(const blip_model *m, vlp_ws *ws, const int *const *ids,
                             const int *lens, int B, float *last_hidden, float *text_feat);
/* image_feat (B, E) = normalize(vision_proj(image_embeds[:, 0])); image_embeds (B, Ti, Dv). */
vlp_status blip_image_feat(const blip_model *m, const float *image_embeds, int B, int Ti,
                           float *image_feat);
/* ITM for B (image, text) pairs: text b cross-attends to image_embeds row b (B, Ti, Dv).
 * logits (B, 2) = itm_head(multimodal CLS), prob (B) = softmax(logits)[1],
 * cls (B, Dt) the multimodal CLS row. Any output may be NULL. */
vlp_status blip_itm(const blip_model *m, vlp_ws *ws, const float *image_embeds, int Ti,
                    const int *const *ids, const int *lens, int B, float *logits, float *prob,
                    float *cls);
/* Tokenize one text as the retrieval model expects it (truncated to max_text_len). */
vlp_status blip_tokenize(const blip_model *m, const char *text, int **ids, int *n);

/* ---- visual question answering (BLIP_VQA) ------------------------------------------ */

/* question_embeds (1, T, Dt) = text_encoder(question ids (T, [CLS] first, used as is),
 * cross-attention to image_embeds (1, Ti, Dv)). */
vlp_status blip_vqa_encode_question(const blip_model *m, vlp_ws *ws, const float *image_embeds,
                                    int Ti, const int *ids, int T, float *question_embeds);
/* Raw answer-decoder logits (V) for the input [bos], cross-attending to question_embeds
 * (1, T, Dt) with an all-ones mask. */
vlp_status blip_vqa_first_logits(const blip_model *m, vlp_ws *ws, const float *question_embeds,
                                 int T, float *logits);
/* Answers for B questions of the same token length T: question_embeds (B, T, Dt). The
 * decoder starts from [bos]; out_seqs / out_lens as blip_caption_generate. */
vlp_status blip_vqa_generate(const blip_model *m, vlp_ws *ws, const float *question_embeds, int B,
                             int T, const gen_params *p, int **out_seqs, int *out_lens);

#endif
