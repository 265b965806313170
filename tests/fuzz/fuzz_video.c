/* fuzz_video: a video container read from memory (custom AVIOContext): open, then decode
 * and convert up to 6 sampled frames. Any container/codec FFmpeg knows is reachable; the
 * seeds are the golden MP4 (H.264), AVI (MJPEG) and WebM (VP9) clips. */
#include <stdlib.h>

#include "media/video.h"
#include "vlp.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  setenv("VLP_THREADS", "1", 1);  // one decoder thread: reproducible runs
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  vlp_video *v = NULL;
  if (video_open_memory(data, size, "fuzz", NULL, &v) != VLP_OK) return 0;
  vlp_video_info info = vlp_video_get_info(v);
  if (info.width <= 0 || info.height <= 0) abort();
  for (int i = 0; i < 6; i++) {
    vlp_image frame;
    double t;
    int64_t index;
    int got = 0;
    if (vlp_video_next(v, &frame, &t, &index, &got) != VLP_OK || !got) break;
    if (frame.w <= 0 || frame.h <= 0 || !frame.rgb) abort();
    vlp_image_free(&frame);
  }
  vlp_video_close(v);
  return 0;
}
