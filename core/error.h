/* error: the thread-local last-error message behind vlp_last_error(). */
#ifndef VLP_CORE_ERROR_H
#define VLP_CORE_ERROR_H

#include "vlp.h"

/* Record a printf-style message and return st, so failures read
 *   return vlp_fail(VLP_ERR_FORMAT, "%s: truncated PNG", path); */
vlp_status vlp_fail(vlp_status st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefix the current message: "ctx: <message>". Returns st. */
vlp_status vlp_fail_prefix(vlp_status st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void vlp_clear_error(void);

#endif
