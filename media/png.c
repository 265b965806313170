/* png: PNG decoding with libpng, row by row, into 8-bit RGB, matching PIL 9.4's PngImagePlugin
 * followed by convert("RGB"):
 *   - gray 1/2/4/8 bit -> L (bit replication) -> RGB by replication; 16-bit gray opens as
 *     mode I and convert("RGB") CLIPS each value to 0..255 (it does not scale);
 *   - other 16-bit modes (RGB, RGBA, LA) keep the high byte (PIL's "*;16B" raw modes);
 *   - alpha (RGBA, LA, tRNS) is dropped, never composited;
 *   - palette images map through PIL's palette, whose entries past the PLTE are a gray ramp
 *     (index i -> (i, i, i));
 *   - interlaced (Adam7) images are deinterlaced by libpng;
 *   - the orientation is what PIL's getexif() reads: the eXIf chunk, else a "Raw profile
 *     type exif" text chunk, else a tiff:Orientation in the "XML:com.adobe.xmp" text.
 * libpng errors longjmp back here; its warnings are swallowed (library code never prints).
 * Like PIL, problems after the image data (truncated trailing chunks) are ignored. */
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "media/decode.h"
#include "media/image.h"

typedef struct {
  const uint8_t *data;
  size_t size, pos;
  char msg[200];
  int truncated;  // the data ended early
  int in_end;     // 1 while reading the chunks after the image data
  uint8_t *row;   // (rowbytes) one decoded row: the only buffer besides the output
  vlp_image img;
} png_ctx;

static void on_error(png_structp png, png_const_charp msg) {
  png_ctx *c = png_get_error_ptr(png);
  snprintf(c->msg, sizeof c->msg, "%s", msg ? msg : "libpng error");
  png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg) {
  (void)png, (void)msg;
}

static void on_read(png_structp png, png_bytep out, size_t n) {
  png_ctx *c = png_get_io_ptr(png);
  if (n > c->size - c->pos) {
    c->truncated = 1;
    png_error(png, "unexpected end of data");
  }
  memcpy(out, c->data + c->pos, n);
  c->pos += n;
}

/* The value of text chunk `key` in info (NULL when absent). */
static const char *text_value(png_structp png, png_infop info, const char *key) {
  png_textp t = NULL;
  int n = 0;
  if (!info || !png_get_text(png, info, &t, &n)) return NULL;
  for (int i = 0; i < n; i++)
    if (t[i].key && t[i].text && !strcmp(t[i].key, key)) return t[i].text;
  return NULL;
}

/* PIL's "Raw profile type exif" text: skip 3 lines, the rest is hex (whitespace ignored).
 * Returns the orientation of the decoded EXIF block, -1 when absent or not valid hex. */
static int raw_profile_orientation(const char *text) {
  for (int line = 0; line < 3; line++) {
    text = strchr(text, '\n');
    if (!text) return -1;
    text++;
  }
  size_t cap = strlen(text) / 2 + 1, n = 0;
  uint8_t *b = malloc(cap);
  if (!b) return -1;
  int hi = -1;
  for (const char *p = text; *p; p++) {
    int v;
    if (*p >= '0' && *p <= '9')
      v = *p - '0';
    else if (*p >= 'a' && *p <= 'f')
      v = *p - 'a' + 10;
    else if (*p >= 'A' && *p <= 'F')
      v = *p - 'A' + 10;
    else if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n' || *p == '\v' || *p == '\f')
      continue;
    else {
      free(b);
      return -1;
    }
    if (hi < 0) {
      hi = v;
    } else {
      b[n++] = (uint8_t)(hi << 4 | v);
      hi = -1;
    }
  }
  int o = exif_orientation(b, n);
  free(b);
  return o;
}

/* The orientation PIL's getexif() gives a PNG: the eXIf chunk, else a "Raw profile type
 * exif" text; when that has no Orientation tag, the XMP text "XML:com.adobe.xmp". */
