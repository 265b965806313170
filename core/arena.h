/* arena: a bump allocator for activations. A model sizes it once for its largest request
 * (size known from config and batch) so the forward pass never calls malloc. */
#ifndef VLP_CORE_ARENA_H
#define VLP_CORE_ARENA_H

#include <stddef.h>

#include "vlp.h"

typedef struct {
  char *base;
  size_t size, used, peak;
} vlp_arena;

vlp_status arena_init(vlp_arena *a, size_t bytes);
void arena_free(vlp_arena *a);
/* 64-byte aligned floats; NULL when the arena is too small (a bug in the sizing: callers
 * turn it into VLP_ERR_NOMEM with a message). */
float *arena_floats(vlp_arena *a, size_t n);
void *arena_alloc(vlp_arena *a, size_t bytes);
static inline size_t arena_mark(const vlp_arena *a) { return a->used; }
static inline void arena_reset(vlp_arena *a, size_t mark) { a->used = mark; }
/* Bytes a sequence of arena_alloc calls of these sizes needs (alignment included). */
size_t arena_round(size_t bytes);

#endif
