# threads: 4 threads with their own sessions on one shared model give the single-thread
# results (also built alone with ThreadSanitizer by .ci/run).
vlp_test(test_threads SOURCES test_threads.c LIBS vlp)
