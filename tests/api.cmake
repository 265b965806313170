# api: the public API against the reference data (empty texts, tags, index queries,
# truncation flag, misuse errors); examples/ must keep compiling against vlp.h alone.
vlp_test(test_api SOURCES test_api.c golden_common.c LIBS vlp_core vlp)
# towers: text-only / vision-only loads (vlp_model_params.parts)
vlp_test(test_towers SOURCES test_towers.c LIBS vlp_core vlp)
add_executable(example_caption_embed ${CMAKE_SOURCE_DIR}/examples/caption_embed.c)
target_link_libraries(example_caption_embed PRIVATE vlp)
