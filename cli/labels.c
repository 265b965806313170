/* labels: zero-shot label lists for `vlp tag` and `vlp video tag` (see labels.h). */
#include "cli/labels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

int labels_opt(cli_args *a, const char *opt, label_list *l, const char **tmpl, int *top,
               int *size) {
  const char *v;
  if (!strcmp(opt, "--labels")) {
    if ((v = cli_value(a))) labels_split(l, v);
  } else if (!strcmp(opt, "--labels-file")) {
    if ((v = cli_value(a)) && labels_read_file(l, v))
      cli_usage_error(a, "cannot read the labels file %s", v);
  } else if (!strcmp(opt, "--template")) {
    *tmpl = cli_value(a);
  } else if (!strcmp(opt, "--top")) {
    cli_int(a, 1, 1 << 20, top);
  } else if (!strcmp(opt, "--image-size")) {
    cli_int(a, 1, 8192, size);
  } else {
    return 0;
  }
  return 1;
}

static int add_label(label_list *l, const char *s, size_t len) {
  while (len && (s[0] == ' ' || s[0] == '\t')) s++, len--;
  while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r')) len--;
  if (!len) return 0;
  char **grown = realloc(l->items, (size_t)(l->n + 1) * sizeof *grown);
  if (!grown) return -1;
  l->items = grown;
  if (!(l->items[l->n] = strndup(s, len))) return -1;
  l->n++;
  return 0;
}

void labels_split(label_list *l, const char *csv) {
  for (const char *p = csv;;) {
    const char *e = strchr(p, ',');
    add_label(l, p, e ? (size_t)(e - p) : strlen(p));
    if (!e) break;
    p = e + 1;
  }
}

int labels_read_file(label_list *l, const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  while ((len = getline(&line, &cap, f)) >= 0) {
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
    add_label(l, line, (size_t)len);
  }
  free(line);
  fclose(f);
  return 0;
}

void labels_free(label_list *l) {
  for (int i = 0; i < l->n; i++) free(l->items[i]);
  free(l->items);
  l->items = NULL;
  l->n = 0;
}

char *labels_apply_template(const char *tmpl, const char *label) {
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

vlp_status labels_embed(vlp_session *s, const label_list *l, const char *tmpl, float **emb) {
  int L = l->n, dim = vlp_model_embed_dim(vlp_session_model(s));
  *emb = malloc((size_t)L * (size_t)dim * sizeof **emb);
  char **prompts = calloc((size_t)L, sizeof *prompts);
  vlp_status st = *emb && prompts ? VLP_OK : vlp_fail(VLP_ERR_NOMEM, "labels: out of memory");
  for (int i = 0; !st && i < L; i++)
    if (!(prompts[i] = labels_apply_template(tmpl, l->items[i])))
      st = vlp_fail(VLP_ERR_NOMEM, "labels: out of memory");
  if (!st) st = vlp_embed_texts(s, (const char *const *)prompts, L, *emb);
  for (int i = 0; prompts && i < L; i++) free(prompts[i]);
  free(prompts);
  if (st) {
    free(*emb);
    *emb = NULL;
  }
  return st;
}

void labels_rank(const float *scores, int L, int *order) {
  /* insertion sort: label lists are short, and it is stable (ties keep label order) */
  for (int i = 0; i < L; i++) {
    int j = i;
    while (j > 0 && scores[order[j - 1]] < scores[i]) {
      order[j] = order[j - 1];
      j--;
    }
    order[j] = i;
  }
}
