/* sniff: vlp_image_sniff_file — what a file is by its first bytes (PNG / JPEG, another image
 * format vlp does not decode, or not an image), for folder walks that pick images out of
 * other files without decoding them. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "media/image.h"
#include "vlp.h"

/* Image formats vlp recognises but does not decode. */
static int other_image(const uint8_t *d, size_t n) {
  if (n >= 6 && (!memcmp(d, "GIF87a", 6) || !memcmp(d, "GIF89a", 6))) return 1;
  if (n >= 12 && !memcmp(d, "RIFF", 4) && !memcmp(d + 8, "WEBP", 4)) return 1;
  if (n >= 2 && d[0] == 'B' && d[1] == 'M') return 1;
  if (n >= 4 && (!memcmp(d, "II*\0", 4) || !memcmp(d, "MM\0*", 4))) return 1;
  if (n >= 12 && !memcmp(d + 4, "ftyp", 4) &&
      (!memcmp(d + 8, "avif", 4) || !memcmp(d + 8, "avis", 4) || !memcmp(d + 8, "heic", 4) ||
       !memcmp(d + 8, "heix", 4) || !memcmp(d + 8, "mif1", 4)))
    return 1;
  if (n >= 2 && d[0] == 0xFF && d[1] == 0x0A) return 1; /* JPEG XL codestream */
  if (n >= 12 && !memcmp(d, "\0\0\0\x0cJXL \r\n\x87\n", 12)) return 1;
  return 0;
}

int vlp_image_sniff_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    vlp_fail(VLP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    return VLP_SNIFF_UNREADABLE;
  }
  uint8_t head[16];
  size_t n = fread(head, 1, sizeof head, f);
  int bad = ferror(f);
  int err = errno;
  fclose(f);
  if (bad) {
    vlp_fail(VLP_ERR_IO, "%s: cannot read: %s", path, strerror(err));
    return VLP_SNIFF_UNREADABLE;
  }
  if (image_sniff(head, n)) return VLP_SNIFF_IMAGE;
  return other_image(head, n) ? VLP_SNIFF_UNSUPPORTED : VLP_SNIFF_OTHER;
}
