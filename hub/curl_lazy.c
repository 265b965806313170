/* curl_lazy: libcurl's functions looked up at the first download (see curl_lazy.h). */
#define CURL_LAZY_NO_CALLS
#include "hub/curl_lazy.h"

#include "core/lazy_lib.h"

curl_functions curl_fn;

/* Debian's libcurl4-openssl-dev links libcurl.so.4, libcurl4-gnutls-dev the other */
static const char *const libs[] = {"libcurl.so.4|libcurl-gnutls.so.4"};

LAZY_LIB_DEFINE(curl_load, curl_fn, CURL_FUNCTIONS, libs)
