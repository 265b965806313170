# coreio: safetensors reader, weights folders, f16/bf16 conversion.
vlp_test(test_half SOURCES test_half.c LIBS vlp_core)
vlp_test(test_safetensors SOURCES test_safetensors.c LIBS vlp_core)
