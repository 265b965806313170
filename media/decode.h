/* decode: the private interface between media/image.c and the format decoders
 * (png.c, jpeg.c, webp.c, gif.c, bmp.c, tiff.c, heif.c) and the EXIF reader (exif.c). Each decoder
 * turns a whole file held in memory into 8-bit RGB the way PIL's open + convert("RGB") does, and
 * reports the EXIF orientation it found (only 2..8 mean a change) so image.c can apply it as
 * ImageOps.exif_transpose. */
#ifndef VLP_MEDIA_DECODE_H
#define VLP_MEDIA_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "vlp.h"

/* name is only used in error messages. On failure *out is left empty. */
vlp_status png_decode(const uint8_t *data, size_t size, const char *name, vlp_image *out,
                      int *orientation);
vlp_status jpeg_decode(const uint8_t *data, size_t size, const char *name, vlp_image *out,
                       int *orientation);
vlp_status webp_decode(const uint8_t *data, size_t size, const char *name, vlp_image *out,
                       int *orientation);
vlp_status gif_decode(const uint8_t *data, size_t size, const char *name, vlp_image *out,
                      int *orientation);
vlp_status bmp_decode(const uint8_t *data, size_t size, const char *name, vlp_image *out,
                      int *orientation);
vlp_status tiff_decode(const uint8_t *data, size_t size, const char *name, vlp_image *out,
                       int *orientation);
vlp_status heif_decode(const uint8_t *data, size_t size, const char *name, vlp_image *out,
                       int *orientation);

/* The palette PIL gives a "P" image: entries past the file's own are a gray ramp
 * (index i -> (i, i, i)). Sets all 256 entries from n RGB triples of src (n <= 256). */
void palette_fill(uint8_t pal[256][3], const uint8_t *rgb, int n);

/* The EXIF Orientation tag (0x0112) of a TIFF-structured EXIF block, with or without the
 * leading "Exif\0\0": -1 when absent or unreadable, 0 when present but not a single
 * integer 1..8, else its value. Only 2..8 change the image (exif_transpose). */
int exif_orientation(const uint8_t *data, size_t size);
/* PIL's XMP fallback: the digit after the first tiff:Orientation=" or tiff:Orientation>,
 * -1 when none. */
int xmp_orientation(const char *xmp, size_t size);

/* Refuse sizes above VLP_IMAGE_MAX_PIXELS / VLP_IMAGE_MAX_SIDE (or zero) before allocating. */
vlp_status image_check_size(const char *name, const char *kind, uint64_t w, uint64_t h);

#endif
