/* error: the thread-local last-error message (see error.h). */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[1024];

const char *vlp_last_error(void) {
  return last_error;
}

const char *vlp_status_str(vlp_status st) {
  switch (st) {
    case VLP_OK:
      return "ok";
    case VLP_ERR_IO:
      return "io error";
    case VLP_ERR_FORMAT:
      return "format error";
    case VLP_ERR_UNSUPPORTED:
      return "unsupported";
    case VLP_ERR_MODEL:
      return "model error";
    case VLP_ERR_INVALID:
      return "invalid argument";
    case VLP_ERR_NOMEM:
      return "out of memory";
    case VLP_ERR_CANCELLED:
      return "cancelled";
  }
  return "unknown error";
}

vlp_status vlp_fail(vlp_status st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof last_error, fmt, ap);
  va_end(ap);
  return st;
}

vlp_status vlp_fail_prefix(vlp_status st, const char *fmt, ...) {
  char prefix[512], old[sizeof last_error];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  memcpy(old, last_error, sizeof old);
  snprintf(last_error, sizeof last_error, "%.500s: %.500s", prefix, old);
  return st;
}

void vlp_clear_error(void) {
  last_error[0] = 0;
}

vlp_status vlp_set_error(vlp_status st, const char *message) {
  snprintf(last_error, sizeof last_error, "%s", message ? message : "");
  return st;
}
