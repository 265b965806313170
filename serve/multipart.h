/* multipart: parse a multipart/form-data body (RFC 7578) already held in memory. */
#ifndef VLP_SERVE_MULTIPART_H
#define VLP_SERVE_MULTIPART_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  char name[64];       /* the form field name */
  char filename[128];  /* "" when the part is not a file */
  int is_file;         /* a filename was given (even an empty one) */
  const uint8_t *data; /* points into the body */
  size_t len;
} mpart;

/* Split body into at most max parts. Returns the number of parts, or -1 with a message in
 * err (no boundary, truncated body, too many parts, a part without a name). */
int multipart_parse(const char *content_type, const uint8_t *body, size_t len, mpart *parts,
                    int max, char *err, size_t errlen);

#endif
