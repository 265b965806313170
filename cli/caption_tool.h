/* caption_tool: the parts of `vlp caption` as dataset tooling and of `vlp merge` —
 * the input walk (inputs.c), record formats, resume and sidecar files (outputs.c), the
 * window of decoded images and the progress display (progress.c). */
#ifndef VLP_CLI_CAPTION_TOOL_H
#define VLP_CLI_CAPTION_TOOL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vlp.h"

/* ---- inputs (inputs.c) ------------------------------------------------------------- */

typedef struct {
  char *path;
  int64_t size;    /* bytes; -1 when unknown (stat failed) */
  int64_t mtime_s; /* modification time, seconds and nanoseconds */
  long mtime_ns;
  uint64_t dev, ino; /* the file's identity (0 when unknown) */
  char *error;       /* set when the walk already knows the entry is bad (unreadable folder...) */
} ct_input;

typedef struct {
  ct_input *v;
  int n, cap;
  int not_images; /* files a walk skipped: neither image magic bytes nor an image (or, with
                     videos, video) extension */
  int repeated;   /* folders reached twice (symlink loops, links to a folder already walked) */
  int other_shards;
  int dangling;      /* symlinks in folders whose target is missing (reported, skipped) */
  double scan_shown; /* when the scanning progress was last shown */
  int scan_drawn;    /* a scanning line was shown (the last one is ended by scan_done) */
} ct_inputs;

typedef struct {
  int recursive; /* -r: walk sub-folders, take only images */
  int shard_k;   /* 1..shard_n; shard_n 0 = no sharding */
  int shard_n;
  int videos;                    /* with recursive: also take files named like videos (vlp index) */
  void (*note)(const char *msg); /* stderr notes (loops); NULL = fprintf */
  int nul_lists;                 /* -0: list files name paths separated by NUL bytes */
  int progress;    /* report the scan on stderr: redrawn on a terminal, else a line every
                      VLP_PROGRESS_EVERY seconds (default 10) */
  const char *cmd; /* for messages ("caption", "index build") */
} ct_walk_opts;

/* Add a command-line argument: a file as it is, a folder's files (see cmd_caption's usage). */
void ct_inputs_add_arg(ct_inputs *in, const char *arg, const ct_walk_opts *o);
/* Add every line of a list file ("-" = stdin; NUL-separated names with o->nul_lists); -1
 * (message printed) when it cannot be read. */
int ct_inputs_add_list(ct_inputs *in, const char *list, const ct_walk_opts *o);
/* End the scanning progress line (after the last add). */
void ct_inputs_scan_done(ct_inputs *in, const ct_walk_opts *o);
/* path without "./" segments, repeated or trailing slashes ("./a//b/" -> "a/b"), in place;
 * names resume and merge compare are the same whichever way they were written. */
void ct_normalize_path(char *path);
void ct_inputs_free(ct_inputs *in);
/* The shard (0..n-1) of a path: FNV-1a of its bytes, so it does not depend on the list. */
int ct_shard_of(const char *path, int n);
/* What --shard V names (shard.c): "K/N", or "auto" / "auto/N" from a Slurm job array's or a
 * Kubernetes indexed Job's environment. 0 with *k (1..*n) and *n, or -1 with a one-line
 * message in err. */
int ct_shard_parse(const char *v, int *k, int *n, char *err, size_t size);
/* 1 when a name ends in an image extension (.jpg, .png, .webp, .heic, ...). */
int ct_is_image_name(const char *name);
/* "SEC.NANOSEC" of an input's mtime into buf (>= 32 bytes). */
void ct_mtime_str(const ct_input *x, char *buf, size_t len);

/* ---- records and output files (outputs.c) ------------------------------------------- */

typedef enum { CT_JSONL, CT_CSV, CT_TSV } ct_format;

/* One output record: a caption (caption != NULL) or an error (error != NULL). */
typedef struct {
  const char *path;
  const char *caption;
  const int *tokens;
  int n_tokens;
  int64_t size; /* < 0: not written */
  const char *mtime;
  const char *error;
} ct_record;

