# Data safety (issue 14): cli behaviour under bad options, full disks, closed pipes, kills,
# concurrent runs and hostile folders; one ctest test per section of safety_test.sh.
foreach(section sidecar merge write_errors output_lock bad_options folders index models video kill_index kill_caption)
  add_test(NAME safety_${section}
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/safety_test.sh $<TARGET_FILE:vlp_cli> ${section}
           WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
  set_tests_properties(safety_${section} PROPERTIES TIMEOUT 600)
endforeach()
# Allocation failures injected in model loading (test_alloc_fail replaces malloc, which the
# sanitizers' allocators replace too: built only without them).
if(NOT VLP_SANITIZE AND NOT VLP_TSAN)
  vlp_test(test_alloc_fail SOURCES test_alloc_fail.c LIBS vlp) # the default backend (oneDNN)
  add_test(NAME test_alloc_fail_openblas COMMAND test_alloc_fail
           WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
  set_tests_properties(test_alloc_fail_openblas PROPERTIES ENVIRONMENT "VLP_GEMM=openblas")
endif()
