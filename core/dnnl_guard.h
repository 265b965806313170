/* dnnl_guard: oneDNN's C API calls that allocate, with every C++ exception caught.
 * oneDNN is C++ underneath and its C API lets std::bad_alloc escape when memory runs out;
 * an exception crossing our C frames ends the process. Each guarded_X calls dnnl_X and turns
 * std::bad_alloc into dnnl_out_of_memory and anything else into dnnl_runtime_error. */
#ifndef VLP_CORE_DNNL_GUARD_H
#define VLP_CORE_DNNL_GUARD_H

#include <dnnl.h>

#ifdef __cplusplus
extern "C" {
#endif

dnnl_status_t guarded_engine_create(dnnl_engine_t *e, dnnl_engine_kind_t kind, size_t index);
dnnl_status_t guarded_stream_create(dnnl_stream_t *s, dnnl_engine_t e, unsigned flags);
dnnl_status_t guarded_primitive_attr_create(dnnl_primitive_attr_t *attr);
dnnl_status_t guarded_post_ops_create(dnnl_post_ops_t *po);
dnnl_status_t guarded_post_ops_append_eltwise(dnnl_post_ops_t po, float scale, dnnl_alg_kind_t alg,
                                              float alpha, float beta);
dnnl_status_t guarded_post_ops_append_sum(dnnl_post_ops_t po, float scale);
dnnl_status_t guarded_primitive_attr_set_post_ops(dnnl_primitive_attr_t attr,
                                                  const_dnnl_post_ops_t po);
dnnl_status_t guarded_primitive_desc_create(dnnl_primitive_desc_t *pd, const_dnnl_op_desc_t op,
                                            const_dnnl_primitive_attr_t attr, dnnl_engine_t e,
                                            const_dnnl_primitive_desc_t hint);
dnnl_status_t guarded_reorder_primitive_desc_create(
    dnnl_primitive_desc_t *pd, const dnnl_memory_desc_t *src, dnnl_engine_t src_e,
    const dnnl_memory_desc_t *dst, dnnl_engine_t dst_e, const_dnnl_primitive_attr_t attr);
dnnl_status_t guarded_primitive_create(dnnl_primitive_t *p, const_dnnl_primitive_desc_t pd);
dnnl_status_t guarded_memory_create(dnnl_memory_t *m, const dnnl_memory_desc_t *md, dnnl_engine_t e,
                                    void *handle);
dnnl_status_t guarded_primitive_execute(const_dnnl_primitive_t p, dnnl_stream_t s, int nargs,
                                        const dnnl_exec_arg_t *args);
dnnl_status_t guarded_stream_wait(dnnl_stream_t s);

#ifdef __cplusplus
}
#endif

#endif
