/* video: the FFmpeg adapter behind vlp_video_open / vlp_video_next (vlp.h). Frames come
 * from libavformat + libavcodec (send_packet / receive_frame), are converted to RGB24 by
 * libswscale exactly as the ffmpeg tool does by default (`-pix_fmt rgb24`: bicubic flags,
 * the frame's colour matrix or BT.601 when unspecified, the frame's range) and sampled
 * by time. This header holds the rules the tests and the CLI share. */
#ifndef VLP_MEDIA_VIDEO_H
#define VLP_MEDIA_VIDEO_H

#include "vlp.h"

/* A sample at T takes the first frame with t >= T - VIDEO_TIME_EPS. */
#define VIDEO_TIME_EPS 1e-6
/* EVERY / FPS sampling seeks (back to the key frame before the target, then decodes
 * forward) when the next target lies more than this many seconds past the last decoded
 * frame; closer targets are reached by decoding on. */
#define VIDEO_SEEK_GAP 2.0
/* Side of the grayscale thumbnails VLP_SAMPLE_SCENES compares. */
#define VIDEO_THUMB 32
#define VIDEO_DEFAULT_SCENE_THRESHOLD 0.1

/* Mean absolute difference of two n-byte thumbnails, 0..1. */
double video_thumb_diff(const uint8_t *a, const uint8_t *b, int n);

/* How many frames were decoded so far and how many seeks were made (for tests and
 * progress). */
int64_t video_frames_decoded(const vlp_video *v);
int video_seeks(const vlp_video *v);

/* vlp_video_open for a file held in memory (custom AVIOContext; data must outlive the
 * video); name is only used in messages. For the fuzz tests and in-memory callers. */
vlp_status video_open_memory(const uint8_t *data, size_t size, const char *name,
                             const vlp_video_sampling *s, vlp_video **out);
/* Route FFmpeg's log into the last-error line (1) or back to FFmpeg's default (0); called
 * by vlp_init only: it is process-wide. */
void video_capture_log(int on);

#endif
