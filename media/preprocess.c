/* preprocess: image -> float32 pixel values (3, H, W) as the Hugging Face image processors
 * (transformers 4.47) do, driven by preprocessor_config.json:
 *   BlipImageProcessor: resize to size {height, width} (PIL, aspect not kept) -> rescale ->
 *     normalise -> CHW.
 *   CLIPImageProcessor: resize so the shorter side is size.shortest_edge and the other
 *     int(S * long / short) -> center crop crop_size (top = (H - h) // 2, left = (W - w) // 2,
 *     zero padding when the crop is larger, as transformers' center_crop) -> rescale ->
 *     normalise -> CHW.
 * Rescale is float64(x) * rescale_factor rounded to float32; normalise is (x - mean) / std
 * in float32 (numpy float32 arithmetic). */
#include "media/preprocess.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/json.h"
#include "media/image.h"

/* OPENAI_CLIP_MEAN / OPENAI_CLIP_STD, the default of both processors. */
static const float clip_mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
static const float clip_std[3] = {0.26862954f, 0.26130258f, 0.27577711f};

static void set_common(prep_config *c) {
  c->do_resize = c->do_rescale = c->do_normalize = 1;
  c->resample = RESAMPLE_BICUBIC;
  c->rescale_factor = 1.0 / 255.0;
  memcpy(c->mean, clip_mean, sizeof c->mean);
  memcpy(c->std, clip_std, sizeof c->std);
}

prep_config prep_config_blip(int size) {
  prep_config c;
  memset(&c, 0, sizeof c);
  set_common(&c);
  c.mode = PREP_RESIZE_EXACT;
  c.resize_h = c.resize_w = size;
  c.do_center_crop = 0;
  return c;
}

prep_config prep_config_siglip(int size) {
  prep_config c = prep_config_blip(size);
  for (int i = 0; i < 3; i++) c.mean[i] = c.std[i] = 0.5f; /* IMAGENET_STANDARD_MEAN / STD */
  return c;
}

prep_config prep_config_clip(int size) {
  prep_config c;
  memset(&c, 0, sizeof c);
  set_common(&c);
  c.mode = PREP_SHORTEST_EDGE_CROP;
  c.shortest_edge = size;
  c.crop_h = c.crop_w = size;
  c.do_center_crop = 1;
  return c;
}

void prep_config_set_size(prep_config *c, int size) {
  if (c->mode == PREP_RESIZE_EXACT) {
    c->resize_h = c->resize_w = size;
  } else {
    c->shortest_edge = size;
    c->crop_h = c->crop_w = size;
  }
}

int prep_out_h(const prep_config *c) {
  if (c->do_center_crop) return c->crop_h;
  return c->mode == PREP_RESIZE_EXACT ? c->resize_h : c->shortest_edge;
}

int prep_out_w(const prep_config *c) {
  if (c->do_center_crop) return c->crop_w;
  return c->mode == PREP_RESIZE_EXACT ? c->resize_w : c->shortest_edge;
}

/* ---- preprocessor_config.json ---------------------------------------------------------- */

static int size_ok(int v) {
  return v >= 1 && v <= VLP_IMAGE_MAX_SIDE;
}

/* A {height, width} object or a plain int (square). 0 when present and valid, 1 when absent,
 * -1 when malformed. */
static int read_hw(const cJSON *root, const char *key, int *h, int *w) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
  if (!v || cJSON_IsNull(v)) return 1;
  if (cJSON_IsNumber(v)) {
    *h = *w = json_int(root, key, -1);
    return size_ok(*h) ? 0 : -1;
  }
  if (!cJSON_IsObject(v)) return -1;
  *h = json_int(v, "height", -1);
  *w = json_int(v, "width", -1);
  return size_ok(*h) && size_ok(*w) ? 0 : -1;
}

