/* ffmpeg_lazy: FFmpeg's functions looked up at the first video (see ffmpeg_lazy.h). */
#define FFMPEG_LAZY_NO_CALLS
#include "media/ffmpeg_lazy.h"

#include "core/lazy_lib.h"

ffmpeg_functions ffmpeg_fn;

/* the file names of the major versions the headers describe, dependencies first */
#define SONAME(lib, major) lib ".so." AV_STRINGIFY(major)
static const char *const libs[] = {
    SONAME("libavutil", LIBAVUTIL_VERSION_MAJOR),
    SONAME("libavcodec", LIBAVCODEC_VERSION_MAJOR),
    SONAME("libswscale", LIBSWSCALE_VERSION_MAJOR),
    SONAME("libavformat", LIBAVFORMAT_VERSION_MAJOR),
};

LAZY_LIB_DEFINE(ffmpeg_load, ffmpeg_fn, FFMPEG_FUNCTIONS, libs)
