/* vlp caption: captions for images with a BLIP captioning model — one record per image as
 * JSON Lines / CSV / TSV, or a caption file next to each image; folders (recursive),
 * path lists, resume of an interrupted run, shards for job arrays, reader threads that
 * decode ahead of the model, progress and a summary on stderr. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "caption_tool.h"
#include "cli.h"

static const char usage[] =
    "usage: vlp caption -m MODEL_DIR [options] IMAGE|FOLDER...\n\n"
    "Prints {\"path\", \"caption\", \"tokens\", \"size\", \"mtime\"} per image; tokens is the\n"
    "whole generated sequence ([DEC], prompt ids, generated ids, final [SEP]); size and mtime\n"
    "identify the file for --resume. A file that cannot be read is reported as\n"
    "{\"path\", \"error\"} (and on stderr) and the run goes on; the exit code is then 1.\n\n"
    "inputs:\n"
    "  IMAGE                   a file, always taken (reported when it is not an image)\n"
    "  FOLDER                  its images, sorted: PNG or JPEG by magic bytes, or a name\n"
    "                          ending in an image extension (a corrupt photo is reported);\n"
    "                          other files (sidecars, images.json) are skipped and counted;\n"
    "                          hidden names are ignored\n"
    "  -r, --recursive         walk FOLDERs and their sub-folders too; symlinks are\n"
    "                          followed, a folder reached twice (symlink loop) is walked once\n"
    "  --from FILE, --files-from FILE\n"
    "                          also take the paths in FILE, one per line ('-' = stdin)\n"
    "  -0, --null              names in --from files are separated by NUL bytes (find\n"
    "                          -print0), so they may hold newlines\n"
    "  paths are compared after removing './' and doubled slashes: ./a.jpg is a.jpg (also\n"
    "  when resuming); a dangling symlink in a folder is named on stderr and skipped\n"
    "  --shard K/N             take only shard K of N (1 <= K <= N): a path belongs to\n"
    "                          shard 1 + hash(path) mod N, so shards do not change when\n"
    "                          files are added elsewhere; join outputs with vlp merge.\n"
    "                          auto: K and N from a Slurm job array (SLURM_ARRAY_TASK_ID,\n"
    "                          _COUNT, _MIN); auto/N: K from a Kubernetes indexed Job's\n"
    "                          JOB_COMPLETION_INDEX, N = its completions\n\n"
    "outputs:\n"
    "  -o FILE                 write the records to FILE instead of stdout. When FILE exists\n"
    "                          the run resumes: images already captioned in it (same path,\n"
    "                          size and mtime) are skipped and new records are appended\n"
    "                          (a partial last record of a killed run is dropped first)\n"
    "  --no-resume             start FILE afresh\n"
    "  --format F              jsonl (default), csv or tsv (default from -o's .csv/.tsv)\n"
    "                          columns path,caption,tokens,size,mtime,error; CSV quoted as\n"
    "                          RFC 4180, TSV with \\t \\n \\r \\\\ escapes\n"
    "  --sidecar [EXT]         write the caption to a file next to each image: photo.jpg ->\n"
    "                          photo.txt (EXT .txt by default, e.g. .caption; --sidecar=EXT\n"
    "                          is the unambiguous form). Records then go only to -o FILE.\n"
    "                          Two images with the same stem (a.jpg, a.png) would share a\n"
    "                          sidecar: a warning names them and --existing decides.\n"
    "  --existing MODE         when the sidecar exists: skip (default; the image is not\n"
    "                          captioned), overwrite, append (old text, JOIN, caption) or\n"
    "                          prepend (caption, JOIN, old text)\n"
    "  --sidecar-join S        JOIN for append/prepend (default \", \")\n"
    "  Every sidecar is written to a hidden temp file and renamed: never half written.\n"
    "  A sidecar never replaces an input, an image or a video: image and video extensions\n"
    "  are refused, and an image whose sidecar path is such a file is reported, not captioned.\n\n"
    "running:\n"
    "  --batch N               images per forward pass (default 1; captions do not depend on it)\n"
    "  --precision P           f32 (default, exact), bf16 or int8: faster, see README\n"
    "  --threads N             threads (default: VLP_THREADS or all cores); two more threads\n"
    "                          decode and resize the next images ahead of the model\n"
    "  -q, --quiet             no progress and no summary (errors are still printed)\n"
    "  progress goes to stderr: a bar on a terminal, a line every 10 s otherwise; at the end\n"
    "  a summary (captioned, skipped, failed, seconds)\n\n"
    "caption length: the default is the reference's (transformers generate(): max_length 20,\n"
    "counting [DEC] and the prompt), so `vlp caption IMAGE` gives the reference's tokens.\n"
    "A caption that reaches the limit before [SEP] may be cut mid-sentence: the summary counts\n"
    "them. For datasets use --max-new-tokens 40 (BLIP captions end well before that).\n\n"
    "  --prompt P              start every caption with P (e.g. \"a picture of\")\n";

typedef struct {
  cli_common c;
  vlp_gen_params p;
  int image_size; /* --image-size */
  int batch, recursive, quiet, no_resume, format_set;
  ct_format format;
  const char *sidecar; /* extension, or NULL */
  ct_existing existing;
  const char *join;
  ct_walk_opts walk;
  const char **from;
  int n_from;
} caption_opts;

