/* test_resize: properties of the Pillow-exact resampler that can be checked by hand:
 * constant images stay constant for every filter and odd sizes up and down, a small ramp
 * gives the values Pillow's formulas give (worked out in the comments), upscaled ramps stay
 * monotone, identity is a copy, NEAREST picks centre pixels, crop checks its box; every
 * kernel path gives the same bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/kernels.h"
#include "core/threads.h"
#include "media/image.h"
#include "media/resize.h"
#include "testlib.h"

static vlp_image make(int w, int h, const uint8_t *gray) {
  vlp_image im;
  if (image_alloc(&im, w, h) != VLP_OK) exit(1);
  for (int i = 0; i < w * h; i++) im.rgb[3 * i] = im.rgb[3 * i + 1] = im.rgb[3 * i + 2] = gray[i];
  return im;
}

static void constant_stays_constant(void) {
  static const int sizes[][2] = {{1, 1},  {7, 5},   {13, 3},  {3, 11}, {50, 1},
                                 {1, 50}, {64, 64}, {97, 61}, {2, 2},  {300, 17}};
  static const resample_filter fs[] = {RESAMPLE_BILINEAR, RESAMPLE_BICUBIC, RESAMPLE_LANCZOS,
                                       RESAMPLE_BOX,      RESAMPLE_HAMMING, RESAMPLE_NEAREST};
  const uint8_t levels[] = {0, 1, 127, 200, 254, 255};
  int bad = 0, runs = 0;
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    for (size_t d = 0; d < sizeof sizes / sizeof sizes[0]; d++) {
      for (size_t f = 0; f < sizeof fs / sizeof fs[0]; f++) {
        for (size_t l = 0; l < sizeof levels; l++) {
          vlp_image src, dst;
          if (image_alloc(&src, sizes[s][0], sizes[s][1]) != VLP_OK) exit(1);
          memset(src.rgb, levels[l], (size_t)src.w * src.h * 3);
          if (image_resize(&src, sizes[d][0], sizes[d][1], fs[f], &dst) != VLP_OK) {
            bad++;
          } else {
            runs++;
            if (dst.w != sizes[d][0] || dst.h != sizes[d][1]) bad++;
            for (size_t i = 0; i < (size_t)dst.w * dst.h * 3; i++)
              if (dst.rgb[i] != levels[l]) {
                bad++;
                break;
              }
            vlp_image_free(&dst);
          }
          vlp_image_free(&src);
        }
      }
    }
  }
  CHECK(bad == 0);
  CHECK(runs == 10 * 10 * 6 * 6);
}

static void hand_checked_values(void) {
  vlp_image dst;
  // [0, 255] -> 4 wide, BILINEAR: centres 0.25, 0.75, 1.25, 1.75; output 0 only sees pixel
  // 0 (window (int)(-0.25)..(int)(1.75) = [0, 1)); output 1: 0.75*0 + 0.25*255 = 63.75 -> 64;
  // output 2: 191.25 -> 191; output 3 only pixel 1.
  const uint8_t two[] = {0, 255};
  vlp_image a = make(2, 1, two);
  CHECK(image_resize(&a, 4, 1, RESAMPLE_BILINEAR, &dst) == VLP_OK);
  CHECK(dst.rgb[0] == 0 && dst.rgb[3] == 64 && dst.rgb[6] == 191 && dst.rgb[9] == 255);
  CHECK(dst.rgb[4] == 64 && dst.rgb[5] == 64);  // all channels
  vlp_image_free(&dst);
  // Same vertically (the vertical pass alone).
  vlp_image av = make(1, 2, two);
  CHECK(image_resize(&av, 1, 4, RESAMPLE_BILINEAR, &dst) == VLP_OK);
  CHECK(dst.rgb[0] == 0 && dst.rgb[3] == 64 && dst.rgb[6] == 191 && dst.rgb[9] == 255);
  vlp_image_free(&dst);
  vlp_image_free(&av);
  vlp_image_free(&a);

  // [0, 0, 255, 255] -> 2 wide, BILINEAR (support widened to 2): output 0 centre 1 takes
  // pixels 0..2 with weights .75 .75 .25 -> 255 * .25 / 1.75 = 36.4 -> 36; output 1: 218.6 -> 219.
  const uint8_t four[] = {0, 0, 255, 255};
  a = make(4, 1, four);
  CHECK(image_resize(&a, 2, 1, RESAMPLE_BILINEAR, &dst) == VLP_OK);
  CHECK(dst.rgb[0] == 36 && dst.rgb[3] == 219);
  vlp_image_free(&dst);
  // BICUBIC, same: centre 1, support 4, window (int)(-2.5)..(int)(5.5) -> pixels 0..3 at
  // (x - 1 + .5) / 2 = -.25, .25, .75, 1.25: k(.25) = (1.5*.25 - 2.5)*.0625 + 1 = .8671875,
  // k(.75) = (1.125 - 2.5)*.5625 + 1 = .2265625, k(1.25) = ((-3.75*1.25 + 8)*1.25 - 4)*-.5
  // = -.0703125 -> 255 * (.2265625 - .0703125) / 1.890625 = 21.07 -> 21; by symmetry 234.
  CHECK(image_resize(&a, 2, 1, RESAMPLE_BICUBIC, &dst) == VLP_OK);
  CHECK(dst.rgb[0] == 21 && dst.rgb[3] == 234);
  vlp_image_free(&dst);
  // NEAREST 4 -> 2 picks pixels 1 and 3 (offsets 1.0 and 3.0).
  const uint8_t ramp4[] = {10, 20, 30, 40};
  vlp_image r4 = make(4, 1, ramp4);
  CHECK(image_resize(&r4, 2, 1, RESAMPLE_NEAREST, &dst) == VLP_OK);
  CHECK(dst.rgb[0] == 20 && dst.rgb[3] == 40);
  vlp_image_free(&dst);
  vlp_image_free(&r4);
  vlp_image_free(&a);
}

static void ramps_monotone(void) {
  uint8_t g[37];
  for (int i = 0; i < 37; i++) g[i] = (uint8_t)(i * 7);
  vlp_image a = make(37, 1, g);
  const int outs[] = {5, 11, 36, 38, 73, 101};
  int ok = 1;
  for (int o = 0; o < 6; o++) {
    vlp_image d;
    if (image_resize(&a, outs[o], 3, RESAMPLE_BILINEAR, &d) != VLP_OK) {
      ok = 0;
      continue;
    }
    for (int y = 0; y < 3; y++)
      for (int x = 1; x < d.w; x++) ok &= d.rgb[(y * d.w + x) * 3] >= d.rgb[(y * d.w + x - 1) * 3];
    // every row equal (the input has one row)
    ok &= !memcmp(d.rgb, d.rgb + d.w * 3, (size_t)d.w * 3);
    // ends near the input's ends
    ok &= d.rgb[0] <= 30 && d.rgb[(d.w - 1) * 3] >= 222;
    vlp_image_free(&d);
  }
  CHECK(ok);
  vlp_image_free(&a);
}

static void identity_and_errors(void) {
  uint8_t g[6] = {1, 2, 3, 4, 5, 6};
  vlp_image a = make(3, 2, g), d;
  CHECK(image_resize(&a, 3, 2, RESAMPLE_BICUBIC, &d) == VLP_OK);
  CHECK(d.rgb != a.rgb && !memcmp(d.rgb, a.rgb, 18));
  vlp_image_free(&d);
  CHECK(image_resize(&a, 0, 2, RESAMPLE_BICUBIC, &d) == VLP_ERR_INVALID);
  CHECK(image_resize(&a, 2, 2, (resample_filter)9, &d) == VLP_ERR_INVALID);
  CHECK(image_crop(&a, 1, 0, 2, 2, &d) == VLP_OK);
  CHECK(d.w == 2 && d.h == 2 && d.rgb[0] == 2 && d.rgb[3] == 3 && d.rgb[6] == 5 && d.rgb[9] == 6);
  vlp_image_free(&d);
  CHECK(image_crop(&a, 2, 0, 2, 2, &d) == VLP_ERR_INVALID);
  CHECK(image_crop(&a, 0, -1, 1, 1, &d) == VLP_ERR_INVALID);
  CHECK(image_crop(&a, 0, 0, 0, 1, &d) == VLP_ERR_INVALID);
  vlp_image_free(&a);
}

/* Every kernel path (core/kernels.h: the AVX-512 horizontal pass, the scalar one) gives the
 * same bytes: random images, every filter, sizes down and up, few and many taps. */
