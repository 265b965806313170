/* vlp index build | export: build or update a retrieval index of image embeddings (CLIP,
 * BLIP retrieval) and export it for FAISS. The format is described in vlp.h and index/index.h. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "caption_tool.h"
#include "cli.h"
#include "cli_index.h"
#include "cli_video.h"
#include "index_video.h"

static const char usage[] =
    "usage: vlp index build -m MODEL_DIR -o INDEX_DIR [sampling options] PATH...\n"
    "       vlp index export INDEX_DIR --faiss FILE\n"
    "       vlp index merge -o INDEX_DIR SHARD_INDEX_DIR... (vlp index merge --help)\n\n"
    "--shard K/N, auto or auto/N (build): index only that shard of the files (as vlp caption's\n"
    "--shard; auto from a Slurm array or a Kubernetes indexed Job); join with index merge.\n"
    "build: embeds the images found in the PATHs (files, or folders searched recursively;\n"
    "names starting with '.' are skipped) with a CLIP or BLIP retrieval model and stores\n"
    "their L2-normalised embeddings in INDEX_DIR. The index then holds exactly these\n"
    "files: re-running it embeds only new or changed files (by content hash) and drops the\n"
    "entries of files that are gone, not under the PATHs given this time, or no longer\n"
    "readable, naming each as {\"path\", \"removed\": WHY} (and on stderr): to add a folder\n"
    "to an index, give the earlier PATHs too. INDEX_DIR inside a PATH is skipped.\n"
    "Progress (the scan, then images done/total) goes to stderr on a terminal, or anywhere\n"
    "with --progress. In folders, "
    "files that are neither images (by content or name)\n"
    "nor videos (by name) are skipped and counted; an image that cannot be decoded is\n"
    "reported as {\"path\", \"error\"} and skipped (exit code 1). A last line {\"index\",\n"
    "\"files\", \"embedded\", \"unchanged\", \"removed\", \"failed\", \"skipped\"} sums up the "
    "build.\n"
    "Videos (by extension: .mp4 .mkv .webm .avi .mov ...) add one entry per sampled frame\n"
    "(default: one per second; the sampling options of `vlp video`), named\n"
    "VIDEO#t=SECONDS; `vlp search` answers with {\"path\": VIDEO, \"t\": SECONDS}.\n"
    "export: writes the embeddings as a FAISS IndexFlatIP file (faiss.read_index); row i\n"
    "is the file of rank i in `sqlite3 INDEX_DIR/index.db 'SELECT path FROM files ORDER BY "
    "row'`.\n\n"
    "options:\n"
    "  --precision P           f32 (default, exact), bf16 or int8: faster, see README\n"
    "  --threads N             threads (default: VLP_THREADS or all cores)\n";

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Old rows by content hash, for reuse of unchanged (or moved) files. */
typedef struct {
  uint64_t hash;
  int64_t size, row;
} hash_row;

static int cmp_hash(const void *a, const void *b) {
  const hash_row *x = a, *y = b;
  if (x->hash != y->hash) return x->hash < y->hash ? -1 : 1;
  return x->size < y->size ? -1 : x->size > y->size;
}

static int cmp_entry_path(const void *a, const void *b) {
  return strcmp(((const vlp_index_entry *)a)->path, ((const vlp_index_entry *)b)->path);
}

/* Name on stdout ({"path", "removed": why}) and stderr every old entry the new index drops
 * (a video once, not per frame); their number in *removed. -1 when out of memory. */
