/* library: what belongs to libvlp as a whole rather than to a module: its version and the
 * one release function for plain buffers it hands out (vlp.h). */
#include <stdlib.h>

#include "vlp.h"

#define VLP_STR_(x) #x
#define VLP_STR(x) VLP_STR_(x)

const char *vlp_version(void) {
  return VLP_STR(VLP_VERSION_MAJOR) "." VLP_STR(VLP_VERSION_MINOR) "." VLP_STR(VLP_VERSION_PATCH);
}

void vlp_free(void *p) {
  free(p);
}