static void paths_agree(void) {
  const char *paths[3];
  int np = vk_available(paths, 3);
  const int sizes[][4] = {{640, 480, 299, 224},   {1000, 17, 384, 384},  {17, 1000, 384, 384},
                          {33, 1, 2, 1},          {7, 3, 2, 2},          {2000, 40, 31, 9},
                          {1600, 1200, 224, 168}, {500, 3000, 700, 4000}};
  const resample_filter filters[] = {RESAMPLE_BOX, RESAMPLE_BILINEAR, RESAMPLE_HAMMING,
                                     RESAMPLE_BICUBIC, RESAMPLE_LANCZOS};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    vlp_image src;
    if (image_alloc(&src, sizes[i][0], sizes[i][1]) != VLP_OK) exit(1);
    for (size_t b = 0; b < (size_t)src.w * src.h * 3; b++) src.rgb[b] = (uint8_t)(rand() >> 7);
    for (size_t f = 0; f < sizeof filters / sizeof filters[0]; f++) {
      vlp_image want, got;
      CHECK(vk_force("generic"));
      int prev = threads_enter(1);
      CHECK(image_resize(&src, sizes[i][2], sizes[i][3], filters[f], &want) == VLP_OK);
      threads_leave(prev);
      /* every path, on one thread and split over 3 (large images resize in row ranges) */
      for (int p = 0; p < 2 * np; p++) {
        CHECK(vk_force(paths[p / 2]));
        prev = threads_enter(p % 2 ? 3 : 1);
        CHECK(image_resize(&src, sizes[i][2], sizes[i][3], filters[f], &got) == VLP_OK);
        threads_leave(prev);
        int same = memcmp(got.rgb, want.rgb, (size_t)got.w * got.h * 3) == 0;
        if (!same)
          printf("FAIL path %s threads %d %dx%d -> %dx%d filter %d\n", paths[p / 2], p % 2 ? 3 : 1,
                 src.w, src.h, got.w, got.h, (int)filters[f]);
        CHECK(same);
        vlp_image_free(&got);
      }
      vlp_image_free(&want);
    }
    vlp_image_free(&src);
  }
  printf("paths agree: %d kernel paths\n", np);
}

