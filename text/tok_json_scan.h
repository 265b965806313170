/* tok_json_scan: a JSON object of string -> integer (a BPE vocab.json: 49,408 members for CLIP)
 * read in one pass without building a cJSON tree. The tree cost CLIP's tokenizer ~5.5 MB of
 * small allocations, ~1,350 first-touch page faults (12 us each on our VMs) and about half of
 * its load time. Only the plain form is taken; anything else is left to cJSON, whose reading
 * (and error messages) stay the reference. */
#ifndef VLP_TEXT_TOK_JSON_SCAN_H
#define VLP_TEXT_TOK_JSON_SCAN_H

#include <stddef.h>

/* Called for each member in file order: key[0..n) unescaped (no NUL inside, NUL-terminated),
 * its value. Returns 0 to go on, non-zero to stop. */
typedef int (*tok_json_scan_member)(const char *key, size_t n, long long value, void *ud);

/* 1 when text[0..size) is one object whose values are all plain integers (optional '-',
 * digits, no leading zeros, fraction or exponent), whose keys hold no control character,
 * \u0000 or unpaired surrogate escape, with only whitespace around it, and every call of fn
 * returned 0; 0 when the text is anything else (fn may have been called for members before
 * the point where it stopped looking plain); -1 when fn returned non-zero. */
int tok_json_scan_int_object(const char *text, size_t size, tok_json_scan_member fn, void *ud);

#endif
