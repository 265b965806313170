# batch_invariance: an image's embedding does not depend on its batch, its place in it or the
# thread count (what vlp index build's default --batch 16 relies on).
vlp_test(test_batch_invariance SOURCES test_batch_invariance.c LIBS vlp)
