/* labels: the zero-shot label list `vlp tag` and `vlp video tag` share: reading --labels /
 * --labels-file, the --template text per label, embedding them once per run and ranking a
 * frame's scores. */
#ifndef VLP_CLI_LABELS_H
#define VLP_CLI_LABELS_H

#include "cli.h"
#include "vlp.h"

typedef struct {
  char **items;
  int n;
} label_list;

/* Handle one of the options `vlp tag` and `vlp video tag` share: --labels, --labels-file,
 * --template, --top K, --image-size N. Returns 1 when opt was one of them. */
int labels_opt(cli_args *a, const char *opt, label_list *l, const char **tmpl, int *top, int *size);

/* Add the comma-separated labels of csv (blank ones skipped, spaces trimmed). */
void labels_split(label_list *l, const char *csv);
/* Add one label per line of a file; -1 when it cannot be read. */
int labels_read_file(label_list *l, const char *path);
void labels_free(label_list *l);
/* The label set of l embedded through tmpl (NULL: the model's default template). */
vlp_status labels_make(vlp_session *s, const label_list *l, const char *tmpl, vlp_labels **out);
/* Tags of image i of f: scores[L] in label order and order[L] = label indices by score,
 * best first (ties: lower index first). */
vlp_status labels_tag(vlp_session *s, const vlp_features *f, int i, const vlp_labels *l,
                      float *scores, int *order);

#endif
