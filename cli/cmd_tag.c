/* vlp tag: zero-shot labels for images with a CLIP or SigLIP model. The label texts are
 * embedded once per run; each image then costs one vision forward and a small matrix
 * product. */
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
    "  -o FILE                 write the JSON lines to FILE instead of stdout\n"
    "%s"
    "  --precision P           f32 (default, exact), bf16 or int8: faster, see README\n"
    "  --threads N             threads (default: VLP_THREADS or all cores)\n";

int cmd_tag(int argc, char **argv) {
  cli_args a;
  cli_common c = {0};
  cli_paths in = {0};
  label_list labels = {0};
  cli_shard shard = {0};
  const char *opt, *pos, *tmpl = NULL;
  int top = 0, size = 0;
  cli_args_init(&a, argc, argv, "tag");
  while (!a.failed && cli_next(&a, &opt, &pos)) {
    if (pos)
      cli_paths_add_input(&in, pos);
    else if (!labels_opt(&a, opt, &labels, &tmpl, &top, &size) && !cli_shard_opt(&a, opt, &shard) &&
             !cli_common_opt(&a, opt, &c))
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
    for (int i = 0; i < in.n && !ferror(out); i++) {
      vlp_image img = {0};
      vlp_features *f = NULL;
      if (vlp_image_load(in.paths[i], &img) || vlp_encode_images(sess, &img, 1, size, &f) ||
          labels_tag(sess, f, set, scores, order)) {
        cli_report_error(out, "tag", "path", in.paths[i], vlp_last_error());
        vlp_image_free(&img);
        vlp_features_free(f);
        failed++;
        continue;
      }
      vlp_image_free(&img);
      vlp_features_free(f);
      int k = top && top < L ? top : L;
      fputs("{\"path\": ", out);
      json_write_str(out, in.paths[i]);
      fputs(", \"tags\": [", out);
      for (int j = 0; j < k; j++) {
        fputs(j ? ", {\"label\": " : "{\"label\": ", out);
        json_write_str(out, labels.items[order[j]]);
        fputs(", \"score\": ", out);
        json_write_float(out, scores[order[j]]);
        fputc('}', out);
      }
      fputs("]}\n", out);
      cli_flush(out);
    }
    rc = failed ? EXIT_SOME_FAILED : EXIT_ALL_OK;
  }
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
