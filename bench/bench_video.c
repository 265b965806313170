/* bench_video: frames decoded and tagged per second on a 60 s 640x360 clip at 25 fps that
 * the benchmark makes itself with FFmpeg's libraries (libx264 through libavcodec when the
 * build has it, else MPEG-4 part 2, else MJPEG; the encoder used is printed).
 *
 * Reports: decoding every frame to RGB (frames/s), then `--every 1s` and `--fps 5`
 * sampling with zero-shot tagging of each sampled frame (8 labels): sampled frames per
 * second, seconds of video per second, and the split between decoding and the model.
 * The model is the golden clip-tiny by default (its vision tower is tiny, so the numbers
 * are dominated by decoding); give -m CLIP_DIR for a real CLIP folder (e.g. the one
 * `vlp_bench_clip --keep` leaves).
 *
 * usage: vlp_bench_video [-m CLIP_DIR] [--seconds N] [--keep] */
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "vlp.h"

#ifndef VLP_BENCH_GOLDEN
#define VLP_BENCH_GOLDEN "tests/golden"
#endif

enum { W = 640, H = 360, FPS = 25 };

static void die(const char *fmt, const char *a) {
  fprintf(stderr, "bench_video: ");
  fprintf(stderr, fmt, a);
  fputc('\n', stderr);
  exit(1);
}

/* Synthetic content: a moving gradient with a new "shot" (palette) every 5 s and a
 * moving box, so the encoder has motion and cuts to code. */
static void draw(AVFrame *f, int i) {
  int shot = i / (5 * FPS);
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) {
      int v = (x + 2 * i + shot * 37) ^ (y + shot * 11);
      if (x > (i * 4) % W && x < (i * 4) % W + 80 && y > 140 && y < 220) v = 235;
      f->data[0][y * f->linesize[0] + x] = (uint8_t)(16 + (v & 0xff) * 219 / 255);
    }
  for (int y = 0; y < H / 2; y++)
    for (int x = 0; x < W / 2; x++) {
      f->data[1][y * f->linesize[1] + x] = (uint8_t)(64 + (shot * 53 + x / 4) % 128);
      f->data[2][y * f->linesize[2] + x] = (uint8_t)(64 + (shot * 29 + y / 4) % 128);
    }
}

static void write_packets(AVCodecContext *c, AVFormatContext *oc, AVStream *st, AVPacket *pkt) {
  while (avcodec_receive_packet(c, pkt) == 0) {
    if (pkt->duration <= 0) pkt->duration = 1; /* else the MP4 edit list drops the last frame */
    av_packet_rescale_ts(pkt, c->time_base, st->time_base);
    pkt->stream_index = st->index;
    if (av_interleaved_write_frame(oc, pkt) < 0) die("%s: cannot write a packet", oc->url);
  }
}

/* Encode the clip; returns the encoder's name. */
static const char *make_clip(const char *path, int seconds) {
  static const char *const names[] = {"libx264", "mpeg4", "mjpeg"};
  const AVCodec *codec = NULL;
  for (int i = 0; i < 3 && !codec; i++) codec = avcodec_find_encoder_by_name(names[i]);
  if (!codec) die("%s", "no H.264, MPEG-4 or MJPEG encoder in this FFmpeg build");
  AVFormatContext *oc = NULL;
  if (avformat_alloc_output_context2(&oc, NULL, strcmp(codec->name, "mjpeg") ? "mp4" : "avi",
                                     path) < 0)
    die("%s: cannot make an output context", path);
  AVStream *st = avformat_new_stream(oc, NULL);
  AVCodecContext *c = avcodec_alloc_context3(codec);
  if (!st || !c) die("%s", "out of memory");
  c->width = W;
  c->height = H;
  c->time_base = (AVRational){1, FPS};
  c->framerate = (AVRational){FPS, 1};
  c->pix_fmt = strcmp(codec->name, "mjpeg") ? AV_PIX_FMT_YUV420P : AV_PIX_FMT_YUVJ420P;
  c->gop_size = 2 * FPS;
  c->bit_rate = 1500000;
  if (!strcmp(codec->name, "libx264")) av_opt_set(c->priv_data, "preset", "veryfast", 0);
  if (oc->oformat->flags & AVFMT_GLOBALHEADER) c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  if (avcodec_open2(c, codec, NULL) < 0) die("cannot open the %s encoder", codec->name);
  avcodec_parameters_from_context(st->codecpar, c);
  st->time_base = c->time_base;
  if (avio_open(&oc->pb, path, AVIO_FLAG_WRITE) < 0 || avformat_write_header(oc, NULL) < 0)
    die("%s: cannot write", path);
  AVFrame *f = av_frame_alloc();
  AVPacket *pkt = av_packet_alloc();
  f->format = c->pix_fmt;
  f->width = W;
  f->height = H;
  if (!f || !pkt || av_frame_get_buffer(f, 0) < 0) die("%s", "out of memory");
  for (int i = 0; i < seconds * FPS; i++) {
    if (av_frame_make_writable(f) < 0) die("%s", "frame not writable");
    draw(f, i);
    f->pts = i;
    if (avcodec_send_frame(c, f) < 0) die("%s: encoding failed", path);
    write_packets(c, oc, st, pkt);
  }
  avcodec_send_frame(c, NULL);
  write_packets(c, oc, st, pkt);
  av_write_trailer(oc);
  avio_closep(&oc->pb);
  av_frame_free(&f);
  av_packet_free(&pkt);
  avcodec_free_context(&c);
  avformat_free_context(oc);
  return codec->name;
}

