# dnnl: oneDNN's matmul as a GEMM backend (core/gemm_dnnl.c). Debian package: libdnnl-dev.
# Without it vlp builds with the OpenBLAS backend only (f32; no bf16 / int8 modes).
find_path(DNNL_INCLUDE_DIR dnnl.h)
find_library(DNNL_LIBRARY dnnl)
if(DNNL_INCLUDE_DIR AND DNNL_LIBRARY)
  add_library(vlp_dnnl INTERFACE IMPORTED)
  set_target_properties(vlp_dnnl PROPERTIES INTERFACE_INCLUDE_DIRECTORIES ${DNNL_INCLUDE_DIR}
    INTERFACE_LINK_LIBRARIES ${DNNL_LIBRARY} INTERFACE_COMPILE_DEFINITIONS VLP_HAVE_DNNL)
  list(APPEND VLP_CORE_EXTRA_LIBS vlp_dnnl)
  message(STATUS "oneDNN GEMM backend: ${DNNL_LIBRARY}")
else()
  message(STATUS "oneDNN not found (libdnnl-dev): OpenBLAS GEMM backend only")
endif()