/* The header line of a format (CSV/TSV) or NULL. */
const char *ct_header(ct_format f);
/* The record as text ending in "\n"; malloc'd, length in *len. */
char *ct_format_record(ct_format f, const ct_record *r, size_t *len);

/* A record read back from a file: its raw text (for merge) and the fields resume needs. */
typedef struct {
  char *raw; /* the record's text including its final newline */
  size_t raw_len;
  char *path;
  int captioned; /* 1: a caption record, 0: an error record */
  int has_stamp; /* size and mtime present */
  double size, mtime;
  /* with keep_raw, the fields to write the record in another format (ct_parsed_record) */
  char *caption, *error, *mtime_text;
  int *tokens;
  int n_tokens;
} ct_parsed;

/* Read every complete record of a JSONL / CSV / TSV file written by vlp caption. *fmt gets
 * the file's format (by its first line); *valid gets the offset after the last complete
 * record (a run killed mid-write can leave a partial last line). Returns 0, or -1 with a
 * one-line reason in err. A missing or empty file gives 0 records. */
int ct_read_records(const char *file, int keep_raw, ct_format *fmt, int *fmt_known,
                    ct_parsed **recs, int *n, long *valid, char *err, size_t errlen);
void ct_parsed_free(ct_parsed *recs, int n);
/* A record read with keep_raw as a ct_record (pointing into r) to write in any format. */
ct_record ct_parsed_record(const ct_parsed *r);

/* The -o / stdout stream: whole records are written with one write() each, so a killed run
 * keeps every record it had finished. */
typedef struct {
  int fd;
  int is_stdout;
  ct_format fmt;
  const char *path;
  int failed;
  long good; /* end of the last whole record in a regular file; -1 otherwise */
} ct_sink;

/* Open path ("-" or NULL = stdout) for appending after the first `valid` bytes (the rest, a
 * partial record, is cut off); writes the header when the file is empty. The file is locked
 * (flock) for the run unless the caller holds the lock (locked). 0 or -1 (printed). */
int ct_sink_open(ct_sink *s, const char *path, ct_format fmt, long valid, int truncate_all,
                 int locked);
int ct_sink_write(ct_sink *s, const ct_record *r);
/* Flush to the disk (after a batch). */
void ct_sink_sync(ct_sink *s);
int ct_sink_close(ct_sink *s);

/* Sidecar files. */
typedef enum { CT_SKIP, CT_OVERWRITE, CT_APPEND, CT_PREPEND } ct_existing;
/* image "dir/photo.jpg" + ext ".txt" -> "dir/photo.txt" (malloc'd). */
char *ct_sidecar_path(const char *image, const char *ext);
/* Write caption + "\n" to the sidecar atomically (temp file in the same folder + rename);
 * with an existing file: skip (returns 1), overwrite, or join the existing text (trailing
 * whitespace trimmed) and the caption with `join`. 0 written, 1 skipped, -1 error (err). */
int ct_sidecar_write(const char *sidecar, const char *caption, ct_existing mode, const char *join,
                     char *err, size_t errlen);
/* Write a whole file atomically (temp + rename). 0 or -1 (err). */
int ct_write_atomic(const char *path, const char *data, size_t len, char *err, size_t errlen);

/* ---- the caption loop's window ------------------------------------------------------- */

/* One input of the window: its image fitted to the model's input size (decoded ahead by a
 * vlp_image_reader), or why it failed. */
typedef struct {
  int index;     /* position in the work list */
  vlp_image img; /* owned by the receiver */
  char *error;   /* malloc'd message, or NULL */
} ct_item;

/* ---- progress (progress.c) ------------------------------------------------------------ */

typedef struct {
  int mode;        /* 0 none, 1 bar (terminal), 2 periodic lines */
  const char *cmd; /* for the lines ("caption" when NULL) */
  int total, done;
  double t0, last_draw;
  int drawn; /* a bar is on the screen */
} ct_progress;

double ct_now(void);
void ct_progress_start(ct_progress *p, int total, int quiet);
void ct_progress_update(ct_progress *p, int done);
/* Erase the bar before another message goes to stderr. */
void ct_progress_clear(ct_progress *p);
void ct_progress_end(ct_progress *p);

/* vlp merge OUT IN... */
int cmd_merge(int argc, char **argv);

#endif
