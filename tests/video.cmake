# video: the FFmpeg adapter (media/video.c) on the golden slideshow videos, and the
# `vlp video` / `vlp embed --video` commands end to end.
if(VLP_WITH_VIDEO)
  vlp_test(test_video SOURCES test_video.c LIBS vlp)
  set_tests_properties(test_video PROPERTIES TIMEOUT 300)
  add_test(NAME video_cli COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/video_cli_test.sh $<TARGET_FILE:vlp_cli>
           WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
  set_tests_properties(video_cli PROPERTIES TIMEOUT 600)
  # Rotated (display matrix) and late-starting (Matroska) clips, made from the golden slideshow
  # by the video_remux helper (stream copy, no encoder needed).
  add_executable(video_remux ${CMAKE_CURRENT_SOURCE_DIR}/video_remux.c)
  target_link_libraries(video_remux PRIVATE PkgConfig::AV)
  vlp_test(test_video_rotate SOURCES test_video_rotate.c LIBS vlp
           ARGS $<TARGET_FILE:video_remux>)
endif()
