/* labels: the zero-shot label list `vlp tag` and `vlp video tag` share: reading --labels /
 * --labels-file, the --template text per label, embedding them once per run and ranking a
 * frame's scores. */
#ifndef VLP_CLI_LABELS_H
#define VLP_CLI_LABELS_H

#include "cli/cli.h"
#include "vlp.h"

typedef struct {
  char **items;
  int n;
} label_list;

#define LABELS_DEFAULT_TEMPLATE "a photo of a {}."

/* Handle one of the options `vlp tag` and `vlp video tag` share: --labels, --labels-file,
 * --template, --top K, --image-size N. Returns 1 when opt was one of them. */
int labels_opt(cli_args *a, const char *opt, label_list *l, const char **tmpl, int *top, int *size);

/* Add the comma-separated labels of csv (blank ones skipped, spaces trimmed). */
void labels_split(label_list *l, const char *csv);
/* Add one label per line of a file; -1 when it cannot be read. */
int labels_read_file(label_list *l, const char *path);
void labels_free(label_list *l);
/* template with every "{}" replaced by label; malloc'd, NULL when out of memory. */
char *labels_apply_template(const char *tmpl, const char *label);
/* Text embeddings of template(label) for every label: *emb (n, embed_dim) malloc'd.
 * On failure returns the status with vlp_last_error() set. */
vlp_status labels_embed(vlp_session *s, const label_list *l, const char *tmpl, float **emb);
/* order[0..L) = label indices by score, best first (ties: lower index first). */
void labels_rank(const float *scores, int L, int *order);

#endif
