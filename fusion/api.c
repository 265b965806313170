/* api: models, preprocessing and tokenizers of vlp.h on top of the BLIP, CLIP and SigLIP
 * models (fusion/blip.h, fusion/clip.h, fusion/siglip.h). Sessions and features: api_session.c; the
 * tasks: api_tasks.c. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/gemm.h"
#include "core/json.h"
#include "core/npy.h"
#include "core/threads.h"
#include "fusion/api_types.h"
#include "media/preprocess.h"
#include "text/tokenizer.h"

static const char *const arch_names[] = {
    [VLP_ARCH_BLIP_CAPTION] = "BlipForConditionalGeneration",
    [VLP_ARCH_BLIP_ITM] = "BlipForImageTextRetrieval",
    [VLP_ARCH_BLIP_VQA] = "BlipForQuestionAnswering",
    [VLP_ARCH_CLIP] = "CLIPModel",
    [VLP_ARCH_SIGLIP] = "SiglipModel",
};

const char *vlp_arch_name(vlp_arch a) {
  return (unsigned)a < sizeof arch_names / sizeof arch_names[0] ? arch_names[a] : "unknown";
}

const char *vlp_precision_name(vlp_precision p) {
  return gemm_precision_name(p);
}

vlp_status vlp_write_npy_f32(const char *path, const float *data, int ndim, const int64_t *shape) {
  return npy_save(path, NPY_F32, ndim, shape, data);
}

/* ---- preprocessing and tokenizers ------------------------------------------------------ */

/* pixels (3, S, S) for one image under processor c, with an optional size override. */
static vlp_status preprocess_with(const prep_config *base, const vlp_image *img, int size,
                                  float **pixels, int *S) {
  prep_config c = *base;
  if (size > 0) prep_config_set_size(&c, size);
  int h = prep_out_h(&c), w = prep_out_w(&c);
  if (h != w)
    return vlp_fail(VLP_ERR_UNSUPPORTED, "image processor output %dx%d is not square", w, h);
  *pixels = malloc((size_t)3 * (size_t)h * (size_t)w * sizeof **pixels);
  if (!*pixels) return vlp_fail(VLP_ERR_NOMEM, "out of memory for pixel values");
  vlp_status st = prep_run(&c, img, *pixels);
  if (st) {
    free(*pixels);
    *pixels = NULL;
    return st;
  }
  *S = h;
  return VLP_OK;
}

vlp_status vlp_preprocess(const char *model_dir, const vlp_image *img, int image_size,
                          float **pixels, int *S) {
  char dir[4096]; /* a cache name -> its folder (hub/model_cache.c) */
  vlp_status st = vlp_resolve_model(model_dir, dir, sizeof dir);
  if (st) return st;
  prep_config c;
  st = prep_config_load(dir, &c);
  if (st) return st;
  return preprocess_with(&c, img, image_size, pixels, S);
}

vlp_status vlp_tokenizer_load(const char *model_dir, vlp_tokenizer **out) {
  char dir[4096];
  *out = NULL;
  vlp_status st = vlp_resolve_model(model_dir, dir, sizeof dir);
  if (st) return st;
  return tok_load(dir, out);
}

void vlp_tokenizer_free(vlp_tokenizer *t) {
  tok_free(t);
}

vlp_status vlp_tokenize(const vlp_tokenizer *t, const char *text, int **ids, int *n) {
  return tok_encode(t, text, tok_model_max_length(t), ids, n, NULL);
}

vlp_status vlp_detokenize(const vlp_tokenizer *t, const int *ids, int n, char **text) {
  return tok_decode(t, ids, n, text);
}

/* ---- models ---------------------------------------------------------------------------- */

vlp_model_params vlp_model_default_params(void) {
  /* VLP_PRECISION=bf16|int8 opts in to a fast mode (as VLP_THREADS sets the threads). */
  const char *env = getenv("VLP_PRECISION");
  int p = gemm_precision_parse(env && *env ? env : "f32");
  return (vlp_model_params){.precision = p < 0 ? VLP_PRECISION_F32 : (vlp_precision)p,
                            .n_threads = 0,
                            .parts = VLP_LOAD_ALL};
}

static double mono_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

vlp_status vlp_model_load(const char *model_dir_or_name, vlp_model **out) {
  return vlp_model_load_with(model_dir_or_name, NULL, out);
}