static int report_removed(const char *cmd, const vlp_index *old, const vlp_index_entry *by_path,
                          const vlp_index_entry *ent, int64_t n, const cli_paths *inputs,
                          int64_t *removed) {
  *removed = 0;
  if (!old || !old->count) return 0;
  vlp_index_entry *now = malloc((size_t)(n ? n : 1) * sizeof *now);
  if (!now) return -1;
  memcpy(now, ent, (size_t)n * sizeof *now);
  qsort(now, (size_t)n, sizeof *now, cmp_entry_path);
  char *last = NULL; /* the last file named (a video's frames share it) */
  for (int64_t i = 0; i < old->count; i++) {
    const char *p = by_path[i].path;
    vlp_index_entry key = {.path = (char *)p};
    if (n && bsearch(&key, now, (size_t)n, sizeof *now, cmp_entry_path)) continue;
    (*removed)++;
    char *video = NULL;
    double t;
    const char *file = vlp_frame_ref_split(p, &video, &t) ? video : p;
    if (!last || strcmp(last, file)) {
      struct stat st;
      const char *why =
          stat(file, &st) != 0 ? "the file is gone"
          : !inputs->n || !bsearch(&file, inputs->paths, (size_t)inputs->n, sizeof(char *), cmp_str)
              ? "not under the PATHs given"
              : "it could not be read";
      printf("{\"path\": ");
      json_write_str(stdout, file);
      printf(", \"removed\": \"%s\"}\n", why);
      fprintf(stderr, "vlp %s: %s: dropped from the index (%s)\n", cmd, file, why);
      free(last);
      last = strdup(file);
    }
    free(video);
  }
  free(last);
  free(now);
  return 0;
}

/* ---- build ----------------------------------------------------------------------------- */

