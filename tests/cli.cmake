# The vlp command end to end (JSON Lines, exit codes, errors, vlp selftest on the golden set).
add_test(NAME cli COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli_test.sh $<TARGET_FILE:vlp_cli>
         WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
set_tests_properties(cli PROPERTIES TIMEOUT 1200)
# --batch N of tag, embed, index build and video tag: the same records as --batch 1.
add_test(NAME batch_cli COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/batch_test.sh $<TARGET_FILE:vlp_cli>
         WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
set_tests_properties(batch_cli PROPERTIES TIMEOUT 600)
