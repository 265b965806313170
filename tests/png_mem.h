/* png_mem: libpng writing into a growing memory buffer, for the tests that make PNGs. */
#ifndef VLP_TESTS_PNG_MEM_H
#define VLP_TESTS_PNG_MEM_H
#include <png.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint8_t *buf;
  size_t n, cap;
} membuf;

/* Makes the write struct p append what it writes to m (start with membuf m = {0}; free m.buf
 * when done). */
void png_write_to_membuf(png_structp p, membuf *m);

#endif
