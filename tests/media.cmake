# media: image decoding, Pillow-exact resize, HF preprocessing.
vlp_test(test_image SOURCES test_image.c media_util.c png_mem.c LIBS vlp)
vlp_test(test_preprocess SOURCES test_preprocess.c media_util.c LIBS vlp)
vlp_test(test_image_errors SOURCES test_image_errors.c LIBS vlp)
vlp_test(test_resize SOURCES test_resize.c LIBS vlp)
vlp_test(test_formats SOURCES test_formats.c LIBS vlp)
vlp_test(test_image_bomb SOURCES test_image_bomb.c png_mem.c LIBS vlp PkgConfig::PNG z)
