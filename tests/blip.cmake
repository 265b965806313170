# blip: the BLIP text model (text/bert.c) and the three BLIP models (fusion/blip.c).
vlp_test(test_bert SOURCES test_bert.c golden_common.c LIBS vlp)
vlp_test(test_blip SOURCES test_blip.c golden_common.c LIBS vlp)
# Again with the decoders' image keys and values in rows (VLP_XATTN=rows: the path of shapes
# past the packed kernel's limits): its batched captions read every image's rows.
add_test(NAME test_blip_xattn_rows COMMAND test_blip WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
set_tests_properties(test_blip_xattn_rows PROPERTIES ENVIRONMENT "VLP_XATTN=rows" TIMEOUT 600)
