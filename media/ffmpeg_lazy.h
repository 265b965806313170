/* ffmpeg_lazy: FFmpeg's libraries opened at the first video (core/lazy_lib.h), so that the
 * runs of vlp that read no video do not load them. media/video.c includes this header
 * instead of FFmpeg's: it has their types from FFmpeg's headers, and each FFmpeg function it
 * calls is a pointer in ffmpeg_fn, looked up in the libraries of the major versions those
 * headers describe (the ABI that linking would have picked). */
#ifndef VLP_MEDIA_FFMPEG_LAZY_H
#define VLP_MEDIA_FFMPEG_LAZY_H

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libavutil/display.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
#include <stddef.h>

/* Every FFmpeg function media/video.c calls. */
#define FFMPEG_FUNCTIONS(X)                  \
  X(av_display_rotation_get)                 \
  X(av_find_best_stream)                     \
  X(av_fourcc_make_string)                   \
  X(av_frame_alloc)                          \
  X(av_frame_free)                           \
  X(av_frame_unref)                          \
  X(av_free)                                 \
  X(av_freep)                                \
  X(av_get_pix_fmt_name)                     \
  X(av_log_default_callback)                 \
  X(av_log_set_callback)                     \
  X(av_malloc)                               \
  X(av_packet_alloc)                         \
  X(av_packet_free)                          \
  X(av_packet_unref)                         \
  X(av_read_frame)                           \
  X(av_seek_frame)                           \
  X(av_stream_get_side_data)                 \
  X(av_strerror)                             \
  X(avcodec_alloc_context3)                  \
  X(avcodec_find_decoder)                    \
  X(avcodec_flush_buffers)                   \
  X(avcodec_free_context)                    \
  X(avcodec_get_name)                        \
  X(avcodec_open2)                           \
  X(avcodec_parameters_to_context)           \
  X(avcodec_receive_frame)                   \
  X(avcodec_send_packet)                     \
  X(avformat_alloc_context)                  \
  X(avformat_close_input)                    \
  X(avformat_find_stream_info)               \
  X(avformat_index_get_entry_from_timestamp) \
  X(avformat_open_input)                     \
  X(avio_alloc_context)                      \
  X(avio_context_free)                       \
  X(sws_freeContext)                         \
  X(sws_getCachedContext)                    \
  X(sws_getCoefficients)                     \
  X(sws_getColorspaceDetails)                \
  X(sws_scale)                               \
  X(sws_setColorspaceDetails)

typedef struct {
#define FFMPEG_POINTER(name) __typeof__(name) *name;
  FFMPEG_FUNCTIONS(FFMPEG_POINTER)
#undef FFMPEG_POINTER
} ffmpeg_functions;

extern ffmpeg_functions ffmpeg_fn;

/* Open the libraries and fill ffmpeg_fn the first time (core/lazy_lib.h). 0 when every
 * function is there; else -1 and *why says what is missing, every time. */
int ffmpeg_load(const char **why);

#ifndef FFMPEG_LAZY_NO_CALLS
/* From here on a call of an FFmpeg function goes through its pointer (so FFmpeg's headers must
 * not be included after this one). */
#define av_display_rotation_get (ffmpeg_fn.av_display_rotation_get)
#define av_find_best_stream (ffmpeg_fn.av_find_best_stream)
#define av_fourcc_make_string (ffmpeg_fn.av_fourcc_make_string)
#define av_frame_alloc (ffmpeg_fn.av_frame_alloc)
#define av_frame_free (ffmpeg_fn.av_frame_free)
#define av_frame_unref (ffmpeg_fn.av_frame_unref)
#define av_free (ffmpeg_fn.av_free)
#define av_freep (ffmpeg_fn.av_freep)
#define av_get_pix_fmt_name (ffmpeg_fn.av_get_pix_fmt_name)
#define av_log_default_callback (ffmpeg_fn.av_log_default_callback)
#define av_log_set_callback (ffmpeg_fn.av_log_set_callback)
#define av_malloc (ffmpeg_fn.av_malloc)
#define av_packet_alloc (ffmpeg_fn.av_packet_alloc)
#define av_packet_free (ffmpeg_fn.av_packet_free)
#define av_packet_unref (ffmpeg_fn.av_packet_unref)
#define av_read_frame (ffmpeg_fn.av_read_frame)
#define av_seek_frame (ffmpeg_fn.av_seek_frame)
#define av_stream_get_side_data (ffmpeg_fn.av_stream_get_side_data)
#define av_strerror (ffmpeg_fn.av_strerror)
#define avcodec_alloc_context3 (ffmpeg_fn.avcodec_alloc_context3)
#define avcodec_find_decoder (ffmpeg_fn.avcodec_find_decoder)
#define avcodec_flush_buffers (ffmpeg_fn.avcodec_flush_buffers)
#define avcodec_free_context (ffmpeg_fn.avcodec_free_context)
#define avcodec_get_name (ffmpeg_fn.avcodec_get_name)
#define avcodec_open2 (ffmpeg_fn.avcodec_open2)
#define avcodec_parameters_to_context (ffmpeg_fn.avcodec_parameters_to_context)
#define avcodec_receive_frame (ffmpeg_fn.avcodec_receive_frame)
#define avcodec_send_packet (ffmpeg_fn.avcodec_send_packet)
#define avformat_alloc_context (ffmpeg_fn.avformat_alloc_context)
#define avformat_close_input (ffmpeg_fn.avformat_close_input)
#define avformat_find_stream_info (ffmpeg_fn.avformat_find_stream_info)
#define avformat_index_get_entry_from_timestamp (ffmpeg_fn.avformat_index_get_entry_from_timestamp)
#define avformat_open_input (ffmpeg_fn.avformat_open_input)
#define avio_alloc_context (ffmpeg_fn.avio_alloc_context)
#define avio_context_free (ffmpeg_fn.avio_context_free)
#define sws_freeContext (ffmpeg_fn.sws_freeContext)
#define sws_getCachedContext (ffmpeg_fn.sws_getCachedContext)
#define sws_getCoefficients (ffmpeg_fn.sws_getCoefficients)
#define sws_getColorspaceDetails (ffmpeg_fn.sws_getColorspaceDetails)
#define sws_scale (ffmpeg_fn.sws_scale)
#define sws_setColorspaceDetails (ffmpeg_fn.sws_setColorspaceDetails)
#endif

#endif
