# core ops, arena and threads (helper coreops)
vlp_test(test_ops SOURCES test_ops.c LIBS vlp_core)
vlp_test(test_gemm SOURCES test_gemm.c LIBS vlp_core)
# the same on oneDNN's AVX2 kernels (the path of AVX2-only CPUs)
add_test(NAME test_gemm_avx2 COMMAND test_gemm WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
set_tests_properties(test_gemm_avx2 PROPERTIES ENVIRONMENT "DNNL_MAX_CPU_ISA=AVX2" TIMEOUT 600)
vlp_test(test_kernels SOURCES test_kernels.c LIBS vlp_core)
# The golden set through the packed GEMMs and vectorised kernels of each instruction set:
# AVX2 (oneDNN capped at AVX2, AVX2 kernels) and the plain path (OpenBLAS, generic kernels);
# the default (widest) path runs in the cli test.
add_test(NAME selftest_avx2 COMMAND vlp_cli selftest)
set_tests_properties(selftest_avx2 PROPERTIES ENVIRONMENT "DNNL_MAX_CPU_ISA=AVX2;VLP_KERNELS=avx2"
  TIMEOUT 600)
add_test(NAME selftest_generic COMMAND vlp_cli selftest)
set_tests_properties(selftest_generic PROPERTIES ENVIRONMENT "VLP_GEMM=openblas;VLP_KERNELS=generic"
  TIMEOUT 600)
# The decoders with the image tokens' keys and values in rows (the path of shapes beyond the
# packed kernel's limits, core/cross_attention.h): BLIP captions, VQA and ITM golden cases
# (one image per call; tests/blip.cmake's test_blip_xattn_rows covers batches).
add_test(NAME selftest_xattn_rows COMMAND vlp_cli selftest --case blip)
set_tests_properties(selftest_xattn_rows PROPERTIES ENVIRONMENT "VLP_XATTN=rows" TIMEOUT 600)
# Greedy captions and answers from the LM head's f32 logits instead of its int8 bounds
# (core/gemm_bound.h; the default where the CPU has AVX512_VNNI): the same golden tokens.
add_test(NAME selftest_lm_head_full COMMAND vlp_cli selftest --case blip)
set_tests_properties(selftest_lm_head_full PROPERTIES ENVIRONMENT "VLP_LM_HEAD=full" TIMEOUT 600)
# Greedy captions and answers one token at a time instead of guessed ahead by the int8
# draft and checked (text/bert.h; the default for one image where the head has bounds).
add_test(NAME selftest_no_draft COMMAND vlp_cli selftest --case blip)
set_tests_properties(selftest_no_draft PROPERTIES ENVIRONMENT "VLP_DRAFT=off" TIMEOUT 600)
vlp_test(test_precision SOURCES test_precision.c LIBS vlp)
# The fast modes on full-size CLIP ViT-B/32 weights (bench/bench_fidelity.c): embedding
# cosine bounds a broken kernel would miss. Optimised builds only (sanitizers make it slow).
if(NOT VLP_SANITIZE AND NOT VLP_TSAN)
  add_test(NAME precision_full COMMAND vlp_bench_fidelity --images 32 --texts 32 --captions 0 --check)
  set_tests_properties(precision_full PROPERTIES TIMEOUT 600)
endif()
add_test(NAME bench_cli COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/bench_cli_test.sh
         $<TARGET_FILE:vlp_cli> WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
# Under the sanitizers our loops are instrumented (and the bandwidth read too): timings there
# say nothing about the machine, so the test skips its floor-below-time check.
set_tests_properties(bench_cli PROPERTIES TIMEOUT 600 ENVIRONMENT
                     "VLP_TEST_INSTRUMENTED=$<OR:$<BOOL:${VLP_SANITIZE}>,$<BOOL:${VLP_TSAN}>>")
vlp_test(test_attention SOURCES test_attention.c LIBS vlp_core)
vlp_test(test_cross_attention SOURCES test_cross_attention.c LIBS vlp_core)
vlp_test(test_attention_bf16 SOURCES test_attention_bf16.c LIBS vlp_core)
