/* image: vlp_image_load / vlp_image_load_memory — read a file, pick the decoder by magic
 * bytes (format.c; other image formats are named and refused), decode to RGB, then apply
 * the EXIF orientation as PIL's ImageOps.exif_transpose does. */
#include "media/image.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "core/error.h"
#include "media/decode.h"

/* Image files larger than this are refused before reading. */
#define IMAGE_MAX_FILE_BYTES ((size_t)1 << 30)

vlp_status image_check_size(const char *name, const char *kind, uint64_t w, uint64_t h) {
  if (w == 0 || h == 0)
    return vlp_fail(VLP_ERR_FORMAT, "%s: %s header gives an empty image (%llux%llu)", name, kind,
                    (unsigned long long)w, (unsigned long long)h);
  if (w * h > VLP_IMAGE_MAX_PIXELS)
    return vlp_fail(VLP_ERR_UNSUPPORTED,
                    "%s: %s of %llux%llu = %llu pixels is too large: more than Pillow's "
                    "decompression-bomb limit of %u pixels",
                    name, kind, (unsigned long long)w, (unsigned long long)h,
                    (unsigned long long)(w * h), VLP_IMAGE_MAX_PIXELS);
  if (w > VLP_IMAGE_MAX_SIDE || h > VLP_IMAGE_MAX_SIDE)
    return vlp_fail(VLP_ERR_UNSUPPORTED,
                    "%s: %s of %llux%llu pixels is too large (limit %d per side)", name, kind,
                    (unsigned long long)w, (unsigned long long)h, VLP_IMAGE_MAX_SIDE);
  return VLP_OK;
}

/* Huge pages: 2 MiB. */
#define HUGE_PAGE ((size_t)2 << 20)

/* malloc (free() releases it) of a per-image buffer: pixels, a file's bytes. A large one is
 * freshly mapped by the allocator each time, and on some machines each 4 KiB page costs
 * ~12 us at first touch: a 4032x3024 JPEG's 36 MB of pixels took 9,000 page faults, over
 * half of its 160 ms decode. From 4 MiB on it starts on a 2 MiB boundary, spans whole
 * 2 MiB pages and is marked for huge pages (MADV_HUGEPAGE; where transparent huge pages are
 * off it changes nothing). */
