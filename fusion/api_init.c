/* api_init: vlp_init of vlp.h - the only process-wide settings, made when the program asks. */
#include <stdlib.h>

#include "media/video.h"
#include "vlp.h"

vlp_status vlp_init(const vlp_init_options *o) {
  if (o && o->capture_ffmpeg_log && !getenv("VLP_FFMPEG_LOG")) video_capture_log(1);
  return VLP_OK;
}
