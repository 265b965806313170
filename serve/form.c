/* form: the inputs of a request, whatever way they came: a JSON object, a
 * multipart/form-data body (files and text fields), a raw image body, query arguments.
 * Images come only from the request itself or from an indexed file named by its id; a URL
 * or path from the client is never opened. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server.h"

static const char *header(request *r, const char *name) {
  return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

int form_parse(request *r, form *f) {
  memset(f, 0, sizeof *f);
  f->req = r;
  const char *ct = header(r, "Content-Type");
  if (!r->len) return 0;
  if (ct && !strncasecmp(ct, "multipart/form-data", 19)) {
    char err[160];
    f->n_parts = multipart_parse(ct, r->body, r->len, f->parts,
                                 (int)(sizeof f->parts / sizeof f->parts[0]), err, sizeof err);
    if (f->n_parts < 0) {
      f->n_parts = 0;
      reply_error(&r->rep, 400, "%s", err);
      return -1;
    }
    for (int i = 0; i < f->n_parts; i++) {
      const mpart *p = &f->parts[i];
      if (p->is_file) continue;
      if (memchr(p->data, 0, p->len) || !(f->ptext[i] = strndup((const char *)p->data, p->len))) {
        reply_error(&r->rep, 400, "form field \"%s\" is not text", p->name);
        return -1;
      }
    }
    return 0;
  }
  if (ct && (!strncasecmp(ct, "image/", 6) || !strncasecmp(ct, "application/octet-stream", 24))) {
    f->raw = r->body;
    f->raw_len = r->len;
    return 0;
  }
  /* anything else is read as JSON, whatever it is labelled (curl -d sends
   * x-www-form-urlencoded; clip-retrieval's client sends no Content-Type at all) */
  const char *end = NULL;
  f->json = cJSON_ParseWithLengthOpts((const char *)r->body, r->len, &end, 0);
  if (!f->json) {
    size_t at = end && end >= (const char *)r->body ? (size_t)(end - (const char *)r->body) : 0;
    reply_error(&r->rep, 400, "malformed JSON body (near byte %zu)", at);
    return -1;
  }
  if (!cJSON_IsObject(f->json)) {
    reply_error(&r->rep, 400, "the JSON body must be an object");
    return -1;
  }
  return 0;
}

void form_free(form *f) {
  for (int i = 0; i < f->n_parts; i++) free(f->ptext[i]);
  cJSON_Delete(f->json);
  f->json = NULL;
}

static const cJSON *json_field(form *f, const char *key) {
  const cJSON *v = f->json ? cJSON_GetObjectItemCaseSensitive(f->json, key) : NULL;
  return v && !cJSON_IsNull(v) ? v : NULL;
}

/* The value of a multipart text field. */
static const char *text_part(form *f, const char *key) {
  for (int i = 0; i < f->n_parts; i++)
    if (!f->parts[i].is_file && !strcmp(f->parts[i].name, key)) return f->ptext[i];
  return NULL;
}

const char *form_str(form *f, const char *key, int *bad) {
  const cJSON *v = json_field(f, key);
  if (v) {
    if (cJSON_IsString(v)) return v->valuestring;
    reply_error(&f->req->rep, 400, "\"%s\" must be a string", key);
    *bad = 1;
    return NULL;
  }
  const char *p = text_part(f, key);
  if (p) return p;
  return MHD_lookup_connection_value(f->req->conn, MHD_GET_ARGUMENT_KIND, key);
}

