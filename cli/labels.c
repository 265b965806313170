/* labels: zero-shot label lists for `vlp tag` and `vlp video tag` (see labels.h). */
#include "labels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

vlp_status labels_make(vlp_session *s, const label_list *l, const char *tmpl, vlp_labels **out) {
  return vlp_labels_new(s, (const char *const *)l->items, l->n, tmpl, out);
}

vlp_status labels_tag(vlp_session *s, const vlp_features *f, int i, const vlp_labels *l,
                      float *scores, int *order) {
  int L = vlp_labels_count(l);
  vlp_tag_result *tags = malloc((size_t)L * sizeof *tags);
  if (!tags) return VLP_ERR_NOMEM;
  vlp_status st = vlp_tag(s, f, i, l, tags);
  for (int j = 0; !st && j < L; j++) {
    order[j] = tags[j].label;
    scores[tags[j].label] = tags[j].score;
  }
  free(tags);
  return st;
}