static int index_build(int argc, char **argv) {
  const char *cmd = "index build";
  cli_args a;
  cli_common c = {0};
  ct_inputs inputs = {0};
  /* folders: recursively, images (magic bytes or an image name) and videos (by name); other
   * files are skipped and counted */
  ct_walk_opts walk = {.recursive = 1, .videos = 1, .cmd = cmd};
  int nargs = 0;
  vlp_video_sampling vs = cli_video_default_sampling();
  int progress = 0;
  const char *opt, *pos;
  const char **args = calloc((size_t)argc + 1, sizeof *args);
  char err[512];
  if (!args) return EXIT_USAGE;
  cli_args_init(&a, argc, argv, cmd);
  while (!a.failed && cli_next(&a, &opt, &pos)) {
    if (pos)
      args[nargs++] = pos;
    else if (!strcmp(opt, "--shard")) {
      const char *v = cli_value(&a);
      if (v && ct_shard_parse(v, &walk.shard_k, &walk.shard_n, err, sizeof err))
        cli_usage_error(&a, "%s", err);
    } else if (!cli_video_opt(&a, opt, &vs, &progress) && !cli_common_opt(&a, opt, &c))
      cli_usage_error(&a, "unknown option %s", opt);
  }
  if (c.help) {
    printf("%s\n%s", usage, cli_video_usage);
    free(args);
    return EXIT_ALL_OK;
  }
  if (!a.failed && !c.output) cli_usage_error(&a, "no index folder: give -o INDEX_DIR");
  if (!a.failed && !nargs) cli_usage_error(&a, "no input PATHs given");
  if (a.failed) {
    free(args);
    return EXIT_USAGE;
  }
  /* progress (scan, then images embedded) on a terminal, or anywhere with --progress */
  int show = progress || isatty(STDERR_FILENO);
  walk.progress = show;
  for (int i = 0; i < nargs; i++) ct_inputs_add_arg(&inputs, args[i], &walk);
  ct_inputs_scan_done(&inputs, &walk);
  free(args);
  if (!c.model) c.model = cli_default_model(); /* recorded in the index */
  vlp_model *m = cli_load_model(cmd, &c);
  vlp_session *sess = NULL;
  if (m && vlp_model_embed_dim(m) <= 0) {
    fprintf(stderr, "vlp %s: the model is %s; an index needs a %s, %s or %s\n", cmd,
            vlp_arch_name(vlp_model_arch(m)), vlp_arch_name(VLP_ARCH_CLIP),
            vlp_arch_name(VLP_ARCH_SIGLIP), vlp_arch_name(VLP_ARCH_BLIP_ITM));
    vlp_model_free(m);
    m = NULL;
  }
  if (m && !(sess = cli_new_session(cmd, m))) {
    vlp_model_free(m);
    m = NULL;
  }
  if (!m) {
    ct_inputs_free(&inputs);
    return EXIT_USAGE;
  }
  char model_real[PATH_MAX], dir_real[PATH_MAX];
  if (!realpath(c.model, model_real)) snprintf(model_real, sizeof model_real, "%s", c.model);
  const char *arch = vlp_arch_name(vlp_model_arch(m));
  int dim = vlp_model_embed_dim(m), lock = -1, rc = EXIT_USAGE;
  vlp_index *old = NULL;
  vlp_index_entry *by_path = NULL, *ent = NULL;
  hash_row *by_hash = NULL;
  float *emb = NULL;
  index_rows rows = {.dim = dim}; /* owns the entries and embeddings (grown for videos) */
  int64_t n = 0, embedded = 0, unchanged = 0, removed = 0, failed = 0;
  if (vlp_index_lock(c.output, &lock) ||
      (vlp_index_exists(c.output) && vlp_index_open(c.output, &old))) {
    fprintf(stderr, "vlp %s: %s\n", cmd, vlp_last_error());
    if (old == NULL && lock >= 0 && vlp_index_exists(c.output))
      fprintf(stderr, "vlp %s: (delete the folder %s to start a new index)\n", cmd, c.output);
    goto done;
  }
  if (!realpath(c.output, dir_real)) snprintf(dir_real, sizeof dir_real, "%s", c.output);
  /* Old embeddings are reusable only when they come from the same model. */
  int reuse = old && !strcmp(old->model, model_real) && !strcmp(old->arch, arch) && old->dim == dim;
  if (old && old->count) {
    by_path = malloc((size_t)old->count * sizeof *by_path);
    by_hash = malloc((size_t)old->count * sizeof *by_hash);
    if (!by_path || !by_hash) goto nomem;
    memcpy(by_path, old->entries, (size_t)old->count * sizeof *by_path);
    qsort(by_path, (size_t)old->count, sizeof *by_path, cmp_entry_path);
    for (int64_t i = 0; i < old->count; i++)
      by_hash[i] = (hash_row){old->entries[i].hash, old->entries[i].size, i};
    qsort(by_hash, (size_t)old->count, sizeof *by_hash, cmp_hash);
  }
  /* absolute, unique, sorted paths; the index's own files are not inputs */
  cli_paths abs = {0};
  size_t dlen = strlen(dir_real);
  for (int i = 0; i < inputs.n; i++) {
    char r[PATH_MAX];
    const ct_input *in = &inputs.v[i];
    if (in->error || !realpath(in->path, r)) {
      cli_report_error(stdout, cmd, "path", in->path, in->error ? in->error : strerror(errno));
      failed++;
      continue;
    }
    if (!strncmp(r, dir_real, dlen) && r[dlen] == '/') continue;
    cli_paths_add(&abs, r);
  }
  if (abs.n) qsort(abs.paths, (size_t)abs.n, sizeof *abs.paths, cmp_str);
  size_t per = (size_t)dim * sizeof(float);
  ct_progress bar = {.cmd = cmd};
  ct_progress_start(&bar, abs.n, !show);
  for (int i = 0; i < abs.n; i++) {
    ct_progress_update(&bar, i);
    if (i && !strcmp(abs.paths[i], abs.paths[i - 1])) continue;
    vlp_index_entry e = {.path = abs.paths[i]};
    if (vlp_index_file_info(e.path, &e)) {
      cli_report_error(stdout, cmd, "path", e.path, vlp_last_error());
      failed++;
      continue;
    }
    if (cli_is_video_path(e.path)) {
      failed += index_add_video(stdout, cmd, sess, &e, &vs, progress, old, reuse, &rows);
      continue;
    }
    if (index_rows_reserve(&rows)) {
      cli_paths_free(&abs);
      goto nomem;
    }
    float *row = rows.emb + (size_t)rows.n * (size_t)dim;  // (dim)
    hash_row key = {e.hash, e.size, 0}, *hit = NULL;
    if (reuse && by_hash) hit = bsearch(&key, by_hash, (size_t)old->count, sizeof key, cmp_hash);
    if (hit) {
      memcpy(row, old->emb + (size_t)hit->row * (size_t)dim, per);
      unchanged++;
    } else {
      vlp_image img = {0};
      if (vlp_image_load(e.path, &img) || vlp_embed_images(sess, &img, 1, 0, row)) {
        cli_report_error(stdout, cmd, "path", e.path, vlp_last_error());
        vlp_image_free(&img);
        failed++;
        continue;
      }
      vlp_image_free(&img);
      embedded++;
    }
    rows.ent[rows.n++] = e;
  }
  ct_progress_update(&bar, abs.n);
  ct_progress_end(&bar);
  if (index_rows_reserve(&rows)) { /* never NULL arrays, even for an empty index */
    cli_paths_free(&abs);
    goto nomem;
  }
  ent = rows.ent;
  emb = rows.emb;
  n = rows.n;
  embedded += rows.embedded;
  unchanged += rows.unchanged;
  /* removed: old entries that are not in the new index, each named */
  if (vlp_index_commit(c.output, model_real, arch, dim, ent, n, emb)) {
    fprintf(stderr, "vlp %s: %s\n", cmd, vlp_last_error());
    cli_paths_free(&abs);
    goto done;
  }
  if (report_removed(cmd, old, by_path, ent, n, &abs, &removed)) {
    cli_paths_free(&abs);
    goto nomem;
  }
  printf("{\"index\": ");
  json_write_str(stdout, c.output);
  printf(
      ", \"files\": %lld, \"embedded\": %lld, \"unchanged\": %lld, \"removed\": %lld, "
      "\"failed\": %lld, \"skipped\": %d}\n",
      (long long)n, (long long)embedded, (long long)unchanged, (long long)removed,
      (long long)failed, inputs.not_images);
  fprintf(stderr,
          "vlp %s: %s: %lld files (%lld embedded, %lld unchanged, %lld removed, %lld failed, "
          "%d other files skipped)\n",
          cmd, c.output, (long long)n, (long long)embedded, (long long)unchanged,
          (long long)removed, (long long)failed, inputs.not_images);
  cli_paths_free(&abs);
  rc = cli_close_output(stdout) ? EXIT_USAGE : failed ? EXIT_SOME_FAILED : EXIT_ALL_OK;
  goto done;
nomem:
  fprintf(stderr, "vlp %s: out of memory\n", cmd);
done:
  index_rows_free(&rows); /* ent, emb */
  free(by_path);
  free(by_hash);
  vlp_index_close(old);
  vlp_index_unlock(lock);
  vlp_session_free(sess);
  vlp_model_free(m);
  ct_inputs_free(&inputs);
  return rc;
}

