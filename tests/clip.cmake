# CLIP: text tower (text/clip_text) and CLIPModel (fusion/clip) against the golden cases.
vlp_test(test_clip SOURCES test_clip.c LIBS vlp_core vlp_media vlp_text vlp_vision vlp_fusion vlp_index)
