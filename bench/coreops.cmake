# core ops benchmark (helper coreops) and the timing helpers other benchmarks link.
add_library(vlp_benchutil STATIC ${CMAKE_CURRENT_SOURCE_DIR}/bench_util.c)
target_include_directories(vlp_benchutil PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(vlp_benchutil PUBLIC PkgConfig::OPENBLAS)

add_executable(vlp_bench_ops ${CMAKE_CURRENT_SOURCE_DIR}/bench_ops.c)
target_link_libraries(vlp_bench_ops PRIVATE vlp_benchutil vlp_core)
