/* fit: vlp_image_fit — an image resized (and cropped) by a model folder's image processor,
 * kept as 8-bit RGB. Resampling an image that already has the output size is the identity
 * (Pillow's kernels are 1 at 0 and 0 at the other integers), so the model sees the same
 * pixel values whether it gets the original or the fitted image. */
#include "media/preprocess.h"
#include "vlp.h"

vlp_status vlp_image_fit(const char *model_dir, const vlp_image *img, int image_size,
                         vlp_image *out) {
  out->w = out->h = 0;
  out->rgb = NULL;
  char dir[4096]; /* a cache name -> its folder, as every other entry point */
  vlp_status st = vlp_resolve_model(model_dir, dir, sizeof dir);
  if (st) return st;
  prep_config c;
  st = prep_config_load(dir, &c);
  if (st) return st;
  if (image_size > 0) prep_config_set_size(&c, image_size);
  vlp_image resized;
  st = prep_run_u8(&c, img, &resized, out);
  if (st) return st;
  vlp_image_free(&resized);
  return VLP_OK;
}