/* ---- export ---------------------------------------------------------------------------- */

static int index_export(int argc, char **argv) {
  const char *cmd = "index export";
  cli_args a;
  cli_common c = {0};
  const char *opt, *pos, *dir = NULL, *faiss = NULL;
  cli_args_init(&a, argc, argv, cmd);
  while (!a.failed && cli_next(&a, &opt, &pos)) {
    if (pos && !dir)
      dir = pos;
    else if (pos)
      cli_usage_error(&a, "unexpected argument '%s'", pos);
    else if (!strcmp(opt, "--faiss"))
      faiss = cli_value(&a);
    else if (!cli_common_opt(&a, opt, &c))
      cli_usage_error(&a, "unknown option %s", opt);
  }
  if (c.help) {
    fputs(usage, stdout);
    return EXIT_ALL_OK;
  }
  if (!a.failed && (!dir || !faiss)) cli_usage_error(&a, "needs INDEX_DIR and --faiss FILE");
  if (a.failed) return EXIT_USAGE;
  vlp_index *ix = NULL;
  if (vlp_index_open(dir, &ix) || vlp_index_export_faiss(ix, faiss)) {
    fprintf(stderr, "vlp %s: %s\n", cmd, vlp_last_error());
    vlp_index_close(ix);
    return EXIT_USAGE;
  }
  printf("{\"faiss\": ");
  json_write_str(stdout, faiss);
  printf(", \"count\": %lld, \"dim\": %d}\n", (long long)ix->count, ix->dim);
  vlp_index_close(ix);
  return cli_close_output(stdout) ? EXIT_USAGE : EXIT_ALL_OK;
}

int cmd_index(int argc, char **argv) {
  if (argc >= 2 && !strcmp(argv[1], "build")) return index_build(argc - 1, argv + 1);
  if (argc >= 2 && !strcmp(argv[1], "export")) return index_export(argc - 1, argv + 1);
  if (argc >= 2 && !strcmp(argv[1], "merge")) return index_merge(argc - 1, argv + 1);
  if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
    fputs(usage, stdout);
    return EXIT_ALL_OK;
  }
  fprintf(stderr, "vlp index: say build, export or merge (vlp index --help)\n");
  return EXIT_USAGE;
}
