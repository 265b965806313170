# bench_caption (helper captool): `vlp caption` images/s on 64 images, full-size BLIP-base
# with random weights, --batch 1 and --batch 8. Prints numbers; never fails a build.
add_executable(vlp_bench_caption ${CMAKE_CURRENT_SOURCE_DIR}/bench_caption.c)
target_link_libraries(vlp_bench_caption PRIVATE vlp vlp_benchutil vlp_benchmodels)
target_include_directories(vlp_bench_caption PRIVATE ${CMAKE_SOURCE_DIR})
target_compile_definitions(vlp_bench_caption PRIVATE VLP_BENCH_GOLDEN="${CMAKE_SOURCE_DIR}/tests/golden")
