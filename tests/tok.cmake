# Tokenizer tests (helper tok): golden BERT / CLIP cases and bad input.
vlp_test(test_tokenizer_bert SOURCES test_tokenizer_bert.c golden_common.c LIBS vlp_text vlp_core vlp)
vlp_test(test_tokenizer_clip SOURCES test_tokenizer_clip.c golden_common.c LIBS vlp_text vlp_core vlp)
vlp_test(test_tokenizer_errors SOURCES test_tokenizer_errors.c LIBS vlp_text vlp_core)
vlp_test(test_tokenizer_siglip SOURCES test_tokenizer_siglip.c golden_common.c LIBS vlp_text vlp_core vlp)
vlp_test(test_json_scan SOURCES test_json_scan.c LIBS vlp_text vlp_core)
