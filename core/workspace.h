/* workspace: the scratch memory of one session (one thread).
 *
 * Models are read-only after loading and shared by threads; every forward pass takes a
 * workspace for its activations, KV caches and temporary buffers. A workspace is a fixed
 * set of slots, one per user (the enum below). A slot is a 64-byte aligned buffer that
 * grows to the largest request seen and is then reused, so a steady-state run neither
 * allocates nor page-faults. Slots of 2 MiB and more are mmap'ed with MADV_HUGEPAGE (first
 * touch of a 4 KiB page costs ~12 us on some machines). A slot's contents are NOT kept when
 * it grows. Not thread-safe: one workspace per thread (a vlp_session owns one). */
#ifndef VLP_CORE_WORKSPACE_H
#define VLP_CORE_WORKSPACE_H

#include <stddef.h>

#include "vlp.h"

typedef enum {
  WS_VISION,     /* vit_forward activations */
  WS_VISION_POS, /* position table interpolated for a non-native image size */
  WS_TEXT,       /* text encoders (BERT, CLIP, SigLIP text towers) */
  WS_DECODER,    /* generation: KV caches, cross-attention K/V, step buffers */
  WS_FUSION,     /* heads, pooled outputs, score matrices */
  WS_PIXELS,     /* preprocessed pixel batches */
  WS_GEMM,       /* GEMM backend scratch (packed / quantised activations) */
  WS_TMP0,       /* short-lived buffers of one call; never held across another call */
  WS_TMP1,
  WS_N_SLOTS
} ws_slot;

typedef struct vlp_ws {
  struct {
    void *p;
    size_t cap;
    int mapped; /* 1: mmap'ed, 0: aligned_alloc'ed */
  } slot[WS_N_SLOTS];
} vlp_ws;

/* An empty workspace (no memory yet). */
void ws_init(vlp_ws *ws);
/* Release every slot; the workspace is empty again and may be reused. */
void ws_release(vlp_ws *ws);
/* A buffer of at least `bytes` for `slot`, 64-byte aligned; grows the slot when needed
 * (old contents lost). NULL with vlp_fail(VLP_ERR_NOMEM, ...) on failure. */
void *ws_get(vlp_ws *ws, ws_slot slot, size_t bytes);
/* Same, counted in floats (overflow-checked). */
float *ws_floats(vlp_ws *ws, ws_slot slot, size_t n);
/* Bytes held by all slots (for memory reports); by one slot. */
size_t ws_bytes(const vlp_ws *ws);
size_t ws_slot_bytes(const vlp_ws *ws, ws_slot slot);

#endif
