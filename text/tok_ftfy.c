/* tok_ftfy: ftfy.fix_text's fixes that apply to text that is not mojibake (see tok_ftfy.h). */
#include "text/tok_ftfy.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* Windows-1252 for bytes 0x80..0x9F; the five undefined ones stay as they are (ftfy's
 * "sloppy" codec). */
static const uint16_t cp1252_c1[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

static int is_alnum_ascii(uint32_t c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int entity_cmp(const void *key, const void *elem) {
  return strcmp((const char *)key, ((const tok_html_entity *)elem)->name);
}

/* Python's html.unescape of a numeric reference "&#...;" whose digits are d[0..n) (hex when
 * hex): appends the result. Returns 0, 1 when the reference is left as it is, -1 nomem. */
static int numeric_ref(const uint32_t *d, size_t n, int hex, tok_cps *out) {
  uint64_t v = 0;
  if (!n) return 1;
  for (size_t i = 0; i < n; i++) {
    uint32_t c = d[i];
    int x;
    if (c >= '0' && c <= '9')
      x = (int)(c - '0');
    else if (hex && c >= 'a' && c <= 'f')
      x = (int)(c - 'a' + 10);
    else if (hex && c >= 'A' && c <= 'F')
      x = (int)(c - 'A' + 10);
    else
      return 1; /* html.unescape would stop early and leave the ';': ftfy keeps it all */
    if (v < 0x1000000) v = v * (hex ? 16 : 10) + (uint64_t)x;
  }
  uint32_t c;
  if (v == 0)
    c = 0xFFFD;
  else if (v == 0x0D)
    c = 0x0D;
  else if (v >= 0x80 && v <= 0x9F)
    c = cp1252_c1[v - 0x80];
  else if ((v >= 0xD800 && v <= 0xDFFF) || v > 0x10FFFF)
    c = 0xFFFD;
  else if ((v >= 1 && v <= 8) || v == 0x0B || (v >= 0x0E && v <= 0x1F) || v == 0x7F ||
           (v >= 0xFDD0 && v <= 0xFDEF) || (v & 0xFFFE) == 0xFFFE)
    return 0; /* an invalid code point: dropped */
  else
    c = (uint32_t)v;
  return cps_push(out, c);
}

/* ftfy.fixes.unescape_html: &#?[0-9A-Za-z]{1,24}; replaced when it names a character. */
static int unescape_html(const tok_cps *in, tok_cps *out) {
  const uint32_t *t = in->p;
  size_t n = in->n;
  for (size_t i = 0; i < n;) {
    if (t[i] != '&') {
      if (cps_push(out, t[i++])) return -1;
      continue;
    }
    size_t j = i + 1;
    int num = j < n && t[j] == '#';
    if (num) j++;
    size_t k = j;
    while (k < n && k - j < 25 && is_alnum_ascii(t[k])) k++;
    if (k == j || k - j > 24 || k >= n || t[k] != ';') {
      if (cps_push(out, t[i++])) return -1;
      continue;
    }
    int r = 1;
    if (num) {
      int hex = t[j] == 'x' || t[j] == 'X';
      r = numeric_ref(t + j + hex, k - j - (size_t)hex, hex, out);
    } else {
      char name[32];
      for (size_t q = j; q < k; q++) name[q - j] = (char)t[q];
      name[k - j] = 0;
      const tok_html_entity *e =
          bsearch(name, tok_html_entities, (size_t)tok_n_html_entities, sizeof *e, entity_cmp);
      if (e) r = tok_utf8_decode(e->value, strlen(e->value), out);
    }
    if (r < 0) return -1;
    if (r == 1 && cps_append(out, t + i, k + 1 - i)) return -1; /* left as it is */
    i = k + 1;
  }
  return 0;
}

/* One pass of the character-level fixes that follow unescape_html in fix_and_explain:
 * fix_c1_controls, fix_latin_ligatures, fix_character_width, uncurl_quotes,
 * fix_line_breaks, remove_terminal_escapes, remove_control_chars. They are applied one
 * after the other over the whole text, as ftfy does. */
static int map_chars(const tok_cps *in, tok_cps *out) {
  static const struct {
    uint32_t from;
    const char *to;
  } ligatures[] = {
      {0x132, "IJ"},         {0x133, "ij"},  {0x149, "\xca\xbcn"}, {0x1F1, "DZ"},
      {0x1F2, "Dz"},         {0x1F3, "dz"},  {0x1C4, "D\xc5\xbd"}, {0x1C5, "D\xc5\xbe"},
      {0x1C6, "d\xc5\xbe"},  {0x1C7, "LJ"},  {0x1C8, "Lj"},        {0x1C9, "lj"},
      {0x1CA, "NJ"},         {0x1CB, "Nj"},  {0x1CC, "nj"},        {0xFB00, "ff"},
      {0xFB01, "fi"},        {0xFB02, "fl"}, {0xFB03, "ffi"},      {0xFB04, "ffl"},
      {0xFB05, "\xc5\xbft"}, {0xFB06, "st"}};
  tok_cps a = {0}, b = {0};
  int rc = -1;
  /* fix_c1_controls, fix_latin_ligatures, fix_character_width, uncurl_quotes: each maps
   * single characters, so one loop that feeds each step's output to the later steps is
   * the same as four passes. */
  for (size_t i = 0; i < in->n; i++) {
    uint32_t c = in->p[i];
    if (c >= 0x80 && c <= 0x9F) c = cp1252_c1[c - 0x80];
    int done = 0;
    for (size_t k = 0; k < sizeof ligatures / sizeof ligatures[0]; k++)
      if (ligatures[k].from == c) {
        if (tok_utf8_decode(ligatures[k].to, strlen(ligatures[k].to), &a)) goto out;
        done = 1;
        break;
      }
    if (done) continue;
    if (c == 0x3000) {
      c = ' ';
    } else if (c >= 0xFF01 && c <= 0xFFEF) {
      tok_cps w = {0};
      if (cps_push(&w, c) || tok_normalize(&w, TOK_NFKC)) {
        cps_free(&w);
        goto out;
      }
      for (size_t q = 0; q < w.n; q++) {
        uint32_t x = w.p[q];
        if (x >= 0x2018 && x <= 0x201B)
          x = '\'';
        else if (x >= 0x201C && x <= 0x201F)
          x = '"';
        if (cps_push(&a, x)) {
          cps_free(&w);
          goto out;
        }
      }
      cps_free(&w);
      continue;
    }
    if (c >= 0x2018 && c <= 0x201B)
      c = '\'';
    else if (c >= 0x201C && c <= 0x201F)
      c = '"';
    if (cps_push(&a, c)) goto out;
  }
  /* fix_line_breaks: \r\n, \r, U+2028, U+2029, U+0085 -> \n. */
  for (size_t i = 0; i < a.n; i++) {
    uint32_t c = a.p[i];
    if (c == '\r') {
      if (i + 1 < a.n && a.p[i + 1] == '\n') i++;
      c = '\n';
    } else if (c == 0x2028 || c == 0x2029 || c == 0x85) {
      c = '\n';
    }
    if (cps_push(&b, c)) goto out;
  }
  /* remove_terminal_escapes: ESC [ (digit | ;)* letter. */
  a.n = 0;
  for (size_t i = 0; i < b.n; i++) {
    if (b.p[i] == 0x1B && i + 1 < b.n && b.p[i + 1] == '[') {
      size_t j = i + 2;
      while (j < b.n &&
             (b.p[j] == ';' || utf8proc_category((utf8proc_int32_t)b.p[j]) == UTF8PROC_CATEGORY_ND))
        j++;
      if (j < b.n && b.p[j] < 0x80 && ((b.p[j] | 32) >= 'a' && (b.p[j] | 32) <= 'z')) {
        i = j;
        continue;
      }
    }
    if (cps_push(&a, b.p[i])) goto out;
  }
  /* remove_control_chars. */
  for (size_t i = 0; i < a.n; i++) {
    uint32_t c = a.p[i];
    if (c <= 0x08 || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F ||
        (c >= 0x206A && c <= 0x206F) || c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFC))
      continue;
    if (cps_push(out, c)) goto out;
  }
  rc = 0;
out:
  cps_free(&a);
  cps_free(&b);
  return rc;
}

/* ftfy.fix_and_explain on one segment: the fixes again and again until nothing changes. */
static int fix_segment(tok_cps *seg, int unescape) {
  tok_cps x = {0}, y = {0};
  int rc = -1;
  for (int iter = 0; iter < 1000; iter++) {
    x.n = y.n = 0;
    const tok_cps *cur = seg;
    if (unescape) {
      if (unescape_html(seg, &x)) goto out;
      cur = &x;
    }
    if (map_chars(cur, &y)) goto out;
    if (tok_normalize(&y, TOK_NFC)) goto out;
    int same = y.n == seg->n && (y.n == 0 || memcmp(y.p, seg->p, y.n * sizeof *y.p) == 0);
    if (same) break;
    tok_cps t = *seg;
    *seg = y;
    y = t;
  }
  rc = 0;
out:
  cps_free(&x);
  cps_free(&y);
  return rc;
}

int tok_ftfy_fix_text(tok_cps *t) {
  const size_t max_len = 1000000; /* ftfy's max_decode_length */
  tok_cps out = {0}, seg = {0};
  int unescape = 1, rc = -1;
  for (size_t pos = 0; pos < t->n;) {
    size_t end = pos;
    while (end < t->n && t->p[end] != '\n') end++;
    end = end < t->n ? end + 1 : t->n;
    if (end - pos > max_len) end = pos + max_len;
    seg.n = 0;
    if (cps_append(&seg, t->p + pos, end - pos)) goto out;
    for (size_t i = 0; i < seg.n && unescape; i++)
      if (seg.p[i] == '<') unescape = 0; /* looks like HTML: keep entities from here on */
    if (fix_segment(&seg, unescape) || cps_append(&out, seg.p, seg.n)) goto out;
    pos = end;
  }
  cps_free(t);
  *t = out;
  out = (tok_cps){0};
  rc = 0;
out:
  cps_free(&out);
  cps_free(&seg);
  return rc;
}
