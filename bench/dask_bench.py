"""dask_bench: captions of the same files through `vlp caption` (one process), vlp.Model in
Python, and vlp.dask on a LocalCluster of 1 and 2 worker processes (1 thread each), as
images/s and as ratios to the CLI. The golden models are tiny, so this measures what each
path adds around the model (process start, task scheduling, result gathering), not the
model's speed; `vlp bench` measures that.

usage: VLP_PREFIX=INSTALL_PREFIX python3 bench/dask_bench.py VLP_BINARY [N_FILES]
(the package found as installed by .ci/run's Python stage, or with PYTHONPATH=python)."""

import os
import shutil
import subprocess
import sys
import tempfile
import time

import vlp
import vlp.dask
from distributed import Client, LocalCluster

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "..", "tests", "golden")
MODEL = os.path.join(GOLDEN, "models", "blip-caption-tiny")
PHOTOS = ["astronaut.png", "chelsea_cat.png", "coffee.jpg", "rocket.jpg"]


def make_files(folder, n):
    out = []
    for k in range(n):
        p = PHOTOS[k % len(PHOTOS)]
        dst = os.path.join(folder, f"{k:04d}_{p}")
        shutil.copy(os.path.join(GOLDEN, "images", p), dst)
        out.append(dst)
    return out


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main():
    binary = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 256
    with tempfile.TemporaryDirectory() as tmp:
        files = make_files(tmp, n)
        rows = []
        cli = timed(lambda: subprocess.run(
            [binary, "caption", "-q", "--threads", "1", "-m", MODEL, "-o",
             os.path.join(tmp, "cli.jsonl")] + files, check=True))
        rows.append(("vlp caption (1 process, 1 thread)", cli))
        with vlp.Model(MODEL, threads=1) as m:
            rows.append(("vlp.Model.caption (in process)", timed(lambda: m.caption(files))))
        for workers in (1, 2):
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None, host="127.0.0.1")
            with Client(cluster) as client:
                vlp.dask.caption(client, files[:8], MODEL, threads=1).compute()  # warm-up
                t = timed(lambda: vlp.dask.caption(client, files, MODEL, threads=1,
                                                   batch_size=16).compute())
                rows.append((f"vlp.dask.caption, {workers} worker process(es)", t))
            cluster.close()
        print(f"{n} files, model {os.path.basename(MODEL)} (tiny: overheads, not model speed)")
        for name, t in rows:
            print(f"  {name:42s} {n / t:8.1f} images/s  {t / cli:5.2f}x the CLI's time")


if __name__ == "__main__":
    main()
