/* video_none: vlp_video_* in a build without FFmpeg (cmake -DVLP_WITH_VIDEO=OFF). Opening a
 * video fails with a message that says so; images work as usual. */
#include "core/error.h"
#include "media/video.h"

vlp_status vlp_video_open(const char *path, const vlp_video_sampling *s, vlp_video **out) {
  (void)s;
  if (out) *out = NULL;
  return vlp_fail(VLP_ERR_UNSUPPORTED,
                  "%.200s: this vlp was built without FFmpeg (VLP_WITH_VIDEO=OFF), so it "
                  "cannot read videos",
                  path ? path : "(null)");
}

vlp_video_info vlp_video_get_info(const vlp_video *v) {
  (void)v;
  return (vlp_video_info){0};
}

vlp_status vlp_video_next(vlp_video *v, vlp_image *frame, double *t, int64_t *index, int *got) {
  (void)v, (void)frame, (void)t, (void)index;
  if (got) *got = 0;
  return vlp_fail(VLP_ERR_UNSUPPORTED, "this vlp was built without FFmpeg (VLP_WITH_VIDEO=OFF)");
}

void vlp_video_close(vlp_video *v) {
  (void)v;
}

void video_capture_log(int on) { /* no FFmpeg, no log to capture */
  (void)on;
}
