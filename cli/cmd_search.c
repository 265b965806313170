/* vlp search: exact retrieval in an index built by `vlp index build`, by text or image,
 * optionally re-ranked by BLIP's ITM head (two-stage retrieval). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_index.h"
#include "cli_video.h"

static const char usage[] =
    "usage: vlp search INDEX_DIR \"TEXT QUERY\" [options]\n"
    "       vlp search INDEX_DIR --image IMAGE [options]\n\n"
    "Prints {\"rank\", \"path\", \"score\"} for the k best images: score = cosine of the\n"
    "query's and the image's embeddings (exact search over all of them). The model is the\n"
    "one the index was built with, or -m MODEL_DIR of the same architecture and width.\n"
    "A video frame in the index is printed as {\"rank\", \"path\": VIDEO, \"t\": SECONDS, "
    "\"score\"}.\n\n"
    "options:\n"
    "  -k N                    number of results (default 10)\n"
    "  --image IMAGE           search by image instead of text\n"
    "  --rerank N              (BLIP retrieval models, text queries) re-score the N best by\n"
    "                          the ITM head and rank them by its probability, as BLIP's\n"
    "                          two-stage retrieval; lines then also have \"itm\"\n"
    "  -m MODEL_DIR            use this model instead of the one recorded in the index\n"
    "  -o FILE                 write the JSON lines to FILE instead of stdout\n"
    "  --precision P           f32 (default, exact), bf16 or int8: faster, see README\n"
    "  --threads N             threads (default: VLP_THREADS or all cores)\n";

/* A rerank failure: one error line per entry that could not be read. */
typedef struct {
  FILE *out;
  int failed;
} rerank_errors;

static void on_rerank_error(void *ctx, const char *path, const char *message) {
  rerank_errors *e = ctx;
  cli_report_error(e->out, "search", "path", path, message);
  e->failed++;
}

/* One result line; a video frame's entry prints as its video and time. */
static void write_hit(FILE *out, const vlp_index *ix, int rank, const vlp_index_hit *h) {
  fprintf(out, "{\"rank\": %d, \"path\": ", rank);
  char *video;
  double t;
  if (vlp_frame_ref_split(ix->entries[h->row].path, &video, &t)) {
    json_write_str(out, video);
    fputs(", \"t\": ", out);
    cli_write_time(out, t);
    free(video);
  } else {
    json_write_str(out, ix->entries[h->row].path);
  }
  fputs(", \"score\": ", out);
  json_write_float(out, h->score);
  if (h->reranked) {
    fputs(", \"itm\": ", out);
    json_write_float(out, h->itm);
  }
  fputs("}\n", out);
  cli_flush(out);
}

/* The model for the index: -m or the one it was built with, checked against it. */
static int open_model(const char *cmd, cli_common *c, const vlp_index *ix, const char *dir,
                      int rerank, vlp_model **m, vlp_session **sess) {
  if (!c->model) c->model = ix->model;
  if (!(*m = cli_load_model(cmd, c))) return -1;
  const char *arch = vlp_arch_name(vlp_model_arch(*m));
  if (strcmp(arch, ix->arch) || vlp_model_embed_dim(*m) != ix->dim) {
    fprintf(stderr,
            "vlp %s: %s is a %s with %d-dim embeddings but the index %s was built with "
            "a %s with %d-dim embeddings (%s)\n",
            cmd, c->model, arch, vlp_model_embed_dim(*m), dir, ix->arch, ix->dim, ix->model);
    return -1;
  }
  if (rerank && vlp_model_arch(*m) != VLP_ARCH_BLIP_ITM) {
    fprintf(stderr, "vlp %s: --rerank needs a %s model; this one is %s\n", cmd,
            vlp_arch_name(VLP_ARCH_BLIP_ITM), arch);
    return -1;
  }
  return (*sess = cli_new_session(cmd, *m)) ? 0 : -1;
}

int cmd_search(int argc, char **argv) {
  const char *cmd = "search";
  cli_args a;
  cli_common c = {0};
  const char *opt, *pos, *dir = NULL, *text = NULL, *image = NULL;
  int k = 10, rerank = 0;
  cli_args_init(&a, argc, argv, cmd);
  while (!a.failed && cli_next(&a, &opt, &pos)) {
    if (pos && !dir)
      dir = pos;
    else if (pos && !text)
      text = pos;
    else if (pos)
      cli_usage_error(&a, "unexpected argument '%s' (quote a multi-word query)", pos);
    else if (!strcmp(opt, "-k"))
      cli_int(&a, 1, 1000000, &k);
    else if (!strcmp(opt, "--image"))
      image = cli_value(&a);
    else if (!strcmp(opt, "--rerank"))
      cli_int(&a, 1, 1000000, &rerank);
    else if (!cli_common_opt(&a, opt, &c))
      cli_usage_error(&a, "unknown option %s", opt);
  }
  if (c.help) {
    fputs(usage, stdout);
    return EXIT_ALL_OK;
  }
  if (!a.failed && !dir) cli_usage_error(&a, "no INDEX_DIR given");
  if (!a.failed && !!text == !!image)
    cli_usage_error(&a, "give either a TEXT query or --image IMAGE");
  if (!a.failed && rerank && image) cli_usage_error(&a, "--rerank needs a text query");
  if (a.failed) return EXIT_USAGE;

  vlp_index *ix = NULL;
  if (vlp_index_open(dir, &ix)) {
    fprintf(stderr, "vlp %s: %s\n", cmd, vlp_last_error());
    return EXIT_USAGE;
  }
  vlp_model *m = NULL;
  vlp_session *sess = NULL;
  vlp_index_hit *hits = NULL;
  FILE *out = NULL;
  int rc = EXIT_USAGE;
  /* a text query needs only the text tower, an image query only the vision tower */
  c.parts = image ? VLP_LOAD_VISION : rerank ? VLP_LOAD_ALL : VLP_LOAD_TEXT;
  if (open_model(cmd, &c, ix, dir, rerank, &m, &sess)) goto done;
  if (!(out = cli_open_output(cmd, c.output))) goto done;
  int want = k > rerank ? k : rerank, n = 0;
  if (!(hits = malloc((size_t)want * sizeof *hits))) {
    fprintf(stderr, "vlp %s: out of memory\n", cmd);
    goto done;
  }
  /* stage one: exact search by the query's embedding */
  vlp_status st;
  if (text) {
    st = vlp_index_query_text(sess, ix, text, want, hits, &n);
  } else {
    vlp_image img = {0};
    st = vlp_image_load(image, &img);
    if (!st) st = vlp_index_query_image(sess, ix, &img, want, hits, &n);
    vlp_image_free(&img);
  }
  if (st) {
    cli_report_error(out, cmd, "query", text ? text : image, vlp_last_error());
    rc = EXIT_SOME_FAILED;
    goto done;
  }
  /* stage two: the first `rerank` by ITM probability; ones that cannot be read go last */
  rerank_errors errs = {out, 0};
  if (rerank &&
      vlp_index_rerank(sess, ix, text, hits, rerank < n ? rerank : n, on_rerank_error, &errs)) {
    fprintf(stderr, "vlp %s: %s\n", cmd, vlp_last_error());
    goto done;
  }
  for (int i = 0; i < n && i < k; i++) write_hit(out, ix, i + 1, &hits[i]);
  rc = errs.failed ? EXIT_SOME_FAILED : EXIT_ALL_OK;
done:
  if (out && cli_close_output(out)) rc = EXIT_USAGE;
  free(hits);
  vlp_session_free(sess);
  vlp_model_free(m);
  vlp_index_close(ix);
  return rc;
}
