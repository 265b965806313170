/* gif: the first frame of a GIF with giflib, as PIL 9.4's GifImagePlugin + convert("RGB"):
 *   - the canvas is the logical screen, grown to hold the frame if it reaches past it;
 *   - the frame's colours come from its local palette, else the global one; PIL's palette
 *     entries past the file's are a gray ramp, and a file without any palette is mode L
 *     (index i -> (i, i, i)), which the same ramp gives;
 *   - outside the frame the canvas holds index 0, or the transparency index of the frame's
 *     graphic control extension when it has one (PIL fills with it), mapped like any pixel;
 *   - transparency is otherwise ignored: convert("RGB") drops it.
 * Rows go straight into the RGB output, interlaced ones to their place. */
#include <gif_lib.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "media/decode.h"
#include "media/image.h"

typedef struct {
  const uint8_t *data;
  size_t size, pos;
} gif_src;

static int on_read(GifFileType *gif, GifByteType *buf, int n) {
  gif_src *s = gif->UserData;
  size_t left = s->size - s->pos, k = n < 0 ? 0 : (size_t)n;
  if (k > left) k = left;
  memcpy(buf, s->data + s->pos, k);
  s->pos += k;
  return (int)k;
}

static vlp_status gif_error(const char *name, int code) {
  const char *msg = GifErrorString(code);
  if (code == D_GIF_ERR_READ_FAILED || code == D_GIF_ERR_EOF_TOO_SOON)
    return vlp_fail(VLP_ERR_FORMAT, "%s: truncated GIF (the data ends early)", name);
  return vlp_fail(VLP_ERR_FORMAT, "%s: corrupt GIF: %s", name, msg ? msg : "giflib error");
}

/* Skip extensions up to the first image descriptor; *trns receives the transparency index
 * of the last graphic control extension that sets one (-1 when none). */
static int find_first_image(GifFileType *gif, int *trns) {
  *trns = -1;
  for (;;) {
    GifRecordType t;
    if (DGifGetRecordType(gif, &t) != GIF_OK) return 0;
    if (t == IMAGE_DESC_RECORD_TYPE) return DGifGetImageDesc(gif) == GIF_OK;
    if (t == TERMINATE_RECORD_TYPE) {
      gif->Error = D_GIF_ERR_NO_IMAG_DSCR;
      return 0;
    }
    if (t != EXTENSION_RECORD_TYPE) continue;
    int code = 0;
    GifByteType *ext = NULL;
    if (DGifGetExtension(gif, &code, &ext) != GIF_OK) return 0;
    if (code == GRAPHICS_EXT_FUNC_CODE && ext && ext[0] >= 4 && (ext[1] & 1)) *trns = ext[4];
    while (ext)
      if (DGifGetExtensionNext(gif, &ext) != GIF_OK) return 0;
  }
}

vlp_status gif_decode(const uint8_t *data, size_t size, const char *name, vlp_image *out,
                      int *orientation) {
  memset(out, 0, sizeof *out);
  *orientation = 1;
  gif_src src = {data, size, 0};
  int err = 0;
  GifFileType *gif = DGifOpen(&src, on_read, &err);
  if (!gif) return gif_error(name, err);
  vlp_status st = VLP_OK;
  GifPixelType *line = NULL;
  int trns;
  if (!find_first_image(gif, &trns)) {
    st = gif_error(name, gif->Error);
    goto done;
  }
  const GifImageDesc *d = &gif->Image;
  if (d->Left < 0 || d->Top < 0 || d->Width <= 0 || d->Height <= 0) {
    st = vlp_fail(VLP_ERR_FORMAT, "%s: corrupt GIF: empty first frame", name);
    goto done;
  }
  int64_t x1 = (int64_t)d->Left + d->Width, y1 = (int64_t)d->Top + d->Height;
  int64_t W = gif->SWidth > x1 ? gif->SWidth : x1, H = gif->SHeight > y1 ? gif->SHeight : y1;
  st = image_check_size(name, "GIF", (uint64_t)W, (uint64_t)H);
  if (st != VLP_OK) goto done;

  uint8_t pal[256][3], rgb[256 * 3];
  const ColorMapObject *cm = d->ColorMap ? d->ColorMap : gif->SColorMap;
  int n = 0;
  if (cm && cm->Colors) {
    n = cm->ColorCount > 256 ? 256 : cm->ColorCount;
    for (int i = 0; i < n; i++)
      rgb[3 * i] = cm->Colors[i].Red, rgb[3 * i + 1] = cm->Colors[i].Green,
              rgb[3 * i + 2] = cm->Colors[i].Blue;
  }
  palette_fill(pal, rgb, n);

  line = malloc((size_t)d->Width);
  st = line ? image_alloc(out, (int)W, (int)H) : VLP_ERR_NOMEM;
  if (st != VLP_OK) {
    vlp_fail(VLP_ERR_NOMEM, "%s: out of memory for a %lldx%lld GIF", name, (long long)W,
             (long long)H);
    goto done;
  }
  const uint8_t *bg = pal[trns >= 0 ? trns : 0];
  for (size_t i = 0; i < (size_t)W * H; i++) memcpy(out->rgb + 3 * i, bg, 3);

  // Interlaced rows arrive in four passes: every 8th from 0, every 8th from 4, every 4th
  // from 2, every 2nd from 1.
  static const int start[4] = {0, 4, 2, 1}, step[4] = {8, 8, 4, 2};
  int passes = d->Interlace ? 4 : 1;
  for (int p = 0; p < passes; p++) {
    int y0 = d->Interlace ? start[p] : 0, dy = d->Interlace ? step[p] : 1;
    for (int y = y0; y < d->Height; y += dy) {
      if (DGifGetLine(gif, line, d->Width) != GIF_OK) {
        st = gif_error(name, gif->Error);
        goto done;
      }
      uint8_t *o = out->rgb + (((size_t)(d->Top + y) * W) + d->Left) * 3;
      for (int x = 0; x < d->Width; x++) memcpy(o + 3 * x, pal[line[x]], 3);
    }
  }

done:
  if (st != VLP_OK) vlp_image_free(out);
  free(line);
  DGifCloseFile(gif, &err);
  return st;
}
