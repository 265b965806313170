/* sbuf: a growable byte buffer for building HTTP response bodies, with JSON writers.
 * Allocation failures are remembered (oom) instead of reported at every call. */
#ifndef VLP_SERVE_SBUF_H
#define VLP_SERVE_SBUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  char *s; /* NUL-terminated while not oom */
  size_t n, cap;
  int oom;
} sbuf;

void sb_add(sbuf *b, const void *data, size_t n);
void sb_puts(sbuf *b, const char *s);
void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A JSON string literal (quoted, escaped; invalid UTF-8 bytes become U+FFFD). */
void sb_json_str(sbuf *b, const char *s);
/* A float with enough digits to round-trip; NaN and infinities as null. */
void sb_json_float(sbuf *b, float v);
void sb_json_floats(sbuf *b, const float *v, int n);
void sb_json_ints(sbuf *b, const int *v, int n);
void sb_free(sbuf *b);

/* Base64 (RFC 4648, standard alphabet, padded). */
void sb_base64(sbuf *b, const uint8_t *data, size_t n);
/* Decode standard or URL-safe base64; whitespace and a "data:...;base64," prefix are
 * skipped. Returns 0 and a malloc'd *out, or -1 on a character outside the alphabet. */
int base64_decode(const char *s, size_t len, uint8_t **out, size_t *out_len);

#endif
