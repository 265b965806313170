/* test_video: the FFmpeg video adapter (media/video.c) on the golden slideshow videos
 * (H.264 MP4, VP9 WebM, MJPEG AVI; photo i shown for frames 50i .. 50i+49 at 25 fps):
 * timestamps exact to the frame for every sampling mode, the frames are the photos the
 * timeline says (CLIP clip-tiny embedding's argmax over the golden source-frame embeds),
 * the decoded middle frames match the golden embeddings, and damaged / wrong inputs give
 * one clear error naming the file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/npy.h"
#include "media/video.h"
#include "testlib.h"
#include "vlp.h"

#define FPS 25
#define NFRAMES 400
static const char *const videos[] = {"golden/video/slideshow_h264.mp4",
                                     "golden/video/slideshow_vp9.webm",
                                     "golden/video/slideshow_mjpeg.avi"};
static const char *const stems[] = {"slideshow_h264", "slideshow_vp9", "slideshow_mjpeg"};

static vlp_model *clip;
static vlp_session *sess;
static npy_array sources; /* (8, P) */

/* Segment whose source-frame embedding is closest to the image's embedding. */
static int photo_of(const vlp_image *img, float *emb_out) {
  int P = vlp_model_embed_dim(clip);
  float emb[1024];
  if (P > 1024 || vlp_embed_images(sess, img, 1, 0, emb)) return -1;
  if (emb_out) memcpy(emb_out, emb, (size_t)P * sizeof *emb);
  int best = -1;
  double best_s = -2;
  for (int s = 0; s < (int)sources.shape[0]; s++) {
    double dot = 0;
    for (int j = 0; j < P; j++)
      dot += emb[j] * npy_get(&sources, (size_t)s * (size_t)P + (size_t)j);
    if (dot > best_s) best_s = dot, best = s;
  }
  return best;
}

typedef struct {
  int n;
  int64_t idx[NFRAMES + 8];
  double t[NFRAMES + 8];
  int bad_time, bad_photo, photos_checked;
  vlp_status end_status;
  char end_error[512];
} run_result;

/* Run a sampling over a file; check_photos: embed every k-th frame and compare its photo. */
static int run(const char *path, vlp_video_sampling s, run_result *r, int check_photos) {
  memset(r, 0, sizeof *r);
  vlp_video *v;
  if (vlp_video_open(path, &s, &v)) {
    snprintf(r->end_error, sizeof r->end_error, "%s", vlp_last_error());
    return -1;
  }
  for (;;) {
    vlp_image img;
    double t;
    int64_t idx;
    int got;
    vlp_status st = vlp_video_next(v, &img, &t, &idx, &got);
    if (st) {
      r->end_status = st;
      snprintf(r->end_error, sizeof r->end_error, "%s", vlp_last_error());
      break;
    }
    if (!got) break;
    if (r->n < NFRAMES + 8) {
      r->idx[r->n] = idx;
      r->t[r->n] = t;
    }
    r->n++;
    if (fabs(t * FPS - (double)idx) > 1e-6) r->bad_time++;
    if (check_photos && (check_photos == 1 || r->n % check_photos == 1)) {
      r->photos_checked++;
      if (photo_of(&img, NULL) != (int)(idx / 50)) r->bad_photo++;
    }
    vlp_image_free(&img);
  }
  /* after the end, next keeps saying "no more" */
  vlp_image img;
  double t;
  int64_t idx;
  int got = 1;
  CHECK(vlp_video_next(v, &img, &t, &idx, &got) == VLP_OK && !got);
  vlp_video_close(v);
  return 0;
}

/* The frames EVERY / FPS sampling must give: for T_k = start + k * step, the first frame
 * n with n / 25 >= T_k, each frame once, T_k < end. */
static int expected_timed(double start, double step, double end, int64_t *out) {
  int n = 0;
  int64_t last = -1;
  for (int64_t k = 0;; k++) {
    double T = start + (double)k * step;
    if ((end >= 0 && T >= end) || T > 16) break;
    int64_t f = (int64_t)ceil(T * FPS - 1e-6);
    if (f >= NFRAMES || (end >= 0 && (double)f / FPS >= end)) break;
    if (f != last) out[n++] = f;
    last = f;
  }
  return n;
}

