# Video benchmark (helper video): decoding and tagging throughput on a 60 s 640x360 clip the
# benchmark encodes itself with FFmpeg's libraries.
if(VLP_WITH_VIDEO)
  add_executable(vlp_bench_video ${CMAKE_CURRENT_SOURCE_DIR}/bench_video.c)
  target_link_libraries(vlp_bench_video PRIVATE vlp vlp_benchutil PkgConfig::AV)
  target_include_directories(vlp_bench_video PRIVATE ${CMAKE_SOURCE_DIR})
  target_compile_definitions(vlp_bench_video PRIVATE VLP_BENCH_GOLDEN="${CMAKE_SOURCE_DIR}/tests/golden")
endif()
