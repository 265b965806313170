/* image: vlp_image_load / vlp_image_load_memory — read a file, pick the decoder by magic
 * bytes (PNG or JPEG; other image formats are named and refused), decode to RGB, then apply
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

static int is_png(const uint8_t *d, size_t n) {
  return n >= 8 && !memcmp(d, "\x89PNG\r\n\x1a\n", 8);
}

static int is_jpeg(const uint8_t *d, size_t n) {
  return n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF;
}

int image_sniff(const uint8_t *data, size_t size) {
  return data && (is_png(data, size) || is_jpeg(data, size));
}

/* The name of a recognised but unsupported image format, or NULL. */
static const char *other_format(const uint8_t *d, size_t n) {
  if (n >= 6 && (!memcmp(d, "GIF87a", 6) || !memcmp(d, "GIF89a", 6))) return "GIF";
  if (n >= 12 && !memcmp(d, "RIFF", 4) && !memcmp(d + 8, "WEBP", 4)) return "WebP";
  if (n >= 2 && d[0] == 'B' && d[1] == 'M') return "BMP";
  if (n >= 4 && (!memcmp(d, "II*\0", 4) || !memcmp(d, "MM\0*", 4))) return "TIFF";
  if (n >= 12 && !memcmp(d + 4, "ftyp", 4)) {
    if (!memcmp(d + 8, "avif", 4) || !memcmp(d + 8, "avis", 4)) return "AVIF";
    if (!memcmp(d + 8, "heic", 4) || !memcmp(d + 8, "heix", 4) || !memcmp(d + 8, "mif1", 4))
      return "HEIF";
  }
  if (n >= 2 && d[0] == 0xFF && d[1] == 0x0A) return "JPEG XL";
  if (n >= 12 && !memcmp(d, "\0\0\0\x0cJXL \r\n\x87\n", 12)) return "JPEG XL";
  if (n >= 12 && !memcmp(d, "\0\0\0\x0cjP  \r\n\x87\n", 12)) return "JPEG 2000";
  if (n >= 4 && !memcmp(d, "8BPS", 4)) return "PSD";
  if (n >= 4 && !memcmp(d, "qoif", 4)) return "QOI";
  if (n >= 4 && !memcmp(d, "\0\0\1\0", 4)) return "ICO";
  return NULL;
}

vlp_status image_check_size(const char *name, const char *kind, uint64_t w, uint64_t h) {
  if (w == 0 || h == 0)
    return vlp_fail(VLP_ERR_FORMAT, "%s: %s header gives an empty image (%llux%llu)", name, kind,
                    (unsigned long long)w, (unsigned long long)h);
  if (w > VLP_IMAGE_MAX_SIDE || h > VLP_IMAGE_MAX_SIDE || w * h > VLP_IMAGE_MAX_PIXELS)
    return vlp_fail(VLP_ERR_UNSUPPORTED,
                    "%s: %s of %llux%llu pixels is too large (limit %u pixels, %d per side)", name,
                    kind, (unsigned long long)w, (unsigned long long)h, VLP_IMAGE_MAX_PIXELS,
                    VLP_IMAGE_MAX_SIDE);
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
  if (is_png(data, size)) {
    st = png_decode(data, size, name, out, &orientation);
  } else if (is_jpeg(data, size)) {
    st = jpeg_decode(data, size, name, out, &orientation);
  } else {
    const char *fmt = other_format(data, size);
    if (fmt)
      return vlp_fail(VLP_ERR_UNSUPPORTED, "%s: %s images are not supported (only PNG and JPEG)",
                      name, fmt);
    return vlp_fail(VLP_ERR_FORMAT, "%s: not a PNG or JPEG image (unknown file signature)", name);
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
