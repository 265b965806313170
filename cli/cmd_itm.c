/* vlp itm: image-text matching with a BLIP retrieval or a SigLIP model, one JSON line per
 * text. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const char usage[] =
    "usage: vlp itm -m MODEL_DIR [options] IMAGE TEXT...\n\n"
    "BLIP retrieval models print {\"path\", \"text\", \"itm\", \"itc\"} per text: itm =\n"
    "probability that the text matches the image (ITM head), itc = cosine of the projected,\n"
    "normalised embeddings. SigLIP models print {\"path\", \"text\", \"score\", \"logit\"}:\n"
    "logit = exp(logit_scale) x cosine + logit_bias, score = sigmoid(logit).\n\n"
    "options:\n"
    "  --image-size N          run the vision tower at N x N (interpolated positions)\n"
    "  -o FILE                 write the JSON lines to FILE instead of stdout\n"
    "  --precision P           f32 (default, exact), bf16 or int8: faster, see README\n"
    "  --threads N             threads (default: VLP_THREADS or all cores)\n";

int cmd_itm(int argc, char **argv) {
  cli_args a;
  cli_common c = {0};
  const char *opt, *pos, *image = NULL;
  const char **texts = calloc((size_t)argc, sizeof *texts);
  int nt = 0, size = 0;
  cli_args_init(&a, argc, argv, "itm");
  while (!a.failed && cli_next(&a, &opt, &pos)) {
    if (pos && !image)
      image = pos;
    else if (pos)
      texts[nt++] = pos;
    else if (!strcmp(opt, "--image-size"))
      cli_int(&a, 1, 8192, &size);
    else if (!cli_common_opt(&a, opt, &c))
      cli_usage_error(&a, "unknown option %s", opt);
  }
  if (c.help) {
    fputs(usage, stdout);
    free(texts);
    return EXIT_ALL_OK;
  }
  if (!a.failed && (!image || !nt)) cli_usage_error(&a, "needs an IMAGE and at least one TEXT");
  if (a.failed) {
    free(texts);
    return EXIT_USAGE;
  }
  vlp_model *m;
  vlp_session *sess;
  FILE *out = cli_start("itm", &c, ARCH(VLP_ARCH_BLIP_ITM) | ARCH(VLP_ARCH_SIGLIP), &m, &sess);
  if (!out) {
    free(texts);
    return EXIT_USAGE;
  }
  int failed = 0;
  vlp_image img = {0};
  vlp_features *f = NULL;
  if (vlp_image_load(image, &img) || vlp_encode_images(sess, &img, 1, size, &f)) {
    cli_report_error(out, "itm", "path", image, vlp_last_error());
    failed = nt;
  } else {
    int siglip = vlp_model_arch(m) == VLP_ARCH_SIGLIP;
    for (int i = 0; i < nt; i++) {
      float itm, itc; /* SigLIP: score, logit */
      if (!texts[i][0] || (siglip ? vlp_match(sess, f, 0, texts[i], &itm, &itc)
                                  : vlp_itm(sess, f, 0, texts[i], &itm, &itc))) {
        cli_report_error(out, "itm", "path", image,
                         texts[i][0] ? vlp_last_error() : "the text is empty");
        failed++;
        continue;
      }
      fputs("{\"path\": ", out);
      json_write_str(out, image);
      fputs(", \"text\": ", out);
      json_write_str(out, texts[i]);
      fputs(siglip ? ", \"score\": " : ", \"itm\": ", out);
      json_write_float(out, itm);
      fputs(siglip ? ", \"logit\": " : ", \"itc\": ", out);
      json_write_float(out, itc);
      fputs("}\n", out);
      cli_flush(out);
    }
  }
  vlp_image_free(&img);
  vlp_features_free(f);
  int bad_out = cli_close_output(out);
  vlp_session_free(sess);
  vlp_model_free(m);
  free(texts);
  return bad_out ? EXIT_USAGE : failed ? EXIT_SOME_FAILED : EXIT_ALL_OK;
}
