/* multipart: a small multipart/form-data splitter over an in-memory body. */
#include "multipart.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The boundary parameter of a Content-Type value, unquoted, into out. */
static int boundary_of(const char *ct, char *out, size_t size) {
  const char *p = strcasestr(ct, "boundary=");
  if (!p) return 0;
  p += 9;
  size_t n = 0;
  if (*p == '"') {
    p++;
    while (p[n] && p[n] != '"') n++;
  } else {
    while (p[n] && p[n] != ';' && p[n] != ' ') n++;
  }
  if (n == 0 || n > 70 || n >= size) return 0;
  memcpy(out, p, n);
  out[n] = 0;
  return 1;
}

/* The value of param (name= or filename=) in a Content-Disposition header line. */
static int disposition_param(const char *line, size_t len, const char *param, char *out,
                             size_t size) {
  size_t pl = strlen(param);
  for (size_t i = 0; i + pl + 1 < len; i++) {
    if (strncasecmp(line + i, param, pl) || line[i + pl] != '=') continue;
    if (i > 0 && line[i - 1] != ' ' && line[i - 1] != ';') continue;
    const char *v = line + i + pl + 1;
    size_t rest = len - (i + pl + 1), n = 0;
    if (rest && *v == '"') {
      v++;
      rest--;
      while (n < rest && v[n] != '"') n++;
    } else {
      while (n < rest && v[n] != ';') n++;
    }
    if (n >= size) n = size - 1;
    memcpy(out, v, n);
    out[n] = 0;
    return 1;
  }
  return 0;
}

int multipart_parse(const char *content_type, const uint8_t *body, size_t len, mpart *parts,
                    int max, char *err, size_t errlen) {
  char b[80], delim[84];
  if (!content_type || !boundary_of(content_type, b, sizeof b)) {
    snprintf(err, errlen, "multipart body without a boundary in its Content-Type");
    return -1;
  }
  size_t dl = (size_t)snprintf(delim, sizeof delim, "--%s", b);
  const uint8_t *end = body + len;
  const uint8_t *p = memmem(body, len, delim, dl);
  if (!p) {
    snprintf(err, errlen, "multipart body without its first boundary");
    return -1;
  }
  int n = 0;
  for (;;) {
    p += dl;
    if (end - p >= 2 && p[0] == '-' && p[1] == '-') return n; /* closing boundary */
    while (p < end && (*p == ' ' || *p == '\t')) p++;
    if (end - p < 2 || p[0] != '\r' || p[1] != '\n') break;
    p += 2;
    const uint8_t *hend = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
    if (!hend) break;
    if (n == max) {
      snprintf(err, errlen, "multipart body with more than %d parts", max);
      return -1;
    }
    mpart *m = &parts[n];
    memset(m, 0, sizeof *m);
    for (const uint8_t *line = p; line < hend;) {
      const uint8_t *eol = memmem(line, (size_t)(hend - line), "\r\n", 2);
      if (!eol) eol = hend;
      size_t ll = (size_t)(eol - line);
      if (ll > 20 && !strncasecmp((const char *)line, "Content-Disposition:", 20)) {
        disposition_param((const char *)line, ll, "name", m->name, sizeof m->name);
        m->is_file =
            disposition_param((const char *)line, ll, "filename", m->filename, sizeof m->filename);
      }
      line = eol + 2;
    }
    if (!m->name[0]) {
      snprintf(err, errlen, "multipart part %d has no name", n + 1);
      return -1;
    }
    const uint8_t *data = hend + 4;
    /* the part ends at CRLF + delimiter */
    const uint8_t *q = data;
    const uint8_t *next = NULL;
    while (q < end) {
      const uint8_t *hit = memmem(q, (size_t)(end - q), delim, dl);
      if (!hit) break;
      if (hit - data >= 2 && hit[-2] == '\r' && hit[-1] == '\n') {
        next = hit;
        break;
      }
      q = hit + 1;
    }
    if (!next) break;
    m->data = data;
    m->len = (size_t)(next - 2 - data);
    n++;
    p = next;
  }
  snprintf(err, errlen, "truncated or malformed multipart body");
  return -1;
}
