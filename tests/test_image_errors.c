/* test_image_errors: bad input never crashes, never prints, and fails with a status and a
 * one-line message naming the file and the problem. Files are written into a temp dir:
 * empty, random bytes, truncated PNG / JPEG (baseline and progressive), headers claiming
 * huge sizes, GIF / BMP / WebP, a nonexistent path, a directory, a corrupt IDAT CRC; and a
 * PNG / JPEG whose problems are only warnings still decode (silently). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "media/image.h"
#include "testlib.h"

static char dir[64];

static uint8_t *read_all(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "cannot read %s\n", path);
    exit(1);
  }
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = malloc((size_t)len + 64);
  *n = fread(b, 1, (size_t)len, f);
  fclose(f);
  return b;
}

static const char *put(const char *name, const void *data, size_t n) {
  static char path[256];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (n) fwrite(data, 1, n, f);
  fclose(f);
  return path;
}

/* Load path, expect status want and a one-line message containing the path and `problem`. */
static void expect_fail(const char *path, vlp_status want, const char *problem) {
  vlp_image img = {7, 7, (uint8_t *)&img};  // garbage that must be reset
  vlp_status st = vlp_image_load(path, &img);
  const char *msg = vlp_last_error();
  int ok = st == want && strstr(msg, path) && strcasestr(msg, problem) && !strchr(msg, '\n') &&
           img.rgb == NULL && img.w == 0 && img.h == 0;
  printf("%s\n", msg);  // stdout: the messages a user would see
  if (!ok)
    fprintf(stderr, "FAIL %s: status %d (want %d), message \"%s\" (want \"%s\")\n", path, (int)st,
            (int)want, msg, problem);
  CHECK(ok);
}

static uint32_t crc32_of(const uint8_t *p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
  }
  return c ^ 0xFFFFFFFFu;
}

static void be32(uint8_t *p, uint32_t v) {
  p[0] = v >> 24, p[1] = v >> 16, p[2] = v >> 8, p[3] = (uint8_t)v;
}

/* Offset of the JPEG SOFn marker (FFC0..FFCF except C4, C8, CC), or 0. */
static size_t find_sof(const uint8_t *b, size_t n) {
  size_t i = 2;
  while (i + 4 <= n && b[i] == 0xFF) {
    uint8_t m = b[i + 1];
    if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) return i;
    i += 2 + (size_t)(b[i + 2] << 8 | b[i + 3]);
  }
  return 0;
}

