/* arena: a 64-byte aligned bump allocator for activations (see arena.h). */
#include "core/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#define ARENA_ALIGN ((size_t)64)

size_t arena_round(size_t bytes) {
  if (bytes > SIZE_MAX - (ARENA_ALIGN - 1)) return SIZE_MAX; /* makes any sum fail */
  return (bytes + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
}

vlp_status arena_init(vlp_arena *a, size_t bytes) {
  memset(a, 0, sizeof *a);
  size_t size = arena_round(bytes ? bytes : 1);
  if (size == SIZE_MAX)
    return vlp_fail(VLP_ERR_NOMEM, "arena: size %zu bytes overflows", bytes);
  void *p = aligned_alloc(ARENA_ALIGN, size);
  if (!p) return vlp_fail(VLP_ERR_NOMEM, "arena: cannot allocate %zu bytes", size);
  a->base = p;
  a->size = size;
  return VLP_OK;
}

void arena_free(vlp_arena *a) {
  free(a->base);
  memset(a, 0, sizeof *a);
}

void *arena_alloc(vlp_arena *a, size_t bytes) {
  size_t need = arena_round(bytes);
  /* used is always a multiple of 64 and <= size, so base + used stays aligned */
  if (!a->base || need > a->size - a->used) return NULL;
  void *p = a->base + a->used;
  a->used += need;
  if (a->used > a->peak) a->peak = a->used;
  return p;
}

float *arena_floats(vlp_arena *a, size_t n) {
  if (n > SIZE_MAX / sizeof(float)) return NULL;
  return arena_alloc(a, n * sizeof(float));
}
