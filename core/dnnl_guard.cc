/* dnnl_guard: see dnnl_guard.h. Compiled only with oneDNN (VLP_HAVE_DNNL). */
#ifdef VLP_HAVE_DNNL

#include "core/dnnl_guard.h"

#include <new>

#define GUARD(call)                  \
  try {                              \
    return call;                     \
  } catch (const std::bad_alloc &) { \
    return dnnl_out_of_memory;       \
  } catch (...) {                    \
    return dnnl_runtime_error;       \
  }

dnnl_status_t guarded_engine_create(dnnl_engine_t *e, dnnl_engine_kind_t kind,
                                    size_t index){GUARD(dnnl_engine_create(e, kind, index))}

dnnl_status_t guarded_stream_create(dnnl_stream_t *s, dnnl_engine_t e,
                                    unsigned flags){GUARD(dnnl_stream_create(s, e, flags))}

dnnl_status_t guarded_primitive_attr_create(dnnl_primitive_attr_t *attr){
    GUARD(dnnl_primitive_attr_create(attr))}

dnnl_status_t guarded_post_ops_create(dnnl_post_ops_t *po){GUARD(dnnl_post_ops_create(po))}

dnnl_status_t guarded_post_ops_append_eltwise(dnnl_post_ops_t po, float scale, dnnl_alg_kind_t alg,
                                              float alpha, float beta){
    GUARD(dnnl_post_ops_append_eltwise(po, scale, alg, alpha, beta))}

dnnl_status_t guarded_post_ops_append_sum(dnnl_post_ops_t po,
                                          float scale){GUARD(dnnl_post_ops_append_sum(po, scale))}

dnnl_status_t
    guarded_primitive_attr_set_post_ops(dnnl_primitive_attr_t attr, const_dnnl_post_ops_t po){
        GUARD(dnnl_primitive_attr_set_post_ops(attr, po))}

dnnl_status_t guarded_primitive_desc_create(dnnl_primitive_desc_t *pd, const_dnnl_op_desc_t op,
                                            const_dnnl_primitive_attr_t attr, dnnl_engine_t e,
                                            const_dnnl_primitive_desc_t hint){
    GUARD(dnnl_primitive_desc_create(pd, op, attr, e, hint))}

dnnl_status_t
    guarded_reorder_primitive_desc_create(dnnl_primitive_desc_t *pd, const dnnl_memory_desc_t *src,
                                          dnnl_engine_t src_e, const dnnl_memory_desc_t *dst,
                                          dnnl_engine_t dst_e, const_dnnl_primitive_attr_t attr){
        GUARD(dnnl_reorder_primitive_desc_create(pd, src, src_e, dst, dst_e, attr))}

dnnl_status_t guarded_primitive_create(dnnl_primitive_t *p, const_dnnl_primitive_desc_t pd){
    GUARD(dnnl_primitive_create(p, pd))}

dnnl_status_t guarded_memory_create(dnnl_memory_t *m, const dnnl_memory_desc_t *md, dnnl_engine_t e,
                                    void *handle){GUARD(dnnl_memory_create(m, md, e, handle))}

dnnl_status_t guarded_primitive_execute(const_dnnl_primitive_t p, dnnl_stream_t s, int nargs,
                                        const dnnl_exec_arg_t *args){
    GUARD(dnnl_primitive_execute(p, s, nargs, args))}

dnnl_status_t guarded_stream_wait(dnnl_stream_t s) {
  GUARD(dnnl_stream_wait(s))
}

#endif
