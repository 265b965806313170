/* api_session: vlp_session (per-thread workspace and thread count) and vlp_features (the
 * vision tower's output kept by the caller) of vlp.h. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/threads.h"
#include "fusion/api_types.h"

int vlp_default_threads(void) {
  return vlp_threads_default();
}

vlp_session_params vlp_session_default_params(void) {
  return (vlp_session_params){.n_threads = 0};
}

vlp_status vlp_session_new(const vlp_model *m, const vlp_session_params *p, vlp_session **out) {
  *out = NULL;
  if (!m) return vlp_fail(VLP_ERR_INVALID, "vlp_session_new: no model");
  vlp_session *s = calloc(1, sizeof *s);
  if (!s) return vlp_fail(VLP_ERR_NOMEM, "vlp_session_new: out of memory");
  s->m = m;
  int n = p && p->n_threads > 0 ? p->n_threads : m->params.n_threads;
  s->n_threads = n > 0 ? (n > 4096 ? 4096 : n) : vlp_threads_default();
  if (p) s->progress = p->progress, s->progress_ctx = p->progress_ctx;
  s->vision_chunk_bytes = API_VISION_CHUNK_BYTES;
  ws_init(&s->ws);
  *out = s;
  return VLP_OK;
}

void vlp_session_free(vlp_session *s) {
  if (!s) return;
  ws_release(&s->ws);
  free(s);
}

const vlp_model *vlp_session_model(const vlp_session *s) {
  return s->m;
}

size_t vlp_session_bytes(const vlp_session *s) {
  return ws_bytes(&s->ws);
}

int api_enter(const vlp_session *s) {
  return threads_enter(s->n_threads);
}

void api_leave(int previous) {
  threads_leave(previous);
}

vlp_status api_progress(const vlp_session *s, const char *what, int64_t done, int64_t total) {
  if (s->progress && s->progress(s->progress_ctx, what, done, total))
    return vlp_fail(VLP_ERR_CANCELLED, "%s: cancelled", what);
  return VLP_OK;
}

vlp_status api_check_features(const vlp_session *s, const vlp_features *f, int i) {
  if (!f) return vlp_fail(VLP_ERR_INVALID, "no image features");
  if (f->m != s->m)
    return vlp_fail(VLP_ERR_INVALID, "the image features were made by another model");
  if (i < 0 || i >= f->n)
    return vlp_fail(VLP_ERR_INVALID, "image %d of %d image features", i, f->n);
  return VLP_OK;
}

vlp_status vlp_model_fit_image(const vlp_model *m, const vlp_image *img, int image_size,
                               vlp_image *out) {
  out->w = out->h = 0;
  out->rgb = NULL;
  prep_config c = *api_prep(m); /* read once, when the model was loaded */
  if (image_size > 0) prep_config_set_size(&c, image_size);
  vlp_image resized;
  vlp_status st = prep_run_u8(&c, img, &resized, out);
  if (!st) vlp_image_free(&resized);
  return st;
}

/* ---- features ------------------------------------------------------------------------ */

/* The processor of s's model with an optional size override (> 0), and its square output
 * size. */
static vlp_status input_size(const vlp_session *s, int size, prep_config *c, int *S) {
  *c = *api_prep(s->m);
  if (size > 0) prep_config_set_size(c, size);
  int h = prep_out_h(c), w = prep_out_w(c);
  if (h != w)
    return vlp_fail(VLP_ERR_UNSUPPORTED, "image processor output %dx%d is not square", w, h);
  *S = h;
  return VLP_OK;
}

/* pixels (n, 3, S, S) of images first .. first + n - 1 of a batch of `total` (for messages
 * and progress) into the session's WS_PIXELS slot. */
static vlp_status pixels_of(vlp_session *s, const vlp_image *imgs, int first, int n, int total,
                            int size, float **pixels, int *S) {
  prep_config c;
  int h = 0;
  vlp_status st = input_size(s, size, &c, &h);
  if (st) return st;
  size_t per = (size_t)3 * (size_t)h * (size_t)h;
  if ((size_t)n > SIZE_MAX / sizeof(float) / per)
    return vlp_fail(VLP_ERR_NOMEM, "%d images are too many for one batch", n);
  float *px = ws_floats(&s->ws, WS_PIXELS, (size_t)n * per);
  if (!px) return VLP_ERR_NOMEM;
  imgs += first;
  /* Images in parallel over the call's threads. The first image that fails is prepared
   * again on this thread: its message is kept per thread. */
  int nt = n > 1 ? vlp_threads_current() : 1, bad = n;
#pragma omp parallel for num_threads(nt) schedule(dynamic) if (nt > 1)
  for (int i = 0; i < n; i++) {
    if (prep_run(&c, &imgs[i], px + (size_t)i * per) != VLP_OK) {
#pragma omp critical(vlp_pixels_bad)
      bad = i < bad ? i : bad;
    }
  }
  for (int i = 0; i < n; i++) {
    if (i == bad && (st = prep_run(&c, &imgs[i], px + (size_t)i * per)))
      return total > 1 ? vlp_fail_prefix(st, "image %d", first + i + 1) : st;
    if ((st = api_progress(s, "encode", first + i + 1, total))) return st;
  }
  *pixels = px;
  *S = h;
  return VLP_OK;
}