/* image_resize_window gives the bytes of image_resize then image_crop: windows at the
 * corners, the middle and the whole image, both axes down and up, one axis, NEAREST, a
 * copy; a window outside the image is refused. */
static void window_is_resize_then_crop(void) {
  static const int srcs[][2] = {{640, 480}, {97, 61}, {31, 200}};
  static const int outs[][2] = {{298, 224}, {224, 224}, {150, 300}, {97, 40}};
  static const resample_filter fs[] = {RESAMPLE_BICUBIC, RESAMPLE_BILINEAR, RESAMPLE_LANCZOS,
                                       RESAMPLE_NEAREST};
  int bad = 0, runs = 0;
  for (size_t s = 0; s < sizeof srcs / sizeof srcs[0]; s++) {
    vlp_image src;
    if (image_alloc(&src, srcs[s][0], srcs[s][1]) != VLP_OK) exit(1);
    for (size_t i = 0; i < (size_t)src.w * src.h * 3; i++)
      src.rgb[i] = (uint8_t)((i * 2654435761u) >> 13);
    for (size_t o = 0; o < sizeof outs / sizeof outs[0]; o++)
      for (size_t f = 0; f < sizeof fs / sizeof fs[0]; f++) {
        int w = o == 3 ? src.w : outs[o][0], h = outs[o][1]; /* o = 3: the width kept */
        vlp_image full, want, got;
        if (image_resize(&src, w, h, fs[f], &full) != VLP_OK) exit(1);
        const int wins[][4] = {{0, 0, w, h},
                               {0, 0, w / 2, h / 3},
                               {w - w / 2, h - h / 3, w / 2, h / 3},
                               {(w - w * 3 / 4) / 2, (h - h * 3 / 4) / 2, w * 3 / 4, h * 3 / 4},
                               {w / 3, h / 2, 1, 1}};
        for (int k = 0; k < 5; k++) {
          const int *b = wins[k];
          if (b[2] <= 0 || b[3] <= 0) continue;
          runs++;
          if (image_crop(&full, b[0], b[1], b[2], b[3], &want) != VLP_OK ||
              image_resize_window(&src, w, h, fs[f], b[0], b[1], b[2], b[3], &got) != VLP_OK) {
            bad++;
            continue;
          }
          if (got.w != want.w || got.h != want.h ||
              memcmp(got.rgb, want.rgb, (size_t)want.w * want.h * 3) != 0) {
            printf("  window (%d, %d, %dx%d) of %dx%d -> %dx%d filter %d differs\n", b[0], b[1],
                   b[2], b[3], src.w, src.h, w, h, (int)fs[f]);
            bad++;
          }
          vlp_image_free(&want);
          vlp_image_free(&got);
        }
        vlp_image_free(&full);
      }
    vlp_image d;
    CHECK(image_resize_window(&src, 100, 100, RESAMPLE_BICUBIC, 50, 0, 51, 10, &d) ==
          VLP_ERR_INVALID);
    CHECK(image_resize_window(&src, 100, 100, RESAMPLE_BICUBIC, -1, 0, 10, 10, &d) ==
          VLP_ERR_INVALID);
    vlp_image_free(&src);
  }
  CHECK(bad == 0);
  CHECK(runs == 3 * 4 * 4 * 5);
}

int main(void) {
  window_is_resize_then_crop();
  paths_agree();
  constant_stays_constant();
  hand_checked_values();
  ramps_monotone();
  identity_and_errors();
  return test_done();
}
