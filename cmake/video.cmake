# video: FFmpeg's libraries (Debian: libavformat-dev libavcodec-dev libswscale-dev
# libavutil-dev), linked into the media module for media/video.c.
pkg_check_modules(AV REQUIRED IMPORTED_TARGET libavformat libavcodec libswscale libavutil)
list(APPEND VLP_MEDIA_EXTRA_LIBS PkgConfig::AV)
