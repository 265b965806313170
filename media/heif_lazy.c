/* heif_lazy: libheif's functions looked up at the first HEIF/AVIF image (see heif_lazy.h). */
#define HEIF_LAZY_NO_CALLS
#include "media/heif_lazy.h"

#include "core/lazy_lib.h"

heif_functions heif_fn;

#if (LIBHEIF_NUMERIC_VERSION >> 24) != 1
#error "libheif 1.x expected: its file name is libheif.so.1"
#endif
static const char *const libs[] = {"libheif.so.1"};

LAZY_LIB_DEFINE(heif_load, heif_fn, HEIF_FUNCTIONS, libs)
