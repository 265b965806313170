/* media_util: helpers shared by the media tests (see media_util.h). */
#include "media_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/npy.h"
#include "testlib.h"

cJSON *media_load_manifest(const char *name) {
  char path[512];
  snprintf(path, sizeof path, GOLDEN "cases/%s", name);
  cJSON *j = NULL;
  if (json_load_file(path, &j) != VLP_OK) {
    fprintf(stderr, "cannot load %s: %s\n", path, vlp_last_error());
    exit(1);
  }
  return j;
}

static int entry_path(const cJSON *entry, char *path, size_t n) {
  const char *rel = json_str(entry, "npy", NULL);
  if (!rel) return 0;
  snprintf(path, n, GOLDEN "%s", rel);
  return 1;
}

int media_check_u8(const char *what, const vlp_image *img, const cJSON *entry) {
  char path[512];
  if (!entry_path(entry, path, sizeof path)) {
    test_check(0, __FILE__, __LINE__, what);
    return 0;
  }
  npy_array a;
  if (npy_load(path, &a) != VLP_OK) {
    fprintf(stderr, "%s: %s\n", what, vlp_last_error());
    test_check(0, __FILE__, __LINE__, what);
    return 0;
  }
  int ok = a.dtype == NPY_U8 && a.ndim == 3 && a.shape[0] == img->h && a.shape[1] == img->w &&
           a.shape[2] == 3;
  if (!ok) {
    fprintf(stderr, "FAIL %s: shape %dx%d, golden %lldx%lld\n", what, img->h, img->w,
            (long long)a.shape[0], (long long)(a.ndim > 1 ? a.shape[1] : 0));
  } else {
    const uint8_t *want = a.data;
    size_t n = (size_t)img->w * img->h * 3, bad = 0, at = 0;
    int worst = 0;
    for (size_t i = 0; i < n; i++) {
      int d = abs((int)img->rgb[i] - (int)want[i]);
      if (d) bad++;
      if (d > worst) worst = d, at = i;
    }
    if (bad) {
      ok = 0;
      fprintf(stderr, "FAIL %s: %zu of %zu values differ, max |diff| %d at (y %zu, x %zu, c %zu)\n",
              what, bad, n, worst, at / 3 / img->w, at / 3 % img->w, at % 3);
    }
  }
  test_check(ok, __FILE__, __LINE__, what);
  npy_free(&a);
  return ok;
}

float *media_load_f32(const cJSON *entry, size_t count) {
  char path[512];
  npy_array a;
  if (!entry_path(entry, path, sizeof path) || npy_load(path, &a) != VLP_OK) {
    test_check(0, __FILE__, __LINE__, "load float32 golden");
    return NULL;
  }
  if (a.dtype != NPY_F32 || a.count != count) {
    fprintf(stderr, "%s: dtype/count mismatch (%zu values, want %zu)\n", path, a.count, count);
    test_check(0, __FILE__, __LINE__, "float32 golden shape");
    npy_free(&a);
    return NULL;
  }
  return a.data;  // the caller frees
}
