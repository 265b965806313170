/* selftest_check: comparing results with a golden manifest's expected entries. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/npy.h"
#include "core/weights.h"
#include "fusion/blip.h"
#include "selftest/selftest.h"

int st_prepare(st_run *r, vlp_weights *w, blip_model *blip) {
  vlp_status st = weights_prepare_linears(w, VLP_PRECISION_F32, NULL);
  if (!st && blip) st = blip_prepare_greedy(blip, NULL);
  if (st) st_failf(r, "packing the weights: %s", vlp_last_error());
  return st == VLP_OK;
}

void st_failf(st_run *r, const char *fmt, ...) {
  if (r->case_failed) return;
  r->case_failed = 1;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->why, sizeof r->why, fmt, ap);
  va_end(ap);
}

const cJSON *st_entry(st_run *r, const char *name) {
  return r->expected ? cJSON_GetObjectItemCaseSensitive(r->expected, name) : NULL;
}

void st_path(const st_run *r, const char *rel, char *buf, size_t size) {
  snprintf(buf, size, "%s/%s", r->dir, rel);
}

void st_require_known(st_run *r, const char *const *known) {
  const cJSON *e;
  cJSON_ArrayForEach(e, r->expected) {
    int ok = 0;
    for (int i = 0; known[i] && !ok; i++) ok = !strcmp(e->string, known[i]);
    if (!ok) st_failf(r, "%s: expected entry not checked by this vlp", e->string);
  }
}

float *st_load_f32(st_run *r, const char *rel, size_t *n) {
  char path[4096];
  st_path(r, rel, path, sizeof path);
  npy_array a;
  if (npy_load(path, &a)) {
    st_failf(r, "%s", vlp_last_error());
    return NULL;
  }
  float *v = malloc((a.count ? a.count : 1) * sizeof *v);
  if (!v) {
    npy_free(&a);
    st_failf(r, "%s: out of memory", path);
    return NULL;
  }
  for (size_t i = 0; i < a.count; i++) v[i] = (float)npy_get(&a, i);
  *n = a.count;
  npy_free(&a);
  return v;
}

float *st_entry_f32(st_run *r, const char *name, size_t *n) {
  const cJSON *e = st_entry(r, name);
  const cJSON *npy = e ? cJSON_GetObjectItemCaseSensitive(e, "npy") : NULL;
  if (!cJSON_IsString(npy)) return NULL;
  return st_load_f32(r, npy->valuestring, n);
}

static void tolerance(const cJSON *manifest, const cJSON *e, double *atol, double *rtol) {
  const cJSON *def = cJSON_GetObjectItemCaseSensitive(manifest, "default_tolerance");
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(e, "atol");
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "rtol");
  const cJSON *da = def ? cJSON_GetObjectItemCaseSensitive(def, "atol") : NULL;
  const cJSON *dr = def ? cJSON_GetObjectItemCaseSensitive(def, "rtol") : NULL;
  *atol = cJSON_IsNumber(a) ? a->valuedouble : cJSON_IsNumber(da) ? da->valuedouble : 1e-4;
  *rtol = cJSON_IsNumber(t) ? t->valuedouble : cJSON_IsNumber(dr) ? dr->valuedouble : 0;
}

/* The expected values of an entry as doubles: from "value" (number or nested arrays) or npy. */
static void flatten(const cJSON *v, double *out, size_t *n, size_t cap) {
  if (cJSON_IsArray(v)) {
    const cJSON *x;
    cJSON_ArrayForEach(x, v) flatten(x, out, n, cap);
  } else if (*n < cap) {
    out[(*n)++] = cJSON_IsNumber(v) ? v->valuedouble : cJSON_IsBool(v) ? cJSON_IsTrue(v) : NAN;
  } else {
    (*n)++;
  }
}

static size_t count_values(const cJSON *v) {
  if (!cJSON_IsArray(v)) return 1;
  size_t n = 0;
  const cJSON *x;
  cJSON_ArrayForEach(x, v) n += count_values(x);
  return n;
}

static double *expected_values(const char *dir, const char *name, const cJSON *e, size_t *n,
                               char *why, size_t why_size) {
  const cJSON *val = cJSON_GetObjectItemCaseSensitive(e, "value");
  if (val) {
    size_t cap = count_values(val);
    double *out = malloc((cap ? cap : 1) * sizeof *out);
    *n = 0;
    if (out) flatten(val, out, n, cap);
    return out;
  }
  const cJSON *npy = cJSON_GetObjectItemCaseSensitive(e, "npy");
  if (!cJSON_IsString(npy)) {
    snprintf(why, why_size, "%s: entry has neither value nor npy", name);
    return NULL;
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, npy->valuestring);
  npy_array a;
  if (npy_load(path, &a)) {
    snprintf(why, why_size, "%s: %s", name, vlp_last_error());
    return NULL;
  }
  double *out = malloc((a.count ? a.count : 1) * sizeof *out);
  for (size_t i = 0; out && i < a.count; i++) out[i] = npy_get(&a, i);
  *n = a.count;
  npy_free(&a);
  return out;
}

