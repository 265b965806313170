# blip: the BLIP text model (text/bert.c) and the three BLIP models (fusion/blip.c).
vlp_test(test_bert SOURCES test_bert.c golden_common.c LIBS vlp)
vlp_test(test_blip SOURCES test_blip.c golden_common.c LIBS vlp)
