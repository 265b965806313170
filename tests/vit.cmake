# vision/vit: the BLIP / CLIP vision towers against the golden data.
vlp_test(test_vit SOURCES test_vit.c LIBS vlp_core vlp_vision)
