# Retrieval index (index/, cli/cmd_index.c, cli/cmd_search.c): end-to-end tests of
# `vlp index build|export` and `vlp search` on the golden tiny models.
add_executable(index_golden ${CMAKE_CURRENT_SOURCE_DIR}/index_golden.c)
target_link_libraries(index_golden PRIVATE vlp_core)
add_test(NAME index_cli
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/index_test.sh $<TARGET_FILE:vlp_cli> $<TARGET_FILE:index_golden>
  WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
set_tests_properties(index_cli PROPERTIES TIMEOUT 600)
# Needs /usr/bin/python3 with faiss (Debian package python3-faiss); skipped (exit 77) without.
add_test(NAME index_faiss
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/index_faiss_test.sh $<TARGET_FILE:vlp_cli>
  WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
set_tests_properties(index_faiss PROPERTIES TIMEOUT 600 SKIP_RETURN_CODE 77)
