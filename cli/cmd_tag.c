/* vlp tag: zero-shot labels for images with a CLIP or SigLIP model. The label texts are
 * embedded once per run; images go through the vision tower --batch at a time, decoded
 * ahead by reader threads, and each then costs a small matrix product. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "labels.h"

static const char usage[] =
    "usage: vlp tag -m MODEL_DIR (--labels A,B,... | --labels-file FILE) [options] "
    "IMAGE...\n\n"
    "Prints {\"path\", \"tags\": [{\"label\", \"score\"}, ...]} per image, best first. CLIP:\n"
    "score = softmax over all labels of logit_scale x cosine(image, template(label)).\n"
    "SigLIP: score = sigmoid(logit_scale x cosine + logit_bias) of each label on its own.\n\n"
    "options:\n"
    "  --labels A,B,...        the labels, comma separated\n"
    "  --labels-file FILE      one label per line (blank lines skipped)\n"
    "  --template T            text for each label, \"{}\" standing for the label\n"
    "                          (default CLIP \"a photo of a {}.\", SigLIP\n"
    "                          \"This is a photo of {}.\")\n"
    "  --top K                 print only the K best labels\n"
    "  --image-size N          run the vision tower at N x N (interpolated positions)\n"
    "  --batch N               images per forward pass (default 16)\n"
    "  -o FILE                 write the JSON lines to FILE instead of stdout\n"
    "%s"
    "  --precision P           f32 (default, exact), bf16 or int8: faster, see README\n"
    "  --threads N             threads (default: VLP_THREADS or all cores)\n";

static void write_tags(FILE *out, const char *path, const label_list *labels, const float *scores,
                       const int *order, int k) {
  fputs("{\"path\": ", out);
  json_write_str(out, path);
  fputs(", \"tags\": [", out);
  for (int j = 0; j < k; j++) {
    fputs(j ? ", {\"label\": " : "{\"label\": ", out);
    json_write_str(out, labels->items[order[j]]);
    fputs(", \"score\": ", out);
    json_write_float(out, scores[order[j]]);
    fputc('}', out);
  }
  fputs("]}\n", out);
  cli_flush(out);
}

int cmd_tag(int argc, char **argv) {
  cli_args a;
  cli_common c = {0};
  cli_paths in = {0};
  label_list labels = {0};
  cli_shard shard = {0};
  const char *opt, *pos, *tmpl = NULL;
  int top = 0, size = 0, batch = CLI_BATCH_DEFAULT;
  cli_args_init(&a, argc, argv, "tag");
  while (!a.failed && cli_next(&a, &opt, &pos)) {
    if (pos)
      cli_paths_add_input(&in, pos);
    else if (!labels_opt(&a, opt, &labels, &tmpl, &top, &size) && !cli_shard_opt(&a, opt, &shard) &&
             !cli_batch_opt(&a, opt, &batch) && !cli_common_opt(&a, opt, &c))
      cli_usage_error(&a, "unknown option %s", opt);
  }
  int rc = EXIT_USAGE;
  if (c.help) {
    printf(usage, cli_shard_usage);
    rc = EXIT_ALL_OK;
    goto out_args;
  }
  if (!a.failed && !labels.n) cli_usage_error(&a, "no labels: give --labels or --labels-file");
  if (!a.failed && !in.n) cli_usage_error(&a, "no images given");
  if (!a.failed && (tmpl && !tmpl[0])) cli_usage_error(&a, "--template is empty");
  if (a.failed) goto out_args;
  cli_paths_keep_shard(&in, &shard, "tag");
  vlp_model *m;
  vlp_session *sess;
  FILE *out = cli_start("tag", &c, ARCH(VLP_ARCH_CLIP) | ARCH(VLP_ARCH_SIGLIP), &m, &sess);
  if (!out) goto out_args;
  int L = labels.n, failed = 0;
  vlp_labels *set = NULL;
  float *scores = malloc((size_t)L * sizeof *scores);
  int *order = malloc((size_t)L * sizeof *order);
  if (!scores || !order) {
    fprintf(stderr, "vlp tag: out of memory\n");
  } else if (labels_make(sess, &labels, tmpl, &set)) {
    fprintf(stderr, "vlp tag: labels: %s\n", vlp_last_error());
  } else {
    /* Images in batches of --batch, decoded ahead by the reader; results in input order. */
    vlp_image_reader *rd = cli_reader_start("tag", m, size, in.paths, in.n, batch);
    cli_batch b;
    if (!rd || cli_batch_init(&b, batch)) {
      if (rd) fprintf(stderr, "vlp tag: out of memory\n");
      vlp_image_reader_free(rd);
      goto out_model;
    }
    for (int i0 = 0; i0 < in.n && !ferror(out); i0 += batch) {
      int n = in.n - i0 < batch ? in.n - i0 : batch;
      cli_batch_run(&b, sess, rd, n, size, NULL);
      for (int k = 0; k < n && !ferror(out); k++) {
        const char *path = in.paths[i0 + k];
        int fi;
        const vlp_features *f = cli_batch_get(&b, k, &fi);
        if (!f || labels_tag(sess, f, fi, set, scores, order)) {
          cli_report_error(out, "tag", "path", path, f ? vlp_last_error() : cli_batch_error(&b, k));
          failed++;
          continue;
        }
        write_tags(out, path, &labels, scores, order, top && top < L ? top : L);
      }
    }
    cli_batch_free(&b);
    vlp_image_reader_free(rd);
    rc = failed ? EXIT_SOME_FAILED : EXIT_ALL_OK;
  }
out_model:
  if (cli_close_output(out)) rc = EXIT_USAGE;
  free(order);
  free(scores);
  vlp_labels_free(set);
  vlp_session_free(sess);
  vlp_model_free(m);
out_args:
  labels_free(&labels);
  cli_paths_free(&in);
  return rc;
}