static int png_orientation(png_structp png, png_infop info, png_infop end_info) {
  int o = -1, have_exif = 0;
#ifdef PNG_eXIf_SUPPORTED
  png_infop infos[2] = {info, end_info};
  for (int i = 0; i < 2 && !have_exif; i++) {
    png_bytep exif = NULL;
    png_uint_32 n = 0;
    if (png_get_eXIf_1(png, infos[i], &n, &exif) && exif && n > 0) {
      o = exif_orientation(exif, n);
      have_exif = 1;
    }
  }
#endif
  if (!have_exif) {
    const char *raw = text_value(png, info, "Raw profile type exif");
    if (!raw) raw = text_value(png, end_info, "Raw profile type exif");
    if (raw) o = raw_profile_orientation(raw);
  }
  if (o < 0) {
    const char *xmp = text_value(png, info, "XML:com.adobe.xmp");
    if (!xmp) xmp = text_value(png, end_info, "XML:com.adobe.xmp");
    if (xmp) o = xmp_orientation(xmp, strlen(xmp));
  }
  return o;
}

/* Turn the pixels x0, x0 + dx, ... of decoded row s (the layout after libpng's transforms)
 * into RGB in row y of the output. */
static void row_to_rgb(png_ctx *c, const uint8_t *s, int y, int x0, int dx, int color_type,
                       int depth, int chans, const uint8_t pal[256][3]) {
  uint8_t *row = c->img.rgb + (size_t)y * c->img.w * 3;
  for (int x = x0; x < c->img.w; x += dx) {
    uint8_t *d = row + (size_t)x * 3;
    if (color_type == PNG_COLOR_TYPE_GRAY && depth == 16) {
      unsigned v = (unsigned)s[2 * x] << 8 | s[2 * x + 1];  // big-endian sample
      d[0] = d[1] = d[2] = (uint8_t)(v > 255 ? 255 : v);    // PIL I -> RGB clips
    } else if (color_type == PNG_COLOR_TYPE_PALETTE) {
      const uint8_t *p = pal[s[x]];
      d[0] = p[0], d[1] = p[1], d[2] = p[2];
    } else if (chans <= 2) {  // gray, gray + alpha
      d[0] = d[1] = d[2] = s[x * chans];
    } else {  // RGB, RGBA
      d[0] = s[x * chans], d[1] = s[x * chans + 1], d[2] = s[x * chans + 2];
    }
  }
}

/* Adam7: first row, row step, first column, column step of each pass. */
static const int adam7[7][4] = {{0, 8, 0, 8}, {0, 8, 4, 8}, {4, 8, 0, 4}, {0, 4, 2, 4},
                                {2, 4, 0, 2}, {0, 2, 1, 2}, {1, 2, 0, 1}};

