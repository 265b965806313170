/* npy: NumPy .npy arrays (format 1.0 / 2.0, little-endian, C order) for the golden data,
 * `vlp preprocess`, `vlp embed --npy` and the retrieval index. */
#ifndef VLP_CORE_NPY_H
#define VLP_CORE_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "vlp.h"

typedef enum { NPY_F32, NPY_F16, NPY_F64, NPY_U8, NPY_I8, NPY_I32, NPY_I64, NPY_BOOL } npy_dtype;

#define NPY_MAX_DIMS 8

typedef struct {
  npy_dtype dtype;
  int ndim;
  int64_t shape[NPY_MAX_DIMS];
  size_t count; /* number of elements */
  void *data;   /* malloc'd */
} npy_array;

vlp_status npy_load(const char *path, npy_array *out);
void npy_free(npy_array *a);
/* Element i converted to float (any numeric dtype). */
double npy_get(const npy_array *a, size_t i);
/* Write atomically (temp file + rename). */
vlp_status npy_save(const char *path, npy_dtype dtype, int ndim, const int64_t *shape,
                    const void *data);
size_t npy_dtype_size(npy_dtype t);

#endif
