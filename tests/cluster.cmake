# cluster: --shard auto and the job-array examples of docs/cluster (Slurm sbatch script,
# Kubernetes indexed Job), run with the schedulers' environment variables set.
add_test(NAME cluster COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cluster_test.sh $<TARGET_FILE:vlp_cli>
         ${CMAKE_SOURCE_DIR}/docs WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
set_tests_properties(cluster PROPERTIES TIMEOUT 300)
add_test(NAME index_merge COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/index_merge_test.sh
         $<TARGET_FILE:vlp_cli> WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
set_tests_properties(index_merge PROPERTIES TIMEOUT 300)
# shard_cmds: --shard on vlp tag, vlp embed and vlp video: the shards together = one run.
if(VLP_WITH_VIDEO)
  set(_vlp_shard_video 1)
else()
  set(_vlp_shard_video 0)
endif()
add_test(NAME shard_cmds COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/shard_cmds_test.sh
         $<TARGET_FILE:vlp_cli> ${_vlp_shard_video} WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
set_tests_properties(shard_cmds PROPERTIES TIMEOUT 300)
