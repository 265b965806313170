/* vlp search: exact retrieval in an index built by `vlp index build`, by text or image,
 * optionally re-ranked by BLIP's ITM head (two-stage retrieval). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_index.h"
#include "cli/cli_video.h"
#include "cli/index_video.h"
#include "index/index.h"

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

typedef struct {
  int64_t row;
  float score, itm;
  int has_itm;
} hit;

static int cmp_itm(const void *a, const void *b) {
  const hit *x = a, *y = b;
  if (x->itm != y->itm) return x->itm > y->itm ? -1 : 1;
  return x->score > y->score ? -1 : x->score < y->score;
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
  if (!a.failed && text && !text[0]) cli_usage_error(&a, "the text query is empty");
  if (!a.failed && rerank && image) cli_usage_error(&a, "--rerank needs a text query");
  if (a.failed) return EXIT_USAGE;

  vlp_index *ix = NULL;
  if (vlp_index_open(dir, &ix)) {
    fprintf(stderr, "vlp %s: %s\n", cmd, vlp_last_error());
    return EXIT_USAGE;
  }
  if (!c.model) c.model = ix->model;
  vlp_model *m = cli_load_model(cmd, &c);
  vlp_session *sess = m ? cli_new_session(cmd, m) : NULL;
  int rc = EXIT_USAGE;
  float *q = NULL;
  hit *hits = NULL;
  int64_t *rows = NULL;
  float *scores = NULL;
  FILE *out = NULL;
  if (!sess) goto done;
  const char *arch = vlp_arch_name(vlp_model_arch(m));
  if (strcmp(arch, ix->arch) || vlp_model_embed_dim(m) != ix->dim) {
    fprintf(stderr,
            "vlp %s: %s is a %s with %d-dim embeddings but the index %s was built with "
            "a %s with %d-dim embeddings (%s)\n",
            cmd, c.model, arch, vlp_model_embed_dim(m), dir, ix->arch, ix->dim, ix->model);
    goto done;
  }
  if (rerank && vlp_model_arch(m) != VLP_ARCH_BLIP_ITM) {
    fprintf(stderr, "vlp %s: --rerank needs a %s model; this one is %s\n", cmd,
            vlp_arch_name(VLP_ARCH_BLIP_ITM), arch);
    goto done;
  }
  if (!(out = cli_open_output(cmd, c.output))) goto done;
  q = malloc((size_t)ix->dim * sizeof *q);  // (dim)
  int want = k > rerank ? k : rerank;
  rows = malloc((size_t)want * sizeof *rows);
  scores = malloc((size_t)want * sizeof *scores);
  hits = malloc((size_t)want * sizeof *hits);
  if (!q || !rows || !scores || !hits) {
    fprintf(stderr, "vlp %s: out of memory\n", cmd);
    goto done;
  }
  if (text && vlp_embed_texts(sess, &text, 1, q)) {
    cli_report_error(out, cmd, "query", text, vlp_last_error());
    rc = EXIT_SOME_FAILED;
    goto done;
  }
  if (image) {
    vlp_image img = {0};
    vlp_status st = vlp_image_load(image, &img);
    if (!st) st = vlp_embed_images(sess, &img, 1, 0, q);
    vlp_image_free(&img);
    if (st) {
      cli_report_error(out, cmd, "query", image, vlp_last_error());
      rc = EXIT_SOME_FAILED;
      goto done;
    }
  }
  int n = vlp_index_search(ix, q, want, rows, scores), failed = 0;
  for (int i = 0; i < n; i++) hits[i] = (hit){rows[i], scores[i], 0, 0};
  /* stage two: the first `rerank` by ITM probability; ones that cannot be read go last */
  int nr = rerank < n ? rerank : n;
  for (int i = 0; i < nr; i++) {
    const char *path = ix->entries[hits[i].row].path;
    vlp_image img = {0};
    vlp_features *f = NULL;
    float itm = 0, itc = 0;
    if (cli_load_image_or_frame(path, &img) || vlp_encode_images(sess, &img, 1, 0, &f) ||
        vlp_itm(sess, f, 0, text, &itm, &itc)) {
      cli_report_error(out, cmd, "path", path, vlp_last_error());
      failed++;
      hits[i].itm = -INFINITY;
    } else {
      hits[i].itm = itm;
      hits[i].has_itm = 1;
    }
    vlp_features_free(f);
    vlp_image_free(&img);
  }
  qsort(hits, (size_t)nr, sizeof *hits, cmp_itm);
  for (int i = 0; i < n && i < k; i++) {
    fprintf(out, "{\"rank\": %d, \"path\": ", i + 1);
    char *video;
    double t;
    if (cli_split_frame_ref(ix->entries[hits[i].row].path, &video, &t)) {
      json_write_str(out, video);
      fputs(", \"t\": ", out);
      cli_write_time(out, t);
      free(video);
    } else {
      json_write_str(out, ix->entries[hits[i].row].path);
    }
    fputs(", \"score\": ", out);
    json_write_float(out, hits[i].score);
    if (hits[i].has_itm) {
      fputs(", \"itm\": ", out);
      json_write_float(out, hits[i].itm);
    }
    fputs("}\n", out);
    cli_flush(out);
  }
  rc = failed ? EXIT_SOME_FAILED : EXIT_ALL_OK;
done:
  if (out && cli_close_output(out)) rc = EXIT_USAGE;
  free(q);
  free(rows);
  free(scores);
  free(hits);
  vlp_session_free(sess);
  vlp_model_free(m);
  vlp_index_close(ix);
  return rc;
}
