/* heif: HEIF (HEVC) and AVIF (AV1) still images with libheif: the primary image, with the
 * container's rotation / mirror / crop applied (libheif's default, what heif-convert and
 * pillow-heif give), decoded to 8-bit interleaved RGB; alpha is dropped and deeper images
 * are reduced to 8 bits by libheif. Pillow 9.4 (the reference's Debian version) cannot open
 * these files at all, so libheif's own decoding is the reference; the EXIF orientation is
 * not applied again (the container's transformations already are). libheif decodes into
 * its own full-size buffer, which is copied out: the one decoder (with animated WebP's
 * canvas) that needs memory for a second copy of the image. */
#include <string.h>

#include "core/error.h"
#include "media/decode.h"
#include "media/heif_lazy.h"
#include "media/image.h"

static vlp_status heif_err(const char *name, const char *what, struct heif_error e) {
  return vlp_fail(
      e.code == heif_error_Unsupported_feature || e.code == heif_error_Unsupported_filetype
          ? VLP_ERR_UNSUPPORTED
          : VLP_ERR_FORMAT,
      "%s: %s HEIF/AVIF: %s", name, what, e.message ? e.message : "libheif error");
}

vlp_status heif_decode(const uint8_t *data, size_t size, const char *name, vlp_image *out,
                       int *orientation) {
  memset(out, 0, sizeof *out);
  *orientation = 1;
  const char *why = "";
  if (heif_load(&why))
    return vlp_fail(VLP_ERR_UNSUPPORTED, "%s: cannot read HEIF/AVIF without libheif: %s", name,
                    why);
  struct heif_context *ctx = heif_context_alloc();
  if (!ctx) return vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", name);
  heif_context_set_maximum_image_size_limit(ctx, VLP_IMAGE_MAX_SIDE);
  struct heif_image_handle *hd = NULL;
  struct heif_image *img = NULL;
  struct heif_decoding_options *opt = NULL;
  vlp_status st = VLP_OK;
  struct heif_error e = heif_context_read_from_memory_without_copy(ctx, data, size, NULL);
  if (e.code != heif_error_Ok) {
    st = heif_err(name, "corrupt", e);
    goto done;
  }
  e = heif_context_get_primary_image_handle(ctx, &hd);
  if (e.code != heif_error_Ok) {
    st = heif_err(name, "no image in", e);
    goto done;
  }
  int w = heif_image_handle_get_width(hd), h = heif_image_handle_get_height(hd);
  int iw = heif_image_handle_get_ispe_width(hd), ih = heif_image_handle_get_ispe_height(hd);
  if (w < 0 || h < 0 || iw < 0 || ih < 0) {
    st = vlp_fail(VLP_ERR_FORMAT, "%s: corrupt HEIF/AVIF (image size)", name);
    goto done;
  }
  // Both the coded size and the displayed one: decoding allocates the coded one.
  st = image_check_size(name, "HEIF/AVIF", (uint64_t)iw, (uint64_t)ih);
  if (st == VLP_OK) st = image_check_size(name, "HEIF/AVIF", (uint64_t)w, (uint64_t)h);
  if (st != VLP_OK) goto done;
  opt = heif_decoding_options_alloc();
  if (!opt) {
    st = vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", name);
    goto done;
  }
  opt->convert_hdr_to_8bit = 1;
  e = heif_decode_image(hd, &img, heif_colorspace_RGB, heif_chroma_interleaved_RGB, opt);
  if (e.code != heif_error_Ok) {
    st = heif_err(name, "cannot decode", e);
    goto done;
  }
  int stride = 0;
  const uint8_t *px = heif_image_get_plane_readonly(img, heif_channel_interleaved, &stride);
  int dw = heif_image_get_width(img, heif_channel_interleaved);
  int dh = heif_image_get_height(img, heif_channel_interleaved);
  if (!px || dw <= 0 || dh <= 0 || stride < dw * 3) {
    st = vlp_fail(VLP_ERR_FORMAT, "%s: corrupt HEIF/AVIF (decoded layout)", name);
    goto done;
  }
  st = image_check_size(name, "HEIF/AVIF", (uint64_t)dw, (uint64_t)dh);
  if (st == VLP_OK) st = image_alloc(out, dw, dh);
  if (st != VLP_OK) goto done;
  for (int y = 0; y < dh; y++)
    memcpy(out->rgb + (size_t)y * dw * 3, px + (size_t)y * stride, (size_t)dw * 3);

done:
  heif_image_release(img);
  heif_decoding_options_free(opt);
  heif_image_handle_release(hd);
  heif_context_free(ctx);
  return st;
}
