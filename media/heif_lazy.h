/* heif_lazy: libheif opened at the first HEIF/AVIF image (core/lazy_lib.h): with the HEVC
 * and AV1 decoders it pulls in, it would cost every run of vlp ~7 ms of start-up. media/heif.c
 * includes this header instead of libheif's: it has libheif's types, and each libheif
 * function it calls is a pointer in heif_fn, looked up in the libheif.so of the major version
 * the headers describe. */
#ifndef VLP_MEDIA_HEIF_LAZY_H
#define VLP_MEDIA_HEIF_LAZY_H

#include <libheif/heif.h>

/* Every libheif function media/heif.c calls. */
#define HEIF_FUNCTIONS(X)                       \
  X(heif_context_alloc)                         \
  X(heif_context_free)                          \
  X(heif_context_get_primary_image_handle)      \
  X(heif_context_read_from_memory_without_copy) \
  X(heif_context_set_maximum_image_size_limit)  \
  X(heif_decode_image)                          \
  X(heif_decoding_options_alloc)                \
  X(heif_decoding_options_free)                 \
  X(heif_image_get_height)                      \
  X(heif_image_get_plane_readonly)              \
  X(heif_image_get_width)                       \
  X(heif_image_handle_get_height)               \
  X(heif_image_handle_get_ispe_height)          \
  X(heif_image_handle_get_ispe_width)           \
  X(heif_image_handle_get_width)                \
  X(heif_image_handle_release)                  \
  X(heif_image_release)

typedef struct {
#define HEIF_POINTER(name) __typeof__(name) *name;
  HEIF_FUNCTIONS(HEIF_POINTER)
#undef HEIF_POINTER
} heif_functions;

extern heif_functions heif_fn;

/* Open libheif and fill heif_fn the first time (core/lazy_lib.h). 0 when every function is
 * there; else -1 and *why says what is missing, every time. */
int heif_load(const char **why);

#ifndef HEIF_LAZY_NO_CALLS
/* From here on a call of a libheif function goes through its pointer (so libheif's headers must
 * not be included after this one). */
#define heif_context_alloc (heif_fn.heif_context_alloc)
#define heif_context_free (heif_fn.heif_context_free)
#define heif_context_get_primary_image_handle (heif_fn.heif_context_get_primary_image_handle)
#define heif_context_read_from_memory_without_copy \
  (heif_fn.heif_context_read_from_memory_without_copy)
#define heif_context_set_maximum_image_size_limit \
  (heif_fn.heif_context_set_maximum_image_size_limit)
#define heif_decode_image (heif_fn.heif_decode_image)
#define heif_decoding_options_alloc (heif_fn.heif_decoding_options_alloc)
#define heif_decoding_options_free (heif_fn.heif_decoding_options_free)
#define heif_image_get_height (heif_fn.heif_image_get_height)
#define heif_image_get_plane_readonly (heif_fn.heif_image_get_plane_readonly)
#define heif_image_get_width (heif_fn.heif_image_get_width)
#define heif_image_handle_get_height (heif_fn.heif_image_handle_get_height)
#define heif_image_handle_get_ispe_height (heif_fn.heif_image_handle_get_ispe_height)
#define heif_image_handle_get_ispe_width (heif_fn.heif_image_handle_get_ispe_width)
#define heif_image_handle_get_width (heif_fn.heif_image_handle_get_width)
#define heif_image_handle_release (heif_fn.heif_image_handle_release)
#define heif_image_release (heif_fn.heif_image_release)
#endif

#endif
