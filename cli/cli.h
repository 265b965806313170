/* cli: what the subcommands of the vlp command share: option parsing, JSON Lines output,
 * error reporting and exit codes (0 all ok, 1 some inputs failed, 2 usage or model error). */
#ifndef VLP_CLI_H
#define VLP_CLI_H

#include <stdio.h>

#include "vlp.h"

enum { EXIT_ALL_OK = 0, EXIT_SOME_FAILED = 1, EXIT_USAGE = 2 };

/* Options every command takes. */
typedef struct {
  const char *model;  /* -m */
  const char *output; /* -o */
  int threads;        /* --threads */
  int precision;      /* --precision (vlp_precision); VLP_PRECISION or f32 when not given */
  int help;
  unsigned parts; /* set by the command: the towers it needs (vlp_model_params.parts; 0: all) */
} cli_common;

/* Argument scanner: cli_next() walks argv from index 1; an option that takes a value reads
 * it from "--opt=value" or the next argument. Positional arguments are returned as such. */
typedef struct {
  int argc;
  char **argv;
  int i;
  const char *cmd;      /* for messages */
  const char *opt;      /* current option name, e.g. "--beams" */
  const char *inline_v; /* value after '=' */
  int only_positional;  /* after "--" */
  int failed;
} cli_args;

void cli_args_init(cli_args *a, int argc, char **argv, const char *cmd);
/* Next argument: returns 1 with *opt set for an option (e.g. "--beams", "-m"), 1 with
 * *opt NULL and *pos set for a positional, 0 at the end. */
int cli_next(cli_args *a, const char **opt, const char **pos);
/* Value of the current option (NULL and an error when missing). */
const char *cli_value(cli_args *a);
int cli_int(cli_args *a, int lo, int hi, int *out);
int cli_float(cli_args *a, float *out);
/* "f32" / "bf16" / "int8" as a vlp_precision, -1 otherwise. */
int cli_precision_parse(const char *s);
/* The value of --precision: vlp_precision + 1, 0 after a usage error. */
int cli_precision_opt(cli_args *a);
/* The precision a command runs with: given (cli_common.precision: 0 = not given, else
 * vlp_precision + 1), else VLP_PRECISION, else f32; -1 after a message on stderr when
 * VLP_PRECISION is not a precision. */
int cli_precision(const char *cmd, int given);
/* Unless the user chose an OpenMP wait policy, run this program again (argv) with idle
 * workers sleeping (OMP_WAIT_POLICY=passive); returns only when it did not. */
