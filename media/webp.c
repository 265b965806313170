/* webp: WebP decoding with libwebp into 8-bit RGB, as PIL 9.4's WebPImagePlugin followed by
 * convert("RGB"): PIL renders every file through libwebp's animation decoder (RGBA canvas,
 * alpha then dropped by convert). A still image decodes straight into the RGB output (the
 * same pixels: alpha is a separate plane); an animation gives its first frame on the
 * canvas, outside the frame transparent black -> (0, 0, 0). The orientation comes from the
 * EXIF chunk (PIL's info["exif"]); PIL does not read a WebP's XMP for it. */
#include <stdlib.h>
#include <string.h>
#include <webp/decode.h>
#include <webp/demux.h>

#include "core/error.h"
#include "media/decode.h"
#include "media/image.h"

static int webp_orientation(const WebPData *wd) {
  WebPDemuxer *dmx = WebPDemux(wd);
  if (!dmx) return 1;
  WebPChunkIterator it;
  int o = -1;
  if (WebPDemuxGetChunk(dmx, "EXIF", 1, &it)) {
    o = exif_orientation(it.chunk.bytes, it.chunk.size);
    WebPDemuxReleaseChunkIterator(&it);
  }
  WebPDemuxDelete(dmx);
  return o > 0 ? o : 1;
}

static vlp_status decode_still(const uint8_t *data, size_t size, const char *name, vlp_image *out) {
  WebPDecoderConfig cfg;
  if (!WebPInitDecoderConfig(&cfg))
    return vlp_fail(VLP_ERR_UNSUPPORTED, "%s: libwebp ABI mismatch", name);
  cfg.output.colorspace = MODE_RGB;
  cfg.output.is_external_memory = 1;
  cfg.output.u.RGBA.rgba = out->rgb;
  cfg.output.u.RGBA.stride = out->w * 3;
  cfg.output.u.RGBA.size = (size_t)out->w * out->h * 3;
  VP8StatusCode rc = WebPDecode(data, size, &cfg);
  WebPFreeDecBuffer(&cfg.output);
  if (rc == VP8_STATUS_NOT_ENOUGH_DATA)
    return vlp_fail(VLP_ERR_FORMAT, "%s: truncated WebP (the data ends early)", name);
  if (rc != VP8_STATUS_OK)
    return vlp_fail(VLP_ERR_FORMAT, "%s: corrupt WebP (libwebp status %d)", name, (int)rc);
  return VLP_OK;
}

static vlp_status decode_first_frame(const WebPData *wd, const char *name, vlp_image *out) {
  WebPAnimDecoderOptions opt;
  if (!WebPAnimDecoderOptionsInit(&opt))
    return vlp_fail(VLP_ERR_UNSUPPORTED, "%s: libwebp ABI mismatch", name);
  opt.color_mode = MODE_RGBA;
  opt.use_threads = 0;
  WebPAnimDecoder *dec = WebPAnimDecoderNew(wd, &opt);
  if (!dec) return vlp_fail(VLP_ERR_FORMAT, "%s: corrupt animated WebP", name);
  WebPAnimInfo ai;
  uint8_t *canvas = NULL;
  int ts = 0;
  vlp_status st = VLP_OK;
  if (!WebPAnimDecoderGetInfo(dec, &ai) || (int)ai.canvas_width != out->w ||
      (int)ai.canvas_height != out->h) {
    st = vlp_fail(VLP_ERR_FORMAT, "%s: corrupt animated WebP (canvas size)", name);
  } else if (!WebPAnimDecoderGetNext(dec, &canvas, &ts) || !canvas) {
    st = vlp_fail(VLP_ERR_FORMAT, "%s: corrupt animated WebP (first frame)", name);
  } else {
    size_t n = (size_t)out->w * out->h;
    for (size_t i = 0; i < n; i++) memcpy(out->rgb + 3 * i, canvas + 4 * i, 3);
  }
  WebPAnimDecoderDelete(dec);
  return st;
}

vlp_status webp_decode(const uint8_t *data, size_t size, const char *name, vlp_image *out,
                       int *orientation) {
  memset(out, 0, sizeof *out);
  *orientation = 1;
  WebPBitstreamFeatures ft;
  VP8StatusCode rc = WebPGetFeatures(data, size, &ft);
  if (rc == VP8_STATUS_NOT_ENOUGH_DATA)
    return vlp_fail(VLP_ERR_FORMAT, "%s: truncated WebP (the data ends early)", name);
  if (rc != VP8_STATUS_OK)
    return vlp_fail(VLP_ERR_FORMAT, "%s: corrupt WebP header (libwebp status %d)", name, (int)rc);
  if (ft.width < 0 || ft.height < 0)
    return vlp_fail(VLP_ERR_FORMAT, "%s: corrupt WebP header", name);
  vlp_status st = image_check_size(name, "WebP", (uint64_t)ft.width, (uint64_t)ft.height);
  if (st != VLP_OK) return st;
  st = image_alloc(out, ft.width, ft.height);
  if (st != VLP_OK) return vlp_fail_prefix(st, "%s", name);
  WebPData wd = {data, size};
  st = ft.has_animation ? decode_first_frame(&wd, name, out) : decode_still(data, size, name, out);
  if (st != VLP_OK) {
    vlp_image_free(out);
    return st;
  }
  *orientation = webp_orientation(&wd);
  return VLP_OK;
}
