/* sbuf: growable response buffer, JSON writers and base64. */
#include "sbuf.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int grow(sbuf *b, size_t extra) {
  if (b->oom) return 0;
  if (b->n + extra + 1 <= b->cap) return 1;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->n + extra + 1) cap *= 2;
  char *s = realloc(b->s, cap);
  if (!s) {
    b->oom = 1;
    return 0;
  }
  b->s = s;
  b->cap = cap;
  return 1;
}

void sb_add(sbuf *b, const void *data, size_t n) {
  if (!grow(b, n)) return;
  memcpy(b->s + b->n, data, n);
  b->n += n;
  b->s[b->n] = 0;
}

void sb_puts(sbuf *b, const char *s) {
  sb_add(b, s, strlen(s));
}

void sb_printf(sbuf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || !grow(b, (size_t)n)) return;
  va_start(ap, fmt);
  vsnprintf(b->s + b->n, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->n += (size_t)n;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when it is not one. */
static int utf8_len(const unsigned char *s) {
  if (s[0] < 0x80) return 1;
  int n = s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 && s[0] < 0xE0 ? 2 : 0;
  for (int i = 1; i < n; i++)
    if ((s[i] & 0xC0) != 0x80) return 0;
  return n;
}

void sb_json_str(sbuf *b, const char *s) {
  sb_add(b, "\"", 1);
  const unsigned char *p = (const unsigned char *)s;
  while (*p) {
    unsigned char c = *p;
    if (c == '"' || c == '\\') {
      char e[2] = {'\\', (char)c};
      sb_add(b, e, 2);
      p++;
    } else if (c < 0x20) {
      sb_printf(b, "\\u%04x", c);
      p++;
    } else {
      int n = utf8_len(p);
      if (n) {
        sb_add(b, p, (size_t)n);
        p += n;
      } else {
        sb_puts(b, "\\ufffd");
        p++;
      }
    }
  }
  sb_add(b, "\"", 1);
}

void sb_json_float(sbuf *b, float v) {
  if (!isfinite(v))
    sb_puts(b, "null");
  else
    sb_printf(b, "%.9g", (double)v);
}

void sb_json_floats(sbuf *b, const float *v, int n) {
  sb_add(b, "[", 1);
  for (int i = 0; i < n; i++) {
    if (i) sb_add(b, ", ", 2);
    sb_json_float(b, v[i]);
  }
  sb_add(b, "]", 1);
}

void sb_json_ints(sbuf *b, const int *v, int n) {
  sb_add(b, "[", 1);
  for (int i = 0; i < n; i++) sb_printf(b, i ? ", %d" : "%d", v[i]);
  sb_add(b, "]", 1);
}

void sb_free(sbuf *b) {
  free(b->s);
  memset(b, 0, sizeof *b);
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void sb_base64(sbuf *b, const uint8_t *d, size_t n) {
  if (!grow(b, (n + 2) / 3 * 4)) return;
  char *o = b->s + b->n;
  size_t i = 0;
  for (; i + 2 < n; i += 3) {
    uint32_t v = (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8 | d[i + 2];
    *o++ = b64[v >> 18];
    *o++ = b64[(v >> 12) & 63];
    *o++ = b64[(v >> 6) & 63];
    *o++ = b64[v & 63];
  }
  if (i < n) {
    uint32_t v = (uint32_t)d[i] << 16 | (i + 1 < n ? (uint32_t)d[i + 1] << 8 : 0);
    *o++ = b64[v >> 18];
    *o++ = b64[(v >> 12) & 63];
    *o++ = i + 1 < n ? b64[(v >> 6) & 63] : '=';
    *o++ = '=';
  }
  b->n = (size_t)(o - b->s);
  b->s[b->n] = 0;
}

static int b64_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

int base64_decode(const char *s, size_t len, uint8_t **out, size_t *out_len) {
  *out = NULL;
  *out_len = 0;
  if (len > 5 && !strncmp(s, "data:", 5)) {
    const char *comma = memchr(s, ',', len);
    if (!comma) return -1;
    len -= (size_t)(comma + 1 - s);
    s = comma + 1;
  }
  uint8_t *d = malloc(len / 4 * 3 + 3);
  if (!d) return -1;
  size_t n = 0;
  uint32_t acc = 0;
  int bits = 0, pad = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '=') {
      pad = 1;
      continue;
    }
    int v = b64_value(c);
    if (v < 0 || pad) {
      free(d);
      return -1;
    }
    acc = acc << 6 | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      d[n++] = (uint8_t)(acc >> bits);
    }
  }
  *out = d;
  *out_len = n;
  return 0;
}
