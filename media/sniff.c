/* sniff: vlp_image_sniff_file — what a file is by its first bytes (an image format vlp
 * decodes, another image format, or not an image), for folder walks that pick images out of
 * other files without decoding them. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "media/image.h"
#include "vlp.h"

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
  image_format fmt = image_format_of(head, n, NULL);
  if (fmt == IMAGE_UNKNOWN) return VLP_SNIFF_OTHER;
  return fmt == IMAGE_OTHER ? VLP_SNIFF_UNSUPPORTED : VLP_SNIFF_IMAGE;
}
