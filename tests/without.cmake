# without: builds with an optional part off (-DVLP_WITH_HUB=OFF, -DVLP_WITH_VIDEO=OFF) say
# so when a command needs it.
foreach(part HUB VIDEO)
  if(NOT VLP_WITH_${part})
    string(TOLOWER ${part} p)
    add_test(NAME without_${p} COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/without_test.sh
             $<TARGET_FILE:vlp_cli> ${p} WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
  endif()
endforeach()
