/* media_util: helpers shared by the media tests (golden manifest walking, uint8 compares). */
#ifndef VLP_TEST_MEDIA_UTIL_H
#define VLP_TEST_MEDIA_UTIL_H
#include <cjson/cJSON.h>
#include <stdint.h>

#include "vlp.h"

#define GOLDEN "golden/"

/* Load golden/cases/<name>; aborts the test (exit 1) when missing: the golden set is part of
 * the tree. */
cJSON *media_load_manifest(const char *name);
/* Compare img with the uint8 npy named by ENTRY (expected[key]); prints a line with the max
 * difference and the count of differing values on mismatch. Returns 1 when identical. */
int media_check_u8(const char *what, const vlp_image *img, const cJSON *entry);
/* The float32 npy of an entry (count values), malloc'd; NULL (and a failed CHECK) if absent. */
float *media_load_f32(const cJSON *entry, size_t count);
#endif
