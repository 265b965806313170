# fuzz targets (tests/fuzz). Every build makes, per target, a replay program (plain main) and
# a ctest test fuzz_regress_<target> running the kept crash reproducers
# (tests/fuzz/regress/<target>) and the committed seeds; with -DVLP_FUZZ=ON (clang) it also
# makes the libFuzzer binaries fuzz_<target>. tests/fuzz/run.sh runs a campaign.
set(VLP_FUZZ_IMAGE_TARGETS png jpeg webp gif bmp tiff heif)
set(VLP_FUZZ_TARGETS ${VLP_FUZZ_IMAGE_TARGETS} safetensors npy config preprocessor tokenizer
                     index video)
set(fuzz_src ${CMAKE_CURRENT_SOURCE_DIR}/fuzz)
if(VLP_FUZZ)
  add_custom_target(fuzz)  # cmake --build BUILD --target fuzz: every libFuzzer binary
endif()
foreach(t ${VLP_FUZZ_TARGETS})
  if(t IN_LIST VLP_FUZZ_IMAGE_TARGETS)
    set(src ${fuzz_src}/fuzz_image.c)
    set(defs FUZZ_DECODER=${t}_decode)
    set(inputs ${fuzz_src}/regress/${t} ${CMAKE_CURRENT_SOURCE_DIR}/data/formats
               ${CMAKE_CURRENT_SOURCE_DIR}/golden/images)
  else()
    set(src ${fuzz_src}/fuzz_${t}.c)
    set(defs "")
    set(inputs ${fuzz_src}/regress/${t} ${fuzz_src}/seeds/${t})
  endif()
  if(t STREQUAL "video")
    set(inputs ${fuzz_src}/regress/${t} ${CMAKE_CURRENT_SOURCE_DIR}/golden/video)
  elseif(t STREQUAL "safetensors")
    list(APPEND inputs ${CMAKE_CURRENT_SOURCE_DIR}/golden/models/clip-tiny-f16)
  endif()
  set(bins fuzz_replay_${t})
  if(VLP_FUZZ)
    list(APPEND bins fuzz_${t})
    add_dependencies(fuzz fuzz_${t})
  endif()
  foreach(bin ${bins})
    if(bin STREQUAL "fuzz_${t}")
      add_executable(${bin} ${src} ${fuzz_src}/fuzz_util.c)
      target_link_options(${bin} PRIVATE -fsanitize=fuzzer)
    else()
      add_executable(${bin} ${src} ${fuzz_src}/fuzz_util.c ${fuzz_src}/replay.c)
    endif()
    target_include_directories(${bin} PRIVATE ${fuzz_src} ${CMAKE_SOURCE_DIR}
                                              ${CMAKE_SOURCE_DIR}/include)
    target_compile_definitions(${bin} PRIVATE ${defs}
                               VLP_FUZZ_GOLDEN="${CMAKE_CURRENT_SOURCE_DIR}/golden")
    target_link_libraries(${bin} PRIVATE vlp)
  endforeach()
  add_test(NAME fuzz_regress_${t} COMMAND fuzz_replay_${t} ${inputs})
  set_tests_properties(fuzz_regress_${t} PROPERTIES TIMEOUT 300 ENVIRONMENT
                       "LSAN_OPTIONS=suppressions=${fuzz_src}/lsan.supp;VLP_THREADS=1")
endforeach()