double form_num(form *f, const char *key, double lo, double hi, double def, int *bad) {
  const cJSON *v = json_field(f, key);
  double x;
  if (v) {
    if (!cJSON_IsNumber(v)) {
      reply_error(&f->req->rep, 400, "\"%s\" must be a number", key);
      *bad = 1;
      return def;
    }
    x = v->valuedouble;
  } else {
    const char *s = text_part(f, key);
    if (!s) s = MHD_lookup_connection_value(f->req->conn, MHD_GET_ARGUMENT_KIND, key);
    if (!s) return def;
    char *end;
    errno = 0;
    x = strtod(s, &end);
    if (errno || end == s || *end) {
      reply_error(&f->req->rep, 400, "\"%s\" must be a number", key);
      *bad = 1;
      return def;
    }
  }
  if (!(x >= lo && x <= hi)) {
    reply_error(&f->req->rep, 400, "\"%s\" must be from %g to %g", key, lo, hi);
    *bad = 1;
    return def;
  }
  return x;
}

int form_int(form *f, const char *key, int lo, int hi, int def, int *bad) {
  int was_bad = *bad;
  double x = form_num(f, key, lo, hi, def, bad);
  if (!*bad && x != floor(x)) {
    reply_error(&f->req->rep, 400, "\"%s\" must be a whole number", key);
    *bad = 1;
  }
  return *bad && !was_bad ? def : (int)x;
}

/* Width and height from a PNG, JPEG or GIF header; 0 when unknown (other formats are
 * checked by the decoder's own limits). */
static int peek_size(const uint8_t *d, size_t n, long *w, long *h) {
  if (n >= 24 && !memcmp(d, "\x89PNG\r\n\x1a\n", 8)) {
    *w = (long)((uint32_t)d[16] << 24 | (uint32_t)d[17] << 16 | (uint32_t)d[18] << 8 | d[19]);
    *h = (long)((uint32_t)d[20] << 24 | (uint32_t)d[21] << 16 | (uint32_t)d[22] << 8 | d[23]);
    return 1;
  }
  if (n >= 10 && (!memcmp(d, "GIF87a", 6) || !memcmp(d, "GIF89a", 6))) {
    *w = d[6] | d[7] << 8;
    *h = d[8] | d[9] << 8;
    return 1;
  }
  if (n >= 4 && d[0] == 0xFF && d[1] == 0xD8) {
    size_t i = 2;
    while (i + 9 < n) {
      if (d[i] != 0xFF) return 0;
      uint8_t m = d[i + 1];
      if (m == 0xFF) {
        i++;
        continue;
      }
      size_t seg = (size_t)d[i + 2] << 8 | d[i + 3];
      if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
        *h = d[i + 5] << 8 | d[i + 6];
        *w = d[i + 7] << 8 | d[i + 8];
        return 1;
      }
      i += 2 + seg;
    }
  }
  return 0;
}

int decode_image(request *r, const uint8_t *data, size_t len, const char *what, vlp_image *out) {
  long w = 0, h = 0;
  long max = r->srv->o.max_image_pixels;
  if (!len) {
    reply_error(&r->rep, 400, "%s is empty", what);
    return -1;
  }
  if (peek_size(data, len, &w, &h) && (double)w * (double)h > (double)max) {
    reply_error(&r->rep, 413, "%s is %ldx%ld pixels; the limit is %ld pixels", what, w, h, max);
    return -1;
  }
  if (vlp_image_load_memory(data, len, what, out)) {
    reply_error(&r->rep, 400, "%s", vlp_last_error());
    return -1;
  }
  if ((double)out->w * (double)out->h > (double)max) {
    reply_error(&r->rep, 413, "%s is %dx%d pixels; the limit is %ld pixels", what, out->w, out->h,
                max);
    vlp_image_free(out);
    return -1;
  }
  return 0;
}

int load_indexed_image(request *r, int64_t id, vlp_image *out) {
  const char *path = srv_index_path_of(r->srv, id);
  if (!path) {
    reply_error(&r->rep, 404, "no indexed image has id %lld", (long long)id);
    return -1;
  }
  if (vlp_load_image_or_frame(path, out)) {
    reply_error(&r->rep, 422, "indexed image %lld cannot be read", (long long)id);
    return -1;
  }
  return 0;
}

