/* cli_video: what `vlp video`, `vlp embed --video` and `vlp index` share: the sampling
 * options (--every, --fps, --keyframes, --scenes, --start, --end, --max-frames), the frame
 * loop over one video, progress lines on stderr and the frame loop's JSON fields. */
#ifndef VLP_CLI_VIDEO_H
#define VLP_CLI_VIDEO_H

#include <stdio.h>

#include "cli.h"

/* Sampling when no option says otherwise: one frame per second. */
vlp_video_sampling cli_video_default_sampling(void);
/* Handle a sampling option (or --progress); returns 1 when opt was one. */
int cli_video_opt(cli_args *a, const char *opt, vlp_video_sampling *s, int *progress);
extern const char cli_video_usage[];

/* Progress on stderr while sampling one video: shown when stderr is a terminal or when
 * forced (--progress); at most a few lines per second. */
typedef struct {
  int on;
  const char *cmd, *path;
  double t_start, t_last; /* wall clock */
  double t_video;         /* time of the last frame in the video */
  long frames;
} cli_progress;
void cli_progress_begin(cli_progress *p, const char *cmd, const char *path, int forced);
/* A frame at video time t was done. */
void cli_progress_frame(cli_progress *p, double t);
void cli_progress_end(cli_progress *p);

/* n sampled frames of the video at path, in order: images, times, frame numbers. Returns
 * how many were done (n), or fewer with vlp_last_error set: the video stops after them. */
typedef int (*cli_frames_fn)(void *ctx, const char *path, const vlp_image *imgs, const double *t,
                             const int64_t *frame, int n);
/* At the end of a video (ok or not), with the time the last frame's span ends. */
typedef void (*cli_frame_end_fn)(void *ctx, double end);
typedef struct {
  const char *cmd; /* command name for messages, e.g. "video tag" */
  const char *key; /* error objects are {key: path, "error": message} */
  FILE *out;       /* JSON error objects go here (NULL: stderr only) */
  vlp_video_sampling s;
  int progress;         /* --progress */
  int batch;            /* frames per call of fn (<= 0: 1) */
  const vlp_model *fit; /* not NULL: frames are fitted to its input size as they come */
  int fit_size;         /* --image-size for the fitting */
} cli_frame_loop;
/* Run the sampled frames of the video at path through fn, `batch` at a time, then end (when
 * not NULL), with progress lines; an error opening or decoding (after the frames before it
 * went through fn) or from fn stops the video and is reported. Returns 1 when the video
 * failed, else 0. */
int cli_video_each_frame(const cli_frame_loop *L, const char *path, cli_frames_fn fn,
                         cli_frame_end_fn end, void *ctx);

/* `"video": PATH, "t": T, "frame": N` (no braces). */
void cli_video_write_frame_fields(FILE *out, const char *key, const char *path, double t,
                                  int64_t frame);
/* A time in seconds as JSON (shortest form that round-trips, e.g. 1, 0.52, 15.96). */
void cli_write_time(FILE *out, double t);

int cmd_video(int argc, char **argv);

#endif
