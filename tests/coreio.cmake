# coreio: safetensors reader, weights folders, f16/bf16 conversion, libraries opened at
# their first use.
vlp_test(test_half SOURCES test_half.c LIBS vlp_core)
vlp_test(test_safetensors SOURCES test_safetensors.c LIBS vlp_core)
vlp_test(test_lazy_lib SOURCES test_lazy_lib.c LIBS vlp_core)
