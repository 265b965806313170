/* safetensors: a strict, memory-mapped reader of one .safetensors file.
 *
 * Format: 8-byte little-endian header length N, N bytes of JSON
 * {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}},
 * then the raw little-endian data; offsets are relative to the end of the header.
 * st_open validates everything before returning: header length within the file,
 * well-formed JSON, known dtype, shape product x dtype size == byte range, every range
 * inside the file, ranges not overlapping, no integer overflow. Every error names the
 * file and, where there is one, the tensor. */
#ifndef VLP_CORE_SAFETENSORS_H
#define VLP_CORE_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "vlp.h"

typedef enum {
  ST_F32,
  ST_F16,
  ST_BF16,
  ST_F64,
  ST_I64,
  ST_I32,
  ST_I16,
  ST_I8,
  ST_U8,
  ST_BOOL
} st_dtype;

#define ST_MAX_DIMS 8

typedef struct {
  char *name;
  st_dtype dtype;
  int ndim;
  int64_t shape[ST_MAX_DIMS];
  const void *data; /* points into the mapping */
  size_t nbytes;
} st_tensor;

typedef struct st_file {
  char *path;
  void *map;
  size_t map_size;
  int n;
  st_tensor *tensors; /* sorted by name for lookup */
} st_file;

vlp_status st_open(const char *path, st_file **out);
void st_close(st_file *f);
/* NULL when absent. */
const st_tensor *st_find(const st_file *f, const char *name);
size_t st_dtype_size(st_dtype t);
const char *st_dtype_name(st_dtype t);

#endif
