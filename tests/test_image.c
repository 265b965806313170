/* test_image: decode every golden image and compare with PIL's load_image result
 * (decoded_rgb, uint8, exact); plus load_memory == load and image_sniff. */
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "media/image.h"
#include "media_util.h"
#include "png_mem.h"
#include "testlib.h"

static int read_all(const char *path, uint8_t **buf, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  *buf = malloc(len > 0 ? (size_t)len : 1);
  *n = fread(*buf, 1, (size_t)len, f);
  fclose(f);
  return *n == (size_t)len;
}

/* Encode a w x h PNG (rows of raw samples as PNG stores them) in memory with libpng. */
static membuf write_png_meta(int w, int h, int color, int depth, const uint8_t *raw,
                             const png_color *pal, int npal, const uint8_t *exif, int nexif,
                             const char *key, const char *text) {
  membuf m = {0};
  png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png_create_info_struct(p);
  if (setjmp(png_jmpbuf(p))) {
    fprintf(stderr, "libpng write failed\n");
    exit(1);
  }
  png_set_check_for_invalid_index(p, 0);  // allow an out-of-range palette index on purpose
  png_write_to_membuf(p, &m);
  png_set_IHDR(p, info, w, h, depth, color, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  if (pal) png_set_PLTE(p, info, pal, npal);
  if (exif) png_set_eXIf_1(p, info, (png_uint_32)nexif, (png_bytep)exif);
  if (key) {
    png_text t = {0};
    t.compression = PNG_TEXT_COMPRESSION_NONE;
    t.key = (char *)key;
    t.text = (char *)text;
    t.text_length = strlen(text);
    png_set_text(p, info, &t, 1);
  }
  png_write_info(p, info);
  int ch = color == PNG_COLOR_TYPE_RGB          ? 3
           : color == PNG_COLOR_TYPE_RGBA       ? 4
           : color == PNG_COLOR_TYPE_GRAY_ALPHA ? 2
                                                : 1;
  size_t rowbytes = ((size_t)w * ch * depth + 7) / 8;
  for (int y = 0; y < h; y++) png_write_row(p, raw + y * rowbytes);
  png_write_end(p, NULL);
  png_destroy_write_struct(&p, &info);
  return m;
}

static membuf write_png(int w, int h, int color, int depth, const uint8_t *raw,
                        const png_color *pal, int npal) {
  return write_png_meta(w, h, color, depth, raw, pal, npal, NULL, 0, NULL, NULL);
}

/* Orientation metadata in PNGs as PIL's getexif() reads it: eXIf, else "Raw profile type
 * exif", and XMP only when EXIF has no Orientation tag. A 2x1 image (A, B): orientation 2
 * or 3 gives (B, A); 1 leaves (A, B). */
static void png_orientation_sources(void) {
  const uint8_t raw[6] = {10, 20, 30, 200, 210, 220};
  // little-endian TIFF, IFD0 at 8 with one SHORT entry: tag, type 3, count 1, value
  uint8_t ex[] = {'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0,
                  1,   0,   0,  0, 3, 0, 0, 0, 0, 0, 0,    0,    0, 0};
  uint8_t ex_other[sizeof ex];  // same, but tag 0x0110 (Model): no orientation
  memcpy(ex_other, ex, sizeof ex);
  ex_other[10] = 0x10;
  uint8_t ex_one[sizeof ex];  // orientation 1
  memcpy(ex_one, ex, sizeof ex);
  ex_one[18] = 1;
  const char *xmp2 = "<x:xmpmeta><rdf:Description tiff:Orientation=\"2\"/></x:xmpmeta>";
  char rawprof[256] = "\nexif\n      28\n";
  for (size_t i = 0; i < sizeof ex; i++) sprintf(rawprof + strlen(rawprof), "%02x", ex[i]);
  struct {
    const char *what;
    const uint8_t *exif;
    const char *key, *text;
    int swapped;
  } cases[] = {
      {"eXIf 3", ex, NULL, NULL, 1},
      {"XMP 2", NULL, "XML:com.adobe.xmp", xmp2, 1},
      {"eXIf without tag + XMP 2", ex_other, "XML:com.adobe.xmp", xmp2, 1},
      {"eXIf 1 + XMP 2", ex_one, "XML:com.adobe.xmp", xmp2, 0},
      {"raw profile 3", NULL, "Raw profile type exif", rawprof, 1},
      {"other text", NULL, "Comment", "tiff:Orientation=\"3\"", 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    membuf m = write_png_meta(2, 1, PNG_COLOR_TYPE_RGB, 8, raw, NULL, 0, cases[i].exif,
                              cases[i].exif ? (int)sizeof ex : 0, cases[i].key, cases[i].text);
    vlp_image img;
    int ok = vlp_image_load_memory(m.buf, m.n, cases[i].what, &img) == VLP_OK && img.w == 2;
    if (ok) ok = img.rgb[0] == (cases[i].swapped ? 200 : 10);
    if (!ok) fprintf(stderr, "FAIL png orientation: %s\n", cases[i].what);
    CHECK(ok);
    vlp_image_free(&img);
    free(m.buf);
  }
}

/* Decode a PNG of one row and compare its RGB with want (w * 3 values). */
static void check_png_row(const char *what, int w, int color, int depth, const uint8_t *raw,
                          const png_color *pal, int npal, const uint8_t *want) {
  membuf m = write_png(w, 1, color, depth, raw, pal, npal);
  vlp_image img;
  vlp_status st = vlp_image_load_memory(m.buf, m.n, what, &img);
  int ok = st == VLP_OK && img.w == w && img.h == 1 && !memcmp(img.rgb, want, (size_t)w * 3);
  if (!ok) {
    fprintf(stderr, "FAIL %s: %s;", what, st ? vlp_last_error() : "");
    for (int i = 0; st == VLP_OK && i < w * 3; i++) fprintf(stderr, " %d", img.rgb[i]);
    fprintf(stderr, "\n");
  }
  CHECK(ok);
  vlp_image_free(&img);
  free(m.buf);
}

/* PIL's PNG modes and convert("RGB") rules on hand-made files. */
static void png_modes(void) {
  // 16-bit gray -> mode I -> RGB clips to 0..255 (does not scale)
  const uint8_t g16[] = {0, 0, 0, 100, 0, 255, 1, 0, 0x12, 0x34, 0xFF, 0xFF};
  const uint8_t g16_want[] = {0,   0,   0,   100, 100, 100, 255, 255, 255,
                              255, 255, 255, 255, 255, 255, 255, 255, 255};
  check_png_row("gray16", 6, PNG_COLOR_TYPE_GRAY, 16, g16, NULL, 0, g16_want);
  // 16-bit RGB keeps the high byte
  const uint8_t rgb16[] = {0x12, 0x34, 0xAB, 0xCD, 0x00, 0xFF, 0xFF, 0x00, 0x01, 0x80, 0x7F, 0xFF};
  const uint8_t rgb16_want[] = {0x12, 0xAB, 0x00, 0xFF, 0x01, 0x7F};
  check_png_row("rgb16", 2, PNG_COLOR_TYPE_RGB, 16, rgb16, NULL, 0, rgb16_want);
  // 16-bit gray+alpha: high byte of the gray, alpha dropped
  const uint8_t la16[] = {0x80, 0x01, 0x00, 0x00, 0x01, 0xFF, 0xFF, 0xFF};
  const uint8_t la16_want[] = {0x80, 0x80, 0x80, 0x01, 0x01, 0x01};
  check_png_row("la16", 2, PNG_COLOR_TYPE_GRAY_ALPHA, 16, la16, NULL, 0, la16_want);
  // 8-bit RGBA: alpha dropped, never composited
  const uint8_t rgba[] = {10, 20, 30, 0, 40, 50, 60, 128};
  const uint8_t rgba_want[] = {10, 20, 30, 40, 50, 60};
  check_png_row("rgba8", 2, PNG_COLOR_TYPE_RGBA, 8, rgba, NULL, 0, rgba_want);
  // 2-bit gray: 0, 1, 2, 3 -> 0, 85, 170, 255
  const uint8_t g2[] = {0x1B};  // 00 01 10 11
  const uint8_t g2_want[] = {0, 0, 0, 85, 85, 85, 170, 170, 170, 255, 255, 255};
  check_png_row("gray2", 4, PNG_COLOR_TYPE_GRAY, 2, g2, NULL, 0, g2_want);
  // 1-bit gray
  const uint8_t g1[] = {0xA0};  // 1 0 1
  const uint8_t g1_want[] = {255, 255, 255, 0, 0, 0, 255, 255, 255};
  check_png_row("gray1", 3, PNG_COLOR_TYPE_GRAY, 1, g1, NULL, 0, g1_want);
  // 4-bit palette; index 5 is past the 3-entry PLTE: PIL's palette there is a gray ramp
  const png_color pal[3] = {{255, 0, 0}, {0, 255, 0}, {1, 2, 3}};
  const uint8_t p4[] = {0x01, 0x25};
  const uint8_t p4_want[] = {255, 0, 0, 0, 255, 0, 1, 2, 3, 5, 5, 5};
  check_png_row("palette4", 4, PNG_COLOR_TYPE_PALETTE, 4, p4, pal, 3, p4_want);
}

/* EXIF orientation 1..8 applied as exif_transpose: patch the tag of the golden rotated JPEG
 * and compare each result with the stored (orientation 1) pixels moved by the PIL operation,
 * written here as compositions of flips and a transpose. */
static void exif_orientations(void) {
  uint8_t *buf = NULL;
  size_t n = 0;
  CHECK(read_all(GOLDEN "images/edge_exif_rot90.jpg", &buf, &n));
  size_t tag = 0;  // offset of the orientation entry's value
  int be = 0;
  for (size_t i = 0; i + 6 < n; i++) {
    if (!memcmp(buf + i, "Exif\0\0", 6)) {
      const uint8_t *t = buf + i + 6;
      be = t[0] == 'M';
      for (size_t k = 8; i + 6 + k + 12 < n && !tag; k += 2) {
        unsigned id = be ? (unsigned)(t[k] << 8 | t[k + 1]) : (unsigned)(t[k + 1] << 8 | t[k]);
        if (id == 0x0112) tag = i + 6 + k + 8;
      }
      break;
    }
  }
  CHECK(tag != 0);
  if (!tag) {
    free(buf);
    return;
  }
  buf[tag] = 0, buf[tag + 1] = 0;
  buf[tag + (be ? 1 : 0)] = 1;
  vlp_image base;
  CHECK(vlp_image_load_memory(buf, n, "o1", &base) == VLP_OK);
  int W = base.w, H = base.h;
  for (int o = 1; o <= 9; o++) {
    buf[tag + (be ? 1 : 0)] = (uint8_t)o;
    vlp_image img;
    CHECK(vlp_image_load_memory(buf, n, "o", &img) == VLP_OK);
    int transpose = o >= 5 && o <= 8;
    // after the optional transpose (size H x W), which flips are applied
    int flip_lr = o == 2 || o == 3 || o == 6 || o == 7;
    int flip_tb = o == 3 || o == 4 || o == 7 || o == 8;
    int ow = transpose ? H : W, oh = transpose ? W : H;
    int ok = img.w == ow && img.h == oh;
    for (int y = 0; ok && y < oh; y++) {
      for (int x = 0; x < ow; x++) {
        int tx = flip_lr ? ow - 1 - x : x, ty = flip_tb ? oh - 1 - y : y;  // in transposed image
        int sx = transpose ? ty : tx, sy = transpose ? tx : ty;
        if (memcmp(img.rgb + ((size_t)y * ow + x) * 3, base.rgb + ((size_t)sy * W + sx) * 3, 3)) {
          ok = 0;
          break;
        }
      }
    }
    if (!ok) fprintf(stderr, "FAIL exif orientation %d\n", o);
    CHECK(ok);
    vlp_image_free(&img);
  }
  vlp_image_free(&base);
  free(buf);
}

/* The THP mode from /sys ("always", "madvise", "never"), or "" when unknown. */
static void thp_mode(char *mode, size_t n) {
  char line[128] = "";
  FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
  if (f && !fgets(line, sizeof line, f)) line[0] = 0;
  if (f) fclose(f);
  const char *a = strchr(line, '['), *b = a ? strchr(a, ']') : NULL;
  snprintf(mode, n, "%.*s", a && b ? (int)(b - a - 1) : 0, a ? a + 1 : "");
}

/* THPeligible of the mapping that holds address p in /proc/self/smaps; -1 if not found. */
static int thp_eligible(const void *p) {
  FILE *f = fopen("/proc/self/smaps", "r");
  if (!f) return -1;
  char line[512];
  int in = 0, v = -1;
  while (v < 0 && fgets(line, sizeof line, f)) {
    unsigned long lo, hi;
    if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
      in = (unsigned long)p >= lo && (unsigned long)p < hi;
    else if (in && strncmp(line, "THPeligible:", 12) == 0)
      v = atoi(line + 12);
  }
  fclose(f);
  return v;
}

/* A large image's pixels are marked for huge pages (a fresh mapping faults in 4 KiB pages
 * otherwise, ~9,000 for a 12-megapixel photo). */
static void pixels_on_huge_pages(void) {
  char mode[32];
  thp_mode(mode, sizeof mode);
  if (strcmp(mode, "madvise") != 0 && strcmp(mode, "always") != 0) {
    printf("transparent huge pages are '%s' here: no huge pages to check\n", mode);
    return;
  }
  vlp_image img;
  CHECK(image_alloc(&img, 4096, 1024) == VLP_OK);
  if (!img.rgb) return;
  memset(img.rgb, 1, (size_t)img.w * img.h * 3);
  int e = thp_eligible(img.rgb + (size_t)img.w * img.h * 3 / 2);
  if (e != 1) fprintf(stderr, "THPeligible %d for a 12 MB image's pixels\n", e);
  CHECK(e == 1);
  vlp_image_free(&img);
}

int main(void) {
  pixels_on_huge_pages();
  png_modes();
  png_orientation_sources();
  exif_orientations();
  cJSON *m = media_load_manifest("preprocess.json");
  const cJSON *cases = cJSON_GetObjectItemCaseSensitive(m, "cases");
  CHECK(cJSON_GetArraySize(cases) > 0);
  const cJSON *c;
  cJSON_ArrayForEach(c, cases) {
    const char *id = json_str(c, "id", "?");
    const cJSON *in = json_obj(c, "inputs");
    char path[512];
    snprintf(path, sizeof path, GOLDEN "%s", json_str(in, "image", ""));
    vlp_image img;
    vlp_status st = vlp_image_load(path, &img);
    if (st != VLP_OK) fprintf(stderr, "%s: %s\n", id, vlp_last_error());
    CHECK(st == VLP_OK);
    if (st != VLP_OK) continue;
    const cJSON *exp = json_obj(c, "expected");
    char what[256];
    snprintf(what, sizeof what, "%s decoded_rgb", id);
    if (media_check_u8(what, &img, json_obj(exp, "decoded_rgb")))
      printf("ok %s %dx%d\n", id, img.w, img.h);

    // The same bytes from memory decode identically.
    uint8_t *buf = NULL;
    size_t n = 0;
    CHECK(read_all(path, &buf, &n));
    CHECK(image_sniff(buf, n));
    vlp_image img2;
    CHECK(vlp_image_load_memory(buf, n, id, &img2) == VLP_OK);
    CHECK(img2.w == img.w && img2.h == img.h &&
          !memcmp(img2.rgb, img.rgb, (size_t)img.w * img.h * 3));
    vlp_image_free(&img2);
    free(buf);
    vlp_image_free(&img);
    CHECK(img.rgb == NULL && img.w == 0);
  }
  cJSON_Delete(m);
  vlp_image_free(NULL);  // allowed
  CHECK(image_sniff((const uint8_t *)"GIF89a", 6));
  CHECK(!image_sniff((const uint8_t *)"8BPS", 4));  // PSD: recognised, not decoded
  return test_done();
}
