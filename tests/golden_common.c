/* golden_common: see golden_common.h. */
#include "golden_common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/npy.h"
#include "selftest/selftest.h"
#include "testlib.h"
#include "vlp.h"

cJSON *golden_manifest(const char *name) {
  char path[512];
  snprintf(path, sizeof path, "golden/cases/%s", name);
  cJSON *j = NULL;
  if (json_load_file(path, &j) != VLP_OK) {
    fprintf(stderr, "cannot read %s: %s\n", path, vlp_last_error());
    CHECK(!"manifest readable");
    return NULL;
  }
  return j;
}

float *golden_floats(const char *rel, size_t *n) {
  char path[512];
  snprintf(path, sizeof path, "golden/%s", rel);
  npy_array a;
  if (npy_load(path, &a) != VLP_OK) {
    fprintf(stderr, "cannot read %s: %s\n", path, vlp_last_error());
    return NULL;
  }
  float *f = malloc((a.count ? a.count : 1) * sizeof(float));
  for (size_t i = 0; f && i < a.count; i++) f[i] = (float)npy_get(&a, i);
  *n = a.count;
  npy_free(&a);
  return f;
}

/* Every comparison goes through the engine of vlp selftest (selftest/check.c). */
static int check(const cJSON *manifest, const cJSON *entry, const double *got, size_t n,
                 const char *what) {
  char why[1024];
  int ok = st_compare_entry(manifest, "golden", what, entry, got, n, why, sizeof why);
  if (!ok) fprintf(stderr, "FAIL %s\n", why);
  test_check(ok, __FILE__, __LINE__, what);
  return ok;
}

int golden_check_floats(const cJSON *manifest, const cJSON *entry, const float *got, size_t n,
                        const char *what) {
  double *g = malloc((n ? n : 1) * sizeof *g);
  if (!g) return check(manifest, entry, NULL, 0, what);
  for (size_t i = 0; i < n; i++) g[i] = got[i];
  int ok = check(manifest, entry, g, n, what);
  free(g);
  return ok;
}

int *golden_ids(const cJSON *entry, int *n) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(entry, "value");
  int k = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : 0;
  int *ids = malloc((size_t)(k ? k : 1) * sizeof(int));
  for (int i = 0; i < k; i++) ids[i] = cJSON_GetArrayItem(v, i)->valueint;
  *n = k;
  return ids;
}

int golden_check_ids(const cJSON *entry, const int *got, int n, const char *what) {
  double *g = malloc((size_t)(n > 0 ? n : 1) * sizeof *g);
  if (!g) return check(NULL, entry, NULL, 0, what);
  for (int i = 0; i < n; i++) g[i] = got[i];
  int ok = check(NULL, entry, g, n > 0 ? (size_t)n : 0, what);
  free(g);
  return ok;
}

int golden_check_str(const cJSON *entry, const char *got, const char *what) {
  const char *want = json_str(entry, "value", NULL);
  int ok = want && got && !strcmp(want, got);
  if (!ok)
    fprintf(stderr, "FAIL %s:\n  got  \"%s\"\n  want \"%s\"\n", what, got ? got : "(null)",
            want ? want : "(null)");
  test_check(ok, __FILE__, __LINE__, what);
  return ok;
}

const cJSON *golden_value(const cJSON *c, const char *key) {
  const cJSON *e = json_obj(json_obj(c, "expected"), key);
  return e ? cJSON_GetObjectItemCaseSensitive(e, "value") : NULL;
}

int golden_ints_equal(const cJSON *want, const int *got, int n) {
  if (!cJSON_IsArray(want) || cJSON_GetArraySize(want) != n) return 0;
  for (int i = 0; i < n; i++)
    if ((int)cJSON_GetArrayItem(want, i)->valuedouble != got[i]) return 0;
  return 1;
}

int golden_strs_equal(const cJSON *want, char *const *got, int n) {
  if (!cJSON_IsArray(want) || cJSON_GetArraySize(want) != n) return 0;
  for (int i = 0; i < n; i++) {
    const cJSON *w = cJSON_GetArrayItem(want, i);
    if (!cJSON_IsString(w) || strcmp(w->valuestring, got[i]) != 0) return 0;
  }
  return 1;
}

char *golden_words_text(size_t size) {
  static const char *const words[] = {"the ",   "quick ", "brown ", "fox, ",
                                      "jumps ", "über ",  "naïve ", "日本 "};
  char *text = malloc(size + 1);
  if (!text) return NULL;
  size_t w = 0;
  for (int k = 0; w + 16 < size; k++) {
    const char *s = words[k % 8];
    memcpy(text + w, s, strlen(s));
    w += strlen(s);
  }
  text[w] = 0;
  return text;
}

const char *golden_image_stem(const char *image) {
  static char buf[256];
  const char *s = strrchr(image, '/');
  s = s ? s + 1 : image;
  snprintf(buf, sizeof buf, "%s", s);
  char *dot = strrchr(buf, '.');
  if (dot) *dot = 0;
  return buf;
}