static void check_timed(int vi, vlp_sample_mode mode, double param, double start, double end,
                        int photos) {
  vlp_video_sampling s = vlp_video_default_sampling();
  s.mode = mode;
  if (mode == VLP_SAMPLE_EVERY)
    s.every = param;
  else
    s.fps = param;
  s.start = start;
  s.end = end;
  run_result r;
  int64_t want[NFRAMES + 8];
  double step = mode == VLP_SAMPLE_EVERY ? param : 1 / param;
  int nw = expected_timed(start, step, end, want);
  CHECK(run(videos[vi], s, &r, photos) == 0);
  int same = r.n == nw && !r.end_status;
  for (int i = 0; same && i < nw; i++)
    same = r.idx[i] == want[i] && r.t[i] == (double)want[i] / FPS;
  if (!same)
    fprintf(stderr, "  %s %s %g start %g end %g: %d frames (want %d), first %lld (want %lld); %s\n",
            videos[vi], mode == VLP_SAMPLE_EVERY ? "every" : "fps", param, start, end, r.n, nw,
            r.n ? (long long)r.idx[0] : -1LL, nw ? (long long)want[0] : -1LL, r.end_error);
  CHECK(same);
  CHECK(r.bad_time == 0);
  CHECK(r.bad_photo == 0);
}

static void test_all_frames(int vi) {
  run_result r;
  CHECK(run(videos[vi], vlp_video_default_sampling(), &r, 0) == 0);
  CHECK(r.n == NFRAMES);
  CHECK(r.end_status == VLP_OK);
  int exact = 1;
  for (int i = 0; i < r.n && i < NFRAMES; i++) exact &= r.idx[i] == i && r.t[i] == (double)i / FPS;
  CHECK(exact);
  vlp_video *v;
  CHECK(vlp_video_open(videos[vi], NULL, &v) == VLP_OK);
  vlp_video_info in = vlp_video_get_info(v);
  CHECK(in.fps == 25);
  CHECK(fabs(in.duration - 16) < 1e-6);
  CHECK(in.width == (vi == 2 ? 160 : 320) && in.height == (vi == 2 ? 120 : 240));
  vlp_video_close(v);
}

static void test_timed(int vi) {
  check_timed(vi, VLP_SAMPLE_EVERY, 2, 1, -1, 1);   /* t = 1, 3, ..., 15; frames 25, 75, ... */
  check_timed(vi, VLP_SAMPLE_EVERY, 2, 0, -1, 1);   /* photo changes */
  check_timed(vi, VLP_SAMPLE_FPS, 0.5, 0, -1, 1);   /* same as every 2 s */
  check_timed(vi, VLP_SAMPLE_FPS, 5, 0.3, 3, 0);    /* T = 0.3, 0.5, ... -> frames 8, 13, ... */
  check_timed(vi, VLP_SAMPLE_FPS, 30, 0, 2, 0);     /* denser than the video: every frame once */
  check_timed(vi, VLP_SAMPLE_EVERY, 5, 0.5, -1, 1); /* sparse: seeks */
  check_timed(vi, VLP_SAMPLE_EVERY, 3.3, 0.13, 15, 1);
  check_timed(vi, VLP_SAMPLE_EVERY, 0.7, 10.01, -1, 3);

  /* sparse sampling seeks and decodes far fewer frames than the whole video */
  vlp_video_sampling s = vlp_video_default_sampling();
  s.mode = VLP_SAMPLE_EVERY;
  s.every = 5;
  vlp_video *v;
  CHECK(vlp_video_open(videos[vi], &s, &v) == VLP_OK);
  vlp_image img;
  double t;
  int64_t idx;
  int got, n = 0;
  while (vlp_video_next(v, &img, &t, &idx, &got) == VLP_OK && got) {
    n++;
    vlp_image_free(&img);
  }
  CHECK(n == 4);
  CHECK(video_seeks(v) >= 2);
  /* key frames: H.264 at every photo change, MJPEG all; VP9 every 128 frames (5.12 s) */
  fprintf(stderr, "  every 5 s: %d seeks, %lld frames decoded\n", video_seeks(v),
          (long long)video_frames_decoded(v));
  if (vi == 0) CHECK(video_frames_decoded(v) < 200);
  if (vi == 2) CHECK(video_frames_decoded(v) < 20);
  vlp_video_close(v);

  /* max_frames */
  s.every = 1;
  s.max_frames = 3;
  run_result r;
  CHECK(run(videos[vi], s, &r, 0) == 0);
  CHECK(r.n == 3 && r.idx[0] == 0 && r.idx[1] == 25 && r.idx[2] == 50);
}

