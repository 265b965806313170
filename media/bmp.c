/* bmp: our own BMP reader, following PIL 9.4's BmpImagePlugin + convert("RGB"):
 *   - info headers of 12 (OS/2 v1), 40, 64, 108 and 124 bytes; a height whose top byte is
 *     0xFF means top-down rows (PIL's test), otherwise rows are stored bottom-up;
 *   - 1/4/8-bit palette images (BGRX entries, BGR for OS/2 v1; a colour count of 0 means
 *     2^bits; entries past the file's are a gray ramp), uncompressed or RLE8/RLE4 with
 *     PIL's decoder rules (its delta reads two extra bytes, end-of-line pads with index 0,
 *     absolute runs are word-aligned on the file position);
 *   - 16-bit 5-5-5 and 5-6-5 (v * 255 / 31 or / 63, truncated), 24-bit BGR, 32-bit BGRX,
 *     and the bit-field layouts PIL accepts; alpha is dropped.
 * Palette files that PIL would read with a gray mode that does not fit their bit depth
 * (it garbles them) are refused rather than guessed. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "media/decode.h"
#include "media/image.h"

enum { BMP_RAW = 0, BMP_RLE8 = 1, BMP_RLE4 = 2, BMP_BITFIELDS = 3 };

static uint32_t le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static unsigned le16(const uint8_t *p) {
  return (unsigned)(p[0] | p[1] << 8);
}

/* How a row of pixels is laid out. */
typedef enum { PX_INDEX, PX_555, PX_565, PX_BYTES } px_kind;

typedef struct {
  px_kind kind;
  int bits;     // bits per pixel
  int r, g, b;  // PX_BYTES: byte offset of each channel within a pixel
  uint8_t pal[256][3];
} bmp_layout;

/* Byte index (0..3) of an 8-bit channel mask, -1 when not a whole byte. */
static int mask_byte(uint32_t m) {
  for (int i = 0; i < 4; i++)
    if (m == (uint32_t)0xFF << (8 * i)) return i;
  return -1;
}

static void row_to_rgb(const bmp_layout *L, const uint8_t *s, int w, uint8_t *d) {
  for (int x = 0; x < w; x++, d += 3) {
    switch (L->kind) {
      case PX_INDEX: {
        int v = L->bits == 8   ? s[x]
                : L->bits == 4 ? (s[x >> 1] >> (x & 1 ? 0 : 4)) & 15
                               : (s[x >> 3] >> (7 - (x & 7))) & 1;
        memcpy(d, L->pal[v], 3);
        break;
      }
      case PX_555:
      case PX_565: {
        unsigned p = le16(s + 2 * x);
        int g6 = L->kind == PX_565;
        d[0] = (uint8_t)(((p >> (g6 ? 11 : 10)) & 31) * 255 / 31);
        d[1] = (uint8_t)(g6 ? ((p >> 5) & 63) * 255 / 63 : ((p >> 5) & 31) * 255 / 31);
        d[2] = (uint8_t)((p & 31) * 255 / 31);
        break;
      }
      default: {
        const uint8_t *q = s + (size_t)x * (L->bits / 8);
        d[0] = q[L->r], d[1] = q[L->g], d[2] = q[L->b];
      }
    }
  }
}

/* PIL's RLE decoder, writing indices straight into the (bottom-up) image. The output was
 * filled with palette entry 0 beforehand, which is what PIL's zero padding gives. */
