/* image: decoding image files into 8-bit RGB exactly as transformers' load_image does (PIL
 * open -> ImageOps.exif_transpose -> convert("RGB")): PNG (libpng), JPEG (libjpeg-turbo),
 * WebP (libwebp), GIF (giflib, first frame), BMP (our reader), TIFF (libtiff) and
 * HEIF/AVIF (libheif). The public entry points are vlp_image_load / vlp_image_load_memory
 * in vlp.h. */
#ifndef VLP_MEDIA_IMAGE_H
#define VLP_MEDIA_IMAGE_H

#include "vlp.h"

/* Largest accepted image, in pixels (w * h): Pillow's decompression-bomb limit (it raises
 * above 2 * Image.MAX_IMAGE_PIXELS = 2 * 89478485). Bigger headers are refused before any
 * allocation. Sides are limited too, so w * 3 and friends fit an int everywhere. */
#define VLP_IMAGE_MAX_PIXELS 178956970u
#define VLP_IMAGE_MAX_SIDE 65535

/* An image file format, recognised by its first bytes. */
typedef enum {
  IMAGE_UNKNOWN = 0, /* not an image we know */
  IMAGE_PNG,
  IMAGE_JPEG,
  IMAGE_WEBP,
  IMAGE_GIF,
  IMAGE_BMP,
  IMAGE_TIFF,
  IMAGE_HEIF,  /* HEIF or AVIF (ISO base media file with an image brand) */
  IMAGE_OTHER, /* an image format vlp recognises but does not decode (JPEG XL, ...) */
} image_format;

/* The format of a file from its first bytes (16 are enough); *name (may be NULL) receives
 * a display name such as "WebP" (NULL for IMAGE_UNKNOWN). */
image_format image_format_of(const uint8_t *data, size_t size, const char **name);
/* 1 when the first bytes look like an image vlp decodes. */
int image_sniff(const uint8_t *data, size_t size);
/* Allocate an image of w x h (checked size). */
vlp_status image_alloc(vlp_image *img, int w, int h);
/* Flip / rotate img in place as EXIF orientation o (2..8) asks (PIL's exif_transpose);
 * 1 or other values leave it as it is. Video frames use it for the display matrix. */
vlp_status image_apply_orientation(vlp_image *img, int o, const char *name);

#endif