static void test_keyframes(int vi) {
  vlp_video_sampling s = vlp_video_default_sampling();
  s.mode = VLP_SAMPLE_KEYFRAMES;
  run_result r;
  CHECK(run(videos[vi], s, &r, vi == 2 ? 10 : 1) == 0);
  fprintf(stderr, "  %s: %d key frames\n", videos[vi], r.n);
  CHECK(r.n >= 1 && r.idx[0] == 0);
  CHECK(r.end_status == VLP_OK);
  CHECK(r.bad_time == 0 && r.bad_photo == 0);
  int inc = 1;
  for (int i = 1; i < r.n && i < NFRAMES; i++) inc &= r.idx[i] > r.idx[i - 1];
  CHECK(inc);
  if (vi == 2) CHECK(r.n == NFRAMES); /* MJPEG: every frame is a key frame */
  /* from a start time: only key frames at or after it */
  s.start = 9;
  run_result r2;
  CHECK(run(videos[vi], s, &r2, 0) == 0);
  int after = r2.n > 0;
  for (int i = 0; i < r2.n && i < NFRAMES; i++) after &= r2.idx[i] >= 225;
  CHECK(after);
}

static void test_scenes(int vi) {
  vlp_video_sampling s = vlp_video_default_sampling();
  s.mode = VLP_SAMPLE_SCENES;
  run_result r;
  CHECK(run(videos[vi], s, &r, 1) == 0);
  int ok = r.n == 8 && !r.end_status;
  for (int i = 0; ok && i < 8; i++) ok = r.idx[i] == 50 * i && r.t[i] == 2.0 * i;
  if (!ok) fprintf(stderr, "  %s scenes: %d cuts (%s)\n", videos[vi], r.n, r.end_error);
  CHECK(ok);
  CHECK(r.bad_photo == 0);
  /* from 9 s: the first frame, then the photo changes at 10, 12, 14 s */
  s.start = 9;
  CHECK(run(videos[vi], s, &r, 0) == 0);
  CHECK(r.n == 4 && r.idx[0] == 225 && r.idx[1] == 250 && r.idx[2] == 300 && r.idx[3] == 350);
  /* an end time: frames 388 .. 392 */
  s = vlp_video_default_sampling();
  s.start = 15.5;
  s.end = 15.7;
  CHECK(run(videos[vi], s, &r, 0) == 0);
  CHECK(r.n == 5 && r.idx[0] == 388 && r.idx[4] == 392);
}

/* The middle frame of each segment: golden embeddings (cosine >= 1 - atol 0.02). */
static void test_golden_frames(int vi) {
  int P = vlp_model_embed_dim(clip);
  for (int seg = 0; seg < 8; seg++) {
    vlp_video_sampling s = vlp_video_default_sampling();
    s.start = (50.0 * seg + 25) / FPS;
    s.max_frames = 1;
    vlp_video *v;
    vlp_image img;
    double t;
    int64_t idx;
    int got = 0;
    CHECK(vlp_video_open(videos[vi], &s, &v) == VLP_OK);
    CHECK(vlp_video_next(v, &img, &t, &idx, &got) == VLP_OK && got);
    vlp_video_close(v);
    if (!got) continue;
    CHECK(idx == 50 * seg + 25);
    float emb[1024];
    CHECK(photo_of(&img, emb) == seg);
    vlp_image_free(&img);
    char path[256];
    snprintf(path, sizeof path, "golden/npy/video/%s_seg%02d_embeds.npy", stems[vi], seg);
    npy_array want;
    if (npy_load(path, &want)) {
      CHECK(!"golden embedding readable");
      continue;
    }
    double dot = 0, nw = 0, ng = 0;
    for (int j = 0; j < P && (size_t)j < want.count; j++) {
      double w = npy_get(&want, (size_t)j);
      dot += w * emb[j];
      nw += w * w;
      ng += (double)emb[j] * emb[j];
    }
    double cosv = dot / sqrt(nw * ng);
    if (cosv < 0.98) fprintf(stderr, "  %s segment %d: cosine %.5f\n", videos[vi], seg, cosv);
    CHECK((int)want.count == P && cosv >= 0.98);
    npy_free(&want);
  }
}

