/* vlp vqa: answers to questions about one image with a BLIP VQA model. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const char usage[] =
    "usage: vlp vqa -m MODEL_DIR [options] IMAGE QUESTION...\n\n"
    "Prints {\"path\", \"question\", \"answer\", \"tokens\"} per question; tokens is the whole\n"
    "generated answer sequence as the reference's generate() returns it.\n\n"
    "options:\n"
    "  -o FILE                 write the JSON lines to FILE instead of stdout\n"
    "  --precision P           f32 (default, exact), bf16 or int8: faster, see README\n"
    "  --threads N             threads (default: VLP_THREADS or all cores)\n";

int cmd_vqa(int argc, char **argv) {
  cli_args a;
  cli_common c = {0};
  vlp_gen_params p = vlp_gen_default_params();
  const char *opt, *pos, *image = NULL;
  const char **questions = calloc((size_t)argc, sizeof *questions);
  int nq = 0, size = 0;
  cli_args_init(&a, argc, argv, "vqa");
  while (!a.failed && cli_next(&a, &opt, &pos)) {
    if (pos && !image)
      image = pos;
    else if (pos)
      questions[nq++] = pos;
    else if (!cli_gen_opt(&a, opt, &p, &size) && !cli_common_opt(&a, opt, &c))
      cli_usage_error(&a, "unknown option %s", opt);
  }
  if (c.help) {
    printf("%s\n%s", usage, cli_gen_usage);
    free(questions);
    return EXIT_ALL_OK;
  }
  if (!a.failed && (!image || !nq)) cli_usage_error(&a, "needs an IMAGE and at least one QUESTION");
  if (a.failed) {
    free(questions);
    return EXIT_USAGE;
  }
  vlp_model *m;
  vlp_session *sess;
  FILE *out = cli_start("vqa", &c, ARCH(VLP_ARCH_BLIP_VQA), &m, &sess);
  if (!out) {
    free(questions);
    return EXIT_USAGE;
  }
  int failed = 0;
  vlp_image img = {0};
  vlp_features *f = NULL; /* the vision tower runs once for all questions */
  if (vlp_image_load(image, &img) || vlp_encode_images(sess, &img, 1, size, &f)) {
    cli_report_error(out, "vqa", "path", image, vlp_last_error());
    failed = nq;
  } else {
    for (int i = 0; i < nq; i++) {
      vlp_text_result r = {0};
      if (!questions[i][0] || vlp_vqa(sess, f, 0, questions[i], &p, &r)) {
        cli_report_error(out, "vqa", "path", image,
                         questions[i][0] ? vlp_last_error() : "the question is empty");
        failed++;
        continue;
      }
      fputs("{\"path\": ", out);
      json_write_str(out, image);
      fputs(", \"question\": ", out);
      json_write_str(out, questions[i]);
      fputs(", \"answer\": ", out);
      json_write_str(out, r.text);
      fputs(", \"tokens\": ", out);
      json_write_ints(out, r.ids, r.n_ids);
      fputs("}\n", out);
      cli_flush(out);
      vlp_text_result_free(&r);
    }
  }
  vlp_image_free(&img);
  vlp_features_free(f);
  int bad_out = cli_close_output(out);
  vlp_session_free(sess);
  vlp_model_free(m);
  free(questions);
  return bad_out ? EXIT_USAGE : failed ? EXIT_SOME_FAILED : EXIT_ALL_OK;
}