int api_vision_chunk(const vlp_session *s, int n, int S) {
  size_t one = blip_vision_ws_bytes(s->m->blip, 1, S);
  size_t fit = one ? s->vision_chunk_bytes / one : 1;
  int most = fit < 1 ? 1 : fit < (size_t)n ? (int)fit : n;
  int chunks = (n + most - 1) / most;
  return (n + chunks - 1) / chunks;
}

/* BLIP: the vision tower's output of every image is kept (the decoder then adds each
 * image's cross-attention K/V, ~42 MB for BLIP-base), so the tower's workspace does not
 * grow with the batch: the images go through it a chunk at a time (api_vision_chunk). */
static vlp_status encode_blip(vlp_session *s, const vlp_image *imgs, int n, int size,
                              vlp_features *f) {
  const blip_model *b = s->m->blip;
  prep_config c;
  vlp_status st = input_size(s, size, &c, &f->S);
  if (st) return st;
  f->Ti = blip_vision_tokens(b, f->S);
  size_t per = (size_t)f->Ti * (size_t)blip_get_dims(b).vision_hidden;
  if (!(f->hidden = malloc((size_t)n * per * sizeof(float))))
    return vlp_fail(VLP_ERR_NOMEM, "out of memory for %d image features", n);
  int chunk = api_vision_chunk(s, n, f->S);
  for (int i = 0; i < n && !st; i += chunk) {
    int k = n - i < chunk ? n - i : chunk, S = 0;
    float *px = NULL;
    st = pixels_of(s, imgs, i, k, n, size, &px, &S);
    if (!st) st = blip_encode_images(b, &s->ws, px, k, S, f->hidden + (size_t)i * per, NULL);
  }
  if (!st && f->embeds) st = blip_image_feat(b, f->hidden, n, f->Ti, f->embeds);
  return st;
}

static vlp_status encode(vlp_session *s, const vlp_image *imgs, int n, int size, vlp_features *f) {
  const vlp_model *m = s->m;
  f->dim = vlp_model_embed_dim(m);
  if (f->dim > 0 && !(f->embeds = malloc((size_t)n * f->dim * sizeof(float))))
    return vlp_fail(VLP_ERR_NOMEM, "out of memory for %d image embeddings", n);
  if (m->blip) return encode_blip(s, imgs, n, size, f);
  float *px = NULL;
  vlp_status st = pixels_of(s, imgs, 0, n, n, size, &px, &f->S);
  if (st) return st;
  if (m->clip) return clip_encode_images(m->clip, &s->ws, px, n, f->S, NULL, NULL, NULL, f->embeds);
  return siglip_encode_images(m->siglip, &s->ws, px, n, f->S, NULL, NULL, f->embeds);
}

vlp_status vlp_encode_images(vlp_session *s, const vlp_image *imgs, int n, int image_size,
                             vlp_features **out) {
  *out = NULL;
  vlp_status st = api_need_part(s->m, VLP_LOAD_VISION);
  if (st) return st;
  if (n <= 0 || !imgs) return vlp_fail(VLP_ERR_INVALID, "vlp_encode_images: no images");
  vlp_features *f = calloc(1, sizeof *f);
  if (!f) return vlp_fail(VLP_ERR_NOMEM, "out of memory");
  f->m = s->m;
  f->n = n;
  int prev = api_enter(s);
  st = encode(s, imgs, n, image_size, f);
  api_leave(prev);
  if (st) {
    vlp_features_free(f);
    return st;
  }
  *out = f;
  return VLP_OK;
}

int vlp_features_count(const vlp_features *f) {
  return f ? f->n : 0;
}

void vlp_features_free(vlp_features *f) {
  if (!f) return;
  free(f->hidden);
  free(f->embeds);
  free(f);
}

vlp_status vlp_features_embeddings(const vlp_features *f, float *out) {
  if (!f) return vlp_fail(VLP_ERR_INVALID, "no image features");
  if (!f->embeds)
    return vlp_fail(VLP_ERR_INVALID, "the model is %s; embeddings need %s or %s",
                    vlp_arch_name(f->m->arch), vlp_arch_name(VLP_ARCH_CLIP),
                    vlp_arch_name(VLP_ARCH_BLIP_ITM));
  memcpy(out, f->embeds, (size_t)f->n * f->dim * sizeof(float));
  return VLP_OK;
}
