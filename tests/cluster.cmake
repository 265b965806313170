# cluster: --shard auto and the job-array examples of docs/cluster (Slurm sbatch script,
# Kubernetes indexed Job), run with the schedulers' environment variables set.
add_test(NAME cluster COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cluster_test.sh $<TARGET_FILE:vlp_cli>
         ${CMAKE_SOURCE_DIR}/docs WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
set_tests_properties(cluster PROPERTIES TIMEOUT 300)
add_test(NAME index_merge COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/index_merge_test.sh
         $<TARGET_FILE:vlp_cli> WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
set_tests_properties(index_merge PROPERTIES TIMEOUT 300)
