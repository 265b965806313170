vlp_test(test_npy_json SOURCES test_npy_json.c LIBS vlp_core)
