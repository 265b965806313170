/* tiff: the first page of a TIFF with libtiff, as PIL 9.4's TiffImagePlugin + convert("RGB")
 * reads the common layouts:
 *   - bilevel and gray at 1, 2, 4, 8 bits (MinIsWhite inverted; 2/4-bit values scaled by
 *     85/17), 16-bit gray as PIL's I;16 whose convert("RGB") clips to 0..255;
 *   - RGB at 8 or 16 bits per sample (16-bit keeps the high byte), chunky or planar; an
 *     extra sample is dropped, except associated (premultiplied) alpha, which PIL's "RGBa"
 *     unpacking divides out first: c * 255 / a (0 when a = 0);
 *   - palette images at 1, 2, 4, 8 bits (PIL keeps the high byte of each colormap entry);
 *   - CMYK (8-bit, chunky) with PIL's CMYK -> RGB; YCbCr JPEG-compressed, which libtiff
 *     converts to RGB (as PIL asks it to);
 *   - the Orientation tag of the first directory is applied TWICE, as the reference does:
 *     PIL's TIFF plugin turns the image upright when it loads it, then exif_transpose reads
 *     the same tag and turns it again. Twice 6 or 8 is a half turn; twice anything else
 *     is no change.
 * libtiff's messages go to handlers of this TIFF only (nothing printed, nothing global). */
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>

#include "core/error.h"
#include "media/decode.h"
#include "media/image.h"

/* Largest tile (and row of tiles) buffered while reading a tiled TIFF. */
#define TIFF_MAX_TILE_BYTES ((size_t)256 << 20)

typedef struct {
  const uint8_t *data;
  size_t size;
  uint64_t pos;
  char msg[256];
} tiff_src;

static tmsize_t src_read(thandle_t h, void *buf, tmsize_t n) {
  tiff_src *s = h;
  if (n < 0 || s->pos >= s->size) return 0;
  uint64_t k = (uint64_t)n, left = s->size - s->pos;
  if (k > left) k = left;
  memcpy(buf, s->data + s->pos, (size_t)k);
  s->pos += k;
  return (tmsize_t)k;
}
static tmsize_t src_write(thandle_t h, void *buf, tmsize_t n) {
  return 0;
}
static toff_t src_seek(thandle_t h, toff_t off, int whence) {
  tiff_src *s = h;
  uint64_t base = whence == SEEK_CUR ? s->pos : whence == SEEK_END ? s->size : 0;
  if (off > UINT64_MAX - base) return (toff_t)-1;
  s->pos = base + off;
  return s->pos;
}
static int src_close(thandle_t h) {
  return 0;
}
static toff_t src_size(thandle_t h) {
  return ((tiff_src *)h)->size;
}
static int no_map(thandle_t h, void **base, toff_t *size) {
  return 0;
}
static void no_unmap(thandle_t h, void *base, toff_t size) {}

static int on_error(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
  tiff_src *s = user;
  if (!s->msg[0]) vsnprintf(s->msg, sizeof s->msg, fmt, ap);
  return 1;  // handled: libtiff's global handler is not called
}
static int on_warning(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
  return 1;
}

typedef enum { T_GRAY, T_RGB, T_PALETTE, T_CMYK } tiff_kind;

typedef struct {
  tiff_kind kind;
  int bits, spp, planar_sep, invert, assoc_alpha;
  uint8_t pal[256][3];
} tiff_layout;

static int clip8(int v) {
  return v < 0 ? 0 : v > 255 ? 255 : v;
}
static int muldiv255(int a, int b) {
  int t = a * b + 128;
  return ((t >> 8) + t) >> 8;
}

/* Sample i (0-based over the row) of a row of `bits`-bit samples. */
static unsigned sample(const uint8_t *row, size_t i, int bits) {
  switch (bits) {
    case 16:
      return ((const uint16_t *)(const void *)row)[i];  // libtiff gives native order
    case 8:
      return row[i];
    default: {
      size_t bit = i * (size_t)bits;
      return (row[bit >> 3] >> (8 - bits - (bit & 7))) & ((1u << bits) - 1);
    }
  }
}

