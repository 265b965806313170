/* caption_embed: caption an image with a BLIP captioning model and embed a text with a
 * CLIP (or BLIP retrieval) model, using only vlp.h.
 * usage: caption_embed CAPTION_MODEL EMBED_MODEL IMAGE TEXT */
#include <stdio.h>
#include <stdlib.h>
#include <vlp.h>

int main(int argc, char **argv) {
  if (argc != 5)
    return fprintf(stderr, "usage: %s CAPTION_MODEL EMBED_MODEL IMAGE TEXT\n", argv[0]), 2;
  vlp_model *cap = NULL, *emb = NULL;
  vlp_session *s = NULL, *t = NULL;
  vlp_features *f = NULL;
  vlp_image img = {0};
  vlp_text_result r = {0};
  float *e = NULL;
  int ok = !vlp_model_load(argv[1], &cap) && !vlp_session_new(cap, NULL, &s) &&
           !vlp_image_load(argv[3], &img) && !vlp_encode_images(s, &img, 1, 0, &f) &&
           !vlp_caption(s, f, NULL, &r) && !vlp_model_load(argv[2], &emb) &&
           !vlp_session_new(emb, NULL, &t) &&
           (e = malloc(sizeof *e * (size_t)vlp_model_embed_dim(emb))) &&
           !vlp_embed_texts(t, (const char *const *)&argv[4], 1, e);
  if (ok)
    printf("caption: %s\nembedding[0..2]: %f %f %f\n", r.text, e[0], e[1], e[2]);
  else
    fprintf(stderr, "error: %s\n", vlp_last_error());
  free(e);
  vlp_text_result_free(&r);
  vlp_features_free(f);
  vlp_image_free(&img);
  vlp_session_free(t);
  vlp_session_free(s);
  vlp_model_free(emb);
  vlp_model_free(cap);
  return ok ? 0 : 1;
}
