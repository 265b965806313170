/* selftest_video: the video manifest. Each case decodes one frame (inputs.frame_index, or
 * inputs.time_s) of a golden video through vlp's FFmpeg adapter, embeds it with the
 * manifest's CLIP model through vlp's own preprocessing, compares the embedding with the
 * reference's (cosine) and checks that the closest of the manifest's source-frame
 * embeddings is the expected segment. "cosine_to_source" is informative only. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fusion/clip.h"
#include "media/preprocess.h"
#include "selftest/selftest.h"

static clip_model *vclip;
static float *sources; /* (n_sources, P) */
static size_t n_sources_vals;

void st_release_video(void) {
  clip_free(vclip);
  vclip = NULL;
  free(sources);
  sources = NULL;
  n_sources_vals = 0;
}

static int load(st_run *r) {
  if (vclip && sources) return 1;
  const char *rel = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r->manifest, "model"));
  const cJSON *src = cJSON_GetObjectItemCaseSensitive(r->manifest, "source_frame_embeds");
  const char *npy = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(src, "npy"));
  if (!rel || !npy) {
    st_failf(r, "manifest names no %s", rel ? "source_frame_embeds npy" : "model");
    return 0;
  }
  if (!vclip) {
    char dir[4096];
    st_path(r, rel, dir, sizeof dir);
    if (clip_load(dir, &vclip) || !st_prepare(r, clip_weights(vclip), NULL)) {
      st_failf(r, "%s", vlp_last_error());
      return 0;
    }
  }
  if (!sources && !(sources = st_load_f32(r, npy, &n_sources_vals))) return 0;
  return 1;
}

/* The frame at index n (or at time t when n < 0) of a video. */
static int decode_frame(st_run *r, const char *path, int64_t n, double t, vlp_image *img) {
  vlp_video *v;
  vlp_video_sampling s = vlp_video_default_sampling();
  if (n >= 0) {
    if (vlp_video_open(path, &s, &v)) {
      st_failf(r, "%s", vlp_last_error());
      return 0;
    }
    double fps = vlp_video_get_info(v).fps;
    vlp_video_close(v);
    if (!(fps > 0)) {
      st_failf(r, "%s: no frame rate to find frame %lld", path, (long long)n);
      return 0;
    }
    t = (double)n / fps;
  }
  s.start = t;
  s.max_frames = 1;
  if (vlp_video_open(path, &s, &v)) {
    st_failf(r, "%s", vlp_last_error());
    return 0;
  }
  double ft;
  int64_t idx;
  int got = 0;
  vlp_status st = vlp_video_next(v, img, &ft, &idx, &got);
  vlp_video_close(v);
  if (st || !got) {
    st_failf(r, "%s: %s", path, st ? vlp_last_error() : "no frame at that time");
    return 0;
  }
  if (n >= 0 && idx != n) {
    st_failf(r, "%s: asked for frame %lld, decoded frame %lld", path, (long long)n, (long long)idx);
    vlp_image_free(img);
    return 0;
  }
  return 1;
}

int st_case_video(st_run *r, const cJSON *c) {
  static const char *const known[] = {"segment", "decoded_frame_embeds", "cosine_to_source", NULL};
  st_require_known(r, known);
  if (!load(r)) return 0;
  const cJSON *in = cJSON_GetObjectItemCaseSensitive(c, "inputs");
  const char *rel = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "video"));
  const cJSON *fi = cJSON_GetObjectItemCaseSensitive(in, "frame_index");
  const cJSON *ts = cJSON_GetObjectItemCaseSensitive(in, "time_s");
  if (!rel || (!cJSON_IsNumber(fi) && !cJSON_IsNumber(ts))) {
    st_failf(r, "case has no inputs.video with frame_index or time_s");
    return 0;
  }
  char path[4096];
  st_path(r, rel, path, sizeof path);
  vlp_image img = {0};
  if (!decode_frame(r, path, cJSON_IsNumber(fi) ? (int64_t)fi->valuedouble : -1,
                    cJSON_IsNumber(ts) ? ts->valuedouble : 0, &img))
    return 0;
  const prep_config *p = clip_prep(vclip);
  int S = prep_out_h(p), P = clip_get_dims(vclip).projection_dim;
  float *px = malloc((size_t)3 * (size_t)S * (size_t)S * sizeof *px);
  float *emb = malloc((size_t)P * sizeof *emb);
  if (!px || !emb || prep_run(p, &img, px) ||
      clip_encode_images(vclip, st_ws(), px, 1, S, NULL, NULL, NULL, emb)) {
    st_failf(r, "%s", px && emb ? vlp_last_error() : "out of memory");
  } else if (n_sources_vals % (size_t)P) {
    st_failf(r, "source_frame_embeds: %zu values, not a multiple of %d", n_sources_vals, P);
  } else {
    st_check_floats(r, "decoded_frame_embeds", emb, (size_t)P);
    /* the closest source frame (cosine) */
    int best = -1;
    double best_cos = -2;
    for (size_t s = 0; s < n_sources_vals / (size_t)P; s++) {
      const float *e = sources + s * (size_t)P;
      double dot = 0, ne = 0, ns = 0;
      for (int j = 0; j < P; j++)
        dot += (double)emb[j] * e[j], ne += (double)emb[j] * emb[j], ns += (double)e[j] * e[j];
      double cosv = dot / (sqrt(ne) * sqrt(ns) + 1e-30);
      if (cosv > best_cos) best_cos = cosv, best = (int)s;
    }
    st_check_number(r, "segment", best);
    snprintf(r->note, sizeof r->note, "segment %d, cosine to its source frame %.6f", best,
             best_cos);
  }
  free(emb);
  free(px);
  vlp_image_free(&img);
  return 0;
}
