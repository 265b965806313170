/* golden_common: golden-manifest helpers shared by test_bert, test_blip and the tokenizer
 * tests: load a manifest, read float npy files, compare an expected ENTRY ({"compare",
 * "value" | "npy", "atol"?, "rtol"?}) with what the code produced, using the entry's or the
 * file's tolerance. */
#ifndef VLP_TESTS_GOLDEN_COMMON_H
#define VLP_TESTS_GOLDEN_COMMON_H

#include <cjson/cJSON.h>
#include <stddef.h>

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
/* expected[key].value of a case; NULL when the case has no such entry. */
const cJSON *golden_value(const cJSON *c, const char *key);
/* 1 when want is a JSON array of exactly the n ints / strings of got (counts no check). */
int golden_ints_equal(const cJSON *want, const int *got, int n);
int golden_strs_equal(const cJSON *want, char *const *got, int n);
/* About `size` bytes of repeated words (ASCII, accented Latin, CJK) separated by spaces,
 * NUL-terminated: the big input of the tokenizer speed tests. malloc'd. */
char *golden_words_text(size_t size);
/* "images/astronaut.png" -> "astronaut" (static buffer). */
const char *golden_image_stem(const char *image);

#endif