static void *image_malloc(size_t n) {
#ifdef MADV_HUGEPAGE
  if (n >= 2 * HUGE_PAGE && n <= SIZE_MAX - HUGE_PAGE) {
    size_t len = (n + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
    void *p = NULL;
    if (posix_memalign(&p, HUGE_PAGE, len) != 0) return NULL;
    madvise(p, len, MADV_HUGEPAGE);
    return p;
  }
#endif
  return malloc(n);
}

vlp_status image_alloc(vlp_image *img, int w, int h) {
  img->w = img->h = 0;
  img->rgb = NULL;
  if (w <= 0 || h <= 0 || w > VLP_IMAGE_MAX_SIDE || h > VLP_IMAGE_MAX_SIDE ||
      (uint64_t)w * (uint64_t)h > VLP_IMAGE_MAX_PIXELS)
    return vlp_fail(VLP_ERR_INVALID, "image size %dx%d out of range", w, h);
  img->rgb = image_malloc((size_t)w * (size_t)h * 3); /* <= 3 * 2^28 bytes, no overflow */
  if (!img->rgb) return vlp_fail(VLP_ERR_NOMEM, "out of memory for a %dx%d image", w, h);
  img->w = w;
  img->h = h;
  return VLP_OK;
}

void vlp_image_free(vlp_image *img) {
  if (!img) return;
  free(img->rgb);
  img->rgb = NULL;
  img->w = img->h = 0;
}

/* ImageOps.exif_transpose: orientation 2..8 -> flip / rotate so the image is upright.
 * Output pixel (x, y) comes from source pixel (ax x + bx y + cx, ay x + by y + cy): 2 flips
 * left-right, 3 rotates 180, 4 flips top-bottom, 5 transposes, 6 rotates 270 (clockwise),
 * 7 transverses, 8 rotates 90. Each row of a tile walks the source with a fixed step;
 * pixel by pixel over whole rows, rotating a fuzzed 65400 x 254 JPEG missed the cache at
 * every pixel and took over a minute in the fuzzing build. */
vlp_status image_apply_orientation(vlp_image *img, int o, const char *name) {
  if (o < 2 || o > 8) return VLP_OK;
  static const signed char k[9][4] = {
      [2] = {-1, 0, 0, 1}, [3] = {-1, 0, 0, -1}, [4] = {1, 0, 0, -1}, [5] = {0, 1, 1, 0},
      [6] = {0, 1, -1, 0}, [7] = {0, -1, -1, 0}, [8] = {0, -1, 1, 0}};
  const int W = img->w, H = img->h, ax = k[o][0], bx = k[o][1], ay = k[o][2], by = k[o][3];
  const int cx = ax + bx < 0 ? W - 1 : 0, cy = ay + by < 0 ? H - 1 : 0;
  vlp_image t;
  vlp_status st = image_alloc(&t, o >= 5 ? H : W, o >= 5 ? W : H); /* 5..8 swap W and H */
  if (st != VLP_OK) return vlp_fail_prefix(st, "%s", name);
  /* in 64 x 64 tiles, so that a rotation's column walks through the source stay in cache */
  const ptrdiff_t step = ((ptrdiff_t)ay * W + ax) * 3;
  enum { TILE = 64 };
  for (int y0 = 0; y0 < t.h; y0 += TILE)
    for (int x0 = 0; x0 < t.w; x0 += TILE) {
      int y1 = y0 + TILE < t.h ? y0 + TILE : t.h, x1 = x0 + TILE < t.w ? x0 + TILE : t.w;
      for (int y = y0; y < y1; y++) {
        ptrdiff_t at = ((ptrdiff_t)(ay * x0 + by * y + cy) * W + (ax * x0 + bx * y + cx)) * 3;
        uint8_t *d = t.rgb + ((size_t)y * t.w + x0) * 3;
        for (int x = x0; x < x1; x++, d += 3, at += step) {
          const uint8_t *src = img->rgb + at;
          d[0] = src[0], d[1] = src[1], d[2] = src[2];
        }
      }
    }
  vlp_image_free(img);
  *img = t;
  return VLP_OK;
}

vlp_status vlp_image_load_memory(const uint8_t *data, size_t size, const char *name,
                                 vlp_image *out) {
  if (!out) return vlp_fail(VLP_ERR_INVALID, "vlp_image_load_memory: no output image");
  out->w = out->h = 0;
  out->rgb = NULL;
  if (!name) name = "<memory>";
  if (!data || size == 0) return vlp_fail(VLP_ERR_FORMAT, "%s: empty file, not an image", name);
  int orientation = 1;
  vlp_status st;
  const char *fmt = NULL;
  switch (image_format_of(data, size, &fmt)) {
    case IMAGE_PNG:
      st = png_decode(data, size, name, out, &orientation);
      break;
    case IMAGE_JPEG:
      st = jpeg_decode(data, size, name, out, &orientation);
      break;
    case IMAGE_WEBP:
      st = webp_decode(data, size, name, out, &orientation);
      break;
    case IMAGE_GIF:
      st = gif_decode(data, size, name, out, &orientation);
      break;
    case IMAGE_BMP:
      st = bmp_decode(data, size, name, out, &orientation);
      break;
    case IMAGE_TIFF:
      st = tiff_decode(data, size, name, out, &orientation);
      break;
    case IMAGE_HEIF:
      st = heif_decode(data, size, name, out, &orientation);
      break;
    case IMAGE_OTHER:
      return vlp_fail(VLP_ERR_UNSUPPORTED,
                      "%s: %s images are not supported (PNG, JPEG, WebP, GIF, BMP, TIFF, HEIF "
                      "and AVIF are)",
                      name, fmt);
    default:
      return vlp_fail(VLP_ERR_FORMAT, "%s: not an image vlp reads (unknown file signature)", name);
  }
  if (st != VLP_OK) return st;
  st = image_apply_orientation(out, orientation, name);
  if (st != VLP_OK) vlp_image_free(out);
  return st;
}

vlp_status vlp_image_load(const char *path, vlp_image *out) {
  if (!out) return vlp_fail(VLP_ERR_INVALID, "vlp_image_load: no output image");
  out->w = out->h = 0;
  out->rgb = NULL;
  if (!path) return vlp_fail(VLP_ERR_INVALID, "vlp_image_load: no path");
  FILE *f = fopen(path, "rb");
  if (!f) return vlp_fail(VLP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  struct stat sb;
  if (fstat(fileno(f), &sb) != 0) {
    int e = errno;
    fclose(f);
    return vlp_fail(VLP_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
  }
  if (S_ISDIR(sb.st_mode)) {
    fclose(f);
    return vlp_fail(VLP_ERR_IO, "%s: is a directory, not an image file", path);
  }
  if (!S_ISREG(sb.st_mode)) {
    fclose(f);
    return vlp_fail(VLP_ERR_IO, "%s: not a regular file", path);
  }
  if ((uint64_t)sb.st_size > IMAGE_MAX_FILE_BYTES) {
    fclose(f);
    return vlp_fail(VLP_ERR_UNSUPPORTED, "%s: file too large for an image (%lld bytes)", path,
                    (long long)sb.st_size);
  }
  size_t n = (size_t)sb.st_size;
  if (n == 0) {
    fclose(f);
    return vlp_fail(VLP_ERR_FORMAT, "%s: empty file, not an image", path);
  }
  uint8_t *buf = image_malloc(n);
  if (!buf) {
    fclose(f);
    return vlp_fail(VLP_ERR_NOMEM, "%s: out of memory reading %zu bytes", path, n);
  }
  size_t got = fread(buf, 1, n, f);
  int rerr = ferror(f);
  fclose(f);
  if (got != n) {
    free(buf);
    return vlp_fail(VLP_ERR_IO, "%s: read error%s", path,
                    rerr ? "" : " (file shrank while reading)");
  }
  vlp_status st = vlp_image_load_memory(buf, n, path, out);
  free(buf);
  return st;
}

void palette_fill(uint8_t pal[256][3], const uint8_t *rgb, int n) {
  for (int i = 0; i < 256; i++) {
    int from_file = i < n;
    for (int k = 0; k < 3; k++) pal[i][k] = from_file ? rgb[3 * i + k] : (uint8_t)i;
  }
}
