/* api_tags: zero-shot tagging of vlp.h - label sets embedded once through a template,
 * and the labels of an image ranked by score. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "fusion/api_types.h"

struct vlp_labels {
  const vlp_model *m;
  int n, dim;
  char **text;   /* (n) the labels as given */
  float *embeds; /* (n, dim) text embeddings of template(label) */
};

const char *vlp_tag_default_template(const vlp_model *m) {
  /* the reference's zero-shot prompts: CLIP's, and the pipeline's default for SigLIP */
  return m && m->siglip ? "This is a photo of {}." : "a photo of a {}.";
}

char *vlp_apply_template(const char *tmpl, const char *label) {
  size_t n = strlen(tmpl) + 1, ll = strlen(label);
  for (const char *p = strstr(tmpl, "{}"); p; p = strstr(p + 2, "{}")) n += ll;
  char *s = malloc(n), *o = s;
  if (!s) return NULL;
  for (const char *p = tmpl; *p;) {
    if (p[0] == '{' && p[1] == '}') {
      memcpy(o, label, ll);
      o += ll;
      p += 2;
    } else {
      *o++ = *p++;
    }
  }
  *o = 0;
  return s;
}

void vlp_labels_free(vlp_labels *l) {
  if (!l) return;
  for (int i = 0; l->text && i < l->n; i++) free(l->text[i]);
  free(l->text);
  free(l->embeds);
  free(l);
}

vlp_status vlp_labels_new(vlp_session *s, const char *const *labels, int n, const char *tmpl,
                          vlp_labels **out) {
  *out = NULL;
  vlp_status st = s->m->siglip ? VLP_OK : api_need(s->m, VLP_ARCH_CLIP);
  if (st) return st;
  if (n <= 0 || !labels) return vlp_fail(VLP_ERR_INVALID, "no labels");
  if (!tmpl) tmpl = vlp_tag_default_template(s->m);
  vlp_labels *l = calloc(1, sizeof *l);
  char **prompts = calloc((size_t)n, sizeof *prompts);
  if (!l || !prompts) {
    free(l);
    free(prompts);
    return vlp_fail(VLP_ERR_NOMEM, "labels: out of memory");
  }
  l->m = s->m;
  l->n = n;
  l->dim = vlp_model_embed_dim(s->m);
  l->text = calloc((size_t)n, sizeof *l->text);
  l->embeds = malloc((size_t)n * l->dim * sizeof *l->embeds);
  if (!l->text || !l->embeds) st = vlp_fail(VLP_ERR_NOMEM, "labels: out of memory");
  for (int i = 0; !st && i < n; i++)
    if (!labels[i] || !(l->text[i] = strdup(labels[i])) ||
        !(prompts[i] = vlp_apply_template(tmpl, labels[i])))
      st = labels[i] ? vlp_fail(VLP_ERR_NOMEM, "labels: out of memory")
                     : vlp_fail(VLP_ERR_INVALID, "label %d is NULL", i + 1);
  if (!st) st = vlp_embed_texts(s, (const char *const *)prompts, n, l->embeds);
  for (int i = 0; i < n; i++) free(prompts[i]);
  free(prompts);
  if (st) {
    vlp_labels_free(l);
    return st;
  }
  *out = l;
  return VLP_OK;
}

int vlp_labels_count(const vlp_labels *l) {
  return l ? l->n : 0;
}

const char *vlp_labels_text(const vlp_labels *l, int i) {
  return l && i >= 0 && i < l->n ? l->text[i] : NULL;
}

vlp_status vlp_tag(vlp_session *s, const vlp_features *f, int i, const vlp_labels *l,
                   vlp_tag_result *out) {
  if (!l || l->m != s->m)
    return vlp_fail(VLP_ERR_INVALID, "vlp_tag: the labels were made for another model");
  float *scores = malloc((size_t)l->n * sizeof *scores);
  if (!scores) return vlp_fail(VLP_ERR_NOMEM, "vlp_tag: out of memory");
  vlp_status st = vlp_tag_scores(s, f, i, l->embeds, l->n, scores);
  if (!st) /* insertion sort, stable: ties keep label order (label lists are short) */
    for (int k = 0; k < l->n; k++) {
      int j = k;
      while (j > 0 && out[j - 1].score < scores[k]) {
        out[j] = out[j - 1];
        j--;
      }
      out[j] = (vlp_tag_result){.label = k, .text = l->text[k], .score = scores[k]};
    }
  free(scores);
  return st;
}