vlp_status png_decode(const uint8_t *data, size_t size, const char *name, vlp_image *out,
                      int *orientation) {
  memset(out, 0, sizeof *out);
  *orientation = 1;
  // Refuse huge images from the IHDR itself, before libpng reads (or allocates) anything.
  if (size >= 24 && !memcmp(data + 12, "IHDR", 4)) {
    uint32_t w = (uint32_t)data[16] << 24 | (uint32_t)data[17] << 16 | data[18] << 8 | data[19];
    uint32_t h = (uint32_t)data[20] << 24 | (uint32_t)data[21] << 16 | data[22] << 8 | data[23];
    vlp_status st0 = image_check_size(name, "PNG", w, h);
    if (st0 != VLP_OK) return st0;
  }
  // Everything touched after setjmp lives on the heap, so it survives the longjmp intact.
  png_ctx *c = calloc(1, sizeof *c);
  if (!c) return vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", name);
  c->data = data;
  c->size = size;
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, c, on_error, on_warning);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  png_infop end_info = png ? png_create_info_struct(png) : NULL;
  if (!png || !info || !end_info) {
    png_destroy_read_struct(png ? &png : NULL, info ? &info : NULL, end_info ? &end_info : NULL);
    free(c);
    return vlp_fail(VLP_ERR_NOMEM, "%s: out of memory (libpng)", name);
  }
  volatile vlp_status st = VLP_OK;  // volatile: read after a longjmp
  if (setjmp(png_jmpbuf(png))) {
    if (c->in_end) {  // the image is complete; PIL ignores damage after it too
      st = VLP_OK;
      goto done;
    }
    if (c->truncated) {
      st = vlp_fail(VLP_ERR_FORMAT, "%s: truncated PNG (the data ends early)", name);
    } else {
      st = vlp_fail(VLP_ERR_FORMAT, "%s: corrupt PNG: %s", name, c->msg);
    }
    goto done;
  }
  png_set_read_fn(png, c, on_read);
  png_set_benign_errors(png, 1);
  png_set_user_limits(png, VLP_IMAGE_MAX_SIDE, VLP_IMAGE_MAX_SIDE);
  png_read_info(png, info);

  png_uint_32 w = 0, h = 0;
  int depth = 0, color_type = 0, interlace = 0;
  png_get_IHDR(png, info, &w, &h, &depth, &color_type, &interlace, NULL, NULL);
  st = image_check_size(name, "PNG", w, h);
  if (st != VLP_OK) goto done;

  uint8_t pal[256][3];
  if (color_type == PNG_COLOR_TYPE_PALETTE) {
    png_colorp plte = NULL;
    int n = 0;
    uint8_t rgb[256 * 3];
    if (!png_get_PLTE(png, info, &plte, &n) || !plte) n = 0;
    if (n > 256) n = 256;
    for (int i = 0; i < n; i++)
      rgb[3 * i] = plte[i].red, rgb[3 * i + 1] = plte[i].green, rgb[3 * i + 2] = plte[i].blue;
    palette_fill(pal, rgb, n);
    if (depth < 8) png_set_packing(png);  // one index per byte
  } else if (color_type == PNG_COLOR_TYPE_GRAY) {
    if (depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  } else if (depth == 16) {
    png_set_strip_16(png);  // RGB / RGBA / LA: PIL keeps the high byte
  }
  if (interlace != PNG_INTERLACE_NONE) png_set_interlace_handling(png);
  png_read_update_info(png, info);

  int chans = png_get_channels(png, info);
  size_t rowbytes = png_get_rowbytes(png, info);
  size_t min_row = (size_t)w * chans * (color_type == PNG_COLOR_TYPE_GRAY && depth == 16 ? 2 : 1);
  if (chans < 1 || chans > 4 || rowbytes < min_row) {
    st = vlp_fail(VLP_ERR_FORMAT, "%s: unexpected PNG row layout", name);
    goto done;
  }
  st = image_alloc(&c->img, (int)w, (int)h);
  if (st != VLP_OK) {
    vlp_fail_prefix(st, "%s", name);
    goto done;
  }
  // Row by row into the output: memory stays at the output plus one row. An interlaced
  // image is read pass by pass; libpng writes only the pass's own pixels into the row.
  c->row = malloc(rowbytes);
  if (!c->row) {
    st = vlp_fail(VLP_ERR_NOMEM, "%s: out of memory for a %ux%u PNG", name, w, h);
    goto done;
  }
  if (interlace == PNG_INTERLACE_NONE) {
    for (png_uint_32 y = 0; y < h; y++) {
      png_read_row(png, c->row, NULL);
      row_to_rgb(c, c->row, (int)y, 0, 1, color_type, depth, chans, pal);
    }
  } else {
    for (int p = 0; p < 7; p++) {
      for (png_uint_32 y = 0; y < h; y++) {
        png_read_row(png, c->row, NULL);
        if (y >= (png_uint_32)adam7[p][0] && (y - adam7[p][0]) % adam7[p][1] == 0)
          row_to_rgb(c, c->row, (int)y, adam7[p][2], adam7[p][3], color_type, depth, chans, pal);
      }
    }
  }
  c->in_end = 1;
  png_read_end(png, end_info);
  c->in_end = 2;  // trailing chunks read completely

done:
  if (st == VLP_OK) {
    int o = png_orientation(png, info, c->in_end == 2 ? end_info : NULL);
    *orientation = o > 0 ? o : 1;
  }
  png_destroy_read_struct(&png, &info, &end_info);
  if (st == VLP_OK) {
    *out = c->img;
  } else {
    vlp_image_free(&c->img);
  }
  free(c->row);
  free(c);
  return st;
}