int main(void) {
  snprintf(dir, sizeof dir, "/tmp/vlp_imgerr_XXXXXX");
  if (!mkdtemp(dir)) return 1;
  // Everything the library might print lands in this file, which must stay empty.
  char errlog[128];
  snprintf(errlog, sizeof errlog, "%s/stderr.txt", dir);
  fflush(stderr);
  int saved = dup(2);
  int fd = open(errlog, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  dup2(fd, 2);
  close(fd);

  expect_fail(put("empty.png", "", 0), VLP_ERR_FORMAT, "empty");
  uint8_t rnd[4096];
  srand(1);
  for (size_t i = 0; i < sizeof rnd; i++) rnd[i] = (uint8_t)rand();
  rnd[0] = 0x12;
  expect_fail(put("random.jpg", rnd, sizeof rnd), VLP_ERR_FORMAT, "not an image vlp reads");

  size_t n;
  uint8_t *png = read_all("golden/images/astronaut.png", &n);
  expect_fail(put("trunc.png", png, n / 2), VLP_ERR_FORMAT, "truncated");
  expect_fail(put("trunc_sig.png", png, 8), VLP_ERR_FORMAT, "PNG");
  expect_fail(put("trunc_ihdr.png", png, 30), VLP_ERR_FORMAT, "truncated");
  // IDAT with a broken CRC (libpng: error for critical chunks).
  {
    uint8_t *b = malloc(n);
    memcpy(b, png, n);
    size_t i = 8;
    while (i + 8 < n && memcmp(b + i + 4, "IDAT", 4))
      i += 12 + (size_t)(b[i] << 24 | b[i + 1] << 16 | b[i + 2] << 8 | b[i + 3]);
    size_t len = (size_t)(b[i] << 24 | b[i + 1] << 16 | b[i + 2] << 8 | b[i + 3]);
    b[i + 8 + len] ^= 0xFF;
    expect_fail(put("badcrc.png", b, n), VLP_ERR_FORMAT, "CRC");
    free(b);
  }
  // Header claiming 100000 x 100000 (valid CRC): refused from the header.
  {
    uint8_t *b = malloc(n);
    memcpy(b, png, n);
    be32(b + 16, 100000);
    be32(b + 20, 100000);
    be32(b + 29, crc32_of(b + 12, 17));
    expect_fail(put("huge.png", b, n), VLP_ERR_UNSUPPORTED, "too large");
    be32(b + 16, 20000);  // 20000 x 20000 fits per side but not in pixels
    be32(b + 20, 20000);
    be32(b + 29, crc32_of(b + 12, 17));
    expect_fail(put("huge2.png", b, n), VLP_ERR_UNSUPPORTED, "too large");
    free(b);
  }
  // An ancillary chunk with a bad CRC is only a libpng warning: decodes, prints nothing.
  {
    uint8_t *b = malloc(n + 32);
    memcpy(b, png, 33);  // signature + IHDR
    uint8_t chunk[4 + 4 + 5 + 4] = {0, 0,   0,   5,   't', 'E', 'X', 't', 'a',
                                    0, 'b', 'c', 'd', 1,   2,   3,   4};
    memcpy(b + 33, chunk, sizeof chunk);
    memcpy(b + 33 + sizeof chunk, png + 33, n - 33);
    const char *p = put("warn.png", b, n + sizeof chunk);
    vlp_image img, ref;
    CHECK(vlp_image_load(p, &img) == VLP_OK);
    CHECK(vlp_image_load("golden/images/astronaut.png", &ref) == VLP_OK);
    CHECK(img.w == ref.w && img.h == ref.h && !memcmp(img.rgb, ref.rgb, (size_t)img.w * img.h * 3));
    vlp_image_free(&img);
    vlp_image_free(&ref);
    free(b);
  }
  free(png);

  const char *jpegs[] = {"golden/images/coffee.jpg", "golden/images/edge_progressive.jpg"};
  for (int j = 0; j < 2; j++) {
    uint8_t *jp = read_all(jpegs[j], &n);
    char name[64];
    snprintf(name, sizeof name, "trunc%d.jpg", j);
    expect_fail(put(name, jp, n / 2), VLP_ERR_FORMAT, "truncated");
    snprintf(name, sizeof name, "trunc_hdr%d.jpg", j);
    expect_fail(put(name, jp, 40), VLP_ERR_FORMAT, "truncated");
    size_t sof = find_sof(jp, n);
    CHECK(sof > 0);
    // SOF: FF Cn, length (2), precision (1), height (2), width (2)
    uint8_t *b = malloc(n);
    memcpy(b, jp, n);
    b[sof + 5] = 0xFD, b[sof + 6] = 0xE8, b[sof + 7] = 0xFD, b[sof + 8] = 0xE8;  // 65000 x 65000
    snprintf(name, sizeof name, "huge%d.jpg", j);
    expect_fail(put(name, b, n), VLP_ERR_UNSUPPORTED, "too large");
    b[sof + 5] = 0xFF, b[sof + 6] = 0xFF, b[sof + 7] = 0xFF,
            b[sof + 8] = 0xFF;  // > libjpeg's 65500
    snprintf(name, sizeof name, "huge_max%d.jpg", j);
    expect_fail(put(name, b, n), VLP_ERR_UNSUPPORTED, "too large");
    b[sof + 5] = 0, b[sof + 6] = 0;  // height 0
    snprintf(name, sizeof name, "zero%d.jpg", j);
    vlp_image img;
    CHECK(vlp_image_load(put(name, b, n), &img) != VLP_OK && img.rgb == NULL);
    free(b);
    // Garbage spliced in before a marker is a libjpeg warning only: decodes, prints nothing.
    b = malloc(n + 8);
    memcpy(b, jp, sof);
    memset(b + sof, 0x55, 8);
    memcpy(b + sof + 8, jp + sof, n - sof);
    snprintf(name, sizeof name, "extraneous%d.jpg", j);
    vlp_image ref;
    CHECK(vlp_image_load(put(name, b, n + 8), &img) == VLP_OK);
    CHECK(vlp_image_load(jpegs[j], &ref) == VLP_OK);
    CHECK(img.w == ref.w && !memcmp(img.rgb, ref.rgb, (size_t)img.w * img.h * 3));
    vlp_image_free(&img);
    vlp_image_free(&ref);
    free(b);
    free(jp);
  }

  // Formats vlp decodes, cut short or without an image: format errors naming the format.
  expect_fail(put("anim.gif", "GIF89a\x01\0\x01\0\0\0\0;", 14), VLP_ERR_FORMAT, "GIF");
  expect_fail(put("pic.bmp", "BM\x3a\0\0\0\0\0\0\0\x36\0\0\0", 14), VLP_ERR_FORMAT, "BMP");
  expect_fail(put("pic.webp", "RIFF\x24\0\0\0WEBPVP8 ", 16), VLP_ERR_FORMAT, "WebP");
  expect_fail(put("pic.tif", "II*\0\x08\0\0\0", 8), VLP_ERR_FORMAT, "TIFF");
  expect_fail(put("pic.avif",
                  "\0\0\0\x18"
                  "ftypavif\0\0\0\0",
                  16),
              VLP_ERR_FORMAT, "HEIF/AVIF");
  // Formats vlp recognises but does not decode.
  expect_fail(put("pic.jp2", "\0\0\0\x0cjP  \r\n\x87\n", 12), VLP_ERR_UNSUPPORTED,
              "JPEG 2000 images are not supported");
  char missing[128];
  snprintf(missing, sizeof missing, "%s/does_not_exist.png", dir);
  expect_fail(missing, VLP_ERR_IO, "No such file");
  expect_fail(dir, VLP_ERR_IO, "directory");

  // In-memory: name used in the messages; NULL / empty buffers.
  vlp_image img;
  CHECK(vlp_image_load_memory((const uint8_t *)"GIF87a", 6, "mem.gif", &img) == VLP_ERR_FORMAT);
  CHECK(strstr(vlp_last_error(), "mem.gif") != NULL);
  CHECK(vlp_image_load_memory(NULL, 0, "nothing", &img) == VLP_ERR_FORMAT);
  CHECK(vlp_image_load(NULL, &img) == VLP_ERR_INVALID);

  // Deterministic mutation runs: flipped bytes and cuts anywhere must fail cleanly or decode.
  const char *seeds[] = {"golden/images/edge_palette.png",     "golden/images/edge_interlaced.png",
                         "golden/images/edge_progressive.jpg", "golden/images/edge_exif_rot90.jpg",
                         "golden/images/edge_cmyk.jpg",        "golden/images/edge_gray16.png"};
  int clean = 1;
  srand(7);
  for (int s = 0; s < 6; s++) {
    uint8_t *orig = read_all(seeds[s], &n);
    uint8_t *b = malloc(n);
    for (int it = 0; it < 150; it++) {
      memcpy(b, orig, n);
      int flips = 1 + rand() % 8;
      for (int f = 0; f < flips; f++) b[rand() % n] = (uint8_t)rand();
      size_t len = (it % 3 == 0) ? (size_t)rand() % n : n;
      vlp_image im;
      vlp_status st = vlp_image_load_memory(b, len, "mutant", &im);
      if (st == VLP_OK) {
        clean &= im.rgb != NULL && im.w > 0 && im.h > 0;
        vlp_image_free(&im);
      } else {
        clean &= im.rgb == NULL && strstr(vlp_last_error(), "mutant") != NULL;
      }
    }
    free(b);
    free(orig);
  }
  CHECK(clean);

  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  struct stat sb;
  CHECK(stat(errlog, &sb) == 0 && sb.st_size == 0);  // nothing printed by libpng / libjpeg
  if (sb.st_size) {
    size_t m;
    uint8_t *t = read_all(errlog, &m);
    fprintf(stderr, "stderr got: %.*s\n", (int)m, (const char *)t);
    free(t);
  }
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  return test_done();
}
