# fuzzing: -DVLP_FUZZ=ON (with CC=clang) instruments everything for libFuzzer with
# AddressSanitizer + UndefinedBehaviorSanitizer and builds the targets of tests/fuzz
# (tests/fuzz.cmake). Use a separate build folder, e.g.
#   CC=clang cmake -S . -B build-fuzz -DVLP_FUZZ=ON && cmake --build build-fuzz -j2
option(VLP_FUZZ "Build the libFuzzer targets in tests/fuzz (needs CC=clang)" OFF)
if(VLP_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "VLP_FUZZ=ON needs clang: CC=clang cmake -DVLP_FUZZ=ON ...")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined -g)
  add_link_options(-fsanitize=address,undefined)
endif()
