/* test_preprocess: every golden preprocess case through the BLIP and CLIP processors, read
 * from the golden models' preprocessor_config.json: resized / cropped uint8 images exact,
 * pixel values within the manifest tolerance (1e-6). Also config parsing: defaults, int
 * sizes, missing file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/json.h"
#include "media/image.h"
#include "media/preprocess.h"
#include "media_util.h"
#include "testlib.h"

static void check_pixels(const char *id, const char *key, const prep_config *pc,
                         const vlp_image *img, const cJSON *exp) {
  const cJSON *e = json_obj(exp, key);
  CHECK(e != NULL);
  int H = prep_out_h(pc), W = prep_out_w(pc);
  size_t n = (size_t)3 * H * W;
  float *got = malloc(n * sizeof(float));
  vlp_status st = prep_run(pc, img, got);
  CHECK(st == VLP_OK);
  float *want = media_load_f32(e, n);
  if (st == VLP_OK && want) {
    char what[256];
    snprintf(what, sizeof what, "%s %s", id, key);
    test_allclose(what, got, want, n, json_num(e, "atol", 1e-6), json_num(e, "rtol", 0));
  }
  free(want);
  free(got);
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  fputs(text, f);
  fclose(f);
}

static void test_config_parsing(void) {
  prep_config c;
  // Missing file: error names the file.
  CHECK(prep_config_load("data/media/no-such-model", &c) != VLP_OK);
  CHECK(strstr(vlp_last_error(), "no-such-model/preprocessor_config.json") != NULL);

  char dir[] = "/tmp/vlp_prep_XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char path[256];
  snprintf(path, sizeof path, "%s/preprocessor_config.json", dir);
  // Hub-style old CLIP config: int size / crop_size, feature_extractor_type.
  write_text(path,
             "{\"crop_size\": 224, \"do_center_crop\": true, \"do_normalize\": true, "
             "\"do_resize\": true, \"feature_extractor_type\": \"CLIPFeatureExtractor\", "
             "\"resample\": 3, \"size\": 224}");
  CHECK(prep_config_load(dir, &c) == VLP_OK);
  CHECK(c.mode == PREP_SHORTEST_EDGE_CROP && c.shortest_edge == 224 && c.crop_h == 224 &&
        c.crop_w == 224 && c.do_center_crop && c.do_rescale && c.resample == RESAMPLE_BICUBIC);
  CHECK(c.rescale_factor == 1.0 / 255.0 && c.mean[0] == 0.48145466f && c.std[2] == 0.27577711f);
  // BLIP with an int size and nothing else: defaults of BlipImageProcessor.
  write_text(path, "{\"image_processor_type\": \"BlipImageProcessor\", \"size\": 384}");
  CHECK(prep_config_load(dir, &c) == VLP_OK);
  CHECK(c.mode == PREP_RESIZE_EXACT && c.resize_h == 384 && c.resize_w == 384 &&
        !c.do_center_crop && c.do_normalize && prep_out_h(&c) == 384);
  // Absent fields -> class defaults.
  write_text(path, "{\"image_processor_type\": \"CLIPImageProcessor\"}");
  CHECK(prep_config_load(dir, &c) == VLP_OK);
  CHECK(c.shortest_edge == 224 && c.crop_h == 224 && prep_out_w(&c) == 224);
  write_text(path,
             "{\"image_processor_type\": \"BlipImageProcessor\", \"resample\": 2, "
             "\"do_normalize\": false, \"image_mean\": 0.5, \"size\": {\"height\": 32, "
             "\"width\": 48}}");
  CHECK(prep_config_load(dir, &c) == VLP_OK);
  CHECK(c.resample == RESAMPLE_BILINEAR && !c.do_normalize && c.mean[1] == 0.5f &&
        prep_out_h(&c) == 32 && prep_out_w(&c) == 48);
  // Bad configs.
  write_text(path, "{\"image_processor_type\": \"DonutImageProcessor\"}");
  CHECK(prep_config_load(dir, &c) == VLP_ERR_UNSUPPORTED);
  CHECK(strstr(vlp_last_error(), "DonutImageProcessor") && strstr(vlp_last_error(), path));
  write_text(path, "{\"image_processor_type\": \"BlipImageProcessor\", \"image_std\": [1, 0, 1]}");
  CHECK(prep_config_load(dir, &c) == VLP_ERR_MODEL);
  write_text(
      path, "{\"image_processor_type\": \"BlipImageProcessor\", \"size\": {\"shortest_edge\": 5}}");
  CHECK(prep_config_load(dir, &c) == VLP_ERR_MODEL);
  write_text(path, "{not json");
  CHECK(prep_config_load(dir, &c) == VLP_ERR_FORMAT);
  CHECK(strstr(vlp_last_error(), "preprocessor_config.json") != NULL);
  unlink(path);
  rmdir(dir);

  // set_size: both modes go to S x S.
  c = prep_config_clip(224);
  prep_config_set_size(&c, 448);
  CHECK(prep_out_h(&c) == 448 && prep_out_w(&c) == 448 && c.shortest_edge == 448);
  c = prep_config_blip(384);
  prep_config_set_size(&c, 96);
  CHECK(prep_out_h(&c) == 96 && c.resize_w == 96);
}

/* CLIP crop larger than the resized image: transformers pads with zeros. */
static void test_crop_padding(void) {
  vlp_image img;
  CHECK(image_alloc(&img, 4, 2) == VLP_OK);
  memset(img.rgb, 200, 4 * 2 * 3);
  prep_config c = prep_config_clip(2);
  c.crop_h = 5, c.crop_w = 3;  // resized stays 4x2 (short side 2); crop 3 wide, 5 high
  c.do_rescale = c.do_normalize = 0;
  vlp_image r, f;
  CHECK(prep_run_u8(&c, &img, &r, &f) == VLP_OK);
  CHECK(r.w == 4 && r.h == 2 && f.w == 3 && f.h == 5);
  // rows: pad top = ceil((5 - 2) / 2) = 2 -> rows 2, 3 are image, others 0
  int ok = 1;
  for (int y = 0; y < 5; y++)
    for (int x = 0; x < 3; x++) ok &= f.rgb[(y * 3 + x) * 3] == ((y == 2 || y == 3) ? 200 : 0);
  CHECK(ok);
  vlp_image_free(&r);
  vlp_image_free(&f);
  vlp_image_free(&img);
}

