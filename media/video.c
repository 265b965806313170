/* video: frames of a video file through FFmpeg's libraries, in-process (vlp_video_* in
 * vlp.h). libavformat demuxes the best video stream, libavcodec decodes it with the
 * send_packet / receive_frame lifecycle (receive until EAGAIN, drain with a NULL packet at
 * EOF), libswscale converts the sampled frames to RGB24 the way the ffmpeg tool's
 * `-pix_fmt rgb24` does by default. Sampling rules are documented in vlp.h and
 * media/video.h.
 *
 * Damage: a read error, a packet the decoder refuses or a stream that stops early (the
 * last packet ends well before the duration the header announces) is reported once, as an
 * error naming the file, after every frame that could still be decoded was returned. */
#include "media/video.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "core/threads.h"
#include "media/ffmpeg_lazy.h"
#include "media/image.h"

struct vlp_video {
  char *path;
  vlp_video_sampling s;
  vlp_video_info info;
  AVFormatContext *fmt;
  AVCodecContext *dec;
  AVStream *st;
  int si; /* stream index */
  AVPacket *pkt;
  AVFrame *frm;
  struct SwsContext *rgb_sws, *thumb_sws;
  uint8_t thumb_prev[VIDEO_THUMB * VIDEO_THUMB], thumb_cur[VIDEO_THUMB * VIDEO_THUMB];
  int have_prev;
  double tb;         /* seconds per pts tick */
  int64_t t0;        /* pts of the stream start */
  double expect_end; /* seconds the header promises (0: unknown, no truncation check) */
  int orientation;   /* EXIF-style orientation that makes frames upright (1: as stored) */
  /* decoding state */
  int draining, eof;
  int read_err;    /* av_read_frame failure other than EOF */
  int bad_packets; /* packets the decoder refused or the demuxer flagged corrupt */
  double first_bad_t;
  char first_bad[160];
  double last_t;       /* time of the last decoded frame (-1: none yet) */
  double last_pkt_end; /* end time of the last video packet read */
  int64_t decoded;
  int seeks;
  /* sampling state */
  int started;
  int64_t k;        /* next sample number (EVERY / FPS) */
  int64_t seeked_k; /* sample number the last seek was made for */
  int after_seek, reseeked;
  int64_t emitted;
  int done;
  /* reading from memory (video_open_memory) instead of a file */
  AVIOContext *mem_io;
  const uint8_t *mem;
  size_t mem_size, mem_pos;
};

/* ---- FFmpeg's log: library code never prints, so keep the last error line instead ---- */

static _Thread_local char av_last_msg[256];

static void av_log_keep(void *avcl, int level, const char *fmt, va_list vl) {
  (void)avcl;
  if (level > AV_LOG_ERROR) return;
  vsnprintf(av_last_msg, sizeof av_last_msg, fmt, vl);
  size_t n = strlen(av_last_msg);
  while (n && (av_last_msg[n - 1] == '\n' || av_last_msg[n - 1] == '\r')) av_last_msg[--n] = 0;
}

/* vlp_init's choice (-1: none yet): FFmpeg is loaded at the first video, so the choice waits
 * for the next video opened (FFmpeg logs only while it reads one). */
static atomic_int log_choice = -1;

void video_capture_log(int on) {
  atomic_store(&log_choice, on);
}

/* FFmpeg's functions, loaded at the first video (media/ffmpeg_lazy.h). */
static vlp_status ffmpeg_ready(const char *path) {
  const char *why = "";
  if (ffmpeg_load(&why))
    return vlp_fail(VLP_ERR_UNSUPPORTED, "%s: cannot read videos without FFmpeg's libraries: %s",
                    path, why);
  int on = atomic_exchange(&log_choice, -1);
  if (on >= 0) av_log_set_callback(on ? av_log_keep : av_log_default_callback);
  return VLP_OK;
}

static const char *av_msg(int err, char *buf, size_t size) {
  av_strerror(err, buf, size);
  return buf;
}

