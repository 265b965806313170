# video: FFmpeg's libraries (Debian: libavformat-dev libavcodec-dev libswscale-dev
# libavutil-dev) for media/video.c. -DVLP_WITH_VIDEO=OFF builds without them:
# media/video_none.c makes vlp_video_open fail with a message saying so.
option(VLP_WITH_VIDEO "Video input (vlp video, embed --video) with FFmpeg" ON)
if(VLP_WITH_VIDEO)
  # Headers only: media/ffmpeg_lazy.c opens the libraries at the first video (dlopen), so
  # they cost nothing to a run that reads none.
  pkg_check_modules(AV REQUIRED IMPORTED_TARGET libavformat libavcodec libswscale libavutil)
  include_directories(${AV_INCLUDE_DIRS})
  list(APPEND VLP_SKIP_SOURCES media/video_none.c)
else()
  list(APPEND VLP_SKIP_SOURCES media/video.c media/ffmpeg_lazy.c)
endif()
