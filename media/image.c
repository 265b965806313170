/* image: vlp_image_load / vlp_image_load_memory — read a file, pick the decoder by magic
 * bytes (format.c; other image formats are named and refused), decode to RGB, then apply
 * the EXIF orientation as PIL's ImageOps.exif_transpose does. */
#include "media/image.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

vlp_status image_alloc(vlp_image *img, int w, int h) {
  img->w = img->h = 0;
  img->rgb = NULL;
  if (w <= 0 || h <= 0 || w > VLP_IMAGE_MAX_SIDE || h > VLP_IMAGE_MAX_SIDE ||
      (uint64_t)w * (uint64_t)h > VLP_IMAGE_MAX_PIXELS)
    return vlp_fail(VLP_ERR_INVALID, "image size %dx%d out of range", w, h);
  img->rgb = malloc((size_t)w * (size_t)h * 3);  // <= 3 * 2^28 bytes, no overflow
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
 * For every output pixel (x, y) the source pixel is (sx, sy). */
vlp_status image_apply_orientation(vlp_image *img, int o, const char *name) {
  if (o < 2 || o > 8) return VLP_OK;
  int W = img->w, H = img->h;
  int swap = o >= 5;  // 5..8 exchange width and height
  vlp_image t;
  vlp_status st = image_alloc(&t, swap ? H : W, swap ? W : H);
  if (st != VLP_OK) return vlp_fail_prefix(st, "%s", name);
  for (int y = 0; y < t.h; y++) {
    for (int x = 0; x < t.w; x++) {
      int sx, sy;
      switch (o) {
        case 2:
          sx = W - 1 - x, sy = y;
          break;  // FLIP_LEFT_RIGHT
        case 3:
          sx = W - 1 - x, sy = H - 1 - y;
          break;  // ROTATE_180
        case 4:
          sx = x, sy = H - 1 - y;
          break;  // FLIP_TOP_BOTTOM
        case 5:
          sx = y, sy = x;
          break;  // TRANSPOSE
        case 6:
          sx = y, sy = H - 1 - x;
          break;  // ROTATE_270 (clockwise)
        case 7:
          sx = W - 1 - y, sy = H - 1 - x;
          break;  // TRANSVERSE
        default:
          sx = W - 1 - y, sy = x;
          break;  // 8: ROTATE_90 (counter-clockwise)
      }
      memcpy(t.rgb + ((size_t)y * t.w + x) * 3, img->rgb + ((size_t)sy * W + sx) * 3, 3);
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
  uint8_t *buf = malloc(n);
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