/* ---- small helpers ------------------------------------------------------------------- */

double video_thumb_diff(const uint8_t *a, const uint8_t *b, int n) {
  int64_t sum = 0;
  for (int i = 0; i < n; i++) sum += a[i] > b[i] ? a[i] - b[i] : b[i] - a[i];
  return n > 0 ? (double)sum / (255.0 * n) : 0;
}

int64_t video_frames_decoded(const vlp_video *v) {
  return v->decoded;
}
int video_seeks(const vlp_video *v) {
  return v->seeks;
}

vlp_video_info vlp_video_get_info(const vlp_video *v) {
  return v->info;
}

static double q2d_or0(AVRational q) {
  return q.num > 0 && q.den > 0 ? av_q2d(q) : 0;
}

static void note_bad(vlp_video *v, double t, const char *what) {
  if (!v->bad_packets++) {
    v->first_bad_t = t;
    snprintf(v->first_bad, sizeof v->first_bad, "%s", what);
  }
}

/* Time of a pts in seconds from the stream start. */
static double pts_time(const vlp_video *v, int64_t pts) {
  /* (d * num) / den: one rounding, so pts 512 n in 1/12800 gives exactly n / 25.0 */
  AVRational tb = v->st->time_base;
  return (double)(pts - v->t0) * tb.num / tb.den;
}

/* ---- open / close ---------------------------------------------------------------------- */

static vlp_status check_sampling(const char *path, const vlp_video_sampling *s) {
  if (s->mode < VLP_SAMPLE_ALL || s->mode > VLP_SAMPLE_SCENES)
    return vlp_fail(VLP_ERR_INVALID, "%s: unknown sampling mode %d", path, (int)s->mode);
  if (s->mode == VLP_SAMPLE_EVERY && !(s->every > 0 && isfinite(s->every)))
    return vlp_fail(VLP_ERR_INVALID, "%s: sampling interval must be > 0 seconds", path);
  if (s->mode == VLP_SAMPLE_FPS && !(s->fps > 0 && isfinite(s->fps)))
    return vlp_fail(VLP_ERR_INVALID, "%s: sampling rate must be > 0 frames per second", path);
  if (s->mode == VLP_SAMPLE_SCENES && !(s->scene_threshold >= 0 && s->scene_threshold <= 1))
    return vlp_fail(VLP_ERR_INVALID, "%s: scene threshold must be in 0..1", path);
  if (!(s->start >= 0 && isfinite(s->start)))
    return vlp_fail(VLP_ERR_INVALID, "%s: start time must be >= 0", path);
  if (!isfinite(s->end) || (s->end >= 0 && s->end <= s->start))
    return vlp_fail(VLP_ERR_INVALID, "%s: end time must be after the start time", path);
  if (s->max_frames < 0) return vlp_fail(VLP_ERR_INVALID, "%s: max frames must be >= 0", path);
  return VLP_OK;
}

/* The video stream to decode: libavformat's best one unless it is a cover picture. */
static int pick_stream(AVFormatContext *fmt) {
  int best = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
  if (best >= 0 && !(fmt->streams[best]->disposition & AV_DISPOSITION_ATTACHED_PIC)) return best;
  for (unsigned i = 0; i < fmt->nb_streams; i++) {
    const AVStream *st = fmt->streams[i];
    if (st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO &&
        !(st->disposition & AV_DISPOSITION_ATTACHED_PIC))
      return (int)i;
  }
  return -1;
}

/* The display matrix of a stream (a phone's portrait video) as the EXIF orientation that
 * turns its frames upright, as the ffmpeg tool's autorotate does: the clockwise angle,
 * rounded to a quarter turn, becomes transpose=clock (90), hflip+vflip (180) or
 * transpose=cclock (270). */