/* image_mean / image_std: a list of 3 numbers or one number for every channel. */
static int read_triple(const cJSON *root, const char *key, float out[3]) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
  if (!v || cJSON_IsNull(v)) return 1;
  if (cJSON_IsNumber(v)) {
    out[0] = out[1] = out[2] = (float)v->valuedouble;
    return 0;
  }
  if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 3) return -1;
  for (int i = 0; i < 3; i++) {
    const cJSON *e = cJSON_GetArrayItem(v, i);
    if (!cJSON_IsNumber(e)) return -1;
    out[i] = (float)e->valuedouble;  // numpy: np.array(mean, dtype=float32)
  }
  return 0;
}

static int read_flag(const cJSON *root, const char *key, int *flag) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
  if (!v || cJSON_IsNull(v)) return 1;
  if (!cJSON_IsBool(v)) return -1;
  *flag = cJSON_IsTrue(v);
  return 0;
}

static vlp_status parse_config(const cJSON *root, const char *path, prep_config *out) {
  if (!cJSON_IsObject(root)) return vlp_fail(VLP_ERR_MODEL, "%s: not a JSON object", path);
  const char *type = json_str(root, "image_processor_type", NULL);
  if (!type) type = json_str(root, "feature_extractor_type", NULL);
  int is_clip, is_siglip = 0;
  if (type) {
    if (!strncmp(type, "Blip", 4)) {
      is_clip = 0;
    } else if (!strncmp(type, "Siglip", 6)) {
      is_clip = 0;
      is_siglip = 1;
    } else if (!strncmp(type, "CLIP", 4)) {
      is_clip = 1;
    } else {
      return vlp_fail(VLP_ERR_UNSUPPORTED,
                      "%s: image_processor_type \"%s\" is not supported (BlipImageProcessor, "
                      "CLIPImageProcessor or SiglipImageProcessor)",
                      path, type);
    }
  } else {  // no type: CLIP configs are the ones with a crop
    is_clip = cJSON_GetObjectItemCaseSensitive(root, "crop_size") != NULL;
  }
  prep_config c = is_clip ? prep_config_clip(224) : prep_config_blip(384);
  if (is_siglip) c = prep_config_siglip(224);

  const cJSON *size = cJSON_GetObjectItemCaseSensitive(root, "size");
  if (size && !cJSON_IsNull(size)) {
    int se = -1;
    if (cJSON_IsNumber(size)) {
      // A bare int: BLIP squares it, CLIP reads it as the shortest edge (get_size_dict).
      se = json_int(root, "size", -1);
      if (!size_ok(se)) return vlp_fail(VLP_ERR_MODEL, "%s: bad \"size\"", path);
      if (is_clip) {
        c.shortest_edge = se;
      } else {
        c.resize_h = c.resize_w = se;
      }
    } else if (cJSON_IsObject(size)) {
      se = json_int(size, "shortest_edge", -1);
      int h = json_int(size, "height", -1), w = json_int(size, "width", -1);
      if (size_ok(h) && size_ok(w)) {
        c.mode = PREP_RESIZE_EXACT;  // a CLIP config may also ask for an exact size
        c.resize_h = h;
        c.resize_w = w;
      } else if (is_clip && size_ok(se)) {
        c.shortest_edge = se;
      } else {
        return vlp_fail(VLP_ERR_MODEL, "%s: \"size\" needs %s", path,
                        is_clip ? "shortest_edge or height and width" : "height and width");
      }
    } else {
      return vlp_fail(VLP_ERR_MODEL, "%s: bad \"size\"", path);
    }
  }
  if (is_clip) {
    int r = read_hw(root, "crop_size", &c.crop_h, &c.crop_w);
    if (r < 0) return vlp_fail(VLP_ERR_MODEL, "%s: bad \"crop_size\"", path);
  }
  if (read_flag(root, "do_resize", &c.do_resize) < 0 ||
      read_flag(root, "do_rescale", &c.do_rescale) < 0 ||
      read_flag(root, "do_normalize", &c.do_normalize) < 0 ||
      (is_clip && read_flag(root, "do_center_crop", &c.do_center_crop) < 0))
    return vlp_fail(VLP_ERR_MODEL, "%s: a do_* flag is not true/false", path);
  if (!is_clip) c.do_center_crop = 0;
  const cJSON *rs = cJSON_GetObjectItemCaseSensitive(root, "resample");
  if (rs && !cJSON_IsNull(rs)) {
    int v = json_int(root, "resample", -1);
    if (!cJSON_IsNumber(rs) || v < 0 || v > 5)
      return vlp_fail(VLP_ERR_MODEL, "%s: \"resample\" must be a PIL filter number 0..5", path);
    c.resample = (resample_filter)v;
  }
  const cJSON *rf = cJSON_GetObjectItemCaseSensitive(root, "rescale_factor");
  if (rf && !cJSON_IsNull(rf)) {
    if (!cJSON_IsNumber(rf)) return vlp_fail(VLP_ERR_MODEL, "%s: bad \"rescale_factor\"", path);
    c.rescale_factor = rf->valuedouble;
  }
  if (read_triple(root, "image_mean", c.mean) < 0)
    return vlp_fail(VLP_ERR_MODEL, "%s: \"image_mean\" must be 3 numbers", path);
  if (read_triple(root, "image_std", c.std) < 0)
    return vlp_fail(VLP_ERR_MODEL, "%s: \"image_std\" must be 3 numbers", path);
  for (int i = 0; i < 3; i++)
    if (!(c.std[i] != 0.0f)) return vlp_fail(VLP_ERR_MODEL, "%s: \"image_std\" has a zero", path);
  *out = c;
  return VLP_OK;
}