static ct_progress progress; /* shared with the stderr notes so they erase the bar first */

static void note(const char *msg) {
  ct_progress_clear(&progress);
  fprintf(stderr, "vlp caption: %s\n", msg);
}

/* An --sidecar value: ".ext" (short, no slash). */
static int looks_like_ext(const char *s) {
  size_t n = strlen(s);
  if (n < 2 || n > 16 || s[0] != '.') return 0;
  for (size_t i = 1; i < n; i++)
    if (!(s[i] == '_' || s[i] == '-' || (s[i] >= '0' && s[i] <= '9') ||
          (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
      return 0;
  return 1;
}

static int parse_shard(cli_args *a, ct_walk_opts *w) {
  const char *v = cli_value(a);
  if (!v) return 0;
  int k, n;
  char err[512];
  if (ct_shard_parse(v, &k, &n, err, sizeof err)) {
    cli_usage_error(a, "%s", err);
    return 0;
  }
  w->shard_k = k;
  w->shard_n = n;
  return 1;
}

static int parse(int argc, char **argv, caption_opts *o, ct_inputs *in, cli_args *a) {
  const char *opt, *pos;
  const char **args = calloc((size_t)argc, sizeof *args);
  int n_args = 0;
  o->from = calloc((size_t)argc, sizeof *o->from);
  if (!args || !o->from) return -1;
  cli_args_init(a, argc, argv, "caption");
  while (!a->failed && cli_next(a, &opt, &pos)) {
    if (pos)
      args[n_args++] = pos;
    else if (!strcmp(opt, "--batch"))
      cli_int(a, 1, 256, &o->batch);
    else if (!strcmp(opt, "-r") || !strcmp(opt, "--recursive"))
      o->recursive = 1;
    else if (!strcmp(opt, "-q") || !strcmp(opt, "--quiet"))
      o->quiet = 1;
    else if (!strcmp(opt, "--no-resume"))
      o->no_resume = 1;
    else if (!strcmp(opt, "-0") || !strcmp(opt, "--null"))
      o->walk.nul_lists = 1;
    else if (!strcmp(opt, "--from") || !strcmp(opt, "--files-from")) {
      const char *v = cli_value(a);
      if (v) o->from[o->n_from++] = v;
    } else if (!strcmp(opt, "--shard"))
      parse_shard(a, &o->walk);
    else if (!strcmp(opt, "--format")) {
      const char *v = cli_value(a);
      if (!v) break;
      o->format_set = 1;
      if (!strcmp(v, "jsonl") || !strcmp(v, "json"))
        o->format = CT_JSONL;
      else if (!strcmp(v, "csv"))
        o->format = CT_CSV;
      else if (!strcmp(v, "tsv"))
        o->format = CT_TSV;
      else
        cli_usage_error(a, "--format takes jsonl, csv or tsv, not '%s'", v);
    } else if (!strcmp(opt, "--sidecar")) {
      if (a->inline_v)
        o->sidecar = a->inline_v;
      else if (a->i < a->argc && looks_like_ext(a->argv[a->i]))
        o->sidecar = a->argv[a->i++];
      else
        o->sidecar = ".txt";
      if (!looks_like_ext(o->sidecar))
        cli_usage_error(a, "--sidecar takes an extension such as .txt or .caption, not '%s'",
                        o->sidecar);
      else if (ct_is_image_name(o->sidecar) || vlp_is_video_path(o->sidecar))
        cli_usage_error(a,
                        "--sidecar %s is an image or video extension: a sidecar must never "
                        "replace a picture",
                        o->sidecar);
    } else if (!strcmp(opt, "--existing")) {
      const char *v = cli_value(a);
      if (!v) break;
      if (!strcmp(v, "skip"))
        o->existing = CT_SKIP;
      else if (!strcmp(v, "overwrite"))
        o->existing = CT_OVERWRITE;
      else if (!strcmp(v, "append"))
        o->existing = CT_APPEND;
      else if (!strcmp(v, "prepend"))
        o->existing = CT_PREPEND;
      else
        cli_usage_error(a, "--existing takes skip, overwrite, append or prepend, not '%s'", v);
    } else if (!strcmp(opt, "--sidecar-join")) {
      const char *v = cli_value(a);
      if (v) o->join = v;
    } else if (!cli_gen_opt(a, opt, &o->p, &o->image_size) && !cli_common_opt(a, opt, &o->c))
      cli_usage_error(a, "unknown option %s", opt);
  }
  if (!a->failed && !o->c.help) {
    o->walk.recursive = o->recursive;
    o->walk.note = note;
    o->walk.progress = !o->quiet;
    o->walk.cmd = "caption";
    for (int i = 0; i < n_args; i++) ct_inputs_add_arg(in, args[i], &o->walk);
    for (int i = 0; i < o->n_from; i++)
      if (ct_inputs_add_list(in, o->from[i], &o->walk)) a->failed = 1;
    ct_inputs_scan_done(in, &o->walk);
  }
  free(args);
  return 0;
}

/* Drop later repeats of the same path (a file named twice, a list and a folder). */
static int dedupe(ct_inputs *in) {
  int *order = malloc((size_t)in->n * sizeof *order), removed = 0;
  char *drop = calloc((size_t)in->n + 1, 1);
  if (!order || !drop) {
    free(order);
    free(drop);
    return 0;
  }
  for (int i = 0; i < in->n; i++) order[i] = i;
  /* insertion into a sorted index would be quadratic: sort indices by (path, index) */
  const ct_input *v = in->v;
  for (int gap = in->n / 2; gap > 0; gap /= 2) /* shell sort: no qsort context pointer in C11 */
    for (int i = gap; i < in->n; i++)
      for (int j = i; j >= gap; j -= gap) {
        int x = order[j - gap], y = order[j], c = strcmp(v[x].path, v[y].path);
        if (c < 0 || (c == 0 && x < y)) break;
        order[j - gap] = y;
        order[j] = x;
      }
  for (int i = 1; i < in->n; i++)
    if (!strcmp(v[order[i]].path, v[order[i - 1]].path)) drop[order[i]] = 1;
  int k = 0;
  for (int i = 0; i < in->n; i++) {
    if (drop[i]) {
      free(in->v[i].path);
      free(in->v[i].error);
      removed++;
    } else {
      in->v[k++] = in->v[i];
    }
  }
  in->n = k;
  free(order);
  free(drop);
  return removed;
}

static int cmp_parsed(const void *a, const void *b) {
  return strcmp(((const ct_parsed *)a)->path, ((const ct_parsed *)b)->path);
}

/* Mark in skip[] the inputs already captioned in the -o file (same path, size, mtime). */
static int mark_done(const ct_inputs *in, ct_parsed *recs, int n, char *skip) {
  int done = 0;
  if (n <= 0) return 0;
  for (int i = 0; i < n; i++) ct_normalize_path(recs[i].path); /* ./a.jpg = a.jpg */
  qsort(recs, (size_t)n, sizeof *recs, cmp_parsed);
  for (int i = 0; i < in->n; i++) {
    const ct_input *x = &in->v[i];
    if (x->error || x->size < 0) continue;
    char mt[48];
    ct_mtime_str(x, mt, sizeof mt);
    double size = (double)x->size, mtime = strtod(mt, NULL);
    ct_parsed key = {.path = x->path};
    ct_parsed *r = bsearch(&key, recs, (size_t)n, sizeof *recs, cmp_parsed);
    if (!r) continue;
    while (r > recs && !strcmp(r[-1].path, x->path)) r--;
    for (; r < recs + n && !strcmp(r->path, x->path); r++)
      if (r->captioned && r->has_stamp && r->size == size && r->mtime == mtime) {
        skip[i] = 1;
        done++;
        break;
      }
  }
  return done;
}

typedef struct {
  caption_opts *o;
  vlp_model *m;
  vlp_session *sess;
  ct_sink sink;
  int use_sink;
  char **sidecars; /* per work item, or NULL */
  const ct_input **work;
  int limit; /* the length limit, for the message about truncated captions */
  int captioned, failed, sidecar_skipped, cut;
} run_state;

static void report(run_state *s, const ct_input *x, const char *msg) {
  ct_progress_clear(&progress);
  fprintf(stderr, "vlp caption: %s\n", msg);
  s->failed++;
  if (s->use_sink) {
    ct_record r = {.path = x->path, .error = msg, .size = -1};
    ct_sink_write(&s->sink, &r);
  }
}

static void deliver(run_state *s, int wi, const vlp_text_result *res) {
  const ct_input *x = s->work[wi];
  if (s->sidecars) {
    char err[4400];
    int rc =
        ct_sidecar_write(s->sidecars[wi], res->text, s->o->existing, s->o->join, err, sizeof err);
    if (rc < 0) {
      report(s, x, err);
      return;
    }
    if (rc == 1) { /* appeared meanwhile (two images sharing a stem) */
      s->sidecar_skipped++;
      return;
    }
  }
  char mt[48];
  ct_mtime_str(x, mt, sizeof mt);
  ct_record r = {.path = x->path,
                 .caption = res->text,
                 .tokens = res->ids,
                 .n_tokens = res->n_ids,
                 .size = x->size,
                 .mtime = x->size >= 0 ? mt : NULL};
  if (s->use_sink) ct_sink_write(&s->sink, &r);
  s->captioned++;
  s->cut += res->truncated;
}

/* Captions of n images: the vision tower and the decoder each run once for the batch. */
static vlp_status caption_batch(run_state *s, const vlp_image *imgs, int n, vlp_text_result *res) {
  vlp_features *f = NULL;
  vlp_status st = vlp_encode_images(s->sess, imgs, n, s->o->image_size, &f);
  if (!st) st = vlp_caption(s->sess, f, &s->o->p, res);
  vlp_features_free(f);
  return st;
}

/* Caption the good items of a window and write every item of it in order. */
static void flush_window(run_state *s, ct_item *win, int nw) {
  int ng = 0;
  for (int i = 0; i < nw; i++) ng += !win[i].error;
  vlp_image *imgs = calloc((size_t)(ng ? ng : 1), sizeof *imgs);
  vlp_text_result *res = calloc((size_t)(ng ? ng : 1), sizeof *res);
  char **msgs = calloc((size_t)(ng ? ng : 1), sizeof *msgs);
  if (!imgs || !res || !msgs) {
    fprintf(stderr, "vlp caption: out of memory\n");
    exit(EXIT_USAGE);
  }
  int k = 0;
  for (int i = 0; i < nw; i++)
    if (!win[i].error) imgs[k++] = win[i].img;
  if (ng && caption_batch(s, imgs, ng, res) != VLP_OK) {
    /* one bad image must not take the batch down: caption them one by one */
    for (int j = 0; j < ng; j++) vlp_text_result_free(&res[j]);
    for (int j = 0; j < ng; j++)
      if (caption_batch(s, &imgs[j], 1, &res[j]) != VLP_OK) msgs[j] = strdup(vlp_last_error());
  }
  k = 0;
  for (int i = 0; i < nw; i++) {
    const ct_input *x = s->work[win[i].index];
    if (win[i].error) {
      report(s, x, win[i].error);
    } else {
      if (msgs[k]) {
        char m[4400];
        snprintf(m, sizeof m, "%s: %s", x->path, msgs[k]);
        report(s, x, m);
      } else {
        deliver(s, win[i].index, &res[k]);
      }
      vlp_text_result_free(&res[k]);
      free(msgs[k]);
      k++;
    }
    vlp_image_free(&win[i].img);
    free(win[i].error);
  }
  if (s->use_sink) ct_sink_sync(&s->sink);
  free(imgs);
  free(res);
  free(msgs);
}

/* The next item of the work list: its known error, or its image from the reader (decoded and
 * fitted ahead), or the reader's error for it. */
static ct_item next_item(run_state *s, vlp_image_reader *r, int i) {
  ct_item it = {.index = i};
  const char *error = s->work[i]->error;
  if (!error && vlp_image_reader_next(r, &it.img)) error = vlp_last_error();
  if (error && !(it.error = strdup(*error ? error : "unknown error"))) {
    fprintf(stderr, "vlp caption: out of memory\n");
    exit(EXIT_USAGE);
  }
  return it;
}

static int run(run_state *s, int n_work) {
  int batch = s->o->batch;
  ct_item *win = malloc((size_t)(batch + 1) * 4 * sizeof *win);
  vlp_image_reader *r = NULL;
  vlp_status st = win ? vlp_image_reader_new(s->m, s->o->image_size, 2 * batch + 2, &r)
                      : vlp_set_error(VLP_ERR_NOMEM, "out of memory");
  for (int i = 0; !st && i < n_work; i++)
    if (!s->work[i]->error) st = vlp_image_reader_add(r, s->work[i]->path);
  if (st) {
    fprintf(stderr, "vlp caption: %s\n", vlp_last_error());
    vlp_image_reader_free(r);
    free(win);
    return -1;
  }
  int nw = 0, good = 0, cap_w = (batch + 1) * 4, done = 0;
  for (int i = 0; i < n_work; i++) {
    ct_item it = next_item(s, r, i);
    if (nw == cap_w) {
      cap_w *= 2;
      ct_item *w2 = realloc(win, (size_t)cap_w * sizeof *win);
      if (!w2) {
        fprintf(stderr, "vlp caption: out of memory\n");
        exit(EXIT_USAGE);
      }
      win = w2;
    }
    win[nw++] = it;
    good += !it.error;
    /* errors with no image waiting go out at once; otherwise a window holds `batch` images
     * and the errors between them, written in input order whatever the batch size */
    if (good == batch || (good == 0 && it.error)) {
      flush_window(s, win, nw);
      done += nw;
      nw = good = 0;
      ct_progress_update(&progress, done);
      if (s->use_sink && s->sink.failed) break; /* the output failed (reported): stop */
    }
  }
  if (nw) flush_window(s, win, nw);
  done += nw;
  ct_progress_update(&progress, done);
  vlp_image_reader_free(r);
  free(win);
  return 0;
}

/* Warn about images that would share a sidecar. */
static void warn_shared_sidecars(char **sidecars, const ct_input **work, int n) {
  int *order = malloc((size_t)(n ? n : 1) * sizeof *order);
  if (!order) return;
  for (int i = 0; i < n; i++) order[i] = i;
  for (int gap = n / 2; gap > 0; gap /= 2)
    for (int i = gap; i < n; i++)
      for (int j = i; j >= gap; j -= gap) {
        int x = order[j - gap], y = order[j], c = strcmp(sidecars[x], sidecars[y]);
        if (c < 0 || (c == 0 && x < y)) break;
        order[j - gap] = y;
        order[j] = x;
      }
  for (int i = 1; i < n; i++)
    if (!strcmp(sidecars[order[i]], sidecars[order[i - 1]]))
      fprintf(stderr, "vlp caption: warning: %s and %s share the sidecar %s\n",
              work[order[i - 1]]->path, work[order[i]]->path, sidecars[order[i]]);
  free(order);
}

/* The inputs' file identities, sorted, to find a sidecar that is itself an input. */
typedef struct {
  uint64_t dev, ino;
} file_id;

static int cmp_file_id(const void *a, const void *b) {
  const file_id *x = a, *y = b;
  if (x->dev != y->dev) return x->dev < y->dev ? -1 : 1;
  return x->ino < y->ino ? -1 : x->ino > y->ino;
}

static file_id *input_ids(const ct_inputs *in) {
  file_id *ids = malloc((size_t)(in->n ? in->n : 1) * sizeof *ids);
  if (!ids) return NULL;
  for (int i = 0; i < in->n; i++) ids[i] = (file_id){in->v[i].dev, in->v[i].ino};
  qsort(ids, (size_t)in->n, sizeof *ids, cmp_file_id);
  return ids;
}

/* Why the sidecar path must not be written (it is an input, an image or a video), or NULL. */
static const char *sidecar_conflict(const char *sc, const file_id *ids, int n) {
  struct stat st;
  if (stat(sc, &st) != 0) return NULL;
  file_id key = {(uint64_t)st.st_dev, (uint64_t)st.st_ino};
  if (bsearch(&key, ids, (size_t)n, sizeof key, cmp_file_id)) return "is one of the inputs";
  int kind = vlp_image_sniff_file(sc);
  if (kind == VLP_SNIFF_IMAGE || kind == VLP_SNIFF_UNSUPPORTED) return "is an image";
  if (vlp_is_video_path(sc)) return "is a video";
  return NULL;
}

static void free_list(char **v, int n) {
  for (int i = 0; v && i < n; i++) free(v[i]);
  free(v);
}

/* Resume: the records an existing output holds (its format wins unless --format says
 * otherwise) mark their inputs done in skip. -1 when the output cannot be resumed (said). */
static int read_done(caption_opts *o, const char *outp, const ct_inputs *in, char *skip,
                     ct_parsed **recs, int *n_recs, long *valid, int *already) {
  char err[4400];
  ct_format ff;
  int known;
  if (ct_read_records(outp, 0, &ff, &known, recs, n_recs, valid, err, sizeof err)) {
    fprintf(stderr, "vlp caption: %s (give another -o, or --no-resume to start it afresh)\n", err);
    return -1;
  }
  if (known && ff != o->format) {
    if (o->format_set) {
      fprintf(stderr, "vlp caption: %s holds another format than --format asks for\n", outp);
      return -1;
    }
    o->format = ff;
  }
  *already = mark_done(in, *recs, *n_recs, skip);
  return 0;
}

/* The inputs to caption (work, and their sidecar names when writing sidecars): those not
 * done; a sidecar that exists is skipped under --existing skip (counted); a sidecar that
 * is an input, an image or a video is never written (the image gets an error record).
 * Returns the count, -1 when out of memory. */
static int plan_work(const caption_opts *o, ct_inputs *in, const char *skip, const ct_input **work,
                     char **sidecars, int *sidecar_exists) {
  int n_work = 0;
  file_id *in_ids = sidecars ? input_ids(in) : NULL;
  if (sidecars && !in_ids) return -1;
  for (int i = 0; i < in->n; i++) {
    if (skip[i]) continue;
    if (sidecars && !in->v[i].error) {
      char *sc = ct_sidecar_path(in->v[i].path, o->sidecar);
      if (!sc) {
        free(in_ids);
        return -1;
      }
      const char *why = sidecar_conflict(sc, in_ids, in->n);
      if (why) {
        char msg[8400];
        snprintf(msg, sizeof msg, "%s: its sidecar %s %s; not written", in->v[i].path, sc, why);
        in->v[i].error = strdup(msg);
        free(sc);
        if (!in->v[i].error) {
          free(in_ids);
          return -1;
        }
        work[n_work++] = &in->v[i];
        continue;
      }
      if (o->existing == CT_SKIP && access(sc, F_OK) == 0) {
        (*sidecar_exists)++;
        free(sc);
        continue;
      }
      sidecars[n_work] = sc;
    }
    work[n_work++] = &in->v[i];
  }
  free(in_ids);
  if (sidecars) {
    char **named = malloc((size_t)(n_work ? n_work : 1) * sizeof *named);
    const ct_input **wnamed = malloc((size_t)(n_work ? n_work : 1) * sizeof *wnamed);
    int k = 0;
    for (int i = 0; named && wnamed && i < n_work; i++)
      if (sidecars[i]) named[k] = sidecars[i], wnamed[k++] = work[i];
    if (named && wnamed) warn_shared_sidecars(named, wnamed, k);
    free(named);
    free(wnamed);
  }
  return n_work;
}

typedef struct {
  int already, sidecar_exists, repeats;
} skip_counts;

/* "N captioned, M skipped (why...), F failed, T s" and the note on cut captions. */
static void print_summary(const ct_inputs *in, const run_state *s, const skip_counts *k,
                          double sec) {
  int skipped = k->already + k->sidecar_exists + s->sidecar_skipped + in->not_images + k->repeats +
                in->repeated + in->dangling;
  fprintf(stderr, "vlp caption: %d captioned, %d skipped", s->captioned, skipped);
  const char *sep = " (";
#define PART(n, what)                         \
  if (n) {                                    \
    fprintf(stderr, "%s%d %s", sep, n, what); \
    sep = ", ";                               \
  }
  PART(k->already, "already in the output");
  PART(k->sidecar_exists + s->sidecar_skipped, "sidecar exists");
  PART(in->not_images, "not images");
  PART(in->dangling, "dangling symlinks");
  PART(k->repeats + in->repeated, "repeated");
#undef PART
  fprintf(stderr, "%s, %d failed, %.1f s", *sep == ',' ? ")" : "", s->failed, sec);
  if (in->other_shards) fprintf(stderr, "; %d inputs belong to other shards", in->other_shards);
  fputc('\n', stderr);
  if (s->cut)
    fprintf(stderr,
            "vlp caption: %d of %d captions reached the length limit (%d tokens) before [SEP] "
            "and may be cut mid-sentence; %s gives them room\n",
            s->cut, s->captioned, s->limit,
            s->limit < 40 ? "--max-new-tokens 40" : "a larger --max-new-tokens");
}

int cmd_caption(int argc, char **argv) {
  caption_opts o = {.p = vlp_gen_default_params(), .batch = 1, .join = ", "};
  ct_inputs in = {0};
  cli_args a;
  double t0 = ct_now();
  if (parse(argc, argv, &o, &in, &a)) {
    fprintf(stderr, "vlp caption: out of memory\n");
    return EXIT_USAGE;
  }
  int rc = EXIT_USAGE, n_recs = 0, n_work = 0, lock_fd = -1;
  char *skip = NULL, **sidecars = NULL;
  const ct_input **work = NULL;
  ct_parsed *recs = NULL;
  run_state s = {.o = &o};
  if (o.c.help) {
    printf("%s\n%s", usage, cli_gen_usage);
    rc = EXIT_ALL_OK;
    goto out;
  }
  if (!a.failed && !in.n && !in.not_images && !in.other_shards && !in.repeated && !in.dangling)
    cli_usage_error(&a, "no images given");
  if (!a.failed && o.p.prompt && !o.p.prompt[0]) cli_usage_error(&a, "--prompt is empty");
  if (!a.failed && o.existing != CT_SKIP && !o.sidecar)
    cli_usage_error(&a, "--existing needs --sidecar");
  if (a.failed) goto out;
  int repeats = dedupe(&in);

  /* the output file: its format, and what it already holds (resume) */
  const char *outp = o.c.output && strcmp(o.c.output, "-") ? o.c.output : NULL;
  long valid = 0;
  int already = 0;
  if (!o.format_set && outp) {
    size_t n = strlen(outp);
    if (n > 4 && !strcmp(outp + n - 4, ".csv")) o.format = CT_CSV;
    if (n > 4 && !strcmp(outp + n - 4, ".tsv")) o.format = CT_TSV;
  }
  skip = calloc((size_t)in.n + 1, 1);
  work = malloc((size_t)(in.n ? in.n : 1) * sizeof *work);
  sidecars = o.sidecar ? calloc((size_t)(in.n ? in.n : 1), sizeof *sidecars) : NULL;
  if (!skip || !work || (o.sidecar && !sidecars)) {
    fprintf(stderr, "vlp caption: out of memory\n");
    goto out;
  }
  struct stat ost;
  if (outp && stat(outp, &ost) == 0 && !S_ISREG(ost.st_mode)) outp = NULL; /* a FIFO, /dev/stdout */
  /* an existing output is locked before it is read: a second run on it is refused */
  if (outp && (lock_fd = open(outp, O_RDONLY | O_CLOEXEC)) >= 0 &&
      cli_lock_output("caption", lock_fd, outp))
    goto out;
  if (outp && !o.no_resume && read_done(&o, outp, &in, skip, &recs, &n_recs, &valid, &already))
    goto out;

  /* the work list; sidecars that exist already are skipped (--existing skip) */
  int sidecar_exists = 0;
  if ((n_work = plan_work(&o, &in, skip, work, sidecars, &sidecar_exists)) < 0) {
    n_work = in.n; /* free_list: the sidecar names made so far */
    goto out;
  }

  /* the model, then the output stream */
  if (!o.c.model) o.c.model = cli_default_model(); /* the reader fits images to it too */
  cli_common c_nout = o.c;
  c_nout.output = NULL;
  if (!cli_start("caption", &c_nout, ARCH(VLP_ARCH_BLIP_CAPTION), &s.m, &s.sess)) goto out;
  s.use_sink = !o.sidecar || o.c.output;
  if (s.use_sink && ct_sink_open(&s.sink, o.c.output, o.format, valid, o.no_resume, lock_fd >= 0))
    goto out;
  s.sidecars = sidecars;
  s.work = work;
  { /* the length limit in tokens, for the message about truncated captions */
    int *ids = NULL, np = 0;
    if (o.p.prompt && vlp_tokenize(vlp_model_tokenizer(s.m), o.p.prompt, &ids, &np) == VLP_OK)
      free(ids);
    s.limit = o.p.max_new_tokens > 0 ? (np > 0 ? np - 1 : 1) + o.p.max_new_tokens : o.p.max_length;
  }
  ct_progress_start(&progress, n_work, o.quiet);
  if (run(&s, n_work)) goto out;
  ct_progress_end(&progress);
  int bad_out = s.use_sink && ct_sink_close(&s.sink);
  s.use_sink = 0;

  if (!o.quiet) {
    skip_counts k = {already, sidecar_exists, repeats};
    print_summary(&in, &s, &k, ct_now() - t0);
  }
  rc = bad_out ? EXIT_USAGE : s.failed ? EXIT_SOME_FAILED : EXIT_ALL_OK;
out:
  if (s.use_sink) ct_sink_close(&s.sink);
  if (lock_fd >= 0) close(lock_fd);
  vlp_session_free(s.sess);
  vlp_model_free(s.m);
  ct_parsed_free(recs, n_recs);
  free(skip);
  free(work);
  free_list(sidecars, n_work);
  ct_inputs_free(&in);
  free(o.from);
  return rc;
}
