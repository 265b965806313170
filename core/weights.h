/* weights: the tensors of one model folder, by Hugging Face state_dict name.
 *
 * Opens DIR/model.safetensors, or every shard listed in DIR/model.safetensors.index.json.
 * weights_f32 hands out float32 data: F32 tensors are the mapped file itself (no copy);
 * F16 / BF16 tensors are converted once into memory owned by the weights object. */
#ifndef VLP_CORE_WEIGHTS_H
#define VLP_CORE_WEIGHTS_H

#include "core/gemm.h"
#include "core/safetensors.h"

typedef struct vlp_weights vlp_weights;

vlp_status weights_open(const char *model_dir, vlp_weights **out);
void weights_close(vlp_weights *w);
const st_tensor *weights_find(const vlp_weights *w, const char *name);
/* Float32 view of tensor `name`, which must have exactly `ndim` dims of the sizes given
 * as int varargs: weights_f32(w, "x.weight", &p, 2, out_dim, in_dim). A missing tensor or
 * another shape is an error naming the tensor, the file and both shapes. */
vlp_status weights_f32(vlp_weights *w, const char *name, const float **out, int ndim, ...);
/* A scalar parameter (shape [] or [1], e.g. logit_scale) as a finite float; missing, another
 * shape or not finite is VLP_ERR_MODEL naming model_dir and the tensor. */
vlp_status weights_scalar(vlp_weights *w, const char *name, const char *model_dir, float *out);
/* Bind the nn.Linear weights wnames (each (rows, in)) and their biases bnames (NULL, or a
 * NULL name: none) as one stacked product (core/gemm.h): *out, owned by w, runs them
 * together. weights_prepare_linears packs the stack (never its weights alone) and releases
 * their mapped pages like any other prepared weight. */
vlp_status weights_linear_stack(vlp_weights *w, const char *const *wnames,
                                const char *const *bnames, int parts, int rows, int in,
                                const gemm_stack **out);
/* The same for the weights PRE PART[i] POST.weight with biases PRE PART[i] POST.bias (a
 * layer's "self_attn." "q" "_proj", ...). */
vlp_status weights_linear_stack_named(vlp_weights *w, const char *pre, const char *const *part,
                                      const char *post, int parts, int rows, int in,
                                      const gemm_stack **out);
/* Mark a weight handed out by weights_f32 (or a stack) as multiplied by a few rows at a
 * time (a decoder's): weights_prepare_linears then uses gemm_prepare_few_rows for it. */
void weights_few_rows(vlp_weights *w, const float *W);
void weights_stack_few_rows(vlp_weights *w, const gemm_stack *s);
/* What weights_prepare_linears did. */
typedef struct {
  int tensors;         /* weights prepared */
  size_t packed_bytes; /* memory held by the packed copies */
  size_t dropped;      /* bytes of mapped file pages released (the packed copy replaces them) */
  double seconds;      /* time spent packing */
} weights_pack_report;

/* After a model has bound its tensors: prepare every nn.Linear weight handed out so far
 * (2-D tensors named "*.weight", embedding tables excluded) for the GEMM backend at
 * `prec` (core/gemm.h). A packed copy replaces the mapped F32 pages, which are released
 * from memory (they are read back from the file if anything touches them again), so
 * weights are not held twice. The copies are dropped by weights_close. r may be NULL. */
vlp_status weights_prepare_linears(vlp_weights *w, vlp_precision prec, weights_pack_report *r);
/* The dtype most tensors are stored in (for `vlp info`). */
st_dtype weights_main_dtype(const vlp_weights *w);
/* Total bytes of tensor data (for reports). */
size_t weights_bytes(const vlp_weights *w);

#endif
