# SigLIP: SiglipModel through vlp.h against the golden cases, bad folders; the commands end
# to end (siglip_cli_test.sh).
vlp_test(test_siglip SOURCES test_siglip.c golden_common.c LIBS vlp_core vlp_media vlp_text vlp_vision vlp_fusion)
add_test(NAME siglip_cli COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/siglip_cli_test.sh $<TARGET_FILE:vlp_cli>
         WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
set_tests_properties(siglip_cli PROPERTIES TIMEOUT 600)