int form_json_image(form *f, const cJSON *v, int i, vlp_image *out) {
  request *r = f->req;
  char what[48];
  snprintf(what, sizeof what, "image %d", i);
  if (cJSON_IsObject(v)) {
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(v, "id");
    if (cJSON_IsNumber(id) && id->valuedouble == floor(id->valuedouble) && id->valuedouble >= 0)
      return load_indexed_image(r, (int64_t)id->valuedouble, out);
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(v, "image");
    if (!cJSON_IsString(b)) b = cJSON_GetObjectItemCaseSensitive(v, "data");
    if (cJSON_IsString(b)) v = b;
  }
  if (!cJSON_IsString(v)) {
    reply_error(&r->rep, 400,
                "%s must be a base64 string or {\"id\": N} of an indexed image (URLs are not "
                "fetched)",
                what);
    return -1;
  }
  const char *s = v->valuestring;
  if (!strncmp(s, "http://", 7) || !strncmp(s, "https://", 8) || !strncmp(s, "file:", 5)) {
    reply_error(&r->rep, 400, "%s is a URL; vlp serve never fetches URLs: send the bytes", what);
    return -1;
  }
  uint8_t *data;
  size_t n;
  if (base64_decode(s, strlen(s), &data, &n)) {
    reply_error(&r->rep, 400, "%s is not valid base64", what);
    return -1;
  }
  int rc = decode_image(r, data, n, what, out);
  free(data);
  return rc;
}

int form_images(form *f, vlp_image **imgs) {
  request *r = f->req;
  int max = r->srv->o.max_inputs, n = 0;
  *imgs = NULL;
  vlp_image *v = calloc((size_t)max, sizeof *v);
  if (!v) {
    reply_error(&r->rep, 503, "out of memory");
    return -1;
  }
  const cJSON *one = json_field(f, "image"), *many = json_field(f, "images");
  int bad = 0;
  if (f->raw) {
    bad = decode_image(r, f->raw, f->raw_len, "the request body", &v[n]);
    n += !bad;
  }
  for (int i = 0; i < f->n_parts && !bad; i++) {
    const mpart *p = &f->parts[i];
    if (!p->is_file && strcmp(p->name, "image") && strcmp(p->name, "images")) continue;
    if (n == max) {
      reply_error(&r->rep, 413, "more than %d images in one request", max);
      bad = 1;
      break;
    }
    char what[180];
    snprintf(what, sizeof what, "uploaded file '%s'", p->filename[0] ? p->filename : p->name);
    bad = decode_image(r, p->data, p->len, what, &v[n]);
    n += !bad;
  }
  if (!bad && one) {
    bad = form_json_image(f, one, 0, &v[n]);
    n += !bad;
  }
  if (!bad && many) {
    if (!cJSON_IsArray(many)) {
      reply_error(&r->rep, 400, "\"images\" must be an array");
      bad = 1;
    }
    const cJSON *e;
    int i = 0;
    cJSON_ArrayForEach(e, many) {
      if (bad) break;
      if (n == max) {
        reply_error(&r->rep, 413, "more than %d images in one request", max);
        bad = 1;
        break;
      }
      bad = form_json_image(f, e, i++, &v[n]);
      n += !bad;
    }
  }
  const cJSON *id = json_field(f, "id");
  const char *qid = id ? NULL : form_str(f, "id", &bad);
  if (!bad && (id || qid)) {
    char *end = NULL;
    double x = id && cJSON_IsNumber(id) ? id->valuedouble : qid ? strtod(qid, &end) : -1;
    if (x < 0 || x != floor(x) || (qid && *end) || n == max) {
      reply_error(&r->rep, 400, "\"id\" must be the id of an indexed image");
      bad = 1;
    } else {
      bad = load_indexed_image(r, (int64_t)x, &v[n]);
      n += !bad;
    }
  }
  if (bad) {
    for (int i = 0; i < n; i++) vlp_image_free(&v[i]);
    free(v);
    return -1;
  }
  if (!n) {
    free(v);
    return 0;
  }
  *imgs = v;
  return n;
}