static int display_orientation(const AVStream *st) {
  size_t size = 0;
  const uint8_t *m = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, &size);
  if (!m || size < 9 * sizeof(int32_t)) return 1;
  double theta = -av_display_rotation_get((const int32_t *)m);
  if (!isfinite(theta)) return 1;
  theta -= 360 * floor(theta / 360 + 0.9 / 360);
  if (fabs(theta - 90) < 1) return 6;  /* rotate 90 degrees clockwise */
  if (fabs(theta - 180) < 1) return 3; /* rotate 180 */
  if (fabs(theta - 270) < 1) return 8; /* rotate 90 degrees counter-clockwise */
  return 1;
}

static vlp_status open_stream(vlp_video *v) {
  const char *path = v->path;
  char eb[AV_ERROR_MAX_STRING_SIZE];
  av_last_msg[0] = 0;
  if (v->mem_io) {  // custom I/O: the demuxer reads through v->mem_io
    if (!(v->fmt = avformat_alloc_context()))
      return vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", path);
    v->fmt->pb = v->mem_io;
    v->fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
  }
  int ret = avformat_open_input(&v->fmt, v->mem_io ? NULL : path, NULL, NULL);
  if (ret < 0)
    return vlp_fail(ret == AVERROR(ENOENT) || ret == AVERROR(EACCES) ? VLP_ERR_IO : VLP_ERR_FORMAT,
                    "%s: not a video file FFmpeg can read (%s%s%s)", path,
                    av_msg(ret, eb, sizeof eb), av_last_msg[0] ? ": " : "", av_last_msg);
  if ((ret = avformat_find_stream_info(v->fmt, NULL)) < 0)
    return vlp_fail(VLP_ERR_FORMAT, "%s: cannot read the stream information (%s)", path,
                    av_msg(ret, eb, sizeof eb));
  v->si = pick_stream(v->fmt);
  if (v->si < 0) {
    int audio = 0;
    for (unsigned i = 0; i < v->fmt->nb_streams; i++)
      audio += v->fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_AUDIO;
    return vlp_fail(VLP_ERR_UNSUPPORTED, "%s: no video stream (%s file with %u stream%s, %d audio)",
                    path, v->fmt->iformat->name, v->fmt->nb_streams,
                    v->fmt->nb_streams == 1 ? "" : "s", audio);
  }
  v->st = v->fmt->streams[v->si];
  const AVCodecParameters *par = v->st->codecpar;
  const AVCodec *codec = avcodec_find_decoder(par->codec_id);
  if (!codec) {
    char tag[AV_FOURCC_MAX_STRING_SIZE] = "";
    if (par->codec_tag) av_fourcc_make_string(tag, par->codec_tag);
    return vlp_fail(
        VLP_ERR_UNSUPPORTED, "%s: no decoder for the video codec '%s'%s%s%s in this FFmpeg build",
        path, avcodec_get_name(par->codec_id), tag[0] ? " (fourcc " : "", tag, tag[0] ? ")" : "");
  }
  if (!(v->dec = avcodec_alloc_context3(codec)))
    return vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", path);
  if ((ret = avcodec_parameters_to_context(v->dec, par)) < 0)
    return vlp_fail(VLP_ERR_FORMAT, "%s: bad codec parameters (%s)", path,
                    av_msg(ret, eb, sizeof eb));
  v->dec->pkt_timebase = v->st->time_base;
  int threads = vlp_threads_current();
  v->dec->thread_count = threads > 8 ? 8 : threads < 1 ? 1 : threads;
  if (v->s.mode == VLP_SAMPLE_KEYFRAMES) v->dec->skip_frame = AVDISCARD_NONKEY;
  if ((ret = avcodec_open2(v->dec, codec, NULL)) < 0)
    return vlp_fail(VLP_ERR_UNSUPPORTED, "%s: cannot open the %s decoder (%s)", path, codec->name,
                    av_msg(ret, eb, sizeof eb));
  if (par->width <= 0 || par->height <= 0 ||
      (int64_t)par->width * par->height > VLP_IMAGE_MAX_PIXELS)
    return vlp_fail(VLP_ERR_FORMAT, "%s: bad video size %dx%d", path, par->width, par->height);
  if (!(v->pkt = av_packet_alloc()) || !(v->frm = av_frame_alloc()))
    return vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", path);

  v->tb = av_q2d(v->st->time_base);
  if (!(v->tb > 0)) return vlp_fail(VLP_ERR_FORMAT, "%s: bad stream time base", path);
  v->t0 = v->st->start_time != AV_NOPTS_VALUE ? v->st->start_time : 0;
  /* The frame rate for frame numbers: the average rate, or the stream's base rate when the
   * two nearly agree (the average is estimated from a duration that edit lists or a short
   * last frame can skew; the base rate of a constant-rate stream is exact). */
  double fps = q2d_or0(v->st->avg_frame_rate), base = q2d_or0(v->st->r_frame_rate);
  if (!(fps > 0) || (base > 0 && fabs(fps - base) < 0.02 * base)) fps = base;
  double dur = 0;
  if (v->st->duration != AV_NOPTS_VALUE && v->st->duration > 0) {
    dur = (double)v->st->duration * v->tb;
    v->expect_end = dur;
  } else if (v->fmt->duration != AV_NOPTS_VALUE && v->fmt->duration > 0) {
    dur = (double)v->fmt->duration / AV_TIME_BASE;
    /* Matroska's duration counts from timestamp 0, not from the first frame: a file whose
     * first timestamp is 5 s and whose duration says 21 s has 16 s of frames */
    double first = v->st->start_time != AV_NOPTS_VALUE ? (double)v->st->start_time * v->tb : 0;
    if (first > 0 && dur > first && strstr(v->fmt->iformat->name, "matroska")) dur -= first;
    /* The container's duration covers every stream: trust it for the video only when the
     * video is alone and the duration was not guessed from the bitrate. */
    if (v->fmt->nb_streams == 1 &&
        v->fmt->duration_estimation_method != AVFMT_DURATION_FROM_BITRATE)
      v->expect_end = dur;
  }
  v->orientation = display_orientation(v->st);
  int turned = v->orientation >= 5; /* a quarter turn: width and height exchange */
  v->info.width = turned ? par->height : par->width;
  v->info.height = turned ? par->width : par->height;
  v->info.fps = fps;
  v->info.duration = dur;
  v->info.codec = codec->name;
  return VLP_OK;
}

