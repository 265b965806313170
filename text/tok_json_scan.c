/* tok_json_scan: a flat JSON object of string -> integer in one pass (see tok_json_scan.h). */
#include "text/tok_json_scan.h"

#include <stdint.h>
#include <stdlib.h>

#include "text/tok_util.h"

typedef struct {
  const char *p, *end;
  char *buf; /* the current key, unescaped */
  size_t cap;
} scan;

static void skip_ws(scan *s) {
  while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')) s->p++;
}

static int hex4(const char *p, uint32_t *out) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) {
    char c = p[i];
    int d = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : -1;
    if (d < 0) return 0;
    v = v * 16 + (uint32_t)d;
  }
  *out = v;
  return 1;
}

static int put(scan *s, size_t *n, const char *b, size_t k) {
  if (*n + k + 1 > s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 256;
    while (cap < *n + k + 1) cap *= 2;
    char *nb = realloc(s->buf, cap);
    if (!nb) return 0;
    s->buf = nb, s->cap = cap;
  }
  for (size_t i = 0; i < k; i++) s->buf[*n + i] = b[i];
  *n += k;
  s->buf[*n] = 0;
  return 1;
}

/* A string at s->p (after its opening quote) into s->buf; 0 when not plain. */
static int key(scan *s, size_t *n) {
  *n = 0;
  if (!put(s, n, "", 0)) return 0;
  for (;;) {
    if (s->p >= s->end) return 0;
    unsigned char c = (unsigned char)*s->p;
    if (c == '"') {
      s->p++;
      return 1;
    }
    if (c < 0x20) return 0;
    if (c != '\\') {
      const char *run = s->p;
      while (s->p < s->end && *s->p != '"' && *s->p != '\\' && (unsigned char)*s->p >= 0x20) s->p++;
      if (!put(s, n, run, (size_t)(s->p - run))) return 0;
      continue;
    }
    if (s->end - s->p < 2) return 0;
    char e = s->p[1], ch;
    s->p += 2;
    switch (e) {
      case '"':
        ch = '"';
        break;
      case '\\':
        ch = '\\';
        break;
      case '/':
        ch = '/';
        break;
      case 'b':
        ch = '\b';
        break;
      case 'f':
        ch = '\f';
        break;
      case 'n':
        ch = '\n';
        break;
      case 'r':
        ch = '\r';
        break;
      case 't':
        ch = '\t';
        break;
      case 'u': {
        uint32_t u, lo;
        if (s->end - s->p < 4 || !hex4(s->p, &u)) return 0;
        s->p += 4;
        if (u == 0 || (u >= 0xDC00 && u <= 0xDFFF)) return 0;
        if (u >= 0xD800 && u <= 0xDBFF) {
          if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u' || !hex4(s->p + 2, &lo) ||
              lo < 0xDC00 || lo > 0xDFFF)
            return 0;
          s->p += 6;
          u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
        }
        char b[4];
        size_t k = (size_t)tok_utf8_put(u, b);
        if (!put(s, n, b, k)) return 0;
        continue;
      }
      default:
        return 0;
    }
    if (!put(s, n, &ch, 1)) return 0;
  }
}

/* A plain integer at s->p; 0 when not plain (or beyond 18 digits, which are counted but
 * not summed: 19 would overflow a long long). */
static int integer(scan *s, long long *v) {
  int neg = s->p < s->end && *s->p == '-';
  s->p += neg;
  const char *d = s->p;
  long long x = 0;
  for (; s->p < s->end && *s->p >= '0' && *s->p <= '9'; s->p++)
    if (s->p - d < 18) x = x * 10 + (*s->p - '0');
  size_t nd = (size_t)(s->p - d);
  if (nd == 0 || nd > 18 || (nd > 1 && *d == '0')) return 0;
  if (s->p < s->end && (*s->p == '.' || *s->p == 'e' || *s->p == 'E')) return 0;
  *v = neg ? -x : x;
  return 1;
}

static int scan_object(scan *s, tok_json_scan_member fn, void *ud) {
  skip_ws(s);
  if (s->p >= s->end || *s->p++ != '{') return 0;
  skip_ws(s);
  if (s->p < s->end && *s->p == '}')
    s->p++;
  else
    for (;;) {
      size_t n;
      long long v;
      if (s->p >= s->end || *s->p++ != '"' || !key(s, &n)) return 0;
      skip_ws(s);
      if (s->p >= s->end || *s->p++ != ':') return 0;
      skip_ws(s);
      if (!integer(s, &v)) return 0;
      if (fn(s->buf, n, v, ud)) return -1;
      skip_ws(s);
      if (s->p >= s->end) return 0;
      char c = *s->p++;
      if (c == '}') break;
      if (c != ',') return 0;
      skip_ws(s);
    }
  skip_ws(s);
  return s->p == s->end;
}

int tok_json_scan_int_object(const char *text, size_t size, tok_json_scan_member fn, void *ud) {
  scan s = {text, text + size, NULL, 0};
  int r = scan_object(&s, fn, ud);
  free(s.buf);
  return r;
}
