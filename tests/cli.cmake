# The vlp command end to end (JSON Lines, exit codes, errors, vlp selftest on the golden set).
add_test(NAME cli COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli_test.sh $<TARGET_FILE:vlp_cli>
         WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
set_tests_properties(cli PROPERTIES TIMEOUT 1200)