vlp_status vlp_video_open(const char *path, const vlp_video_sampling *s, vlp_video **out) {
  *out = NULL;
  if (!path) return vlp_fail(VLP_ERR_INVALID, "video: no path");
  vlp_video_sampling def = vlp_video_default_sampling();
  if (!s) s = &def;
  vlp_status st = check_sampling(path, s);
  if (st) return st;
  struct stat sb;
  if (stat(path, &sb)) return vlp_fail(VLP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  if (S_ISDIR(sb.st_mode)) return vlp_fail(VLP_ERR_IO, "%s: is a folder, not a video file", path);
  if (S_ISREG(sb.st_mode) && sb.st_size == 0)
    return vlp_fail(VLP_ERR_FORMAT, "%s: empty file (0 bytes)", path);
  if ((st = ffmpeg_ready(path))) return st;
  vlp_video *v = calloc(1, sizeof *v);
  if (!v || !(v->path = strdup(path))) {
    free(v);
    return vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", path);
  }
  v->s = *s;
  v->last_t = -1;
  v->seeked_k = -1;
  if ((st = open_stream(v))) {
    vlp_video_close(v);
    return st;
  }
  *out = v;
  return VLP_OK;
}

void vlp_video_close(vlp_video *v) {
  if (!v) return;
  if (v->mem_io) {  // after the format context, which may still read through it
    avformat_close_input(&v->fmt);
    av_freep(&v->mem_io->buffer);
    avio_context_free(&v->mem_io);
  }
  sws_freeContext(v->rgb_sws);
  sws_freeContext(v->thumb_sws);
  av_frame_free(&v->frm);
  av_packet_free(&v->pkt);
  avcodec_free_context(&v->dec);
  avformat_close_input(&v->fmt);
  free(v->path);
  free(v);
}

/* ---- videos held in memory ------------------------------------------------------------ */

static int mem_read(void *opaque, uint8_t *buf, int n) {
  vlp_video *v = opaque;
  size_t left = v->mem_size - v->mem_pos, k = n < 0 ? 0 : (size_t)n;
  if (k > left) k = left;
  if (k == 0) return AVERROR_EOF;
  memcpy(buf, v->mem + v->mem_pos, k);
  v->mem_pos += k;
  return (int)k;
}

static int64_t mem_seek(void *opaque, int64_t off, int whence) {
  vlp_video *v = opaque;
  if (whence == AVSEEK_SIZE) return (int64_t)v->mem_size;
  int64_t base = (whence & 3) == SEEK_CUR   ? (int64_t)v->mem_pos
                 : (whence & 3) == SEEK_END ? (int64_t)v->mem_size
                                            : 0;
  if ((off > 0 && base > INT64_MAX - off) || base + off < 0 || base + off > (int64_t)v->mem_size)
    return AVERROR(EINVAL);
  v->mem_pos = (size_t)(base + off);
  return (int64_t)v->mem_pos;
}

vlp_status video_open_memory(const uint8_t *data, size_t size, const char *name,
                             const vlp_video_sampling *s, vlp_video **out) {
  *out = NULL;
  if (!name) name = "<memory>";
  vlp_video_sampling def = vlp_video_default_sampling();
  if (!s) s = &def;
  vlp_status st = check_sampling(name, s);
  if (st) return st;
  if (!data || size == 0) return vlp_fail(VLP_ERR_FORMAT, "%s: empty file (0 bytes)", name);
  if ((st = ffmpeg_ready(name))) return st;
  vlp_video *v = calloc(1, sizeof *v);
  if (!v || !(v->path = strdup(name))) {
    free(v);
    return vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", name);
  }
  v->s = *s;
  v->last_t = -1;
  v->seeked_k = -1;
  v->mem = data;
  v->mem_size = size;
  const int bufsize = 1 << 16;
  uint8_t *buf = av_malloc(bufsize);
  if (buf) v->mem_io = avio_alloc_context(buf, bufsize, 0, v, mem_read, NULL, mem_seek);
  if (!v->mem_io) {
    av_free(buf);
    vlp_video_close(v);
    return vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", name);
  }
  if ((st = open_stream(v))) {
    vlp_video_close(v);
    return st;
  }
  *out = v;
  return VLP_OK;
}

/* ---- decoding ------------------------------------------------------------------------ */

/* Seek (back to the key frame at or before T), then decode forward from there. A failed
 * seek is not an error: decoding simply goes on from where it is. */
static void seek_to(vlp_video *v, double T) {
  int64_t ts = v->t0 + (int64_t)floor((T > 0 ? T - VIDEO_TIME_EPS : 0) / v->tb);
  if (T <= 0) ts = v->t0;
  if (av_seek_frame(v->fmt, v->si, ts, AVSEEK_FLAG_BACKWARD) < 0) return;
  avcodec_flush_buffers(v->dec);
  v->draining = v->eof = 0;
  v->after_seek = 1;
  v->seeks++;
}

/* Whether seeking to T would skip decoding work: the key frame at or before T (from the
 * demuxer's index) lies after the last decoded frame. No index entry: assume it does. */
static int keyframe_ahead(const vlp_video *v, double T) {
  if (v->last_t < 0) return 1;
  int64_t ts = v->t0 + (int64_t)floor((T - VIDEO_TIME_EPS) / v->tb);
  const AVIndexEntry *e = avformat_index_get_entry_from_timestamp(v->st, ts, AVSEEK_FLAG_BACKWARD);
  return !e || pts_time(v, e->timestamp) > v->last_t + VIDEO_TIME_EPS;
}

/* Next decoded frame into v->frm with its time: 1, or 0 at the end of the stream. */
static int decode_one(vlp_video *v, double *t) {
  char eb[AV_ERROR_MAX_STRING_SIZE];
  for (;;) {
    if (v->eof) return 0;
    av_frame_unref(v->frm);
    int ret = avcodec_receive_frame(v->dec, v->frm);
    if (ret == 0) {
      int64_t pts = v->frm->best_effort_timestamp;
      double tt;
      if (pts != AV_NOPTS_VALUE)
        tt = pts_time(v, pts);
      else
        tt = v->last_t < 0 ? 0 : v->last_t + (v->info.fps > 0 ? 1 / v->info.fps : 0);
      v->last_t = tt;
      v->decoded++;
      *t = tt;
      return 1;
    }
    if (ret == AVERROR_EOF || v->draining) {
      if (ret != AVERROR_EOF && ret != AVERROR(EAGAIN))
        note_bad(v, v->last_t, av_msg(ret, eb, sizeof eb));
      v->eof = 1;
      return 0;
    }
    if (ret != AVERROR(EAGAIN)) note_bad(v, v->last_t, av_msg(ret, eb, sizeof eb));
    ret = av_read_frame(v->fmt, v->pkt);
    if (ret < 0) {
      if (ret != AVERROR_EOF) v->read_err = ret;
      avcodec_send_packet(v->dec, NULL); /* drain the frames still inside the decoder */
      v->draining = 1;
      continue;
    }
    AVPacket *p = v->pkt;
    if (p->stream_index != v->si) {
      av_packet_unref(p);
      continue;
    }
    int64_t ts = p->pts != AV_NOPTS_VALUE ? p->pts : p->dts;
    double pt = ts != AV_NOPTS_VALUE ? pts_time(v, ts) : v->last_t;
    if (ts != AV_NOPTS_VALUE) {
      double end = pts_time(v, ts + (p->duration > 0 ? p->duration : 0));
      if (end > v->last_pkt_end) v->last_pkt_end = end;
    }
    if (p->flags & AV_PKT_FLAG_CORRUPT) note_bad(v, pt, "corrupt packet");
    if (v->s.mode == VLP_SAMPLE_KEYFRAMES && !(p->flags & AV_PKT_FLAG_KEY)) {
      av_packet_unref(p);
      continue;
    }
    ret = avcodec_send_packet(v->dec, p);
    av_packet_unref(p);
    if (ret < 0 && ret != AVERROR(EAGAIN)) note_bad(v, pt, av_msg(ret, eb, sizeof eb));
  }
}

/* End of sampling: at the end of the stream, report damage found on the way. */
static vlp_status finish(vlp_video *v, int at_eof) {
  v->done = 1;
  if (!at_eof) return VLP_OK;
  char eb[AV_ERROR_MAX_STRING_SIZE];
  if (v->read_err)
    return vlp_fail(VLP_ERR_FORMAT, "%s: damaged video: reading stopped after %.3f s (%s)", v->path,
                    v->last_pkt_end, av_msg(v->read_err, eb, sizeof eb));
  double frame = v->info.fps > 0 ? 1 / v->info.fps : 0.04;
  double seen = v->last_pkt_end > v->last_t + frame ? v->last_pkt_end : v->last_t + frame;
  double slack = 3 * frame > 0.2 ? 3 * frame : 0.2;
  if (v->expect_end > 0 && seen < v->expect_end - slack)
    return vlp_fail(VLP_ERR_FORMAT, "%s: truncated video: frames stop at %.3f s of %.3f s", v->path,
                    seen > 0 ? seen : 0, v->expect_end);
  if (v->bad_packets)
    return vlp_fail(
        VLP_ERR_FORMAT, "%s: damaged or truncated video: %d bad packet%s (the first at %.3f s: %s)",
        v->path, v->bad_packets, v->bad_packets == 1 ? "" : "s", v->first_bad_t, v->first_bad);
  return VLP_OK;
}

static vlp_status to_rgb(vlp_video *v, vlp_image *img) {
  const AVFrame *f = v->frm;
  enum AVPixelFormat pf = (enum AVPixelFormat)f->format;
  v->rgb_sws = sws_getCachedContext(v->rgb_sws, f->width, f->height, pf, f->width, f->height,
                                    AV_PIX_FMT_RGB24, SWS_BICUBIC, NULL, NULL, NULL);
  if (!v->rgb_sws)
    return vlp_fail(VLP_ERR_UNSUPPORTED, "%s: cannot convert %s frames to RGB", v->path,
                    av_get_pix_fmt_name(pf) ? av_get_pix_fmt_name(pf) : "unknown");
  /* As the ffmpeg tool's scale filter by default (in_color_matrix "auto"): the frame's
   * matrix, BT.601 when it names none; the frame's range when it names one. */
  int *inv, *tbl, in_full, out_full, bri, con, sat;
  if (sws_getColorspaceDetails(v->rgb_sws, &inv, &in_full, &tbl, &out_full, &bri, &con, &sat) >=
      0) {
    int cs = f->colorspace;
    if (cs < 1 || cs > 10 || cs == 8) cs = AVCOL_SPC_BT470BG;
    const int *coefs = sws_getCoefficients(cs);
    if (f->color_range != AVCOL_RANGE_UNSPECIFIED) in_full = f->color_range == AVCOL_RANGE_JPEG;
    sws_setColorspaceDetails(v->rgb_sws, coefs, in_full, coefs, out_full, bri, con, sat);
  }
  vlp_status st = image_alloc(img, f->width, f->height);
  if (st) return vlp_fail_prefix(st, "%s", v->path);
  uint8_t *dst[4] = {img->rgb, NULL, NULL, NULL};
  int ls[4] = {3 * f->width, 0, 0, 0};
  sws_scale(v->rgb_sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst, ls);
  st = image_apply_orientation(img, v->orientation, v->path); /* upright, as autorotate */
  if (st) vlp_image_free(img);
  return st;
}

/* Grayscale thumbnail of v->frm into v->thumb_cur. */
static vlp_status thumbnail(vlp_video *v) {
  const AVFrame *f = v->frm;
  v->thumb_sws =
      sws_getCachedContext(v->thumb_sws, f->width, f->height, (enum AVPixelFormat)f->format,
                           VIDEO_THUMB, VIDEO_THUMB, AV_PIX_FMT_GRAY8, SWS_AREA, NULL, NULL, NULL);
  if (!v->thumb_sws)
    return vlp_fail(VLP_ERR_UNSUPPORTED, "%s: cannot make thumbnails of this pixel format",
                    v->path);
  uint8_t *dst[4] = {v->thumb_cur, NULL, NULL, NULL};
  int ls[4] = {VIDEO_THUMB, 0, 0, 0};
  sws_scale(v->thumb_sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst, ls);
  return VLP_OK;
}

/* Time of sample k (EVERY / FPS), computed from k so that no error accumulates. */
static double sample_time(const vlp_video *v, int64_t k) {
  return v->s.mode == VLP_SAMPLE_EVERY ? v->s.start + (double)k * v->s.every
                                       : v->s.start + (double)k / v->s.fps;
}

/* The first sample number whose time is after the frame at t (those up to t took it). */
static int64_t next_sample(const vlp_video *v, int64_t k, double t) {
  double step = v->s.mode == VLP_SAMPLE_EVERY ? v->s.every : 1 / v->s.fps;
  double est = floor((t + VIDEO_TIME_EPS - v->s.start) / step) + 1;
  int64_t n = est > (double)k + 1 ? (int64_t)est : k + 1;
  while (n > k + 1 && sample_time(v, n - 1) > t + VIDEO_TIME_EPS) n--;
  while (sample_time(v, n) <= t + VIDEO_TIME_EPS) n++;
  return n;
}

static int is_key(const AVFrame *f) {
#ifdef AV_FRAME_FLAG_KEY
  return (f->flags & AV_FRAME_FLAG_KEY) != 0;
#else
  return f->key_frame != 0;
#endif
}

vlp_status vlp_video_next(vlp_video *v, vlp_image *frame, double *t, int64_t *index, int *got) {
  *got = 0;
  frame->w = frame->h = 0;
  frame->rgb = NULL;
  if (v->done) return VLP_OK;
  const vlp_video_sampling *s = &v->s;
  if (s->max_frames && v->emitted >= s->max_frames) return finish(v, 0);
  int timed = s->mode == VLP_SAMPLE_EVERY || s->mode == VLP_SAMPLE_FPS;
  if (!v->started) {
    v->started = 1;
    if (!timed && s->start > VIDEO_SEEK_GAP) seek_to(v, s->start);
  }
  for (;;) {
    double target = 0;
    if (timed) {
      target = sample_time(v, v->k);
      if (s->end >= 0 && target >= s->end - VIDEO_TIME_EPS) return finish(v, 0);
      double here = v->last_t < 0 ? 0 : v->last_t;
      if (target - here > VIDEO_SEEK_GAP && v->seeked_k != v->k && keyframe_ahead(v, target)) {
        v->seeked_k = v->k;
        v->reseeked = 0;
        seek_to(v, target);
      }
    }
    double ft;
    if (!decode_one(v, &ft)) {
      vlp_status st = finish(v, 1);
      double end = v->last_t + (v->info.fps > 0 ? 1 / v->info.fps : 0);
      if (v->last_pkt_end > end) end = v->last_pkt_end;
      if (!st && !v->emitted && s->start > 0 && s->start >= end - VIDEO_TIME_EPS)
        return vlp_fail(VLP_ERR_INVALID,
                        "%s: the start time %g s is past the end of the video (%g s)", v->path,
                        s->start, end > 0 ? end : 0);
      return st;
    }
    if (v->after_seek) {
      v->after_seek = 0;
      /* The seek landed after the target (an imprecise index): go back further, once. */
      double want = timed ? target : s->start;
      if (ft > want + VIDEO_TIME_EPS && !v->reseeked) {
        v->reseeked = 1;
        seek_to(v, want - 10 * VIDEO_SEEK_GAP);
        continue;
      }
    }
    if (ft < s->start - VIDEO_TIME_EPS) continue;
    if (s->end >= 0 && ft >= s->end - VIDEO_TIME_EPS) return finish(v, 0);
    int take = 0;
    switch (s->mode) {
      case VLP_SAMPLE_ALL:
        take = 1;
        break;
      case VLP_SAMPLE_KEYFRAMES:
        take = is_key(v->frm);
        break;
      case VLP_SAMPLE_EVERY:
      case VLP_SAMPLE_FPS:
        if (ft >= target - VIDEO_TIME_EPS) {
          take = 1;
          v->k = next_sample(v, v->k, ft);
        }
        break;
      case VLP_SAMPLE_SCENES: {
        vlp_status st = thumbnail(v);
        if (st) {
          v->done = 1;
          return st;
        }
        take = !v->have_prev || video_thumb_diff(v->thumb_prev, v->thumb_cur,
                                                 VIDEO_THUMB * VIDEO_THUMB) > s->scene_threshold;
        memcpy(v->thumb_prev, v->thumb_cur, sizeof v->thumb_prev);
        v->have_prev = 1;
        break;
      }
    }
    if (!take) continue;
    vlp_status st = to_rgb(v, frame);
    if (st) {
      v->done = 1;
      return st;
    }
    *t = ft;
    *index = v->info.fps > 0 ? (int64_t)llround(ft * v->info.fps) : v->decoded - 1;
    *got = 1;
    v->emitted++;
    return VLP_OK;
  }
}
