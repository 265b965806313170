/* video_sampling: the default sampling of vlp_video_open (vlp.h), the same with or without
 * FFmpeg so option parsing builds either way. */
#include "media/video.h"

vlp_video_sampling vlp_video_default_sampling(void) {
  vlp_video_sampling s = {0};
  s.mode = VLP_SAMPLE_ALL;
  s.every = 1;
  s.fps = 1;
  s.scene_threshold = VIDEO_DEFAULT_SCENE_THRESHOLD;
  s.start = 0;
  s.end = -1;
  return s;
}
