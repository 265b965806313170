# pull: the model cache and `vlp pull` (hub/sha256.c, hub/pull.c, hub/model_cache.c,
# fusion/api_info.c, cli/cmd_pull.c, cli/cmd_models.c).
vlp_test(test_pull_units SOURCES test_pull_units.c LIBS vlp_core vlp_hub)

if(VLP_WITH_HUB)
  # Test helpers: a local hub on 127.0.0.1 and a safetensors sharder.
  add_executable(hub_server hub_server.c)
  target_link_libraries(hub_server PRIVATE vlp_core vlp_hub)
  add_executable(pull_shard pull_shard.c)
  target_link_libraries(pull_shard PRIVATE vlp_core vlp_hub)

  add_test(NAME pull COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/pull_test.sh $<TARGET_FILE:vlp_cli>
           $<TARGET_FILE:hub_server> $<TARGET_FILE:pull_shard>
           WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
  set_tests_properties(pull PROPERTIES TIMEOUT 300)
endif()
