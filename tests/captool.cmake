# captool: `vlp caption` as dataset tooling (cli/inputs.c, outputs.c, progress.c,
# cmd_caption.c, cmd_merge.c) and the library parts it uses (media/sniff.c, media/fit.c,
# fusion/image_reader.c).
vlp_test(test_captool SOURCES test_captool.c LIBS vlp)
add_test(NAME captool COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/captool_test.sh $<TARGET_FILE:vlp_cli>
         WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
set_tests_properties(captool PROPERTIES TIMEOUT 1200)
