/* test_formats: every file in data/formats (made by make_format_refs.py) decodes to exactly
 * the pixels of its NAME.ref.png (the reference's decoding, saved by Pillow); files named
 * refuse_* fail with one message naming the file; every format is sniffed as an image;
 * truncated copies fail cleanly. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/image.h"
#include "testlib.h"

#define DIR_ "data/formats/"

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && !strcmp(s + n - k, suffix);
}

static uint8_t *read_all(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = malloc(len > 0 ? (size_t)len : 1);
  *n = b ? fread(b, 1, (size_t)len, f) : 0;
  fclose(f);
  return b;
}

static void check_file(const char *file) {
  char path[512], ref[600];
  snprintf(path, sizeof path, DIR_ "%s", file);
  snprintf(ref, sizeof ref, "%s.ref.png", path);
  CHECK(vlp_image_sniff_file(path) == VLP_SNIFF_IMAGE);
  vlp_image img, want;
  vlp_status st = vlp_image_load(path, &img);
  if (!strncmp(file, "refuse_", 7)) {
    const char *msg = vlp_last_error();
    int ok = st != VLP_OK && strstr(msg, path) && !strchr(msg, '\n');
    if (!ok)
      fprintf(stderr, "FAIL %s: should be refused with a message (%s)\n", file, msg);
    else
      printf("ok %s refused: %s\n", file, msg);
    CHECK(ok);
    return;
  }
  if (st != VLP_OK) fprintf(stderr, "FAIL %s: %s\n", file, vlp_last_error());
  CHECK(st == VLP_OK);
  CHECK(vlp_image_load(ref, &want) == VLP_OK);
  if (st != VLP_OK) return;
  int same = img.w == want.w && img.h == want.h;
  size_t ndiff = 0;
  int maxd = 0;
  for (size_t i = 0; same && i < (size_t)img.w * img.h * 3; i++) {
    int d = abs((int)img.rgb[i] - (int)want.rgb[i]);
    if (d) ndiff++;
    if (d > maxd) maxd = d;
  }
  if (!same || ndiff)
    fprintf(stderr, "FAIL %s: %dx%d vs reference %dx%d, %zu values differ (max %d)\n", file, img.w,
            img.h, want.w, want.h, ndiff, maxd);
  else
    printf("ok %s %dx%d identical\n", file, img.w, img.h);
  CHECK(same && ndiff == 0);

  // Truncated copies: an error naming the file, never a crash (sanitizers watch).
  size_t n = 0;
  uint8_t *buf = read_all(path, &n);
  CHECK(buf != NULL);
  for (size_t cut = 1; buf && cut < n; cut += 1 + n / 13) {
    vlp_image t;
    if (vlp_image_load_memory(buf, cut, "cut", &t) == VLP_OK) {
      CHECK(t.w > 0 && t.h > 0 && t.rgb);  // PIL also accepts some truncated files
      vlp_image_free(&t);
    } else {
      CHECK(strstr(vlp_last_error(), "cut") != NULL);
    }
  }
  free(buf);
  vlp_image_free(&img);
  vlp_image_free(&want);
}

int main(void) {
  DIR *d = opendir(DIR_);
  CHECK(d != NULL);
  if (!d) return test_done();
  int files = 0;
  for (struct dirent *e; (e = readdir(d));) {
    if (e->d_name[0] == '.' || ends_with(e->d_name, ".ref.png")) continue;
    check_file(e->d_name);
    files++;
  }
  closedir(d);
  CHECK(files >= 40);
  // Each format by its first bytes.
  const char *name = NULL;
  CHECK(image_format_of((const uint8_t *)"RIFF\0\0\0\0WEBPVP8 ", 16, &name) == IMAGE_WEBP);
  CHECK(image_format_of((const uint8_t *)"GIF87a", 6, &name) == IMAGE_GIF);
  CHECK(image_format_of((const uint8_t *)"MM\0*", 4, &name) == IMAGE_TIFF);
  CHECK(image_format_of((const uint8_t *)"\0\0\0\x18"
                                         "ftypavif",
                        12, &name) == IMAGE_HEIF &&
        !strcmp(name, "AVIF"));
  CHECK(image_format_of((const uint8_t *)"\0\0\0\x0cjP  \r\n\x87\n", 12, &name) == IMAGE_OTHER);
  CHECK(image_format_of((const uint8_t *)"hello", 5, &name) == IMAGE_UNKNOWN && !name);
  return test_done();
}
