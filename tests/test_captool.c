/* test_captool: the library parts `vlp caption` relies on — vlp_image_fit (the reader
 * thread's early resize) leaves captions identical to the reference's for every golden
 * caption case, and vlp_image_sniff_file classifies files by magic bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "testlib.h"
#include "vlp.h"

#define MODEL "golden/models/blip-caption-tiny"

/* Encode and caption one image. */
static vlp_status caption1(vlp_session *s, const vlp_image *img, const vlp_gen_params *p,
                           vlp_text_result *out) {
  vlp_features *f = NULL;
  vlp_status st = vlp_encode_images(s, img, 1, 0, &f);
  if (!st) st = vlp_caption(s, f, p, out);
  vlp_features_free(f);
  return st;
}

static void check_golden_captions(vlp_session *m) {
  cJSON *man;
  CHECK(json_load_file("golden/cases/blip_caption.json", &man) == VLP_OK);
  if (!man) return;
  int n_cases = 0;
  const cJSON *cs;
  cJSON_ArrayForEach(cs, json_arr(man, "cases")) {
    const cJSON *in = json_obj(cs, "inputs"),
                *want = json_arr(json_obj(json_obj(cs, "expected"), "greedy_sequence"), "value");
    if (!want) continue;
    char path[512];
    snprintf(path, sizeof path, "golden/%s", json_str(in, "image", ""));
    vlp_image img, fit;
    CHECK(vlp_image_load(path, &img) == VLP_OK);
    CHECK(vlp_image_fit(MODEL, &img, 0, &fit) == VLP_OK);
    CHECK(fit.w == 64 && fit.h == 64); /* the tiny model's image_size */
    vlp_gen_params p = vlp_gen_default_params();
    p.prompt = json_str(in, "prompt", NULL);
    vlp_text_result a = {0}, b = {0};
    CHECK(caption1(m, &img, &p, &a) == VLP_OK);
    CHECK(caption1(m, &fit, &p, &b) == VLP_OK);
    int same = a.n_ids == b.n_ids && !memcmp(a.ids, b.ids, (size_t)a.n_ids * sizeof *a.ids);
    int golden = cJSON_GetArraySize(want) == b.n_ids;
    for (int i = 0; golden && i < b.n_ids; i++)
      golden = cJSON_GetArrayItem(want, i)->valueint == b.ids[i];
    if (!same || !golden)
      fprintf(stderr, "%s (prompt %s): fitted caption differs\n", path,
              p.prompt ? p.prompt : "none");
    CHECK(same);
    CHECK(golden);
    vlp_text_result_free(&a);
    vlp_text_result_free(&b);
    vlp_image_free(&img);
    vlp_image_free(&fit);
    n_cases++;
  }
  CHECK(n_cases >= 20);
  cJSON_Delete(man);
}

static void check_sniff(void) {
  char dir[] = "/tmp/vlp_captool_XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char p[256];
  CHECK(vlp_image_sniff_file("golden/images/astronaut.png") == VLP_SNIFF_IMAGE);
  CHECK(vlp_image_sniff_file("golden/images/coffee.jpg") == VLP_SNIFF_IMAGE);
  CHECK(vlp_image_sniff_file("golden/cases/blip_caption.json") == VLP_SNIFF_OTHER);
  snprintf(p, sizeof p, "%s/none.png", dir);
  CHECK(vlp_image_sniff_file(p) == VLP_SNIFF_UNREADABLE);
  CHECK(strstr(vlp_last_error(), "none.png") != NULL);
  const struct {
    const char *bytes;
    size_t n;
    int want;
  } cases[] = {
      {"", 0, VLP_SNIFF_OTHER},
      {"GIF89a\1\0\1\0", 10, VLP_SNIFF_UNSUPPORTED},
      {"RIFF\0\0\0\0WEBPVP8 ", 16, VLP_SNIFF_UNSUPPORTED},
      {"BM\0\0", 4, VLP_SNIFF_UNSUPPORTED},
      {"\x89PNG\r\n\x1a\n", 8, VLP_SNIFF_IMAGE},
      {"\x89PNG\r\n", 6, VLP_SNIFF_OTHER}, /* too short to be a PNG */
      {"\xff\xd8\xff\xe0", 4, VLP_SNIFF_IMAGE},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    snprintf(p, sizeof p, "%s/f%zu", dir, i);
    FILE *f = fopen(p, "wb");
    fwrite(cases[i].bytes, 1, cases[i].n, f);
    fclose(f);
    int got = vlp_image_sniff_file(p);
    if (got != cases[i].want)
      fprintf(stderr, "sniff case %zu: %d, want %d\n", i, got, cases[i].want);
    CHECK(got == cases[i].want);
    remove(p);
  }
  remove(dir);
}

int main(void) {
  check_sniff();
  vlp_model *m = NULL;
  vlp_session *s = NULL;
  CHECK(vlp_model_load(MODEL, &m) == VLP_OK);
  if (m) CHECK(vlp_session_new(m, NULL, &s) == VLP_OK);
  if (s) check_golden_captions(s);
  vlp_session_free(s);
  vlp_model_free(m);
  /* --image-size: the fitted image has the override size */
  vlp_image img, fit;
  CHECK(vlp_image_load("golden/images/coffee.jpg", &img) == VLP_OK);
  CHECK(vlp_image_fit(MODEL, &img, 96, &fit) == VLP_OK && fit.w == 96 && fit.h == 96);
  vlp_image_free(&fit);
  CHECK(vlp_image_fit("no/such/model", &img, 0, &fit) != VLP_OK);
  vlp_image_free(&img);
  return test_done();
}