static vlp_status decode_rle(const uint8_t *data, size_t size, size_t pos, int rle4,
                             const bmp_layout *L, vlp_image *img, int top_down, const char *name) {
  const size_t W = (size_t)img->w, total = W * img->h;
  size_t n = 0;  // pixels produced so far (PIL's len(data))
  size_t x = 0;  // PIL's x, only used to clip encoded runs
#define PUT(v)                                                           \
  do {                                                                   \
    if (n < total) {                                                     \
      size_t row = n / W, y = top_down ? row : (size_t)img->h - 1 - row; \
      memcpy(img->rgb + (y * W + n % W) * 3, L->pal[(v)], 3);            \
    }                                                                    \
    n++;                                                                 \
  } while (0)
  while (n < total) {
    if (pos > size || size - pos < 2) break;  // pos passes size after a final pad byte
    unsigned count = data[pos], byte = data[pos + 1];
    pos += 2;
    if (count) {  // encoded run
      if (x + count > W) count = x < W ? (unsigned)(W - x) : 0;
      for (unsigned i = 0; i < count; i++) PUT(rle4 ? (i % 2 ? byte & 15 : byte >> 4) : byte);
      x += count;
    } else if (byte == 0) {  // end of line
      while (n % W) n++;
      x = 0;
    } else if (byte == 1) {  // end of bitmap
      break;
    } else if (byte == 2) {  // delta: PIL reads two bytes, then the two it uses
      if (size - pos < 2) break;
      pos += 2;
      if (size - pos < 2)
        return vlp_fail(VLP_ERR_FORMAT, "%s: corrupt BMP (RLE delta past the end)", name);
      size_t right = data[pos], up = data[pos + 1];
      pos += 2;
      n += right + up * W;
      x = n % W;
    } else {  // absolute run of `byte` pixels
      size_t want = rle4 ? byte / 2 : byte, got = size - pos < want ? size - pos : want;
      for (size_t i = 0; i < got; i++) {
        uint8_t b = data[pos + i];
        if (rle4) {
          PUT(b >> 4);
          PUT(b & 15);
        } else {
          PUT(b);
        }
      }
      pos += got;
      if (got < want) break;
      x += byte;
      if (pos % 2) pos++;
    }
  }
#undef PUT
  if (n < total) return vlp_fail(VLP_ERR_FORMAT, "%s: truncated BMP (RLE data ends early)", name);
  return VLP_OK;
}