int main(void) {
  prep_config blip, clip;
  vlp_status st = prep_config_load(GOLDEN "models/blip-caption-tiny", &blip);
  CHECK(st == VLP_OK);
  st = prep_config_load(GOLDEN "models/clip-tiny", &clip);
  CHECK(st == VLP_OK);
  CHECK(blip.mode == PREP_RESIZE_EXACT && clip.mode == PREP_SHORTEST_EDGE_CROP);

  cJSON *m = media_load_manifest("preprocess.json");
  const cJSON *c;
  int ncases = 0;
  cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(m, "cases")) {
    ncases++;
    const char *id = json_str(c, "id", "?");
    const cJSON *exp = json_obj(c, "expected");
    char path[512], what[256];
    snprintf(path, sizeof path, GOLDEN "%s", json_str(json_obj(c, "inputs"), "image", ""));
    vlp_image img;
    if (vlp_image_load(path, &img) != VLP_OK) {
      fprintf(stderr, "%s\n", vlp_last_error());
      CHECK(0);
      continue;
    }
    vlp_image r, f;
    CHECK(prep_run_u8(&blip, &img, &r, &f) == VLP_OK);
    snprintf(what, sizeof what, "%s blip_resized_u8", id);
    media_check_u8(what, &r, json_obj(exp, "blip_resized_u8"));
    vlp_image_free(&r);
    vlp_image_free(&f);
    check_pixels(id, "blip_pixel_values", &blip, &img, exp);

    CHECK(prep_run_u8(&clip, &img, &r, &f) == VLP_OK);
    const cJSON *hw = cJSON_GetObjectItemCaseSensitive(json_obj(c, "info"), "clip_resize_hw");
    if (hw)
      CHECK(r.h == cJSON_GetArrayItem(hw, 0)->valueint &&
            r.w == cJSON_GetArrayItem(hw, 1)->valueint);
    snprintf(what, sizeof what, "%s clip_resized_u8", id);
    media_check_u8(what, &r, json_obj(exp, "clip_resized_u8"));
    snprintf(what, sizeof what, "%s clip_cropped_u8", id);
    media_check_u8(what, &f, json_obj(exp, "clip_cropped_u8"));
    vlp_image_free(&r);
    vlp_image_free(&f);
    check_pixels(id, "clip_pixel_values", &clip, &img, exp);
    vlp_image_free(&img);
  }
  CHECK(ncases >= 18);
  cJSON_Delete(m);
  test_config_parsing();
  test_crop_padding();
  return test_done();
}