/* ---- errors ---------------------------------------------------------------------------- */

static char tmpdir[] = "/tmp/vlp_video_test_XXXXXX";

static char *tmp_path(const char *name) {
  static char buf[4][512];
  static int k;
  char *p = buf[k++ % 4];
  snprintf(p, 512, "%s/%s", tmpdir, name);
  return p;
}

/* Copy the first n bytes of src (all when n < 0), replacing `from` by `to` (same length). */
static void copy_file(const char *src, const char *dst, long n, const char *from, const char *to) {
  FILE *f = fopen(src, "rb"), *g = fopen(dst, "wb");
  CHECK(f && g);
  if (!f || !g) {
    if (f) fclose(f);
    if (g) fclose(g);
    return;
  }
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  if (n < 0 || n > size) n = size;
  char *buf = malloc((size_t)n);
  CHECK(buf && fread(buf, 1, (size_t)n, f) == (size_t)n);
  size_t fl = from ? strlen(from) : 0;
  for (long i = 0; from && i + (long)fl <= n; i++)
    if (!memcmp(buf + i, from, fl)) memcpy(buf + i, to, fl);
  fwrite(buf, 1, (size_t)n, g);
  free(buf);
  fclose(f);
  fclose(g);
}

static void write_bytes(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  CHECK(f != NULL);
  if (!f) return;
  if (n) fwrite(data, 1, n, f);
  fclose(f);
}

/* A valid 0.25 s mono 16-bit 8 kHz WAV of silence: audio only. */
static void write_wav(const char *path) {
  uint8_t h[44 + 4000] = {0};
  uint32_t data = 4000, rate = 8000;
  memcpy(h, "RIFF", 4);
  uint32_t riff = 36 + data;
  memcpy(h + 4, &riff, 4);
  memcpy(h + 8, "WAVEfmt ", 8);
  uint32_t fmt_size = 16, byte_rate = rate * 2;
  uint16_t pcm = 1, ch = 1, align = 2, bits = 16;
  memcpy(h + 16, &fmt_size, 4);
  memcpy(h + 20, &pcm, 2);
  memcpy(h + 22, &ch, 2);
  memcpy(h + 24, &rate, 4);
  memcpy(h + 28, &byte_rate, 4);
  memcpy(h + 32, &align, 2);
  memcpy(h + 34, &bits, 2);
  memcpy(h + 36, "data", 4);
  memcpy(h + 40, &data, 4);
  write_bytes(path, h, sizeof h);
}

static void expect_open_error(const char *path, const char *words) {
  vlp_video *v = NULL;
  vlp_status st = vlp_video_open(path, NULL, &v);
  const char *msg = vlp_last_error();
  int ok = st != VLP_OK && !v && strstr(msg, path) && strstr(msg, words) && !strchr(msg, '\n');
  if (!ok)
    fprintf(stderr, "  %s: status %d, message '%s' (want '%s')\n", path, (int)st, msg, words);
  CHECK(ok);
  vlp_video_close(v);
}

