/* image: decoding PNG (libpng) and JPEG (libjpeg-turbo) into 8-bit RGB exactly as
 * transformers' load_image does (PIL open -> ImageOps.exif_transpose -> convert("RGB")).
 * The public entry points are vlp_image_load / vlp_image_load_memory in vlp.h. */
#ifndef VLP_MEDIA_IMAGE_H
#define VLP_MEDIA_IMAGE_H

#include "vlp.h"

/* Largest accepted image, in pixels (w * h), and side. Bigger headers are refused before
 * any allocation. */
#define VLP_IMAGE_MAX_PIXELS (1u << 28)
#define VLP_IMAGE_MAX_SIDE 65535

/* 1 when the first bytes look like an image vlp decodes (PNG or JPEG). */
int image_sniff(const uint8_t *data, size_t size);
/* Allocate an image of w x h (checked size). */
vlp_status image_alloc(vlp_image *img, int w, int h);
/* Flip / rotate img in place as EXIF orientation o (2..8) asks (PIL's exif_transpose);
 * 1 or other values leave it as it is. Video frames use it for the display matrix. */
vlp_status image_apply_orientation(vlp_image *img, int o, const char *name);

#endif
