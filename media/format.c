/* format: which image format a file is, from its first bytes (the signatures Pillow's
 * plugins accept), shared by the decoder dispatch (image.c) and vlp_image_sniff_file. */
#include <string.h>

#include "media/image.h"

/* ISO base media "ftyp" brands of HEIF/AVIF still images and sequences. */
static int heif_brand(const uint8_t *b) {
  static const char *const brands[] = {"heic", "heix", "hevc", "hevx", "heim",
                                       "heis", "mif1", "msf1", "avif", "avis"};
  for (size_t i = 0; i < sizeof brands / sizeof brands[0]; i++)
    if (!memcmp(b, brands[i], 4)) return 1;
  return 0;
}

image_format image_format_of(const uint8_t *d, size_t n, const char **name) {
  const char *nm = NULL;
  image_format f = IMAGE_UNKNOWN;
  if (!d) {
  } else if (n >= 8 && !memcmp(d, "\x89PNG\r\n\x1a\n", 8)) {
    f = IMAGE_PNG, nm = "PNG";
  } else if (n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF) {
    f = IMAGE_JPEG, nm = "JPEG";
  } else if (n >= 12 && !memcmp(d, "RIFF", 4) && !memcmp(d + 8, "WEBP", 4)) {
    f = IMAGE_WEBP, nm = "WebP";
  } else if (n >= 6 && (!memcmp(d, "GIF87a", 6) || !memcmp(d, "GIF89a", 6))) {
    f = IMAGE_GIF, nm = "GIF";
  } else if (n >= 2 && d[0] == 'B' && d[1] == 'M') {
    f = IMAGE_BMP, nm = "BMP";
  } else if (n >= 4 && (!memcmp(d, "II*\0", 4) || !memcmp(d, "MM\0*", 4) ||
                        !memcmp(d, "II+\0", 4) || !memcmp(d, "MM\0+", 4))) {
    f = IMAGE_TIFF, nm = "TIFF";
  } else if (n >= 12 && !memcmp(d + 4, "ftyp", 4) && heif_brand(d + 8)) {
    f = IMAGE_HEIF, nm = (!memcmp(d + 8, "avi", 3)) ? "AVIF" : "HEIF";
  } else if ((n >= 2 && d[0] == 0xFF && d[1] == 0x0A) ||
             (n >= 12 && !memcmp(d, "\0\0\0\x0cJXL \r\n\x87\n", 12))) {
    f = IMAGE_OTHER, nm = "JPEG XL";
  } else if (n >= 12 && !memcmp(d, "\0\0\0\x0cjP  \r\n\x87\n", 12)) {
    f = IMAGE_OTHER, nm = "JPEG 2000";
  } else if (n >= 4 && !memcmp(d, "8BPS", 4)) {
    f = IMAGE_OTHER, nm = "PSD";
  } else if (n >= 4 && !memcmp(d, "qoif", 4)) {
    f = IMAGE_OTHER, nm = "QOI";
  } else if (n >= 4 && !memcmp(d, "\0\0\1\0", 4)) {
    f = IMAGE_OTHER, nm = "ICO";
  }
  if (name) *name = nm;
  return f;
}

int image_sniff(const uint8_t *data, size_t size) {
  image_format f = image_format_of(data, size, NULL);
  return f != IMAGE_UNKNOWN && f != IMAGE_OTHER;
}
