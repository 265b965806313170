/* consumer: a program written against the installed libvlp only (vlp.h, -lvlp), built by
 * install_test.sh once with pkg-config and once with find_package(vlp). It checks the
 * library's version against the header's, captions an image and embeds a text, and prints
 * the results for the test to compare with the installed vlp command.
 * Usage: consumer CAPTION_MODEL CLIP_MODEL IMAGE TEXT */
#include <stdio.h>
#include <string.h>

#include "vlp.h"

static int fail(const char *what) {
  fprintf(stderr, "consumer: %s: %s\n", what, vlp_last_error());
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: consumer CAPTION_MODEL CLIP_MODEL IMAGE TEXT\n");
    return 2;
  }
  char header[32];
  snprintf(header, sizeof header, "%d.%d.%d", VLP_VERSION_MAJOR, VLP_VERSION_MINOR,
           VLP_VERSION_PATCH);
  if (strcmp(header, vlp_version())) {
    fprintf(stderr, "consumer: header %s but library %s\n", header, vlp_version());
    return 1;
  }
  printf("version %s\n", vlp_version());

  vlp_model *cap = NULL, *clip = NULL;
  vlp_session *s = NULL;
  vlp_features *f = NULL;
  vlp_image img = {0};
  vlp_text_result r = {0};
  if (vlp_model_load(argv[1], &cap) || vlp_session_new(cap, NULL, &s)) return fail(argv[1]);
  if (vlp_image_load(argv[3], &img)) return fail(argv[3]);
  vlp_gen_params p = vlp_gen_default_params();
  if (vlp_encode_images(s, &img, 1, 0, &f) || vlp_caption(s, f, &p, &r)) return fail("caption");
  printf("caption %s\n", r.text);
  vlp_text_result_free(&r);
  vlp_features_free(f);
  vlp_image_free(&img);
  vlp_session_free(s);
  vlp_model_free(cap);

  if (vlp_model_load(argv[2], &clip) || vlp_session_new(clip, NULL, &s)) return fail(argv[2]);
  float emb[4096];
  int dim = vlp_model_embed_dim(clip);
  if (dim <= 0 || dim > 4096) return fail("embed_dim");
  const char *texts[] = {argv[4]};
  if (vlp_embed_texts(s, texts, 1, emb)) return fail("embed");
  printf("embedding %d", dim);
  for (int i = 0; i < 4; i++) printf(" %.6f", emb[i]);
  printf("\n");
  vlp_session_free(s);

  int *ids = NULL, n = 0;
  if (vlp_tokenize(vlp_model_tokenizer(clip), argv[4], &ids, &n)) return fail("tokenize");
  printf("tokens %d\n", n);
  vlp_free(ids);
  vlp_model_free(clip);
  return 0;
}
