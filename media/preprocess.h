/* preprocess: image -> float32 pixel values (3, S, S) as the Hugging Face image processors
 * do, driven by preprocessor_config.json.
 *   BlipImageProcessor: resize to size {height, width} (aspect not kept), rescale, normalise.
 *   CLIPImageProcessor: resize so the shorter side == size.shortest_edge (other side
 *     int(S * long / short), floor), center crop crop_size with top = (H - h) // 2,
 *     left = (W - w) // 2, rescale, normalise.
 *   SiglipImageProcessor: as BlipImageProcessor (resize straight to size, no crop) with
 *     its own defaults (224 x 224, mean = std = 0.5).
 * Rescale: float64(x) * rescale_factor -> float32; normalise in float32: (x - mean) / std. */
#ifndef VLP_MEDIA_PREPROCESS_H
#define VLP_MEDIA_PREPROCESS_H

#include "media/resize.h"
#include "vlp.h"

typedef enum { PREP_RESIZE_EXACT, PREP_SHORTEST_EDGE_CROP } prep_mode;

typedef struct {
  prep_mode mode;
  int resize_h, resize_w; /* PREP_RESIZE_EXACT */
  int shortest_edge;      /* PREP_SHORTEST_EDGE_CROP */
  int crop_h, crop_w;     /* PREP_SHORTEST_EDGE_CROP */
  int do_resize, do_center_crop, do_rescale, do_normalize;
  resample_filter resample;
  double rescale_factor;
  float mean[3], std[3];
} prep_config;

/* Read DIR/preprocessor_config.json (image_processor_type decides the mode; absent fields
 * take the Hugging Face defaults of that processor class). */
vlp_status prep_config_load(const char *model_dir, prep_config *out);
/* Defaults of the processors (used when the file is absent and by tests). */
prep_config prep_config_blip(int size);
prep_config prep_config_clip(int size);
prep_config prep_config_siglip(int size);
/* Change the output size to S x S (--image-size, interpolate_pos_encoding runs). */
void prep_config_set_size(prep_config *c, int size);
/* Output height / width. */
int prep_out_h(const prep_config *c);
int prep_out_w(const prep_config *c);
/* out: (3, out_h, out_w) float32. */
vlp_status prep_run(const prep_config *c, const vlp_image *img, float *out);
/* The intermediate uint8 images, for tests: resized (before crop) and final (after crop). */
vlp_status prep_run_u8(const prep_config *c, const vlp_image *img, vlp_image *resized,
                       vlp_image *final_u8);

#endif
