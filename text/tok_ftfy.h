/* tok_ftfy: the part of ftfy.fix_text (ftfy 6.3, default configuration) that CLIP's
 * tokenizer runs on its input. Done: splitting into lines, HTML entity unescaping (turned
 * off from the first line holding a '<' on, as ftfy's "auto" does), C1 controls read as
 * Windows-1252, Latin ligatures, full/half-width forms, curly quotes, line breaks,
 * terminal escapes, control characters, NFC, all repeated until nothing changes.
 * Not done: fix_encoding (mojibake detection: ftfy's "badness" heuristic, e.g. "cafÃ©" ->
 * "café"); such text is tokenised as it is. */
#ifndef VLP_TEXT_TOK_FTFY_H
#define VLP_TEXT_TOK_FTFY_H

#include "text/tok_util.h"

/* Fix t in place. Returns 0, or -1 when out of memory. */
int tok_ftfy_fix_text(tok_cps *t);

typedef struct {
  const char *name;  /* without '&' and ';' */
  const char *value; /* UTF-8 */
} tok_html_entity;

extern const tok_html_entity tok_html_entities[];
extern const int tok_n_html_entities;

#endif