/* One row of pixels; planes[p] is the row of sample plane p (only [0] when chunky). */
static void row_to_rgb(const tiff_layout *L, uint8_t *const planes[], int w, uint8_t *d) {
  int chunky = !L->planar_sep, spp = L->spp;
  for (int x = 0; x < w; x++, d += 3) {
    unsigned s[4] = {0, 0, 0, 0};
    int ns = spp < 4 ? spp : 4;
    for (int k = 0; k < ns; k++)
      s[k] = chunky ? sample(planes[0], (size_t)x * spp + k, L->bits)
                    : sample(planes[k], (size_t)x, L->bits);
    switch (L->kind) {
      case T_GRAY: {
        unsigned v = s[0];
        if (L->bits == 16) {
          v = v > 255 ? 255 : v;
        } else {
          unsigned max = (1u << L->bits) - 1;
          if (L->invert) v = max - v;
          v = v * 255 / max;
        }
        d[0] = d[1] = d[2] = (uint8_t)v;
        break;
      }
      case T_RGB: {
        for (int k = 0; k < 3; k++) d[k] = (uint8_t)(L->bits == 16 ? s[k] >> 8 : s[k]);
        if (L->assoc_alpha && spp >= 4) {
          int a = (int)s[3];
          for (int k = 0; k < 3; k++) d[k] = a == 0 ? 0 : (uint8_t)clip8((int)s[k] * 255 / a);
        }
        break;
      }
      case T_PALETTE:
        memcpy(d, L->pal[s[0] & 255], 3);
        break;
      case T_CMYK: {
        int nk = 255 - (int)s[3];
        for (int k = 0; k < 3; k++) d[k] = (uint8_t)clip8(nk - muldiv255((int)s[k], nk));
      }
    }
  }
}

/* Work out the layout from the tags; an error names what is not supported. */
static vlp_status tiff_layout_of(TIFF *tif, const char *name, tiff_layout *L) {
  uint16_t bits = 1, spp = 1, photo = 0, planar = PLANARCONFIG_CONTIG, comp = 1;
  TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bits);
  TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
  TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &planar);
  TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &comp);
  if (!TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photo))
    return vlp_fail(VLP_ERR_FORMAT, "%s: TIFF without a photometric interpretation", name);
  uint16_t nextra = 0, *extra = NULL;
  TIFFGetFieldDefaulted(tif, TIFFTAG_EXTRASAMPLES, &nextra, &extra);
  uint16_t fmt = SAMPLEFORMAT_UINT;
  TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &fmt);
  memset(L, 0, sizeof *L);
  L->bits = bits, L->spp = spp, L->planar_sep = planar == PLANARCONFIG_SEPARATE;
  int ok = fmt == SAMPLEFORMAT_UINT && spp >= 1;
  switch (photo) {
    case PHOTOMETRIC_MINISWHITE:
    case PHOTOMETRIC_MINISBLACK:
      L->kind = T_GRAY, L->invert = photo == PHOTOMETRIC_MINISWHITE;
      ok = ok && spp <= 2 &&
           (bits == 1 || bits == 2 || bits == 4 || bits == 8 || (bits == 16 && !L->invert));
      break;
    case PHOTOMETRIC_YCBCR:
      if (comp != COMPRESSION_JPEG) {
        ok = 0;
        break;
      }
      TIFFSetField(tif, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);  // libtiff converts
      /* fall through */
    case PHOTOMETRIC_RGB:
      L->kind = T_RGB;
      L->assoc_alpha = spp >= 4 && nextra >= 1 && extra && extra[0] == EXTRASAMPLE_ASSOCALPHA;
      ok = ok && spp >= 3 && spp <= 4 && (bits == 8 || (bits == 16 && !L->assoc_alpha));
      break;
    case PHOTOMETRIC_PALETTE: {
      L->kind = T_PALETTE;
      uint16_t *r = NULL, *g = NULL, *b = NULL;
      ok = ok && spp == 1 && bits <= 8 && (bits == 1 || bits == 2 || bits == 4 || bits == 8) &&
           TIFFGetField(tif, TIFFTAG_COLORMAP, &r, &g, &b) && r && g && b;
      if (ok) {
        uint8_t rgb[256 * 3];
        int n = 1 << bits;
        for (int i = 0; i < n; i++)
          rgb[3 * i] = (uint8_t)(r[i] >> 8), rgb[3 * i + 1] = (uint8_t)(g[i] >> 8),
                  rgb[3 * i + 2] = (uint8_t)(b[i] >> 8);
        palette_fill(L->pal, rgb, n);
      }
      break;
    }
    case PHOTOMETRIC_SEPARATED: {
      uint16_t inks = INKSET_CMYK;
      TIFFGetFieldDefaulted(tif, TIFFTAG_INKSET, &inks);
      L->kind = T_CMYK;
      ok = ok && inks == INKSET_CMYK && spp == 4 && bits == 8 && !L->planar_sep;
      break;
    }
    default:
      ok = 0;
  }
  if (!ok)
    return vlp_fail(VLP_ERR_UNSUPPORTED,
                    "%s: unsupported TIFF layout (photometric %u, %u samples of %u bits, "
                    "format %u, compression %u)",
                    name, photo, spp, bits, fmt, comp);
  return VLP_OK;
}

