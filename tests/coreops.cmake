# core ops, arena and threads (helper coreops)
vlp_test(test_ops SOURCES test_ops.c LIBS vlp_core)