vlp_status bmp_decode(const uint8_t *data, size_t size, const char *name, vlp_image *out,
                      int *orientation) {
  memset(out, 0, sizeof *out);
  *orientation = 1;
  if (size < 18) return vlp_fail(VLP_ERR_FORMAT, "%s: truncated BMP header", name);
  uint32_t offset = le32(data + 10), hsize = le32(data + 14);
  if (hsize != 12 && hsize != 40 && hsize != 64 && hsize != 108 && hsize != 124)
    return vlp_fail(VLP_ERR_UNSUPPORTED, "%s: unsupported BMP header type (%u)", name, hsize);
  if (size - 14 < hsize) return vlp_fail(VLP_ERR_FORMAT, "%s: truncated BMP header", name);
  const uint8_t *h = data + 18;  // the header after its size field
  size_t at = 14 + hsize;        // what follows the header (masks, palette)
  uint64_t w, ht;
  unsigned bits;
  uint32_t comp = BMP_RAW, colors = 0, pad = 4;
  int top_down = 0;
  uint32_t mask[4] = {0, 0, 0, 0};
  if (hsize == 12) {
    w = le16(h), ht = le16(h + 2), bits = le16(h + 6), pad = 3;
  } else {
    top_down = h[7] == 0xFF;
    w = le32(h);
    ht = top_down ? ((uint64_t)1 << 32) - le32(h + 4) : le32(h + 4);
    bits = le16(h + 10), comp = le32(h + 12), colors = le32(h + 28);
    if (comp == BMP_BITFIELDS) {
      if (hsize >= 52 + 4) {  // the masks are part of the header
        for (int i = 0; i < 4; i++) mask[i] = le32(h + 36 + 4 * i);
      } else {  // 40-byte header: three masks follow it, no alpha
        if (size - at < 12) return vlp_fail(VLP_ERR_FORMAT, "%s: truncated BMP header", name);
        for (int i = 0; i < 3; i++) mask[i] = le32(data + at + 4 * i);
        at += 12;
      }
    }
  }
  if (colors == 0) colors = bits < 32 ? (uint32_t)1 << bits : 0;
  if (offset == 14 + hsize && bits <= 8) offset += 4 * colors;

  bmp_layout L = {.bits = (int)bits};
  if (bits == 1 || bits == 4 || bits == 8) {
    L.kind = PX_INDEX;
  } else if (bits == 16) {
    L.kind = PX_555;
  } else if (bits == 24 || bits == 32) {
    L.kind = PX_BYTES, L.b = 0, L.g = 1, L.r = 2;
  } else {
    return vlp_fail(VLP_ERR_UNSUPPORTED, "%s: unsupported BMP pixel depth (%u)", name, bits);
  }
  if (comp == BMP_BITFIELDS) {
    int ok = 0;
    if (bits == 32) {
      int r = mask_byte(mask[0]), g = mask_byte(mask[1]), b = mask_byte(mask[2]);
      int a = mask[3] ? mask_byte(mask[3]) : -2;
      if (!mask[0] && !mask[1] && !mask[2] && !mask[3]) {
        ok = 1;  // PIL reads all-zero masks as BGRA
      } else if (r >= 0 && g >= 0 && b >= 0 && a != -1 && r != g && g != b && r != b &&
                 ((r == 2 && g == 1 && b == 0 && (a == -2 || a == 3)) ||
                  (r == 3 && g == 2 && b == 1 && (a == -2 || a == 0)) ||
                  (r == 0 && g == 1 && b == 2 && a == 3))) {
        L.r = r, L.g = g, L.b = b, ok = 1;  // BGRX, BGRA, XBGR, ABGR, RGBA
      }
    } else if (bits == 24) {
      ok = mask[0] == 0xFF0000 && mask[1] == 0xFF00 && mask[2] == 0xFF;
    } else if (bits == 16) {
      if (mask[0] == 0xF800 && mask[1] == 0x7E0 && mask[2] == 0x1F) L.kind = PX_565, ok = 1;
      if (mask[0] == 0x7C00 && mask[1] == 0x3E0 && mask[2] == 0x1F) ok = 1;
    }
    if (!ok) return vlp_fail(VLP_ERR_UNSUPPORTED, "%s: unsupported BMP bitfields layout", name);
  } else if (comp == BMP_RLE8 || comp == BMP_RLE4) {
    if (L.kind != PX_INDEX)
      return vlp_fail(VLP_ERR_UNSUPPORTED, "%s: RLE BMP with %u bits per pixel", name, bits);
  } else if (comp != BMP_RAW) {
    return vlp_fail(VLP_ERR_UNSUPPORTED, "%s: unsupported BMP compression (%u)", name, comp);
  }

  if (L.kind == PX_INDEX) {
    if (colors == 0 || colors > 65536)
      return vlp_fail(VLP_ERR_FORMAT, "%s: unsupported BMP palette size (%u)", name, colors);
    if ((size - at) / pad < colors)
      return vlp_fail(VLP_ERR_FORMAT, "%s: truncated BMP palette", name);
    int gray = 1;  // PIL drops a palette that is (0, 255) for 2 colours, else 0, 1, 2, ...
    for (uint32_t i = 0; i < colors && gray; i++) {
      unsigned v = colors == 2 ? (i ? 255 : 0) : i;
      const uint8_t *e = data + at + (size_t)i * pad;
      gray = e[0] == v && e[1] == v && e[2] == v;
    }
    // Gray "1" must be 1-bit data, gray "L" 8-bit (or RLE, which PIL reads as L).
    int rle = comp == BMP_RLE8 || comp == BMP_RLE4;
    if (gray && (colors == 2 ? (bits != 1 || rle) : (bits != 8 && !rle)))
      return vlp_fail(VLP_ERR_UNSUPPORTED,
                      "%s: BMP with a %u-entry gray palette at %u bits per pixel is not supported",
                      name, colors, bits);
    uint8_t rgb[256 * 3];
    int n = colors > 256 ? 256 : (int)colors;
    for (int i = 0; i < n; i++) {
      const uint8_t *e = data + at + (size_t)i * pad;
      rgb[3 * i] = e[2], rgb[3 * i + 1] = e[1], rgb[3 * i + 2] = e[0];
    }
    palette_fill(L.pal, rgb, n);
  }

  vlp_status st = image_check_size(name, "BMP", w, ht);
  if (st != VLP_OK) return st;
  if (offset > size) return vlp_fail(VLP_ERR_FORMAT, "%s: truncated BMP (no pixel data)", name);
  st = image_alloc(out, (int)w, (int)ht);
  if (st != VLP_OK) return vlp_fail_prefix(st, "%s", name);
  if (comp == BMP_RLE8 || comp == BMP_RLE4) {
    size_t npx = (size_t)out->w * out->h;
    for (size_t i = 0; i < npx; i++) memcpy(out->rgb + 3 * i, L.pal[0], 3);
    st = decode_rle(data, size, offset, comp == BMP_RLE4, &L, out, top_down, name);
  } else {
    size_t stride = (((size_t)w * bits + 31) >> 3) & ~(size_t)3;
    if ((size - offset) / stride < ht) {
      st = vlp_fail(VLP_ERR_FORMAT, "%s: truncated BMP (the pixel data ends early)", name);
    } else {
      for (int r = 0; r < out->h; r++) {
        int y = top_down ? r : out->h - 1 - r;
        row_to_rgb(&L, data + offset + (size_t)r * stride, out->w,
                   out->rgb + (size_t)y * out->w * 3);
      }
    }
  }
  if (st != VLP_OK) vlp_image_free(out);
  return st;
}
