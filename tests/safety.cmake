# Data safety (issue 14): cli behaviour under bad options, full disks, closed pipes, kills,
# concurrent runs and hostile folders; one ctest test per section of safety_test.sh.
foreach(section sidecar merge write_errors output_lock bad_options folders index)
  add_test(NAME safety_${section}
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/safety_test.sh $<TARGET_FILE:vlp_cli> ${section}
           WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
  set_tests_properties(safety_${section} PROPERTIES TIMEOUT 600)
endforeach()
