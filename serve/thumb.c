/* thumb: thumbnails of indexed images (and video frames) for the search page: decoded with
 * vlp's image loader, shrunk by area averaging, JPEG-encoded with libjpeg, kept in a byte-bounded
 * LRU cache. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* after stdio.h: jpeglib.h needs FILE and size_t */
#include <jpeglib.h>

#include "server.h"

typedef struct tentry {
  int64_t id;
  uint8_t *jpeg;
  size_t len;
  struct tentry *prev, *next; /* most recently used first */
} tentry;

struct thumb_cache {
  pthread_mutex_t lock;
  tentry *head, *tail;
  size_t bytes, max_bytes;
};

thumb_cache *thumb_cache_new(size_t max_bytes) {
  thumb_cache *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  pthread_mutex_init(&c->lock, NULL);
  c->max_bytes = max_bytes;
  return c;
}

static void unlink_entry(thumb_cache *c, tentry *e) {
  if (e->prev)
    e->prev->next = e->next;
  else
    c->head = e->next;
  if (e->next)
    e->next->prev = e->prev;
  else
    c->tail = e->prev;
  e->prev = e->next = NULL;
}

static void push_front(thumb_cache *c, tentry *e) {
  e->next = c->head;
  e->prev = NULL;
  if (c->head) c->head->prev = e;
  c->head = e;
  if (!c->tail) c->tail = e;
}

void thumb_cache_free(thumb_cache *c) {
  if (!c) return;
  for (tentry *e = c->head, *n; e; e = n) {
    n = e->next;
    free(e->jpeg);
    free(e);
  }
  pthread_mutex_destroy(&c->lock);
  free(c);
}

size_t thumb_cache_bytes(thumb_cache *c) {
  pthread_mutex_lock(&c->lock);
  size_t n = c->bytes;
  pthread_mutex_unlock(&c->lock);
  return n;
}

uint8_t *thumb_cache_get(thumb_cache *c, int64_t id, size_t *len) {
  uint8_t *copy = NULL;
  pthread_mutex_lock(&c->lock);
  for (tentry *e = c->head; e; e = e->next)
    if (e->id == id) {
      unlink_entry(c, e);
      push_front(c, e);
      copy = malloc(e->len);
      if (copy) {
        memcpy(copy, e->jpeg, e->len);
        *len = e->len;
      }
      break;
    }
  pthread_mutex_unlock(&c->lock);
  return copy;
}

static void cache_put(thumb_cache *c, int64_t id, const uint8_t *jpeg, size_t len) {
  if (len > c->max_bytes) return;
  tentry *e = calloc(1, sizeof *e);
  if (!e || !(e->jpeg = malloc(len))) {
    free(e);
    return;
  }
  memcpy(e->jpeg, jpeg, len);
  e->len = len;
  e->id = id;
  pthread_mutex_lock(&c->lock);
  for (tentry *o = c->head; o; o = o->next)
    if (o->id == id) { /* made twice concurrently: keep the first */
      pthread_mutex_unlock(&c->lock);
      free(e->jpeg);
      free(e);
      return;
    }
  push_front(c, e);
  c->bytes += len;
  while (c->bytes > c->max_bytes && c->tail) {
    tentry *old = c->tail;
    unlink_entry(c, old);
    c->bytes -= old->len;
    free(old->jpeg);
    free(old);
  }
  pthread_mutex_unlock(&c->lock);
}

/* Area-average img into (tw, th). */
static uint8_t *shrink(const vlp_image *img, int tw, int th) {
  uint8_t *out = malloc((size_t)tw * th * 3);
  if (!out) return NULL;
  for (int oy = 0; oy < th; oy++) {
    int y0 = (int)((int64_t)oy * img->h / th), y1 = (int)((int64_t)(oy + 1) * img->h / th);
    if (y1 <= y0) y1 = y0 + 1;
    for (int ox = 0; ox < tw; ox++) {
      int x0 = (int)((int64_t)ox * img->w / tw), x1 = (int)((int64_t)(ox + 1) * img->w / tw);
      if (x1 <= x0) x1 = x0 + 1;
      uint64_t sum[3] = {0, 0, 0};
      for (int y = y0; y < y1; y++) {
        const uint8_t *p = img->rgb + ((size_t)y * img->w + x0) * 3;
        for (int x = x0; x < x1; x++, p += 3) {
          sum[0] += p[0];
          sum[1] += p[1];
          sum[2] += p[2];
        }
      }
      uint64_t cnt = (uint64_t)(y1 - y0) * (uint64_t)(x1 - x0);
      for (int ch = 0; ch < 3; ch++)
        out[((size_t)oy * tw + ox) * 3 + ch] = (uint8_t)((sum[ch] + cnt / 2) / cnt);
    }
  }
  return out;
}

typedef struct {
  struct jpeg_error_mgr pub;
  jmp_buf jump;
} jerr;

static void on_jpeg_error(j_common_ptr ci) {
  longjmp(((jerr *)ci->err)->jump, 1);
}

static int encode_jpeg(const uint8_t *rgb, int w, int h, uint8_t **out, size_t *len) {
  struct jpeg_compress_struct ci;
  jerr err;
  unsigned char *volatile buf = NULL;
  unsigned long size = 0;
  ci.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = on_jpeg_error;
  if (setjmp(err.jump)) {
    jpeg_destroy_compress(&ci);
    free(buf);
    return -1;
  }
  jpeg_create_compress(&ci);
  unsigned char *b = NULL;
  jpeg_mem_dest(&ci, &b, &size);
  ci.image_width = (JDIMENSION)w;
  ci.image_height = (JDIMENSION)h;
  ci.input_components = 3;
  ci.in_color_space = JCS_RGB;
  jpeg_set_defaults(&ci);
  jpeg_set_quality(&ci, 85, TRUE);
  jpeg_start_compress(&ci, TRUE);
  buf = b;
  while (ci.next_scanline < ci.image_height) {
    JSAMPROW row = (JSAMPROW)(rgb + (size_t)ci.next_scanline * w * 3);
    jpeg_write_scanlines(&ci, &row, 1);
  }
  jpeg_finish_compress(&ci);
  *out = b;
  *len = size;
  jpeg_destroy_compress(&ci);
  return 0;
}

vlp_status thumb_make(thumb_cache *c, int64_t id, const char *path, int side, uint8_t **jpeg,
                      size_t *len) {
  vlp_image img = {0};
  vlp_status st = vlp_load_image_or_frame(path, &img); /* a file or a video frame */
  if (st) return st;
  int tw = img.w, th = img.h;
  if (img.w > side || img.h > side) {
    if (img.w >= img.h) {
      tw = side;
      th = (int)(((int64_t)img.h * side + img.w / 2) / img.w);
    } else {
      th = side;
      tw = (int)(((int64_t)img.w * side + img.h / 2) / img.h);
    }
    if (tw < 1) tw = 1;
    if (th < 1) th = 1;
  }
  uint8_t *small = tw == img.w && th == img.h ? img.rgb : shrink(&img, tw, th);
  if (!small || encode_jpeg(small, tw, th, jpeg, len)) {
    if (small != img.rgb) free(small);
    vlp_image_free(&img);
    return VLP_ERR_NOMEM;
  }
  if (small != img.rgb) free(small);
  vlp_image_free(&img);
  cache_put(c, id, *jpeg, *len);
  return VLP_OK;
}
