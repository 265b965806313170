/* jpeg: JPEG decoding with libjpeg-turbo into 8-bit RGB, as PIL 9.4's JpegImagePlugin +
 * convert("RGB") does: libjpeg defaults (islow IDCT, fancy upsampling), YCbCr/RGB files
 * decoded straight to JCS_RGB, grayscale to L and replicated, 4-component files (CMYK, YCCK)
 * decoded to CMYK and read with PIL's Adobe convention (stored inverted), then PIL's
 * CMYK -> RGB: R = nk - C * nk / 255 rounded, nk = 255 - K (G with M, B with Y).
 * The first APP1 "Exif" segment gives the orientation. libjpeg's fatal errors longjmp back
 * here (it never exits); running out of data is an error, as PIL raises "image file is
 * truncated"; other libjpeg warnings (corrupt data it can skip) are ignored as PIL does. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// clang-format off
#include <jpeglib.h>  // needs stdio.h first
#include <jerror.h>
// clang-format on

#include "core/error.h"
#include "media/decode.h"
#include "media/image.h"

typedef struct {
  struct jpeg_error_mgr mgr;  // first, so the error_mgr pointer is the context
  jmp_buf jmp;
  char msg[JMSG_LENGTH_MAX];
  int too_big;
  int truncated;
} jpeg_err;

static void on_error(j_common_ptr cinfo) {
  jpeg_err *e = (jpeg_err *)cinfo->err;
  if (e->mgr.msg_code == JERR_IMAGE_TOO_BIG) e->too_big = 1;
  e->mgr.format_message(cinfo, e->msg);
  longjmp(e->jmp, 1);
}

/* Warnings: only the premature end of data is fatal (PIL: "image file is truncated"). */
static void on_message(j_common_ptr cinfo, int level) {
  jpeg_err *e = (jpeg_err *)cinfo->err;
  if (level < 0 && e->mgr.msg_code == JWRN_JPEG_EOF) {
    e->truncated = 1;
    longjmp(e->jmp, 1);
  }
}

/* a * b / 255 rounded to nearest, exact for a, b in 0..255. */
static int muldiv255(int a, int b) {
  int t = a * b + 128;
  return ((t >> 8) + t) >> 8;
}

typedef struct {
  struct jpeg_decompress_struct cinfo;
  jpeg_err err;
  uint8_t *row;  // (w * components) one scanline
  vlp_image img;
} jpeg_ctx;

vlp_status jpeg_decode(const uint8_t *data, size_t size, const char *name, vlp_image *out,
                       int *orientation) {
  memset(out, 0, sizeof *out);
  *orientation = 1;
  // Heap context: everything it holds is still valid after a longjmp.
  jpeg_ctx *c = calloc(1, sizeof *c);
  if (!c) return vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", name);
  struct jpeg_decompress_struct *ci = &c->cinfo;
  ci->err = jpeg_std_error(&c->err.mgr);
  c->err.mgr.error_exit = on_error;
  c->err.mgr.emit_message = on_message;
  volatile vlp_status st = VLP_OK;  // volatile: read after a longjmp
  if (setjmp(c->err.jmp)) {
    if (c->err.too_big) {
      st = image_check_size(name, "JPEG", ci->image_width, ci->image_height);
      if (st == VLP_OK) st = vlp_fail(VLP_ERR_UNSUPPORTED, "%s: JPEG too large", name);
    } else if (c->err.truncated) {
      st = vlp_fail(VLP_ERR_FORMAT, "%s: truncated JPEG (the data ends early)", name);
    } else {
      st = vlp_fail(VLP_ERR_FORMAT, "%s: corrupt JPEG: %s", name, c->err.msg);
    }
    goto done;
  }
  jpeg_create_decompress(ci);
  jpeg_mem_src(ci, data, (unsigned long)size);
  jpeg_save_markers(ci, JPEG_APP0 + 1, 0xFFFF);
  if (jpeg_read_header(ci, TRUE) != JPEG_HEADER_OK) {
    st = vlp_fail(VLP_ERR_FORMAT, "%s: JPEG holds no image", name);
    goto done;
  }
  st = image_check_size(name, "JPEG", ci->image_width, ci->image_height);
  if (st != VLP_OK) goto done;
  int comps = ci->num_components;
  if (comps == 1) {
    ci->out_color_space = JCS_GRAYSCALE;
  } else if (comps == 3) {
    ci->out_color_space = JCS_RGB;
  } else if (comps == 4) {
    ci->out_color_space = JCS_CMYK;
  } else {
    st = vlp_fail(VLP_ERR_UNSUPPORTED, "%s: JPEG with %d components is not supported", name, comps);
    goto done;
  }
  for (jpeg_saved_marker_ptr m = ci->marker_list; m; m = m->next) {
    if (m->marker == JPEG_APP0 + 1 && m->data_length >= 6 && !memcmp(m->data, "Exif\0\0", 6)) {
      int o = exif_orientation(m->data, m->data_length);
      *orientation = o > 0 ? o : 1;
      break;
    }
  }
  jpeg_start_decompress(ci);
  int w = (int)ci->output_width, h = (int)ci->output_height, oc = ci->output_components;
  if (oc != (comps == 3 ? 3 : comps) || ci->image_width != ci->output_width ||
      ci->image_height != ci->output_height) {
    st = vlp_fail(VLP_ERR_FORMAT, "%s: unexpected JPEG output layout", name);
    goto done;
  }
  st = image_alloc(&c->img, w, h);
  if (st != VLP_OK) {
    vlp_fail_prefix(st, "%s", name);
    goto done;
  }
  c->row = malloc((size_t)w * oc);
  if (!c->row) {
    st = vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", name);
    goto done;
  }
  while (ci->output_scanline < ci->output_height) {
    uint8_t *d = c->img.rgb + (size_t)ci->output_scanline * w * 3;
    JSAMPROW rows[1] = {c->row};
    if (jpeg_read_scanlines(ci, rows, 1) != 1) {
      st = vlp_fail(VLP_ERR_FORMAT, "%s: truncated JPEG", name);
      goto done;
    }
    const uint8_t *s = c->row;
    for (int x = 0; x < w; x++, d += 3) {
      if (oc == 1) {
        d[0] = d[1] = d[2] = s[x];
      } else if (oc == 3) {
        d[0] = s[3 * x], d[1] = s[3 * x + 1], d[2] = s[3 * x + 2];
      } else {
        // Stored inverted (Adobe): C = 255 - byte, and nk = 255 - K = the K byte.
        int nk = s[4 * x + 3];
        for (int k = 0; k < 3; k++) d[k] = (uint8_t)(nk - muldiv255(255 - s[4 * x + k], nk));
      }
    }
  }
  // No jpeg_finish_decompress: the pixels are complete; a missing EOI is not our concern.

done:
  jpeg_destroy_decompress(ci);
  if (st == VLP_OK) {
    *out = c->img;
  } else {
    vlp_image_free(&c->img);
  }
  free(c->row);
  free(c);
  return st;
}
