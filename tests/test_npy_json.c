/* test_npy_json: the .npy reader/writer and the JSON config helpers, including bad files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/json.h"
#include "core/npy.h"
#include "testlib.h"

static char dir[] = "/tmp/vlp_npyjson_XXXXXX";

static void write_file(const char *name, const void *data, size_t n, char *path) {
  sprintf(path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  fwrite(data, 1, n, f);
  fclose(f);
}

/* A version 1.0 npy header for dict (no padding needed by the reader); returns its size. */
static size_t npy_header(char *out, const char *dict) {
  size_t n = strlen(dict);
  memcpy(out, "\x93NUMPY\x01\x00", 8);
  out[8] = (char)(n + 1);
  out[9] = 0;
  memcpy(out + 10, dict, n);
  out[10 + n] = '\n';
  return 11 + n;
}

int main(void) {
  if (!mkdtemp(dir)) return 1;
  char path[512];

  /* round trip of each shape form numpy writes: (), (n,), (a, b, c) */
  float v[24];
  for (int i = 0; i < 24; i++) v[i] = (float)i * 0.5f - 3;
  const int64_t shapes[3][3] = {{0}, {24}, {2, 3, 4}};
  for (int nd = 0; nd < 3; nd++) {
    int ndim = nd == 2 ? 3 : nd;
    sprintf(path, "%s/a%d.npy", dir, nd);
    CHECK(npy_save(path, NPY_F32, ndim, shapes[nd], v) == VLP_OK);
    npy_array a;
    CHECK(npy_load(path, &a) == VLP_OK);
    CHECK(a.dtype == NPY_F32 && a.ndim == ndim);
    CHECK(a.count == (nd == 0 ? 1u : 24u));
    CHECK(!memcmp(a.data, v, a.count * sizeof(float)));
    for (int d = 0; d < ndim; d++) CHECK(a.shape[d] == shapes[nd][d]);
    npy_free(&a);
    /* header is padded to a multiple of 64 bytes, as numpy writes it */
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    CHECK((size - (long)(a.count ? 0 : 0) - (long)((nd == 0 ? 1 : 24) * 4)) % 64 == 0);
  }

  /* golden arrays: uint8 image and float32 pixel values */
  npy_array g;
  CHECK(npy_load("golden/npy/preprocess/astronaut/decoded_rgb.npy", &g) == VLP_OK);
  CHECK(g.dtype == NPY_U8 && g.ndim == 3 && g.shape[2] == 3);
  npy_free(&g);
  CHECK(npy_load("golden/npy/preprocess/astronaut/blip_pixel_values.npy", &g) == VLP_OK);
  CHECK(g.dtype == NPY_F32 && g.ndim == 4 && g.shape[0] == 1 && g.shape[1] == 3);
  npy_free(&g);

  /* bad npy files */
  write_file("empty.npy", "", 0, path);
  CHECK(npy_load(path, &g) == VLP_ERR_FORMAT && strstr(vlp_last_error(), "empty.npy"));
  write_file("text.npy", "hello world, not numpy", 22, path);
  CHECK(npy_load(path, &g) == VLP_ERR_FORMAT && strstr(vlp_last_error(), "not a .npy"));
  char hdr[128];
  size_t n = npy_header(hdr, "{'descr': '<f4', 'fortran_order': False, 'shape': (10,), }");
  memcpy(hdr + n, "\x01\x02", 2); /* 2 of the 40 data bytes */
  write_file("trunc.npy", hdr, n + 2, path);
  CHECK(npy_load(path, &g) == VLP_ERR_FORMAT && strstr(vlp_last_error(), "truncated"));
  n = npy_header(hdr, "{'descr': '>c8', 'fortran_order': False, 'shape': (1,), }");
  write_file("odd.npy", hdr, n, path);
  CHECK(npy_load(path, &g) == VLP_ERR_UNSUPPORTED && strstr(vlp_last_error(), ">c8"));

  /* JSON */
  cJSON *j;
  const char *good = "{\"a\": 3, \"b\": \"x\", \"t\": true, \"o\": {}, \"l\": [1]}";
  write_file("c.json", good, strlen(good), path);
  CHECK(json_load_file(path, &j) == VLP_OK);
  CHECK(json_int(j, "a", 0) == 3 && json_int(j, "zz", 7) == 7);
  CHECK(!strcmp(json_str(j, "b", ""), "x") && json_bool(j, "t", 0) == 1);
  CHECK(json_obj(j, "o") && !json_obj(j, "l") && json_arr(j, "l") && !json_arr(j, "o"));
  CHECK(json_num(j, "b", 2.5) == 2.5); /* wrong type -> default */
  cJSON_Delete(j);
  write_file("bad.json", "{\"a\": 3,, }", 11, path);
  CHECK(json_load_file(path, &j) == VLP_ERR_FORMAT && strstr(vlp_last_error(), "bad.json") &&
        strstr(vlp_last_error(), "not valid JSON"));
  CHECK(json_load_file("/nonexistent/config.json", &j) == VLP_ERR_IO &&
        strstr(vlp_last_error(), "/nonexistent/config.json"));
  CHECK(json_load_file(dir, &j) == VLP_ERR_IO && strstr(vlp_last_error(), "not a regular file"));

  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  CHECK(system(cmd) == 0);
  return test_done();
}