/* Strips: libtiff's scanline interface, one plane row at a time. */
static vlp_status read_strips(TIFF *tif, tiff_src *src, const tiff_layout *L, vlp_image *out,
                              const char *name) {
  int np = L->planar_sep ? (L->spp < 4 ? L->spp : 4) : 1;
  tmsize_t line = TIFFScanlineSize(tif);
  if (line <= 0) return vlp_fail(VLP_ERR_FORMAT, "%s: corrupt TIFF (row size)", name);
  size_t need = ((size_t)out->w * (L->planar_sep ? 1 : L->spp) * L->bits + 7) / 8;
  if ((size_t)line < need) return vlp_fail(VLP_ERR_FORMAT, "%s: corrupt TIFF (row size)", name);
  uint8_t *buf = malloc((size_t)line * np);
  if (!buf) return vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", name);
  uint8_t *planes[4] = {buf, buf + line, buf + 2 * line, buf + 3 * line};
  vlp_status st = VLP_OK;
  if (L->planar_sep) {
    // Separate planes are stored plane after plane: read each plane's row at a time.
    for (int y = 0; y < out->h && st == VLP_OK; y++) {
      for (int p = 0; p < np; p++)
        if (TIFFReadScanline(tif, planes[p], (uint32_t)y, (uint16_t)p) < 0) st = VLP_ERR_FORMAT;
      if (st == VLP_OK) row_to_rgb(L, planes, out->w, out->rgb + (size_t)y * out->w * 3);
    }
  } else {
    for (int y = 0; y < out->h && st == VLP_OK; y++) {
      if (TIFFReadScanline(tif, buf, (uint32_t)y, 0) < 0) st = VLP_ERR_FORMAT;
      if (st == VLP_OK) row_to_rgb(L, planes, out->w, out->rgb + (size_t)y * out->w * 3);
    }
  }
  free(buf);
  if (st != VLP_OK)
    return vlp_fail(VLP_ERR_FORMAT, "%s: corrupt TIFF: %s", name,
                    src->msg[0] ? src->msg : "cannot read the image data");
  return VLP_OK;
}

