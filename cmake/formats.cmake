# image formats beyond PNG/JPEG (Debian: libwebp-dev libgif-dev libtiff-dev libheif-dev),
# linked into the media module for media/webp.c, gif.c, tiff.c and heif.c.
pkg_check_modules(IMGFMT REQUIRED IMPORTED_TARGET libwebp libwebpdemux libgif libtiff-4 libheif)
list(APPEND VLP_MEDIA_EXTRA_LIBS PkgConfig::IMGFMT)