typedef struct {
  int frames;
  double wall, decode, model, video_s;
} run_stats;

/* Sample a video; tag each frame when m is given. */
static run_stats run(const char *path, vlp_video_sampling s, vlp_session *m, const float *labels,
                     int L) {
  run_stats r = {0};
  vlp_video *v;
  double t0 = bench_now();
  if (vlp_video_open(path, &s, &v)) die("%s", vlp_last_error());
  int dim = m ? vlp_model_embed_dim(vlp_session_model(m)) : 1;
  float *emb = malloc((size_t)dim * sizeof *emb), scores[64];
  for (;;) {
    vlp_image img;
    double t;
    int64_t idx;
    int got;
    double a = bench_now();
    if (vlp_video_next(v, &img, &t, &idx, &got)) die("%s", vlp_last_error());
    double b = bench_now();
    r.decode += b - a;
    if (!got) break;
    vlp_features *f = NULL;
    if (m && (vlp_encode_images(m, &img, 1, 0, &f) || vlp_tag_scores(m, f, 0, labels, L, scores)))
      die("%s", vlp_last_error());
    vlp_features_free(f);
    r.model += bench_now() - b;
    r.frames++;
    r.video_s = t;
    vlp_image_free(&img);
  }
  vlp_video_info in = vlp_video_get_info(v);
  r.video_s = in.duration > 0 ? in.duration : r.video_s;
  vlp_video_close(v);
  free(emb);
  r.wall = bench_now() - t0;
  return r;
}

static void report(const char *what, run_stats r) {
  printf(
      "%-34s %5d frames in %6.2f s: %8.1f frames/s, %7.1f s of video/s (decode %.2f s, model %.2f "
      "s)\n",
      what, r.frames, r.wall, r.frames / r.wall, r.video_s / r.wall, r.decode, r.model);
}

int main(int argc, char **argv) {
  const char *model = VLP_BENCH_GOLDEN "/models/clip-tiny";
  int seconds = 60, keep = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-m") && i + 1 < argc)
      model = argv[++i];
    else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
      seconds = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--keep"))
      keep = 1;
    else
      die("unknown argument %s (usage: vlp_bench_video [-m CLIP_DIR] [--seconds N] [--keep])",
          argv[i]);
  }
  if (seconds < 1 || seconds > 3600) die("%s", "--seconds takes 1 .. 3600");
  av_log_set_level(AV_LOG_ERROR); /* the encoder's statistics are not the benchmark's output */
  char path[] = "/tmp/vlp_bench_video_XXXXXX.mp4";
  int fd = mkstemps(path, 4);
  if (fd < 0) die("%s", "cannot make a temporary file");
  close(fd);
  double t0 = bench_now();
  const char *enc = make_clip(path, seconds);
  double t_enc = bench_now() - t0;
  printf("clip: %d s, %dx%d, %d fps, encoder %s%s (%.1f s to encode), %s\n", seconds, W, H, FPS,
         enc, strcmp(enc, "libx264") ? " (libx264 not in this build: fallback)" : "", t_enc, path);

  vlp_model *m;
  vlp_session *sess;
  if (vlp_model_load(model, &m) || vlp_session_new(m, NULL, &sess)) die("%s", vlp_last_error());
  if (vlp_model_arch(m) != VLP_ARCH_CLIP) die("%s: not a CLIP model", model);
  printf("model: %s (threads %d)\n", model, vlp_default_threads());
  const char *names[] = {"a photo of a cat.",  "a photo of a dog.",   "a photo of a car.",
                         "a photo of a tree.", "a photo of a house.", "a photo of a person.",
                         "a photo of a boat.", "a photo of food."};
  int L = 8, dim = vlp_model_embed_dim(m);
  float *labels = malloc((size_t)L * (size_t)dim * sizeof *labels);
  if (!labels || vlp_embed_texts(sess, names, L, labels)) die("%s", vlp_last_error());

  vlp_video_sampling s = vlp_video_default_sampling();
  report("decode all frames to RGB", run(path, s, NULL, NULL, 0));
  s.mode = VLP_SAMPLE_EVERY;
  s.every = 1;
  report("--every 1s: decode + tag", run(path, s, sess, labels, L));
  s.mode = VLP_SAMPLE_FPS;
  s.fps = 5;
  report("--fps 5: decode + tag", run(path, s, sess, labels, L));
  s.mode = VLP_SAMPLE_EVERY;
  s.every = 10;
  report("--every 10s (seeks): decode + tag", run(path, s, sess, labels, L));
  s.mode = VLP_SAMPLE_SCENES;
  report("--scenes: decode + tag", run(path, s, sess, labels, L));
  free(labels);
  vlp_session_free(sess);
  vlp_model_free(m);
  if (!keep) unlink(path);
  return 0;
}