/* Tiles (chunky, whole bytes per sample): one row of tiles at a time. */
static vlp_status read_tiles(TIFF *tif, tiff_src *src, const tiff_layout *L, vlp_image *out,
                             const char *name) {
  uint32_t tw = 0, th = 0;
  TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw);
  TIFFGetField(tif, TIFFTAG_TILELENGTH, &th);
  size_t px = (size_t)L->spp * L->bits / 8;
  tmsize_t tsize = TIFFTileSize(tif);
  if (L->planar_sep || L->bits < 8 || tw == 0 || th == 0 || tw > 65536 || th > 65536 ||
      tsize < (tmsize_t)((size_t)tw * th * px))
    return vlp_fail(VLP_ERR_UNSUPPORTED, "%s: unsupported TIFF tile layout", name);
  // A tile row is buffered whole: refuse tiles far bigger than the image needs.
  if ((size_t)tsize > TIFF_MAX_TILE_BYTES ||
      (size_t)th * ((size_t)out->w + tw) * px > TIFF_MAX_TILE_BYTES)
    return vlp_fail(VLP_ERR_UNSUPPORTED, "%s: TIFF tiles of %ux%u are too large", name, tw, th);
  size_t band_row = ((size_t)out->w + tw) * px;  // a band is a whole number of tiles wide
  uint8_t *tile = malloc((size_t)tsize), *band = malloc(band_row * th);
  vlp_status st = VLP_OK;
  if (!tile || !band) st = vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", name);
  for (uint32_t y0 = 0; st == VLP_OK && y0 < (uint32_t)out->h; y0 += th) {
    for (uint32_t x0 = 0; st == VLP_OK && x0 < (uint32_t)out->w; x0 += tw) {
      if (TIFFReadTile(tif, tile, x0, y0, 0, 0) < 0) {
        st = vlp_fail(VLP_ERR_FORMAT, "%s: corrupt TIFF: %s", name,
                      src->msg[0] ? src->msg : "cannot read a tile");
        break;
      }
      for (uint32_t r = 0; r < th; r++)
        memcpy(band + r * band_row + x0 * px, tile + (size_t)r * tw * px, tw * px);
    }
    for (uint32_t r = 0; st == VLP_OK && r < th && y0 + r < (uint32_t)out->h; r++) {
      uint8_t *planes[1] = {band + r * band_row};
      row_to_rgb(L, planes, out->w, out->rgb + (size_t)(y0 + r) * out->w * 3);
    }
  }
  free(tile);
  free(band);
  return st;
}

vlp_status tiff_decode(const uint8_t *data, size_t size, const char *name, vlp_image *out,
                       int *orientation) {
  memset(out, 0, sizeof *out);
  *orientation = 1;
  tiff_src src = {data, size, 0, ""};
  TIFFOpenOptions *opt = TIFFOpenOptionsAlloc();
  if (!opt) return vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", name);
  TIFFOpenOptionsSetErrorHandlerExtR(opt, on_error, &src);
  TIFFOpenOptionsSetWarningHandlerExtR(opt, on_warning, &src);
  TIFFOpenOptionsSetMaxSingleMemAlloc(opt, (tmsize_t)1 << 30);
  TIFF *tif = TIFFClientOpenExt(name, "rm", &src, src_read, src_write, src_seek, src_close,
                                src_size, no_map, no_unmap, opt);
  TIFFOpenOptionsFree(opt);
  if (!tif)
    return vlp_fail(VLP_ERR_FORMAT, "%s: corrupt TIFF: %s", name,
                    src.msg[0] ? src.msg : "cannot read its header");
  uint32_t w = 0, h = 0;
  tiff_layout L;
  vlp_status st = VLP_OK;
  if (!TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w) || !TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h))
    st = vlp_fail(VLP_ERR_FORMAT, "%s: TIFF without an image size", name);
  if (st == VLP_OK) st = image_check_size(name, "TIFF", w, h);
  if (st == VLP_OK) st = tiff_layout_of(tif, name, &L);
  if (st == VLP_OK) {
    st = image_alloc(out, (int)w, (int)h);
    if (st != VLP_OK) vlp_fail_prefix(st, "%s", name);
  }
  if (st == VLP_OK)
    st = TIFFIsTiled(tif) ? read_tiles(tif, &src, &L, out, name)
                          : read_strips(tif, &src, &L, out, name);
  if (st == VLP_OK) {
    uint16_t o = 0;
    if (TIFFGetField(tif, TIFFTAG_ORIENTATION, &o) && (o == 6 || o == 8)) *orientation = 3;
  } else {
    vlp_image_free(out);
  }
  TIFFClose(tif);
  return st;
}
