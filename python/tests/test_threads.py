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


def test_idle_workers_sleep_by_default():
    """Loading the library sets libgomp's passive wait policy unless the user chose one;
    libgomp's report of its settings (OMP_DISPLAY_ENV) shows what it runs with."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env["OMP_DISPLAY_ENV"] = "verbose"
    code = "import vlp, os; print(os.environ['OMP_WAIT_POLICY'])"
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "passive"
    assert "GOMP_SPINCOUNT = '0'" in r.stderr
    env["OMP_WAIT_POLICY"] = "active"
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert r.stdout.strip() == "active"
    assert "GOMP_SPINCOUNT = '0'" not in r.stderr
