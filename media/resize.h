/* resize: Pillow-exact resampling of 8-bit RGB images (Image.resize with BICUBIC or
 * BILINEAR, reducing_gap=None): separable convolution whose support widens by the scale
 * when downscaling (antialiasing), fixed-point coefficients and rounding back to uint8 as
 * Pillow 9.4 does; and crop. */
#ifndef VLP_MEDIA_RESIZE_H
#define VLP_MEDIA_RESIZE_H

#include "vlp.h"

typedef enum {
  RESAMPLE_NEAREST = 0,
  RESAMPLE_LANCZOS = 1, /* added by media: the other PIL filters, for configs that name them */
  RESAMPLE_BILINEAR = 2,
  RESAMPLE_BICUBIC = 3,
  RESAMPLE_BOX = 4,
  RESAMPLE_HAMMING = 5,
} resample_filter;
/* Values follow PIL's Image.Resampling numbers, as preprocessor_config.json "resample". */

vlp_status image_resize(const vlp_image *src, int w, int h, resample_filter f, vlp_image *dst);
/* The window (left, top, cw, ch) of src resized to w x h, the window inside it: the same
 * pixels as image_resize and then image_crop, but the passes compute only the window's (a
 * center crop of a resized photo: a quarter of the work less for 4:3). */
vlp_status image_resize_window(const vlp_image *src, int w, int h, resample_filter f, int left,
                               int top, int cw, int ch, vlp_image *dst);
/* Crop (left, top, w, h); the box must lie inside src. */
vlp_status image_crop(const vlp_image *src, int left, int top, int w, int h, vlp_image *dst);

#endif