void cli_wait_policy_default(char **argv);
/* Handle -m, -o, --threads, --precision, --help/-h; returns 1 when the option was one of them. */
int cli_common_opt(cli_args *a, const char *opt, cli_common *c);
/* Usage error: "vlp CMD: message" on stderr; sets a->failed. */
void cli_usage_error(cli_args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Output stream: stdout or -o FILE; results are flushed line by line so that a killed run
 * keeps what it wrote. -o FILE is locked (flock) while the run writes it: a second run
 * naming the same FILE is refused before anything is truncated. NULL on failure (message
 * printed). */
FILE *cli_open_output(const char *cmd, const char *path);
/* Flush after each record: on a write error (full disk, closed pipe) the first failure is
 * reported on stderr, a partial last record in -o FILE is cut off, and -1 is returned (the
 * command stops and exits non-zero). */
int cli_flush(FILE *f);
/* Final flush and close; -1 (reported) when any write failed. */
int cli_close_output(FILE *f);
/* Reports a write error on stdout nobody checked yet; called by main after the command. */
int cli_check_stdout(const char *cmd);
/* Lock an open -o file for this run: 0, or -1 with "another vlp run is writing it" printed. */
int cli_lock_output(const char *cmd, int fd, const char *path);

/* JSON writing: strings escaped, floats with enough digits to round-trip. */
void json_write_str(FILE *f, const char *s);
void json_write_float(FILE *f, float v);
void json_write_floats(FILE *f, const float *v, int n);
void json_write_ints(FILE *f, const int *v, int n);
/* {"<key>": <name>, "error": <message>} on out and "vlp CMD: name: message" on stderr. */
void cli_report_error(FILE *out, const char *cmd, const char *key, const char *name,
                      const char *message);

/* Generation options (--prompt, --beams, --max-length, --max-new-tokens, --min-length,
 * --repetition-penalty, --length-penalty, --image-size); returns 1 when opt was one. */
int cli_gen_opt(cli_args *a, const char *opt, vlp_gen_params *p, int *image_size);
extern const char cli_gen_usage[];

/* Input paths: files as given; a folder adds its images (by content or image name, sorted by
 * name, not recursive); other files and dangling symlinks are skipped and named on stderr. */
typedef struct {
  char **paths;
  int n, cap;
} cli_paths;
void cli_paths_add(cli_paths *p, const char *path);
void cli_paths_add_folder(cli_paths *p, const char *dir);
/* Adds a folder's files when path is a folder, else path itself. */
void cli_paths_add_input(cli_paths *p, const char *path);
void cli_paths_free(cli_paths *p);

/* --shard K/N, auto or auto/N on commands that take a list of files (tag, embed, video):
 * a path belongs to shard 1 + hash(path) mod N, as in vlp caption (cli/shard.c). */
typedef struct {
  int k, n; /* n 0: no sharding */
} cli_shard;
/* Handle --shard; returns 1 when opt was it (a bad value is a usage error). */
int cli_shard_opt(cli_args *a, const char *opt, cli_shard *s);
/* Keep only the paths of shard s->k (all when not sharding); says on stderr how many
 * belong to other shards. */
void cli_paths_keep_shard(cli_paths *p, const cli_shard *s, const char *cmd);
extern const char cli_shard_usage[];

/* Images through the vision tower in batches (tag, embed; cli/encode_batch.c): the images of
 * a batch that load are encoded together, a file that fails fails alone with its one-line
 * message, and when the batch's encode fails each image is encoded on its own. */
typedef struct {
  int n, cap;
  vlp_features *all;  /* the batch's good images encoded together (NULL: none, or each alone) */
  vlp_features **own; /* (cap) image k encoded alone */
  int *at;            /* (cap) image k's index in its features; -1: it failed */
  char **err;         /* (cap) why image k failed */
  vlp_image *imgs;    /* (cap) scratch */
} cli_batch;
int cli_batch_init(cli_batch *b, int cap); /* 0, or -1 when out of memory */
/* Take the next n (<= cap) images of r and encode them with s (at image_size, as
 * vlp_encode_images); emb (n, embed dim), when not NULL, receives each good image's
 * projected embedding in row k. */
void cli_batch_run(cli_batch *b, vlp_session *s, vlp_image_reader *r, int n, int image_size,
                   float *emb);
/* The features holding image k of the last run and its index *i there; NULL when it failed. */
const vlp_features *cli_batch_get(const cli_batch *b, int k, int *i);
const char *cli_batch_error(const cli_batch *b, int k);
void cli_batch_free(cli_batch *b);
/* A reader of paths[0..n) fitted to m's input size, `ahead` images ahead (--batch: one batch);
 * NULL with the message printed. */
vlp_image_reader *cli_reader_start(const char *cmd, const vlp_model *m, int image_size,
                                   char *const *paths, int n, int ahead);
/* --batch N of the commands that run images through an encoder (1..1024, default
 * CLI_BATCH_DEFAULT); returns 1 when opt was it. */
enum { CLI_BATCH_DEFAULT = 16 };
int cli_batch_opt(cli_args *a, const char *opt, int *batch);

/* The model when -m is not given: VLP_MODEL (a folder or a cached name), or NULL. */
const char *cli_default_model(void);
/* "no model" on stderr, naming the cached models and how to `vlp pull` one. */
void cli_no_model(const char *cmd);
/* Load the -m model (else VLP_MODEL's) with --threads as its sessions' thread count (exit code 2 on
 * failure, message printed). */
vlp_model *cli_load_model(const char *cmd, const cli_common *c);
/* A session for m, or NULL with the message printed. */
vlp_session *cli_new_session(const char *cmd, const vlp_model *m);
/* Bit of an architecture in the masks below. */
#define ARCH(a) (1u << (a))
/* Load the -m model, check that its architecture is in arch_mask, make a session for it
 * and open the output (-o or stdout). On failure prints why, leaves *m and *s NULL and
 * returns NULL (exit code 2). */
FILE *cli_start(const char *cmd, const cli_common *c, unsigned arch_mask, vlp_model **m,
                vlp_session **s);

/* Subcommands. */
int cmd_preprocess(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_caption(int argc, char **argv);
int cmd_vqa(int argc, char **argv);
int cmd_itm(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_tag(int argc, char **argv);
int cmd_selftest(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_serve(int argc, char **argv);

#endif
