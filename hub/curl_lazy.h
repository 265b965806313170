/* curl_lazy: libcurl opened at the first download (core/lazy_lib.h), so that the runs of vlp
 * that download nothing do not load it. hub/pull.c includes this header instead of curl.h:
 * it has libcurl's types, and each libcurl function it calls is a pointer in curl_fn, looked
 * up in libcurl.so.4 (the file name libcurl has kept since 2006; libcurl-gnutls.so.4 when
 * only Debian's GnuTLS build is there). curl.h's compile-time type
 * checks of curl_easy_setopt are macros around the function itself, so they are off here. */
#ifndef VLP_HUB_CURL_LAZY_H
#define VLP_HUB_CURL_LAZY_H

#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>

/* Every libcurl function hub/pull.c calls. */
#define CURL_FUNCTIONS(X) \
  X(curl_easy_cleanup)    \
  X(curl_easy_escape)     \
  X(curl_easy_init)       \
  X(curl_easy_perform)    \
  X(curl_easy_reset)      \
  X(curl_easy_setopt)     \
  X(curl_easy_strerror)   \
  X(curl_free)            \
  X(curl_global_init)     \
  X(curl_slist_append)    \
  X(curl_slist_free_all)

typedef struct {
#define CURL_POINTER(name) __typeof__(name) *name;
  CURL_FUNCTIONS(CURL_POINTER)
#undef CURL_POINTER
} curl_functions;

extern curl_functions curl_fn;

/* Open libcurl and fill curl_fn the first time (core/lazy_lib.h). 0 when every function is
 * there; else -1 and *why says what is missing, every time. */
int curl_load(const char **why);

#ifndef CURL_LAZY_NO_CALLS
/* From here on a call of a libcurl function goes through its pointer (so curl.h must
 * not be included after this one). */
#undef curl_easy_setopt
#define curl_easy_cleanup (curl_fn.curl_easy_cleanup)
#define curl_easy_escape (curl_fn.curl_easy_escape)
#define curl_easy_init (curl_fn.curl_easy_init)
#define curl_easy_perform (curl_fn.curl_easy_perform)
#define curl_easy_reset (curl_fn.curl_easy_reset)
#define curl_easy_setopt (curl_fn.curl_easy_setopt)
#define curl_easy_strerror (curl_fn.curl_easy_strerror)
#define curl_free (curl_fn.curl_free)
#define curl_global_init (curl_fn.curl_global_init)
#define curl_slist_append (curl_fn.curl_slist_append)
#define curl_slist_free_all (curl_fn.curl_slist_free_all)
#endif

#endif