int st_compare_entry(const cJSON *manifest, const char *dir, const char *name, const cJSON *e,
                     const double *got, size_t n, char *why, size_t why_size) {
  size_t m = 0;
  double *want = expected_values(dir, name, e, &m, why, why_size);
  if (!want) return 0;
  int ok = 1;
  if (m != n) {
    snprintf(why, why_size, "%s: %zu values, expected %zu", name, n, m);
    ok = 0;
  } else {
    const char *how = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "compare"));
    double atol, rtol;
    tolerance(manifest, e, &atol, &rtol);
    if (how && !strcmp(how, "cosine")) {
      double dot = 0, ng = 0, nw = 0;
      for (size_t i = 0; i < n; i++)
        dot += got[i] * want[i], ng += got[i] * got[i], nw += want[i] * want[i];
      double cos = dot / (sqrt(ng) * sqrt(nw) + 1e-30);
      if (!(cos >= 1 - atol)) {
        snprintf(why, why_size, "%s: cosine %.6f < %.6f", name, cos, 1 - atol);
        ok = 0;
      }
    } else {
      int exact = !how || !strcmp(how, "exact");
      for (size_t i = 0; i < n && ok; i++) {
        double d = fabs(got[i] - want[i]);
        if (exact ? !(got[i] == want[i]) : !(d <= atol + rtol * fabs(want[i]))) {
          snprintf(why, why_size, "%s[%zu]: got %.8g, expected %.8g (%s)", name, i, got[i], want[i],
                   exact ? "exact" : "allclose");
          ok = 0;
        }
      }
    }
  }
  free(want);
  return ok;
}

static int compare(st_run *r, const char *name, const double *got, size_t n) {
  const cJSON *e = st_entry(r, name);
  if (!e) return 1;
  char why[1024];
  if (st_compare_entry(r->manifest, r->dir, name, e, got, n, why, sizeof why)) return 1;
  st_failf(r, "%s", why);
  return 0;
}

/* got[i] as double, for each element type the runners produce. */
typedef double (*elem_fn)(const void *p, size_t i);
static double elem_f32(const void *p, size_t i) {
  return ((const float *)p)[i];
}
static double elem_u8(const void *p, size_t i) {
  return ((const uint8_t *)p)[i];
}
static double elem_int(const void *p, size_t i) {
  return ((const int *)p)[i];
}

static int compare_elems(st_run *r, const char *name, const void *got, size_t n, elem_fn get) {
  if (!st_entry(r, name)) return 1;
  double *g = malloc((n ? n : 1) * sizeof *g);
  if (!g) {
    st_failf(r, "%s: out of memory", name);
    return 0;
  }
  for (size_t i = 0; i < n; i++) g[i] = get(got, i);
  int ok = compare(r, name, g, n);
  free(g);
  return ok;
}

int st_check_floats(st_run *r, const char *name, const float *got, size_t n) {
  return compare_elems(r, name, got, n, elem_f32);
}

int st_check_u8(st_run *r, const char *name, const uint8_t *got, size_t n) {
  return compare_elems(r, name, got, n, elem_u8);
}

int st_check_ints(st_run *r, const char *name, const int *got, int n) {
  return compare_elems(r, name, got, n > 0 ? (size_t)n : 0, elem_int);
}

int st_check_number(st_run *r, const char *name, double got) {
  if (!st_entry(r, name)) return 1;
  return compare(r, name, &got, 1);
}

int st_check_str(st_run *r, const char *name, const char *got) {
  const cJSON *e = st_entry(r, name);
  if (!e) return 1;
  const char *want = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "value"));
  if (!want || !got || strcmp(want, got)) {
    st_failf(r, "%s: got \"%s\", expected \"%s\"", name, got ? got : "(none)",
             want ? want : "(none)");
    return 0;
  }
  return 1;
}

int st_check_strs(st_run *r, const char *name, char *const *got, int n) {
  const cJSON *e = st_entry(r, name);
  if (!e) return 1;
  const cJSON *want = cJSON_GetObjectItemCaseSensitive(e, "value");
  if (!cJSON_IsArray(want) || cJSON_GetArraySize(want) != n) {
    st_failf(r, "%s: %d items, expected %d", name, n,
             cJSON_IsArray(want) ? cJSON_GetArraySize(want) : -1);
    return 0;
  }
  int i = 0;
  const cJSON *x;
  cJSON_ArrayForEach(x, want) {
    const char *w = cJSON_GetStringValue(x);
    if (!w || strcmp(w, got[i])) {
      st_failf(r, "%s[%d]: got \"%s\", expected \"%s\"", name, i, got[i], w ? w : "(none)");
      return 0;
    }
    i++;
  }
  return 1;
}