vlp_status prep_config_load(const char *model_dir, prep_config *out) {
  char path[4096];
  int n = snprintf(path, sizeof path, "%s/preprocessor_config.json", model_dir);
  if (n < 0 || (size_t)n >= sizeof path)
    return vlp_fail(VLP_ERR_INVALID, "%s: model folder path too long", model_dir);
  FILE *f = fopen(path, "rb");
  if (!f)
    return vlp_fail(VLP_ERR_MODEL, "%s: missing (the model's image preprocessing config)", path);
  fclose(f);
  cJSON *root = NULL;
  vlp_status st = json_load_file(path, &root);
  if (st != VLP_OK) return st;
  st = parse_config(root, path, out);
  cJSON_Delete(root);
  return st;
}

/* ---- running it -------------------------------------------------------------------------- */

/* transformers' get_resize_output_image_size(default_to_square=False) for an int size:
 * the short side becomes s, the long side int(s * long / short) (Python true division). */
static void shortest_edge_size(int w, int h, int s, int *ow, int *oh) {
  int shrt = w <= h ? w : h, lng = w <= h ? h : w;
  int nl = (int)((double)((int64_t)s * lng) / (double)shrt);
  if (w <= h) {
    *ow = s, *oh = nl;
  } else {
    *ow = nl, *oh = s;
  }
}

/* transformers' center_crop: the crop box is centred with floor division; where it reaches
 * outside the image (crop larger than the image) the pixels are 0. */
static vlp_status center_crop(const vlp_image *src, int ch, int cw, vlp_image *dst) {
  vlp_status st = image_alloc(dst, cw, ch);
  if (st != VLP_OK) return vlp_fail_prefix(st, "center crop");
  // Python floor division; when the image is smaller the padded canvas shifts by ceil(d / 2).
  int top = src->h >= ch ? (src->h - ch) / 2 : -((ch - src->h + 1) / 2);
  int left = src->w >= cw ? (src->w - cw) / 2 : -((cw - src->w + 1) / 2);
  for (int y = 0; y < ch; y++) {
    uint8_t *d = dst->rgb + (size_t)y * cw * 3;
    int sy = y + top;
    for (int x = 0; x < cw; x++) {
      int sx = x + left;
      if (sy < 0 || sy >= src->h || sx < 0 || sx >= src->w) {
        d[3 * x] = d[3 * x + 1] = d[3 * x + 2] = 0;
      } else {
        memcpy(d + 3 * x, src->rgb + ((size_t)sy * src->w + sx) * 3, 3);
      }
    }
  }
  return VLP_OK;
}

