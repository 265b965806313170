/* exif: the orientation PIL 9.4's Image.getexif() reports, which ImageOps.exif_transpose
 * applies: the Orientation tag (0x0112) of IFD0 of an EXIF block (a TIFF header and
 * directory, as in a JPEG APP1 "Exif\0\0" segment or a PNG eXIf chunk), and PIL's XMP
 * fallback (the first `tiff:Orientation="N"` or `tiff:Orientation>N`). Every read is
 * bounds-checked; anything malformed counts as no orientation. */
#include <string.h>

#include "media/decode.h"

static unsigned rd16(const uint8_t *p, int be) {
  return be ? (unsigned)(p[0] << 8 | p[1]) : (unsigned)(p[1] << 8 | p[0]);
}

static uint32_t rd32(const uint8_t *p, int be) {
  return be ? ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3])
            : ((uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0]);
}

int exif_orientation(const uint8_t *data, size_t size) {
  while (size >= 6 && data[0] == 'E' && data[1] == 'x' && data[2] == 'i' && data[3] == 'f' &&
         data[4] == 0 && data[5] == 0) {
    data += 6;
    size -= 6;
  }
  if (size < 8) return -1;
  int be;
  if (data[0] == 'I' && data[1] == 'I') {
    be = 0;
  } else if (data[0] == 'M' && data[1] == 'M') {
    be = 1;
  } else {
    return -1;
  }
  if (rd16(data + 2, be) != 42) return -1;
  uint32_t ifd = rd32(data + 4, be);
  if (ifd > size || size - ifd < 2) return -1;
  unsigned n = rd16(data + ifd, be);
  for (unsigned i = 0; i < n; i++) {
    size_t e = (size_t)ifd + 2 + (size_t)i * 12;  // one 12-byte directory entry
    if (e > size || size - e < 12) return -1;
    const uint8_t *p = data + e;
    if (rd16(p, be) != 0x0112) continue;
    unsigned type = rd16(p + 2, be);
    uint32_t count = rd32(p + 4, be);
    if (count != 1) return 0;  // PIL gets a tuple: present, but matches no orientation
    long v;
    switch (type) {
      case 1:
        v = p[8];
        break;  // BYTE
      case 3:
        v = rd16(p + 8, be);
        break;  // SHORT
      case 8:
        v = (int16_t)rd16(p + 8, be);
        break;  // SSHORT
      case 4:
        v = rd32(p + 8, be);
        break;  // LONG
      case 9:
        v = (int32_t)rd32(p + 8, be);
        break;  // SLONG
      default:
        return 0;
    }
    return (v >= 1 && v <= 8) ? (int)v : 0;
  }
  return -1;
}

int xmp_orientation(const char *xmp, size_t size) {
  static const char key[] = "tiff:Orientation";
  const size_t kn = sizeof key - 1;
  for (size_t i = 0; i + kn < size; i++) {
    if (memcmp(xmp + i, key, kn)) continue;
    const char *p = xmp + i + kn;
    size_t rest = size - i - kn;
    if (rest >= 3 && p[0] == '=' && p[1] == '"' && p[2] >= '0' && p[2] <= '9') return p[2] - '0';
    if (rest >= 2 && p[0] == '>' && p[1] >= '0' && p[1] <= '9') return p[1] - '0';
  }
  return -1;
}
