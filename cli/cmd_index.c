/* vlp index build | export: build or update a retrieval index of image embeddings (CLIP,
 * BLIP retrieval) and export it for FAISS. The format is described in vlp.h and index/index.h. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "caption_tool.h"
#include "cli.h"
#include "cli_index.h"
#include "cli_video.h"

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
    "  --batch N               images or video frames per forward pass (default 16; 1 on\n"
    "                          CPUs whose products are not batch invariant, e.g. AVX2-only:\n"
    "                          the index is bit for bit the same however it was built)\n"
    "  --precision P           f32 (default, exact), bf16 or int8: faster, see README\n"
    "  --threads N             threads (default: VLP_THREADS or all cores)\n";

/* The build's progress bar and the records of files it reports. */
typedef struct {
  ct_progress bar;
} build_ui;

static int on_progress(void *ctx, const char *what, int64_t done, int64_t total) {
  (void)what, (void)total;
  ct_progress_update(&((build_ui *)ctx)->bar, (int)done);
  return 0;
}

/* {"path", "error"} or {"path", "removed": why} on stdout, and a line on stderr */
static void on_report(void *ctx, const char *path, const char *kind, const char *message) {
  build_ui *ui = ctx;
  ct_progress_clear(&ui->bar);
  if (!strcmp(kind, "removed")) {
    printf("{\"path\": ");
    json_write_str(stdout, path);
    printf(", \"removed\": \"%s\"}\n", message);
    fprintf(stderr, "vlp index build: %s: dropped from the index (%s)\n", path, message);
  } else {
    cli_report_error(stdout, "index build", "path", path, message);
  }
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
  int progress = 0, batch = 0;
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
    } else if (!cli_video_opt(&a, opt, &vs, &progress) && !cli_batch_opt(&a, opt, &batch) &&
               !cli_common_opt(&a, opt, &c))
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
  c.parts = VLP_LOAD_VISION;                   /* an index holds image embeddings only */
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
  /* walk errors are reported here; the files go to the library's build */
  int64_t walk_failed = 0;
  const char **files = malloc((size_t)(inputs.n ? inputs.n : 1) * sizeof *files);
  int nfiles = 0, rc = EXIT_USAGE;
  if (!files) {
    fprintf(stderr, "vlp %s: out of memory\n", cmd);
    goto done;
  }
  for (int i = 0; i < inputs.n; i++) {
    if (inputs.v[i].error) {
      cli_report_error(stdout, cmd, "path", inputs.v[i].path, inputs.v[i].error);
      walk_failed++;
    } else {
      files[nfiles++] = inputs.v[i].path;
    }
  }
  build_ui ui = {.bar = {.cmd = cmd}};
  ct_progress_start(&ui.bar, nfiles, !show);
  vlp_index_build_options bo = vlp_index_build_default_options();
  bo.video = vs;
  if (batch) bo.batch = batch;
  bo.progress = on_progress, bo.progress_ctx = &ui;
  bo.report = on_report, bo.report_ctx = &ui;
  vlp_index_build_stats st;
  vlp_status bs = vlp_index_build(sess, c.output, files, nfiles, &bo, &st);
  ct_progress_end(&ui.bar);
  if (bs) {
    fprintf(stderr, "vlp %s: %s\n", cmd, vlp_last_error());
    goto done;
  }
  int64_t failed = st.failed + walk_failed;
  printf("{\"index\": ");
  json_write_str(stdout, c.output);
  printf(
      ", \"files\": %lld, \"embedded\": %lld, \"unchanged\": %lld, \"removed\": %lld, "
      "\"failed\": %lld, \"skipped\": %d}\n",
      (long long)st.files, (long long)st.embedded, (long long)st.unchanged, (long long)st.removed,
      (long long)failed, inputs.not_images);
  fprintf(stderr,
          "vlp %s: %s: %lld files (%lld embedded, %lld unchanged, %lld removed, %lld failed, "
          "%d other files skipped)\n",
          cmd, c.output, (long long)st.files, (long long)st.embedded, (long long)st.unchanged,
          (long long)st.removed, (long long)failed, inputs.not_images);
  rc = cli_close_output(stdout) ? EXIT_USAGE : failed ? EXIT_SOME_FAILED : EXIT_ALL_OK;
done:
  free(files);
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
