/* png_mem: libpng writing into a growing memory buffer (see png_mem.h). */
#include "png_mem.h"

#include <stdlib.h>
#include <string.h>

static void mem_write(png_structp p, png_bytep d, size_t n) {
  membuf *m = png_get_io_ptr(p);
  if (m->n + n > m->cap) {
    m->cap = (m->n + n) * 2;
    m->buf = realloc(m->buf, m->cap);
  }
  memcpy(m->buf + m->n, d, n);
  m->n += n;
}

static void mem_flush(png_structp p) {
  (void)p;
}

void png_write_to_membuf(png_structp p, membuf *m) {
  png_set_write_fn(p, m, mem_write, mem_flush);
}
