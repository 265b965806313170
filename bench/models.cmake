# Full-size model benchmarks (helper bench): BLIP-base captioning, CLIP ViT-B/32 (or B/16) and
# SigLIP base (ViT-B/16) with
# random weights written to a temporary folder; they print numbers and never fail a build.
# vlp_bench_fidelity (bf16 / int8 against f32 on full-size CLIP and BLIP) also runs as the
# test precision_full with --check.
add_library(vlp_benchmodels STATIC ${CMAKE_CURRENT_SOURCE_DIR}/bench_models.c)
target_link_libraries(vlp_benchmodels PUBLIC vlp vlp_benchutil)
target_include_directories(vlp_benchmodels PUBLIC ${CMAKE_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR})
foreach(b blip clip siglip fidelity)
  add_executable(vlp_bench_${b} ${CMAKE_CURRENT_SOURCE_DIR}/bench_${b}.c)
  target_link_libraries(vlp_bench_${b} PRIVATE vlp vlp_benchutil vlp_benchmodels)
  target_include_directories(vlp_bench_${b} PRIVATE ${CMAKE_SOURCE_DIR})
  target_compile_definitions(vlp_bench_${b} PRIVATE VLP_BENCH_GOLDEN="${CMAKE_SOURCE_DIR}/tests/golden")
endforeach()
