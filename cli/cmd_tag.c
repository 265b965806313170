/* vlp tag: zero-shot labels for images with a CLIP model. The label texts are embedded once
 * per run; each image then costs one vision forward and a small matrix product. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const char usage[] =
    "usage: vlp tag -m CLIP_MODEL_DIR (--labels A,B,... | --labels-file FILE) [options] IMAGE...\n\n"
    "Prints {\"path\", \"tags\": [{\"label\", \"score\"}, ...]} per image, best first; score =\n"
    "softmax over all labels of logit_scale x cosine(image, template(label)).\n\n"
    "options:\n"
    "  --labels A,B,...        the labels, comma separated\n"
    "  --labels-file FILE      one label per line (blank lines skipped)\n"
    "  --template T            text for each label, \"{}\" standing for the label\n"
    "                          (default \"a photo of a {}.\")\n"
    "  --top K                 print only the K best labels\n"
    "  --image-size N          run the vision tower at N x N (interpolated positions)\n"
    "  -o FILE                 write the JSON lines to FILE instead of stdout\n"
    "  --threads N             threads (default: VLP_THREADS or all cores)\n";

typedef struct {
  char **items;
  int n;
} str_list;

static int add_label(str_list *l, const char *s, size_t len) {
  while (len && (s[0] == ' ' || s[0] == '\t')) s++, len--;
  while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r')) len--;
  if (!len) return 0;
  char **grown = realloc(l->items, (size_t)(l->n + 1) * sizeof *grown);
  if (!grown) return -1;
  l->items = grown;
  l->items[l->n++] = strndup(s, len);
  return 0;
}

static void split_labels(str_list *l, const char *csv) {
  for (const char *p = csv;;) {
    const char *e = strchr(p, ',');
    add_label(l, p, e ? (size_t)(e - p) : strlen(p));
    if (!e) break;
    p = e + 1;
  }
}

static int read_labels(str_list *l, const char *path) {
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

/* template with every "{}" replaced by label. */
static char *apply_template(const char *tmpl, const char *label) {
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

static const float *scores_of;
static int by_score(const void *a, const void *b) {
  float x = scores_of[*(const int *)a], y = scores_of[*(const int *)b];
  if (x != y) return x > y ? -1 : 1;
  return *(const int *)a - *(const int *)b;
}

static void free_list(str_list *l) {
  for (int i = 0; i < l->n; i++) free(l->items[i]);
  free(l->items);
}

int cmd_tag(int argc, char **argv) {
  cli_args a;
  cli_common c = {0};
  cli_paths in = {0};
  str_list labels = {0};
  const char *opt, *pos, *tmpl = "a photo of a {}.";
  int top = 0, size = 0;
  cli_args_init(&a, argc, argv, "tag");
  while (!a.failed && cli_next(&a, &opt, &pos)) {
    const char *v;
    if (pos) cli_paths_add_input(&in, pos);
    else if (!strcmp(opt, "--labels")) {
      if ((v = cli_value(&a))) split_labels(&labels, v);
    } else if (!strcmp(opt, "--labels-file")) {
      if ((v = cli_value(&a)) && read_labels(&labels, v))
        cli_usage_error(&a, "cannot read the labels file %s", v);
    } else if (!strcmp(opt, "--template")) tmpl = cli_value(&a);
    else if (!strcmp(opt, "--top")) cli_int(&a, 1, 1 << 20, &top);
    else if (!strcmp(opt, "--image-size")) cli_int(&a, 1, 8192, &size);
    else if (!cli_common_opt(&a, opt, &c)) cli_usage_error(&a, "unknown option %s", opt);
  }
  int rc = EXIT_USAGE;
  if (c.help) {
    fputs(usage, stdout);
    rc = EXIT_ALL_OK;
    goto out_args;
  }
  if (!a.failed && !labels.n) cli_usage_error(&a, "no labels: give --labels or --labels-file");
  if (!a.failed && !in.n) cli_usage_error(&a, "no images given");
  if (!a.failed && (!tmpl || !tmpl[0])) cli_usage_error(&a, "--template is empty");
  if (a.failed) goto out_args;
  cli_apply_threads(&c);
  vlp_model *m;
  FILE *out = cli_start("tag", &c, ARCH(VLP_ARCH_CLIP), &m);
  if (!out) goto out_args;
  int L = labels.n, dim = vlp_model_embed_dim(m), failed = 0;
  float *label_emb = malloc((size_t)L * (size_t)dim * sizeof *label_emb);
  float *img_emb = malloc((size_t)dim * sizeof *img_emb);
  float *scores = malloc((size_t)L * sizeof *scores);
  int *order = malloc((size_t)L * sizeof *order);
  char **prompts = calloc((size_t)L, sizeof *prompts);
  int ok = label_emb && img_emb && scores && order && prompts;
  for (int i = 0; ok && i < L; i++) ok = (prompts[i] = apply_template(tmpl, labels.items[i])) != NULL;
  if (!ok) {
    fprintf(stderr, "vlp tag: out of memory\n");
  } else if (vlp_embed_texts(m, (const char *const *)prompts, L, label_emb)) {
    fprintf(stderr, "vlp tag: labels: %s\n", vlp_last_error());
  } else {
    for (int i = 0; i < in.n; i++) {
      vlp_image img = {0};
      if (vlp_image_load(in.paths[i], &img) || vlp_embed_images(m, &img, 1, size, img_emb) ||
          vlp_tag_scores(m, img_emb, label_emb, L, scores)) {
        cli_report_error(out, "tag", "path", in.paths[i], vlp_last_error());
        vlp_image_free(&img);
        failed++;
        continue;
      }
      vlp_image_free(&img);
      for (int j = 0; j < L; j++) order[j] = j;
      scores_of = scores;
      qsort(order, (size_t)L, sizeof *order, by_score);
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
      fflush(out);
    }
    rc = failed ? EXIT_SOME_FAILED : EXIT_ALL_OK;
  }
  if (cli_close_output(out)) rc = EXIT_USAGE;
  for (int i = 0; prompts && i < L; i++) free(prompts[i]);
  free(prompts);
  free(order);
  free(scores);
  free(img_emb);
  free(label_emb);
  vlp_model_free(m);
out_args:
  free_list(&labels);
  cli_paths_free(&in);
  return rc;
}
