/* workspace: per-session growable scratch slots (see workspace.h). */
#include "core/workspace.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/error.h"

#define WS_ALIGN ((size_t)64)
#define WS_HUGE ((size_t)2 << 20) /* from this size on: mmap + MADV_HUGEPAGE */

void ws_init(vlp_ws *ws) {
  memset(ws, 0, sizeof *ws);
}

static void slot_free(vlp_ws *ws, int i) {
  if (!ws->slot[i].p) return;
  if (ws->slot[i].mapped)
    munmap(ws->slot[i].p, ws->slot[i].cap);
  else
    free(ws->slot[i].p);
  ws->slot[i].p = NULL;
  ws->slot[i].cap = 0;
  ws->slot[i].mapped = 0;
}

void ws_release(vlp_ws *ws) {
  for (int i = 0; i < WS_N_SLOTS; i++) slot_free(ws, i);
}

void *ws_get(vlp_ws *ws, ws_slot slot, size_t bytes) {
  if ((unsigned)slot >= WS_N_SLOTS) {
    vlp_fail(VLP_ERR_INVALID, "workspace: no slot %d", (int)slot);
    return NULL;
  }
  if (bytes == 0) bytes = 1;
  if (ws->slot[slot].p && ws->slot[slot].cap >= bytes) return ws->slot[slot].p;
  if (bytes > SIZE_MAX / 2) {
    vlp_fail(VLP_ERR_NOMEM, "workspace: %zu bytes is too large", bytes);
    return NULL;
  }
  slot_free(ws, slot);
  /* grow by at least 1/4 so a slowly rising size does not reallocate every call */
  size_t want = bytes + bytes / 4;
  void *p = NULL;
  int mapped = 0;
  if (want >= WS_HUGE) {
    want = (want + WS_HUGE - 1) & ~(WS_HUGE - 1);
    p = mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      p = NULL;
    } else {
      mapped = 1;
#ifdef MADV_HUGEPAGE
      madvise(p, want, MADV_HUGEPAGE);
#endif
    }
  } else {
    want = (want + WS_ALIGN - 1) & ~(WS_ALIGN - 1);
    p = aligned_alloc(WS_ALIGN, want);
  }
  if (!p) {
    vlp_fail(VLP_ERR_NOMEM, "workspace: cannot allocate %zu bytes", want);
    return NULL;
  }
  ws->slot[slot].p = p;
  ws->slot[slot].cap = want;
  ws->slot[slot].mapped = mapped;
  return p;
}

float *ws_floats(vlp_ws *ws, ws_slot slot, size_t n) {
  if (n > SIZE_MAX / sizeof(float)) {
    vlp_fail(VLP_ERR_NOMEM, "workspace: %zu floats is too large", n);
    return NULL;
  }
  return ws_get(ws, slot, n * sizeof(float));
}

size_t ws_slot_bytes(const vlp_ws *ws, ws_slot slot) {
  return ws->slot[slot].cap;
}

size_t ws_bytes(const vlp_ws *ws) {
  size_t t = 0;
  for (int i = 0; i < WS_N_SLOTS; i++) t += ws->slot[i].cap;
  return t;
}
