/* index_video: videos in the retrieval index (`vlp index build`, `vlp search`). Each
 * sampled frame of a video is an index entry whose path is a frame reference
 * "<video path>#t=<seconds>" (W3C media-fragment syntax); its size, mtime and hash are the
 * video file's. `vlp search` prints such an entry as {"path": <video>, "t": <seconds>}. */
#ifndef VLP_CLI_INDEX_VIDEO_H
#define VLP_CLI_INDEX_VIDEO_H

#include <stdio.h>

#include "cli.h"

/* 1 when the path names a video by its extension (.mp4 .m4v .mov .mkv .webm .avi .mpg
 * .mpeg .ts .m2ts .wmv .flv .3gp .ogv, any case). */
int cli_is_video_path(const char *path);

/* The growing entry and embedding arrays of an index build. */
typedef struct {
  vlp_index_entry *ent; /* (cap) */
  float *emb;           /* (cap, dim) */
  int64_t n, cap;
  int dim;
  cli_paths refs; /* owns the frame-reference strings entries point at */
  int64_t embedded, unchanged;
  int64_t *old_sorted; /* rows of the old index by path (built on first use) */
} index_rows;
void index_rows_free(index_rows *r);

/* Room for one more row; 0 on success, -1 out of memory. */
int index_rows_reserve(index_rows *r);
/* Add the sampled frames of the video `file` (size/mtime/hash filled in). Frames whose
 * reference and hash match a row of the old index (when `reuse`: same model) keep their
 * embedding. A video that fails part way keeps the frames before the damage.
 * Returns 0, or 1 when the video failed (reported on out and stderr). */
int index_add_video(FILE *out, const char *cmd, vlp_session *sess, const vlp_index_entry *file,
                    const vlp_video_sampling *s, int progress, const vlp_index *old, int reuse,
                    index_rows *rows);

#endif
