/* selftest: the golden-comparison engine behind vlp_selftest() (vlp.h) and the tests.
 * It walks every manifest (cases/NAME.json, schema blip-clip-golden/v1) of a golden set
 * and checks every expected entry of every case with the manifest's own comparison and
 * tolerance (check.c; tests/golden_common.c uses the same comparison). One runner per
 * manifest kind (media.c, text.c, models.c, video.c); this header is what they share. The
 * runners check intermediate results (hidden states, first-step logits) that the public
 * API does not expose. */
#ifndef VLP_SELFTEST_SELFTEST_H
#define VLP_SELFTEST_SELFTEST_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "core/workspace.h"
#include "vlp.h"

typedef struct {
  const char *dir;       /* the golden set */
  const cJSON *manifest; /* the whole manifest */
  const char *kind;
  const cJSON *expected; /* the current case's "expected" object */
  const char *case_id;
  char why[1024]; /* first failure of the current case */
  char note[256]; /* what a passing case reports besides "ok" (may be empty) */
  int case_failed;
} st_run;

/* A loaded model's weights packed as vlp_model_load packs them (fusion/api.c: f32, and
 * BLIP's greedy LM head copy when blip is given), so the cases run what the commands run;
 * 0 with the case failed when that fails. */
struct vlp_weights;
struct blip_model;
int st_prepare(st_run *r, struct vlp_weights *w, struct blip_model *blip);

/* Mark the current case failed with a reason (the first reason is kept). */
void st_failf(st_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The expected entry `name` of the current case, or NULL. */
const cJSON *st_entry(st_run *r, const char *name);
/* dir/rel into buf. */
void st_path(const st_run *r, const char *rel, char *buf, size_t size);

/* Compare got (n values) with an expected entry of a manifest of the set in dir: the
 * entry's "compare" ("allclose" with the entry's or the manifest's default atol/rtol,
 * "cosine" with 1 - atol, "exact") against its "value" or "npy". 1 when it matches; else 0
 * and the reason in why. */
int st_compare_entry(const cJSON *manifest, const char *dir, const char *name, const cJSON *entry,
                     const double *got, size_t n, char *why, size_t why_size);

/* Compare got against the entry `name` (absent entry: nothing checked, returns 1).
 * Floats use the entry's compare ("allclose" with the entry's or the manifest's default
 * atol/rtol, "cosine" with 1 - atol, "exact"); shape is checked against the entry's shape
 * when given (total element count). Each returns 1 when it matched. */
int st_check_floats(st_run *r, const char *name, const float *got, size_t n);
int st_check_u8(st_run *r, const char *name, const uint8_t *got, size_t n);
int st_check_ints(st_run *r, const char *name, const int *got, int n);
int st_check_str(st_run *r, const char *name, const char *got);
int st_check_strs(st_run *r, const char *name, char *const *got, int n);
int st_check_number(st_run *r, const char *name, double got);
/* Load an npy (path relative to the set) as float32; NULL on failure (case failed). */
float *st_load_f32(st_run *r, const char *rel, size_t *n);
/* Entry's npy as float32 (for inputs such as pixel values); NULL when absent/unreadable. */
float *st_entry_f32(st_run *r, const char *name, size_t *n);
/* Every expected entry must be one this runner knows: the others fail the case. */
void st_require_known(st_run *r, const char *const *known);

/* Runners: each returns 0 when the case ran (pass or fail recorded in r), or -1 when the
 * kind is not handled. */
typedef int (*st_runner)(st_run *r, const cJSON *c);
int st_case_preprocess(st_run *r, const cJSON *c);
int st_case_tokenizer(st_run *r, const cJSON *c);
int st_case_blip_caption(st_run *r, const cJSON *c);
int st_case_blip_vqa(st_run *r, const cJSON *c);
int st_case_blip_itm(st_run *r, const cJSON *c);
int st_case_clip(st_run *r, const cJSON *c);
int st_case_interp(st_run *r, const cJSON *c);
int st_case_video(st_run *r, const cJSON *c);
int st_case_siglip(st_run *r, const cJSON *c);
/* The workspace the runners compute in. */
vlp_ws *st_ws(void);
/* Release what runners cached for one manifest (models, tokenizers). */
void st_release_cache(void);

#endif