vlp_status vlp_model_load_with(const char *model_dir_or_name, const vlp_model_params *p,
                               vlp_model **out) {
  *out = NULL;
  vlp_model_params params = p ? *p : vlp_model_default_params();
  if (!params.parts) params.parts = VLP_LOAD_ALL;
  if (params.parts & ~(unsigned)VLP_LOAD_ALL)
    return vlp_fail(VLP_ERR_INVALID, "%s: parts 0x%x is not a set of VLP_LOAD_* flags",
                    model_dir_or_name, params.parts);
  const char *why = NULL;
  if (!gemm_supports(params.precision, &why))
    return vlp_fail(VLP_ERR_UNSUPPORTED, "%s: precision %s is not available: %s", model_dir_or_name,
                    gemm_precision_name(params.precision), why);
  char model_dir[4096];
  vlp_status st = vlp_resolve_model(model_dir_or_name, model_dir, sizeof model_dir);
  if (st) return st;
  char path[4096 + 16];
  cJSON *cfg;
  st = json_load_config(model_dir, path, sizeof path, &cfg);
  if (st) return st;
  const char *arch = json_architecture(cfg);
  int a = -1;
  for (int i = 0; arch && i < (int)(sizeof arch_names / sizeof arch_names[0]); i++)
    if (!strcmp(arch, arch_names[i])) a = i;
  if (a < 0) {
    st = vlp_fail(arch ? VLP_ERR_UNSUPPORTED : VLP_ERR_MODEL,
                  "%s: %s%s%s (vlp runs BlipForConditionalGeneration, BlipForImageTextRetrieval, "
                  "BlipForQuestionAnswering, CLIPModel and SiglipModel)",
                  path, arch ? "architecture " : "no \"architectures\" entry", arch ? arch : "",
                  arch ? " is not supported" : "");
    cJSON_Delete(cfg);
    return st;
  }
  cJSON_Delete(cfg);
  vlp_model *m = calloc(1, sizeof *m);
  if (!m) return vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", model_dir);
  m->arch = (vlp_arch)a;
  m->params = params;
  char real[PATH_MAX];
  if (!(m->dir = strdup(realpath(model_dir, real) ? real : model_dir))) {
    free(m);
    return vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", model_dir);
  }
  if (m->arch == VLP_ARCH_CLIP)
    st = clip_load_parts(model_dir, params.parts, &m->clip);
  else if (m->arch == VLP_ARCH_SIGLIP)
    st = siglip_load_parts(model_dir, params.parts, &m->siglip);
  else
    st = blip_load_parts(model_dir, params.parts, &m->blip);
  /* The linear layers' weights packed for the GEMM backend at the asked precision, with
   * the model's threads. */
  if (!st) {
    int prev = threads_enter(params.n_threads);
    st = weights_prepare_linears(m->clip     ? clip_weights(m->clip)
                                 : m->siglip ? siglip_weights(m->siglip)
                                             : blip_weights(m->blip),
                                 params.precision, &m->pack);
    if (!st && m->blip) { /* counted with the packed copies */
      size_t bytes = 0;
      double t0 = mono_s();
      st = blip_prepare_greedy(m->blip, &bytes);
      m->pack.packed_bytes += bytes, m->pack.seconds += mono_s() - t0;
    }
    threads_leave(prev);
  }
  if (st) {
    vlp_model_free(m);
    return st;
  }
  *out = m;
  return VLP_OK;
}

void vlp_model_free(vlp_model *m) {
  if (!m) return;
  if (m->blip) blip_free(m->blip);
  if (m->clip) clip_free(m->clip);
  if (m->siglip) siglip_free(m->siglip);
  free(m->dir);
  free(m);
}

const char *vlp_model_dir(const vlp_model *m) {
  return m ? m->dir : NULL;
}

vlp_arch vlp_model_arch(const vlp_model *m) {
  return m->arch;
}

int vlp_model_embed_dim(const vlp_model *m) {
  if (m->siglip) return siglip_get_dims(m->siglip).dim;
  return m->clip ? clip_get_dims(m->clip).projection_dim : blip_get_dims(m->blip).embed_dim;
}

const vlp_tokenizer *vlp_model_tokenizer(const vlp_model *m) {
  if (m->siglip) return siglip_tokenizer(m->siglip);
  return m->clip ? clip_tokenizer(m->clip) : blip_tokenizer(m->blip);
}

const prep_config *api_prep(const vlp_model *m) {
  if (m->siglip) return siglip_prep(m->siglip);
  return m->clip ? clip_prep(m->clip) : blip_prep(m->blip);
}

vlp_status api_need_part(const vlp_model *m, unsigned part) {
  if (m->params.parts & part) return VLP_OK;
  const char *what = part != VLP_LOAD_VISION ? (m->blip ? "text encoder and decoder" : "text tower")
                                             : "vision tower";
  return vlp_fail(VLP_ERR_INVALID, "%s: model loaded without its %s (vlp_model_params.parts)",
                  m->dir, what);
}

vlp_status api_need(const vlp_model *m, vlp_arch a) {
  if (m->arch == a) return VLP_OK;
  return vlp_fail(VLP_ERR_INVALID, "the model is %s; this needs %s", vlp_arch_name(m->arch),
                  vlp_arch_name(a));
}
