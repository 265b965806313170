# image formats beyond PNG/JPEG (Debian: libwebp-dev libgif-dev libtiff-dev libheif-dev),
# linked into the media module for media/webp.c, gif.c and tiff.c. libheif's headers only:
# media/heif_lazy.c opens it at the first HEIF/AVIF image (dlopen), so it costs nothing to a
# run that reads none.
pkg_check_modules(IMGFMT REQUIRED IMPORTED_TARGET libwebp libwebpdemux libgif libtiff-4)
list(APPEND VLP_MEDIA_EXTRA_LIBS PkgConfig::IMGFMT)
pkg_check_modules(HEIF REQUIRED IMPORTED_TARGET libheif)
include_directories(${HEIF_INCLUDE_DIRS})
