# video: FFmpeg's libraries (Debian: libavformat-dev libavcodec-dev libswscale-dev
# libavutil-dev), linked into the media module for media/video.c. -DVLP_WITH_VIDEO=OFF builds
# without them: media/video_none.c makes vlp_video_open fail with a message saying so.
option(VLP_WITH_VIDEO "Video input (vlp video, embed --video) with FFmpeg" ON)
if(VLP_WITH_VIDEO)
  pkg_check_modules(AV REQUIRED IMPORTED_TARGET libavformat libavcodec libswscale libavutil)
  list(APPEND VLP_MEDIA_EXTRA_LIBS PkgConfig::AV)
  list(APPEND VLP_SKIP_SOURCES media/video_none.c)
else()
  list(APPEND VLP_SKIP_SOURCES media/video.c)
endif()
