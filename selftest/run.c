/* run: vlp_selftest of vlp.h - every case of every manifest of a golden set, each checked
 * by the runner of its manifest's kind; outcomes go to the caller's callback. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/json.h"
#include "core/threads.h"
#include "selftest/selftest.h"

static const struct {
  const char *kind; /* exact kind, or a prefix ending in '*' */
  st_runner run;
} runners[] = {
    {"preprocess", st_case_preprocess},
    {"tokenizer_bert", st_case_tokenizer},
    {"tokenizer_clip", st_case_tokenizer},
    {"tokenizer_siglip", st_case_tokenizer},
    {"siglip*", st_case_siglip},
    {"blip_caption*", st_case_blip_caption},
    {"blip_vqa*", st_case_blip_vqa},
    {"blip_itm*", st_case_blip_itm},
    {"clip*", st_case_clip},
    {"interpolate_pos_encoding", st_case_interp},
    {"video", st_case_video},
};

static st_runner runner_for(const char *kind) {
  for (size_t i = 0; i < sizeof runners / sizeof runners[0]; i++) {
    const char *k = runners[i].kind;
    size_t n = strlen(k);
    if (k[n - 1] == '*' ? !strncmp(kind, k, n - 1) : !strcmp(kind, k)) return runners[i].run;
  }
  return NULL;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void report(const vlp_selftest_options *o, const char *name, int outcome,
                   const char *message) {
  if (o->on_case) o->on_case(o->ctx, name, outcome, message);
}

static void run_manifest(const char *dir, const char *file, const vlp_selftest_options *o,
                         vlp_selftest_counts *t) {
  char path[4096];
  snprintf(path, sizeof path, "%s/cases/%s", dir, file);
  cJSON *m = NULL;
  if (json_load_file(path, &m)) {
    report(o, file, 0, vlp_last_error());
    t->failed++;
    return;
  }
  const char *schema = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "schema"));
  const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "kind"));
  const cJSON *cases = cJSON_GetObjectItemCaseSensitive(m, "cases");
  if (!schema || strcmp(schema, "blip-clip-golden/v1") || !kind || !cJSON_IsArray(cases)) {
    report(o, file, 0, "not a blip-clip-golden/v1 manifest");
    t->failed++;
    cJSON_Delete(m);
    return;
  }
  st_runner run = runner_for(kind);
  if (!run) {
    int n = cJSON_GetArraySize(cases);
    char msg[256];
    snprintf(msg, sizeof msg, "kind '%.100s' is not covered by this vlp; %d cases skipped", kind,
             n);
    report(o, file, -1, msg);
    t->skipped += n;
    cJSON_Delete(m);
    return;
  }
  st_run r = {.dir = dir, .manifest = m, .kind = kind};
  const cJSON *c;
  cJSON_ArrayForEach(c, cases) {
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "id"));
    char name[512];
    snprintf(name, sizeof name, "%.*s/%s", (int)(strlen(file) - 5), file, id ? id : "?");
    if (o->filter && !strstr(name, o->filter)) continue;
    r.case_id = id ? id : "?";
    r.expected = cJSON_GetObjectItemCaseSensitive(c, "expected");
    r.case_failed = 0;
    r.why[0] = r.note[0] = 0;
    if (!r.expected)
      st_failf(&r, "case has no expected entries");
    else
      run(&r, c);
    report(o, name, !r.case_failed, r.case_failed ? r.why : r.note);
    if (r.case_failed)
      t->failed++;
    else
      t->passed++;
  }
  st_release_cache();
  cJSON_Delete(m);
}

vlp_status vlp_selftest(const char *dir, const vlp_selftest_options *opts,
                        vlp_selftest_counts *out) {
  vlp_selftest_options o = opts ? *opts : (vlp_selftest_options){0};
  memset(out, 0, sizeof *out);
  char cases[4096];
  snprintf(cases, sizeof cases, "%s/cases", dir);
  DIR *d = opendir(cases);
  if (!d) return vlp_fail(VLP_ERR_IO, "%s: not a golden set (no cases/ folder)", dir);
  char **files = NULL;
  int n = 0;
  vlp_status st = VLP_OK;
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t len = strlen(e->d_name);
    if (len < 6 || strcmp(e->d_name + len - 5, ".json")) continue;
    char **grown = realloc(files, (size_t)(n + 1) * sizeof *files);
    if (!grown || !(grown[n] = strdup(e->d_name))) {
      files = grown ? grown : files;
      st = vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", dir);
      break;
    }
    files = grown;
    n++;
  }
  closedir(d);
  qsort(files, (size_t)n, sizeof *files, cmp_str);
  int prev = threads_enter(o.n_threads);
  for (int i = 0; i < n; i++) {
    if (!st) run_manifest(dir, files[i], &o, out);
    free(files[i]);
  }
  threads_leave(prev);
  free(files);
  return st;
}