static vlp_status copy_image(const vlp_image *src, vlp_image *dst) {
  vlp_status st = image_alloc(dst, src->w, src->h);
  if (st != VLP_OK) return st;
  memcpy(dst->rgb, src->rgb, (size_t)src->w * src->h * 3);
  return VLP_OK;
}

/* The size img is resized to (c->do_resize set). */
static void resized_size(const prep_config *c, const vlp_image *img, int *w, int *h) {
  if (c->mode == PREP_RESIZE_EXACT)
    *w = c->resize_w, *h = c->resize_h;
  else
    shortest_edge_size(img->w, img->h, c->shortest_edge, w, h);
}

vlp_status prep_run_u8(const prep_config *c, const vlp_image *img, vlp_image *resized,
                       vlp_image *final_u8) {
  memset(resized, 0, sizeof *resized);
  memset(final_u8, 0, sizeof *final_u8);
  if (!img || !img->rgb || img->w <= 0 || img->h <= 0)
    return vlp_fail(VLP_ERR_INVALID, "preprocess: empty image");
  vlp_status st;
  if (!c->do_resize) {
    st = copy_image(img, resized);
  } else {
    int ow, oh;
    resized_size(c, img, &ow, &oh);
    st = image_resize(img, ow, oh, c->resample, resized);
  }
  if (st != VLP_OK) return st;
  if (c->do_center_crop) {
    st = center_crop(resized, c->crop_h, c->crop_w, final_u8);
  } else {
    st = copy_image(resized, final_u8);
  }
  if (st != VLP_OK) {
    vlp_image_free(resized);
    return st;
  }
  return VLP_OK;
}

/* The final 8-bit image of prep_run_u8 without its intermediate: a center crop that lies
 * inside the resized image is resized alone (image_resize_window, the same pixels). */
static vlp_status final_u8(const prep_config *c, const vlp_image *img, vlp_image *fin) {
  if (c->do_resize && c->do_center_crop && img && img->rgb && img->w > 0 && img->h > 0) {
    int ow, oh;
    resized_size(c, img, &ow, &oh);
    if (c->crop_w <= ow && c->crop_h <= oh)
      return image_resize_window(img, ow, oh, c->resample, (ow - c->crop_w) / 2,
                                 (oh - c->crop_h) / 2, c->crop_w, c->crop_h, fin);
  }
  vlp_image resized;
  vlp_status st = prep_run_u8(c, img, &resized, fin);
  if (st == VLP_OK) vlp_image_free(&resized);
  return st;
}

vlp_status prep_run(const prep_config *c, const vlp_image *img, float *out) {
  vlp_image fin;
  vlp_status st = final_u8(c, img, &fin);
  if (st != VLP_OK) return st;
  int H = prep_out_h(c), W = prep_out_w(c);
  if (fin.w != W || fin.h != H) {
    st = vlp_fail(VLP_ERR_INVALID,
                  "preprocess: the image becomes %dx%d, not the %dx%d the model takes", fin.w,
                  fin.h, W, H);
    vlp_image_free(&fin);
    return st;
  }
  /* Each byte's value per channel, computed once as for every pixel. */
  float lut[3][256];
  for (int ch = 0; ch < 3; ch++)
    for (int b = 0; b < 256; b++) {
      float v = c->do_rescale ? (float)((double)b * c->rescale_factor) : (float)b;
      if (c->do_normalize) v = (v - c->mean[ch]) / c->std[ch];
      lut[ch][b] = v;
    }
  size_t plane = (size_t)H * W;
  /* (3, H, W), filled in one pass over the pixels (a pass per plane took ~3x as long) */
  float *o0 = out, *o1 = out + plane, *o2 = out + 2 * plane;
  const uint8_t *px = fin.rgb;
  for (size_t i = 0; i < plane; i++, px += 3) {
    o0[i] = lut[0][px[0]];
    o1[i] = lut[1][px[1]];
    o2[i] = lut[2][px[2]];
  }
  vlp_image_free(&fin);
  return VLP_OK;
}
