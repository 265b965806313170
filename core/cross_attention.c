/* cross_attention: packed keys and values for decoding steps (see cross_attention.h). */
#include "core/cross_attention.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/kernels.h"
#include "core/threads.h"

int xattn_packs(const xattn_shape *s) {
  static _Atomic int off = -1; /* VLP_XATTN=rows, once read */
  if (off < 0) {
    const char *env = getenv("VLP_XATTN");
    off = env && strcmp(env, "rows") == 0;
  }
  return !off && s->Te <= XATTN_MAX_KEYS && s->hd <= XATTN_MAX_HEAD;
}

static int blocks(const xattn_shape *s) {
  return (s->Te + 15) / 16;
}

size_t xattn_k_floats(const xattn_shape *s) {
  return (size_t)s->H * blocks(s) * 16 * s->hd;
}

size_t xattn_v_floats(const xattn_shape *s) {
  return (size_t)s->H * s->Te * s->hd;
}

void xattn_pack(float *kp, float *vp, const float *k, const float *v, const xattn_shape *s) {
  const int H = s->H, hd = s->hd, Te = s->Te, nb = blocks(s), D = H * hd;
  int nt = vlp_threads_current();
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
  for (int h = 0; h < H; h++) {
    float *kh = kp + (size_t)h * nb * 16 * hd; /* (nb, hd, 16), zeros past the last key */
    for (int b = 0; b < nb; b++)
      for (int c = 0; c < hd; c++)
        for (int l = 0; l < 16; l++) {
          int j = b * 16 + l;
          kh[((size_t)b * hd + c) * 16 + l] = j < Te ? k[(size_t)j * D + (size_t)h * hd + c] : 0.0f;
        }
    float *vh = vp + (size_t)h * Te * hd; /* (Te, hd) */
    for (int j = 0; j < Te; j++)
      for (int c = 0; c < hd; c++) vh[(size_t)j * hd + c] = v[(size_t)j * D + (size_t)h * hd + c];
  }
}

/* Task t of rows * H: query row t / H, head t % H. */
static void xattn_task(const vk_table *vk, float *out, const float *q, int T,
                       const int *item_of_seq, const float *kp, const float *vp, const float *mask,
                       const xattn_shape *s, long t) {
  _Alignas(64) float sc[XATTN_MAX_KEYS + 16], qs[XATTN_MAX_HEAD];
  const int H = s->H, hd = s->hd, Te = s->Te, nb = blocks(s), D = H * hd;
  const size_t kper = xattn_k_floats(s), vper = xattn_v_floats(s);
  const float scale = 1.0f / sqrtf((float)hd);
  int r = (int)(t / H), h = (int)(t % H), seq = r / T;
  size_t item = (size_t)(item_of_seq ? item_of_seq[seq] : seq);
  const float *qr = q + (size_t)r * D + (size_t)h * hd;
  for (int c = 0; c < hd; c++) qs[c] = qr[c] * scale;
  vk->scores16(sc, qs, kp + item * kper + (size_t)h * nb * 16 * hd, hd, nb);
  if (mask)
    for (int j = 0; j < Te; j++) sc[j] += mask[item * Te + j];
  vk->softmax_row(sc, Te);
  vk->weighted_rows(out + (size_t)r * D + (size_t)h * hd, sc,
                    vp + item * vper + (size_t)h * Te * hd, Te, hd, hd);
}

void xattn_run(float *out, const float *q, int rows, int T, const int *item_of_seq, const float *kp,
               const float *vp, const float *mask, const xattn_shape *s) {
  const vk_table *vk = vk_get();
  const long tasks = (long)rows * s->H;
  int nt = vlp_threads_current();
  if (nt > tasks) nt = (int)tasks;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
  for (long t = 0; t < tasks; t++) xattn_task(vk, out, q, T, item_of_seq, kp, vp, mask, s, t);
}

void xattn_run_part(float *out, const float *q, int T, const int *item_of_seq, const float *kp,
                    const float *vp, const float *mask, const xattn_shape *s, long t0, long t1) {
  const vk_table *vk = vk_get();
  for (long t = t0; t < t1; t++) xattn_task(vk, out, q, T, item_of_seq, kp, vp, mask, s, t);
}
