/* video_remux: test helper that copies the video stream of IN into OUT (container from OUT's
 * name) without re-encoding, optionally with a display matrix (a phone's rotation) and with
 * every timestamp shifted by an offset (a Matroska whose first timestamp is not 0).
 * usage: video_remux IN OUT ROTATE_DEGREES OFFSET_SECONDS */
#include <libavformat/avformat.h>
#include <libavutil/display.h>
#include <stdio.h>
#include <stdlib.h>

static int fail(const char *what, int err) {
  char msg[AV_ERROR_MAX_STRING_SIZE] = "";
  av_strerror(err, msg, sizeof msg);
  fprintf(stderr, "video_remux: %s: %s\n", what, msg);
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: video_remux IN OUT ROTATE_DEGREES OFFSET_SECONDS\n");
    return 2;
  }
  double rotate = atof(argv[3]), offset = atof(argv[4]);
  AVFormatContext *in = NULL, *out = NULL;
  int ret;
  if ((ret = avformat_open_input(&in, argv[1], NULL, NULL)) < 0) return fail(argv[1], ret);
  if ((ret = avformat_find_stream_info(in, NULL)) < 0) return fail(argv[1], ret);
  int vi = av_find_best_stream(in, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
  if (vi < 0) return fail("no video stream", vi);
  if ((ret = avformat_alloc_output_context2(&out, NULL, NULL, argv[2])) < 0)
    return fail(argv[2], ret);
  AVStream *is = in->streams[vi], *os = avformat_new_stream(out, NULL);
  if (!os) return fail("new stream", AVERROR(ENOMEM));
  if ((ret = avcodec_parameters_copy(os->codecpar, is->codecpar)) < 0) return fail("copy", ret);
  os->codecpar->codec_tag = 0;
  os->time_base = is->time_base;
  if (rotate != 0) {
    int32_t *m = (int32_t *)av_stream_new_side_data(os, AV_PKT_DATA_DISPLAYMATRIX, 9 * 4);
    if (!m) return fail("side data", AVERROR(ENOMEM));
    av_display_rotation_set(m, rotate);
  }
  if ((ret = avio_open(&out->pb, argv[2], AVIO_FLAG_WRITE)) < 0) return fail(argv[2], ret);
  if ((ret = avformat_write_header(out, NULL)) < 0) return fail("header", ret);
  AVPacket *p = av_packet_alloc();
  while (p && av_read_frame(in, p) >= 0) {
    if (p->stream_index == vi) {
      av_packet_rescale_ts(p, is->time_base, os->time_base);
      int64_t shift = (int64_t)(offset / av_q2d(os->time_base) + 0.5);
      if (p->pts != AV_NOPTS_VALUE) p->pts += shift;
      if (p->dts != AV_NOPTS_VALUE) p->dts += shift;
      p->stream_index = 0;
      if ((ret = av_interleaved_write_frame(out, p)) < 0) return fail("write", ret);
    }
    av_packet_unref(p);
  }
  av_packet_free(&p);
  if ((ret = av_write_trailer(out)) < 0) return fail("trailer", ret);
  avio_closep(&out->pb);
  avformat_free_context(out);
  avformat_close_input(&in);
  return 0;
}
