"""Python threads share one model: each thread gets its own session, and the results equal
a single thread's."""

import threading

import numpy as np

import vlp
from conftest import PHOTOS, image_path, model_path


def test_threads_share_one_model():
    paths = [image_path(p) for p in PHOTOS]
    with vlp.Model(model_path("clip-tiny"), threads=1) as clip, \
            vlp.Model(model_path("blip-caption-tiny"), threads=1) as cap:
        want_e = clip.embed_images(paths)
        want_c = [c.tokens for c in cap.caption(paths)]
        results, failures = {}, []

        def work(k):
            try:
                for _ in range(3):
                    e = clip.embed_images(paths)
                    c = [x.tokens for x in cap.caption(paths)]
                    results.setdefault(k, []).append((e, c))
            except Exception as ex:  # reported below, with the thread's number
                failures.append((k, ex))

        threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not failures, failures
        assert len(cap._sessions) == 5  # the main thread's and one per worker thread
        for k, runs in results.items():
            assert len(runs) == 3
            for e, c in runs:
                assert np.array_equal(e, want_e)
                assert c == want_c
