/* selftest_media: the preprocess manifest (image decoding, Pillow-exact resize, BLIP and
 * CLIP pixel values). The manifest names no model: sizes come from the expected shapes,
 * mean / std from its conventions. */
#include <stdlib.h>
#include <string.h>

#include "media/preprocess.h"
#include "selftest/selftest.h"

/* Side S of an entry of shape [1, 3, S, S] (or [S, S, 3]), or 0. */
static int side_of(st_run *r, const char *name) {
  const cJSON *shape = cJSON_GetObjectItemCaseSensitive(st_entry(r, name), "shape");
  int n = cJSON_GetArraySize(shape);
  if (n == 4) return cJSON_GetArrayItem(shape, 2)->valueint;
  if (n == 3) return cJSON_GetArrayItem(shape, 0)->valueint;
  return 0;
}

static void conventions(st_run *r, prep_config *c) {
  const cJSON *conv = cJSON_GetObjectItemCaseSensitive(r->manifest, "conventions");
  const cJSON *mean = cJSON_GetObjectItemCaseSensitive(conv, "mean");
  const cJSON *std = cJSON_GetObjectItemCaseSensitive(conv, "std");
  for (int i = 0; i < 3; i++) {
    if (cJSON_GetArraySize(mean) == 3) c->mean[i] = (float)cJSON_GetArrayItem(mean, i)->valuedouble;
    if (cJSON_GetArraySize(std) == 3) c->std[i] = (float)cJSON_GetArrayItem(std, i)->valuedouble;
  }
}

/* Run one processor and compare its intermediate and final results. */
static void check_processor(st_run *r, const vlp_image *img, prep_config c, const char *resized,
                            const char *cropped, const char *pixels) {
  conventions(r, &c);
  vlp_image a = {0}, b = {0};
  float *pv = malloc((size_t)3 * (size_t)prep_out_h(&c) * (size_t)prep_out_w(&c) * sizeof *pv);
  if (!pv || prep_run_u8(&c, img, &a, &b) || prep_run(&c, img, pv)) {
    st_failf(r, "%s: %s", pixels, pv ? vlp_last_error() : "out of memory");
  } else {
    st_check_u8(r, resized, a.rgb, (size_t)a.w * (size_t)a.h * 3);
    if (cropped) st_check_u8(r, cropped, b.rgb, (size_t)b.w * (size_t)b.h * 3);
    st_check_floats(r, pixels, pv, (size_t)3 * (size_t)prep_out_h(&c) * (size_t)prep_out_w(&c));
  }
  vlp_image_free(&a);
  vlp_image_free(&b);
  free(pv);
}

int st_case_preprocess(st_run *r, const cJSON *c) {
  static const char *const known[] = {"decoded_rgb",
                                      "blip_resized_u8",
                                      "blip_pixel_values",
                                      "clip_resized_u8",
                                      "clip_cropped_u8",
                                      "clip_pixel_values",
                                      NULL};
  st_require_known(r, known);
  const cJSON *in = cJSON_GetObjectItemCaseSensitive(c, "inputs");
  const char *rel = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "image"));
  char path[4096];
  st_path(r, rel ? rel : "", path, sizeof path);
  vlp_image img = {0};
  if (!rel || vlp_image_load(path, &img)) {
    st_failf(r, "%s", rel ? vlp_last_error() : "case has no inputs.image");
    return 0;
  }
  st_check_u8(r, "decoded_rgb", img.rgb, (size_t)img.w * (size_t)img.h * 3);
  int sb = side_of(r, "blip_pixel_values"), sc = side_of(r, "clip_pixel_values");
  if (sb)
    check_processor(r, &img, prep_config_blip(sb), "blip_resized_u8", NULL, "blip_pixel_values");
  if (sc)
    check_processor(r, &img, prep_config_clip(sc), "clip_resized_u8", "clip_cropped_u8",
                    "clip_pixel_values");
  vlp_image_free(&img);
  return 0;
}
