/* fuzz_image: one image decoder (FUZZ_DECODER, e.g. png_decode, chosen at build time) on
 * arbitrary bytes, then the whole vlp_image_load_memory path (format sniffing, EXIF
 * orientation) on the same bytes. A result must be a well-formed image or an error. */
#include <stdlib.h>
#include <string.h>

#include "media/decode.h"
#include "media/image.h"
#include "vlp.h"

#ifndef FUZZ_DECODER
#error "define FUZZ_DECODER as one of png_decode, jpeg_decode, webp_decode, ..."
#endif

static void check(vlp_status st, vlp_image *img) {
  if (st == VLP_OK) {
    if (!img->rgb || img->w <= 0 || img->h <= 0) abort();
    // Touch the first and last pixel: the whole buffer must be there.
    volatile uint8_t a = img->rgb[0], b = img->rgb[(size_t)img->w * img->h * 3 - 1];
    (void)a, (void)b;
  } else if (img->rgb || !vlp_last_error()[0]) {
    abort();  // an error leaves no image and always says why
  }
  vlp_image_free(img);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  vlp_image img;
  int orientation = 0;
  check(FUZZ_DECODER(data, size, "fuzz", &img, &orientation), &img);
  if (orientation < 1 || orientation > 8) abort();
  check(vlp_image_load_memory(data, size, "fuzz", &img), &img);
  return 0;
}
