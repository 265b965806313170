# video: the FFmpeg adapter (media/video.c) on the golden slideshow videos, and the
# `vlp video` / `vlp embed --video` commands end to end.
vlp_test(test_video SOURCES test_video.c LIBS vlp_core vlp_media vlp_text vlp_vision vlp_fusion vlp_index)
set_tests_properties(test_video PROPERTIES TIMEOUT 300)
add_test(NAME video_cli COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/video_cli_test.sh $<TARGET_FILE:vlp_cli>
         WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
set_tests_properties(video_cli PROPERTIES TIMEOUT 600)