/* A truncated file: the frames before the damage, all exact, then one error naming it. */
static void expect_truncated(const char *path, int min_frames) {
  vlp_video_sampling s = vlp_video_default_sampling();
  run_result r;
  CHECK(run(path, s, &r, 0) == 0);
  int ok = r.n >= min_frames && r.n < NFRAMES && r.end_status == VLP_ERR_FORMAT &&
           strstr(r.end_error, path) && r.bad_time == 0;
  int exact = 1;
  for (int i = 0; i < r.n && i < NFRAMES; i++) exact &= r.idx[i] == i;
  fprintf(stderr, "  %s: %d frames, then: %s\n", path, r.n, r.end_error);
  CHECK(ok && exact);
  /* sparse sampling past the damage ends with the same kind of error */
  s.mode = VLP_SAMPLE_EVERY;
  s.every = 3;
  CHECK(run(path, s, &r, 0) == 0);
  CHECK(r.n >= 1 && r.end_status == VLP_ERR_FORMAT && strstr(r.end_error, path));
}

static void test_errors(void) {
  CHECK(mkdtemp(tmpdir) != NULL);
  char *p;
  copy_file(videos[0], p = tmp_path("cut.mp4"), 70000, NULL, NULL);
  expect_truncated(p, 150);
  copy_file(videos[1], p = tmp_path("cut.webm"), 40000, NULL, NULL);
  expect_truncated(p, 150);
  copy_file(videos[2], p = tmp_path("cut.avi"), 500000, NULL, NULL);
  expect_truncated(p, 150);
  /* cut inside the header: nothing to decode */
  copy_file(videos[0], p = tmp_path("head.mp4"), 3000, NULL, NULL);
  expect_open_error(p, "not a video file");

  write_bytes(p = tmp_path("zero.mp4"), "", 0);
  expect_open_error(p, "empty file");
  const char text[] = "This is not a video, just a text file with an .mp4 name.\n";
  write_bytes(p = tmp_path("text.mp4"), text, sizeof text - 1);
  expect_open_error(p, "not a video file");
  write_wav(p = tmp_path("audio.wav"));
  expect_open_error(p, "no video stream");
  /* the MJPEG AVI with its codec tag changed to one no decoder knows */
  copy_file(videos[2], p = tmp_path("unknown_codec.avi"), -1, "MJPG", "ZZZZ");
  expect_open_error(p, "no decoder for the video codec");
  expect_open_error(tmp_path("missing.mp4"), "cannot open");
  expect_open_error(tmpdir, "folder");

  /* bad sampling parameters */
  vlp_video_sampling s = vlp_video_default_sampling();
  vlp_video *v = NULL;
  s.mode = VLP_SAMPLE_EVERY;
  s.every = 0;
  CHECK(vlp_video_open(videos[0], &s, &v) == VLP_ERR_INVALID && !v);
  s = vlp_video_default_sampling();
  s.start = 5;
  s.end = 4;
  CHECK(vlp_video_open(videos[0], &s, &v) == VLP_ERR_INVALID && !v);
  s = vlp_video_default_sampling();
  s.mode = VLP_SAMPLE_SCENES;
  s.scene_threshold = 2;
  CHECK(vlp_video_open(videos[0], &s, &v) == VLP_ERR_INVALID && !v);

  const char *names[] = {"cut.mp4",  "cut.webm", "cut.avi",   "head.mp4",
                         "zero.mp4", "text.mp4", "audio.wav", "unknown_codec.avi"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) unlink(tmp_path(names[i]));
  rmdir(tmpdir);
}

int main(void) {
  vlp_session_params sp = {.n_threads = 2};
  if (vlp_model_load("golden/models/clip-tiny", &clip) || vlp_session_new(clip, &sp, &sess) ||
      npy_load("golden/npy/video/source_frame_embeds.npy", &sources)) {
    fprintf(stderr, "cannot load clip-tiny / source embeds: %s\n", vlp_last_error());
    return 1;
  }
  CHECK(sources.ndim == 2 && sources.shape[1] == vlp_model_embed_dim(clip));
  for (int vi = 0; vi < 3; vi++) {
    fprintf(stderr, "%s\n", videos[vi]);
    test_all_frames(vi);
    test_timed(vi);
    test_keyframes(vi);
    test_scenes(vi);
    test_golden_frames(vi);
  }
  test_errors();
  npy_free(&sources);
  vlp_session_free(sess);
  vlp_model_free(clip);
  return test_done();
}
