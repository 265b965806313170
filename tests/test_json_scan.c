/* test_json_scan: text/tok_json_scan.c reads a flat JSON object of string -> integer as cJSON
 * does (keys with every escape, surrogate pairs, raw UTF-8, duplicates in order; the golden
 * CLIP vocab.json member by member), and leaves every other text to cJSON. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "testlib.h"
#include "text/tok_json_scan.h"

typedef struct {
  char **keys;
  size_t *lens;
  long long *vals;
  int n, cap, stop_at;
} members;

static int collect(const char *key, size_t n, long long v, void *ud) {
  members *m = ud;
  if (m->n == m->stop_at) return 1;
  if (m->n == m->cap) {
    m->cap = m->cap ? 2 * m->cap : 64;
    m->keys = realloc(m->keys, (size_t)m->cap * sizeof *m->keys);
    m->lens = realloc(m->lens, (size_t)m->cap * sizeof *m->lens);
    m->vals = realloc(m->vals, (size_t)m->cap * sizeof *m->vals);
  }
  m->keys[m->n] = malloc(n + 1);
  memcpy(m->keys[m->n], key, n + 1);
  m->lens[m->n] = n;
  m->vals[m->n++] = v;
  return 0;
}

static void members_free(members *m) {
  for (int i = 0; i < m->n; i++) free(m->keys[i]);
  free(m->keys);
  free(m->lens);
  free(m->vals);
}

static int scan(const char *text, members *m) {
  memset(m, 0, sizeof *m);
  m->stop_at = -1;
  return tok_json_scan_int_object(text, strlen(text), collect, m);
}

/* The scan gives exactly cJSON's members: same keys, values and order. */
static int same_as_cjson(const char *text, size_t size) {
  members m = {0};
  m.stop_at = -1;
  int r = tok_json_scan_int_object(text, size, collect, &m);
  cJSON *j = cJSON_ParseWithLength(text, size);
  int ok = r == 1 && j && cJSON_IsObject(j);
  int i = 0;
  const cJSON *e;
  if (ok) cJSON_ArrayForEach(e, j) {
      ok = ok && i < m.n && cJSON_IsNumber(e) && e->valuedouble == (double)m.vals[i] &&
           strlen(e->string) == m.lens[i] && strcmp(e->string, m.keys[i]) == 0;
      i++;
    }
  ok = ok && i == m.n;
  cJSON_Delete(j);
  members_free(&m);
  return ok;
}

int main(void) {
  members m;
  CHECK(scan("{\"a\": 0, \"bc\": 12}", &m) == 1 && m.n == 2);
  CHECK(m.n == 2 && !strcmp(m.keys[1], "bc") && m.vals[1] == 12 && m.vals[0] == 0);
  members_free(&m);

  /* every escape, a surrogate pair, raw UTF-8, a negative value, no whitespace */
  const char *esc =
      "{\"q\\\"b\\\\s\\/f\\bf\\fn\\nr\\rt\\t\":1,\"\\u00e9\\u0120\\uD83D\\uDE00\":-2,"
      "\"\xc3\xa9t\xc3\xa9</w>\":3}";
  CHECK(scan(esc, &m) == 1 && m.n == 3);
  if (m.n == 3) {
    CHECK(!strcmp(m.keys[0], "q\"b\\s/f\bf\fn\nr\rt\t"));
    CHECK(!strcmp(m.keys[1], "\xc3\xa9\xc4\xa0\xf0\x9f\x98\x80") && m.vals[1] == -2);
    CHECK(!strcmp(m.keys[2], "\xc3\xa9t\xc3\xa9</w>"));
  }
  members_free(&m);
  CHECK(same_as_cjson(esc, strlen(esc)));
  const char *dup = " \n{ \"x\" : 1 ,\r\n\t\"x\": 2, \"\": 3 }\n ";
  CHECK(same_as_cjson(dup, strlen(dup)));
  CHECK(scan("{}", &m) == 1 && m.n == 0);
  members_free(&m);

  /* not plain: left to cJSON */
  const char *other[] = {
      "",
      "[]",
      "{\"a\": 1.0}",
      "{\"a\": 1e2}",
      "{\"a\": 01}",
      "{\"a\": 78666666666666666666}", /* 20 digits: no long long (UBSan: no overflow) */
      "{\"a\": -}",
      "{\"a\": \"1\"}",
      "{\"a\": {}}",
      "{\"a\": 1,}",
      "{\"a\": 1} x",
      "{\"a\" 1}",
      "{\"a\": 1",
      "{a: 1}",
      "{\"\\u0000\": 1}",
      "{\"\\uDE00\": 1}",
      "{\"\\uD83D\": 1}",
      "{\"\\uD83Dx\": 1}",
      "{\"\\x\": 1}",
      "{\"a\tb\": 1}",
      "{\"\\u12G4\": 1}",
      "{\"a\": 1234567890123456789}",
      "\xef\xbb\xbf{\"a\": 1}",
  };
  for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
    int r = scan(other[i], &m);
    if (r != 0) fprintf(stderr, "taken as plain: %s\n", other[i]);
    CHECK(r == 0);
    members_free(&m);
  }

  /* a callback that stops: -1, after the members before it */
  memset(&m, 0, sizeof m);
  m.stop_at = 1;
  CHECK(tok_json_scan_int_object("{\"a\": 1, \"b\": 2}", 16, collect, &m) == -1 && m.n == 1);
  members_free(&m);

  /* the golden CLIP vocabulary, member by member */
  char *text;
  size_t size;
  CHECK(read_file("golden/models/clip-tiny/vocab.json", &text, &size) == VLP_OK);
  if (text) {
    CHECK(same_as_cjson(text, size));
    free(text);
  }
  return test_done();
}
