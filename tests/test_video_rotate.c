/* test_video_rotate: a phone's portrait clip (display matrix) comes out upright, as ffmpeg's
 * autorotate makes it; a Matroska file whose first timestamp is not 0 is read to its end
 * without a false "truncated"; a start time past the end is an error that says so.
 * The clips are made from the golden slideshow by video_remux (argv[1]), stream copied. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testlib.h"
#include "vlp.h"

static const char *remux;
static char dir[] = "/tmp/vlp-rotate-XXXXXX";

/* Make dir/name from the golden H.264 slideshow; 0 when done. */
static int make(const char *name, const char *src, double rotate, double offset) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "'%s' golden/video/%s '%s/%s' %g %g", remux, src, dir, name, rotate,
           offset);
  return system(cmd);
}

static int first_frame(const char *path, vlp_image *img, double *t) {
  vlp_video *v;
  int got = 0;
  int64_t index;
  if (vlp_video_open(path, NULL, &v)) return -1;
  vlp_status st = vlp_video_next(v, img, t, &index, &got);
  vlp_video_close(v);
  return st || !got ? -1 : 0;
}

/* The whole video sampled once a second: frames counted, the final status. */
static vlp_status read_all(const char *path, const vlp_video_sampling *s, int *frames,
                           double *last_t) {
  vlp_video *v;
  vlp_status st = vlp_video_open(path, s, &v);
  *frames = 0;
  while (!st) {
    vlp_image img;
    int64_t index;
    int got;
    double t;
    st = vlp_video_next(v, &img, &t, &index, &got);
    if (st || !got) break;
    vlp_image_free(&img);
    *last_t = t;
    (*frames)++;
  }
  if (v) vlp_video_close(v);
  return st;
}

static void rotation(double degrees, int quarter_turns_cw) {
  char path[256];
  snprintf(path, sizeof path, "%s/rot%g.mp4", dir, degrees);
  CHECK(make(strrchr(path, '/') + 1, "slideshow_h264.mp4", degrees, 0) == 0);
  vlp_image up = {0}, turned = {0};
  double t0, t1;
  CHECK(first_frame("golden/video/slideshow_h264.mp4", &up, &t0) == 0);
  CHECK(first_frame(path, &turned, &t1) == 0);
  vlp_video *v = NULL;
  if (!vlp_video_open(path, NULL, &v)) {
    vlp_video_info in = vlp_video_get_info(v);
    CHECK(in.width == turned.w && in.height == turned.h); /* info says the upright size */
    vlp_video_close(v);
  }
  int W = up.w, H = up.h, odd = quarter_turns_cw % 2;
  CHECK(turned.w == (odd ? H : W) && turned.h == (odd ? W : H));
  long wrong = 0;
  for (int y = 0; turned.rgb && up.rgb && y < turned.h; y++)
    for (int x = 0; x < turned.w; x++) {
      int sx, sy; /* where the upright pixel comes from in the stored frame */
      if (quarter_turns_cw == 1)
        sx = y, sy = H - 1 - x;
      else if (quarter_turns_cw == 2)
        sx = W - 1 - x, sy = H - 1 - y;
      else
        sx = W - 1 - y, sy = x;
      wrong += memcmp(turned.rgb + 3 * ((size_t)y * turned.w + x),
                      up.rgb + 3 * ((size_t)sy * W + sx), 3) != 0;
    }
  if (wrong) fprintf(stderr, "FAIL: %s: %ld pixels not where autorotate puts them\n", path, wrong);
  CHECK(wrong == 0);
  vlp_image_free(&up);
  vlp_image_free(&turned);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: test_video_rotate PATH/TO/video_remux\n");
    return 2;
  }
  remux = argv[1];
  if (!mkdtemp(dir)) return 2;
  /* av_display_rotation_set(90) stores a matrix whose av_display_rotation_get is -90:
   * autorotate (theta = -get) turns the frame 90 degrees clockwise (transpose=clock);
   * -90 counter-clockwise (transpose=cclock); 180 upside down (hflip + vflip) */
  rotation(90, 1);
  rotation(-90, 3);
  rotation(180, 2);

  /* Matroska starting at 5 s (and WebM at 2.5 s): all 16 s read, no "truncated" */
  vlp_video_sampling every = vlp_video_default_sampling();
  every.mode = VLP_SAMPLE_EVERY;
  every.every = 1;
  const char *mkv[][2] = {{"late.mkv", "slideshow_h264.mp4"}, {"late.webm", "slideshow_vp9.webm"}};
  for (int i = 0; i < 2; i++) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, mkv[i][0]);
    CHECK(make(mkv[i][0], mkv[i][1], 0, i ? 2.5 : 5) == 0);
    int frames = 0;
    double last = -1;
    vlp_status st = read_all(path, &every, &frames, &last);
    if (st) fprintf(stderr, "FAIL: %s: %s\n", path, vlp_last_error());
    CHECK(st == VLP_OK);
    CHECK(frames == 16);
    CHECK(last == 15); /* times count from the first frame */
  }

  /* a start time past the end: an error that says so */
  vlp_video_sampling late = vlp_video_default_sampling();
  late.start = 100;
  int frames = 0;
  double last = -1;
  vlp_status st = read_all("golden/video/slideshow_vp9.webm", &late, &frames, &last);
  CHECK(st != VLP_OK && frames == 0 && strstr(vlp_last_error(), "past the end of the video"));
  late.start = 15.97; /* inside the last frame (15.96 .. 16.0): no error, no frame */
  st = read_all("golden/video/slideshow_vp9.webm", &late, &frames, &last);
  CHECK(st == VLP_OK);

  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "note: could not remove %s\n", dir);
  return test_done();
}
