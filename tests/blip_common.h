/* blip_common: golden-manifest helpers shared by test_bert and test_blip: load a manifest,
 * read float npy files, compare an expected ENTRY ({"compare", "value" | "npy", "atol"?,
 * "rtol"?}) with what the code produced, using the entry's or the file's tolerance. */
#ifndef VLP_TESTS_BLIP_COMMON_H
#define VLP_TESTS_BLIP_COMMON_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* The manifest golden/cases/<name>; NULL (and a failed check) when it cannot be read. */
cJSON *golden_manifest(const char *name);
/* Float copy of golden/<rel> (any numeric dtype); *n = element count. NULL on error. */
float *golden_floats(const char *rel, size_t *n);
/* Compare an "allclose" / "cosine" entry with got (n floats); counts one check. */
int golden_check_floats(const cJSON *manifest, const cJSON *entry, const float *got, size_t n,
                        const char *what);
/* Compare an "exact" list-of-ints entry; counts one check. */
int golden_check_ids(const cJSON *entry, const int *got, int n, const char *what);
/* Compare an "exact" string entry; counts one check. */
int golden_check_str(const cJSON *entry, const char *got, const char *what);
/* The ints of an "exact" value list: malloc'd, *n set. */
int *golden_ids(const cJSON *entry, int *n);
/* "images/astronaut.png" -> "astronaut" (static buffer). */
const char *golden_image_stem(const char *image);

#endif
