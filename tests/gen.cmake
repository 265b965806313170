# gen: generation (greedy / beam search with transformers 4.47 semantics) on toy decoders.
vlp_test(test_generate SOURCES test_generate.c ${CMAKE_SOURCE_DIR}/fusion/generate.c LIBS vlp_core)
