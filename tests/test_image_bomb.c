/* test_image_bomb: decompression bombs are refused from the header, before any big
 * allocation (Pillow's limit: more than 178956970 pixels), in every format, with a message
 * naming the file; and an image below the limit decodes with memory bounded by its output
 * (a large RGBA PNG is read row by row, no full-size intermediate buffer). */
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "media/decode.h"
#include "media/image.h"
#include "png_mem.h"
#include "testlib.h"

static void be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}
static void le32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}
static void le16(uint8_t *p, unsigned v) {
  p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8);
}

static long maxrss_kb(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

/* Decode in a child process; the child exits 0 when the result was refused as too large
 * (message naming the file and the limit) and its peak memory grew by less than 16 MB. */
static int refused_cheaply(const char *what, const uint8_t *buf, size_t n) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    long before = maxrss_kb();
    vlp_image img;
    vlp_status st = vlp_image_load_memory(buf, n, what, &img);
    long grew = maxrss_kb() - before;
    const char *msg = vlp_last_error();
    int ok = st == VLP_ERR_UNSUPPORTED && strstr(msg, what) && strstr(msg, "178956970") &&
             grew < 16 * 1024;
    fprintf(stderr, "%s %s: %s (peak memory +%ld kB)\n", ok ? "ok" : "FAIL", what,
            st ? msg : "decoded", grew);
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void bombs(void) {
  // PNG 16000 x 16000 (valid IHDR CRC; the image data never gets read).
  uint8_t png[8 + 25 + 12] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  be32(png + 8, 13);
  memcpy(png + 12, "IHDR", 4);
  be32(png + 16, 16000), be32(png + 20, 16000);
  png[24] = 8, png[25] = 6;  // RGBA
  be32(png + 29, (uint32_t)crc32(0, png + 12, 17));
  be32(png + 33, 0), memcpy(png + 37, "IEND", 4), be32(png + 41, (uint32_t)crc32(0, png + 37, 4));
  CHECK(refused_cheaply("bomb.png", png, sizeof png));

  // GIF: a 16000 x 16000 screen with a 1 x 1 frame.
  const uint8_t gif[] = {'G', 'I', 'F', '8', '9', 'a', 0x80, 0x3E, 0x80, 0x3E, 0, 0, 0, 0x2C, 0,
                         0,   0,   0,   1,   0,   1,   0,    0,    2,    2,    4, 1, 0, 0x3B};
  CHECK(refused_cheaply("bomb.gif", gif, sizeof gif));

  // BMP: 24-bit, 16000 x 16000, no pixel data.
  uint8_t bmp[54] = {'B', 'M'};
  le32(bmp + 10, 54), le32(bmp + 14, 40), le32(bmp + 18, 16000), le32(bmp + 22, 16000);
  le16(bmp + 26, 1), le16(bmp + 28, 24);
  CHECK(refused_cheaply("bomb.bmp", bmp, sizeof bmp));

  // TIFF: one IFD, 16000 x 16000 RGB, one strip.
  uint8_t tif[8 + 2 + 12 * 8 + 4] = {'I', 'I', 42, 0, 8, 0, 0, 0, 8, 0};
  const uint16_t tags[8][2] = {{256, 16000}, {257, 16000}, {258, 8}, {259, 1},
                               {262, 2},     {273, 200},   {277, 3}, {279, 1}};
  for (int i = 0; i < 8; i++) {
    uint8_t *e = tif + 10 + 12 * i;
    le16(e, tags[i][0]), le16(e + 2, 3), le32(e + 4, 1), le16(e + 8, tags[i][1]);
  }
  CHECK(refused_cheaply("bomb.tif", tif, sizeof tif));

  // WebP: an extended (VP8X) header with a 16383 x 16383 canvas.
  uint8_t webp[30] = {'R', 'I', 'F', 'F', 22, 0, 0, 0, 'W', 'E', 'B', 'P', 'V', 'P', '8', 'X', 10};
  webp[24] = 0xFE, webp[25] = 0x3F, webp[27] = 0xFE, webp[28] = 0x3F;  // sides - 1, 24-bit
  CHECK(refused_cheaply("bomb.webp", webp, sizeof webp));

  // The limit itself: up to 178956970 pixels pass the size check, one row more does not.
  CHECK(image_check_size("x", "PNG", 13377, 13377) == VLP_OK);
  CHECK(image_check_size("x", "PNG", 13377, 13378) == VLP_ERR_UNSUPPORTED);
}

/* A w x h RGBA PNG (a gradient, fast to compress). */
static membuf big_png(int w, int h) {
  membuf m = {0};
  png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png_create_info_struct(p);
  if (setjmp(png_jmpbuf(p))) exit(1);
  png_write_to_membuf(p, &m);
  png_set_compression_level(p, 1);
  png_set_IHDR(p, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB_ALPHA,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(p, info);
  uint8_t *row = malloc((size_t)w * 4);
  for (int y = 0; y < h; y++) {
    for (int x = 0; x < w; x++)
      row[4 * x] = (uint8_t)x, row[4 * x + 1] = (uint8_t)y, row[4 * x + 2] = 7,
              row[4 * x + 3] = 255;
    png_write_row(p, row);
  }
  free(row);
  png_write_end(p, NULL);
  png_destroy_write_struct(&p, &info);
  return m;
}

/* 8000 x 8000 RGBA: the output is 192 MB; decoding with a full-size copy of the PNG rows
 * would add 256 MB more. Allow the output plus 40 MB. */
static void bounded_memory(void) {
  const int W = 8000, H = 8000;
  membuf m = big_png(W, H);
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    long before = maxrss_kb();
    vlp_image img;
    vlp_status st = vlp_image_load_memory(m.buf, m.n, "big.png", &img);
    long grew = maxrss_kb() - before, out_kb = (long)W * H * 3 / 1024;
    int ok = st == VLP_OK && img.w == W && img.h == H && img.rgb[0] == 0 &&
             img.rgb[((size_t)(H - 1) * W + (W - 1)) * 3 + 1] == (uint8_t)(H - 1) &&
             grew < out_kb + 40 * 1024;
    fprintf(stderr, "%s big.png %dx%d: peak memory +%ld kB for a %ld kB output\n",
            ok ? "ok" : "FAIL", W, H, grew, out_kb);
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  free(m.buf);
}

int main(void) {
  bombs();
  bounded_memory();
  return test_done();
}
