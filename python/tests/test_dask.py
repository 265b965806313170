"""vlp.dask on a LocalCluster with 2 worker processes: results equal the single-process
run, each worker loads the model once, and a worker killed in the middle of a run loses
nothing (every file exactly once)."""

import json
import os
import shutil
import signal
import time

import numpy as np
import pytest

import vlp
from conftest import IMAGES, PHOTOS, model_path

distributed = pytest.importorskip("distributed")
import vlp.dask  # noqa: E402  (needs dask.distributed and pandas)

N_COPIES = 6  # copies of each photo under distinct names: 24 files


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("photos")
    out = []
    for k in range(N_COPIES):
        for p in PHOTOS:
            dst = d / f"{k:02d}_{p}"
            shutil.copy(os.path.join(IMAGES, p), dst)
            out.append(str(dst))
    (d / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return sorted(out), str(d / "broken.jpg")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, host="127.0.0.1")
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def test_caption_equals_single_process(client, files):
    paths, broken = files
    df = vlp.dask.caption(client, paths + [broken], model_path("blip-caption-tiny"),
                          batch_size=5).compute().sort_values("path")
    with vlp.Model(model_path("blip-caption-tiny"), threads=1) as m:
        want = {p: c for p, c in zip(paths, m.caption(paths))}
    assert sorted(df["path"]) == sorted(paths + [broken])
    for row in df.itertuples():
        if row.path == broken:
            assert "broken.jpg" in row.error and row.caption is None
            continue
        assert row.error is None
        assert row.caption == want[row.path].caption
        assert list(row.tokens) == want[row.path].tokens
    # one model per worker process, however many tasks ran there
    assert set(client.run(vlp.dask.loaded_models).values()) == {1}


def test_embed_and_tag_equal_single_process(client, files, tmp_path):
    paths, _ = files
    df = vlp.dask.embed(client, paths, model_path("clip-tiny"), batch_size=4).compute()
    df = df.set_index("path").loc[paths]
    with vlp.Model(model_path("clip-tiny"), threads=1) as m:
        want = m.embed_images(paths, batch_size=4)
        want_tags = m.tag(paths[:4], ["cat", "cup", "rocket"])
    got = np.stack(list(df["embedding"]))
    assert got.dtype == np.float32 and np.array_equal(got, want)
    tags = vlp.dask.tag(client, paths[:4], model_path("clip-tiny"), ["cat", "cup", "rocket"],
                        batch_size=2).compute().set_index("path").loc[paths[:4]]
    for ts, w in zip(tags["tags"], want_tags):
        assert [t["label"] for t in ts] == [t.label for t in w]
        assert np.allclose([t["score"] for t in ts], [t.score for t in w], atol=1e-6)
    shards = vlp.dask.write_jsonl(vlp.dask.embed(client, paths, model_path("clip-tiny"),
                                                 batch_size=4), str(tmp_path / "jsonl"))
    rows = [json.loads(line) for s in shards for line in open(s)]
    assert sorted(r["path"] for r in rows) == paths and len(shards) == 6
    npys = vlp.dask.write_npy_shards(vlp.dask.embed(client, paths, model_path("clip-tiny"),
                                                    batch_size=4), str(tmp_path / "npy"))
    merged = np.concatenate([np.load(s) for s in npys])
    names = [line.strip() for s in npys for line in open(s[:-4] + ".paths")]
    assert np.array_equal(merged, want[[paths.index(n) for n in names]])


def test_killed_worker_loses_nothing(client, files):
    paths, _ = files
    df = vlp.dask.caption(client, paths, model_path("blip-caption-tiny"), batch_size=1,
                          beams=3).persist()
    futures = list(distributed.futures_of(df))
    # wait until the run is under way, then terminate one worker process
    deadline = time.time() + 60
    while not any(f.done() for f in futures) and time.time() < deadline:
        time.sleep(0.05)
    pids = client.run(os.getpid)
    victim = sorted(pids)[0]
    os.kill(pids[victim], signal.SIGTERM)
    done_before = sum(f.done() for f in futures)
    assert done_before < len(futures), "the run finished before the kill: make it longer"
    result = df.compute()
    assert sorted(result["path"]) == paths  # every file exactly once
    assert result["error"].isna().all()
    with vlp.Model(model_path("blip-caption-tiny"), threads=1) as m:
        want = {p: c.caption for p, c in zip(paths, m.caption(paths, beams=3))}
    assert all(want[p] == c for p, c in zip(result["path"], result["caption"]))


def test_build_index_equals_cli(client, files, tmp_path, cli):
    paths, broken = files
    chosen = paths[::3] + [broken]  # 8 photos and a broken file
    out = str(tmp_path / "dask.index")
    st = vlp.dask.build_index(client, chosen, model_path("clip-tiny"), out, batch_size=3)
    assert (st.files, st.failed) == (8, 1) and st.reports[0].path.endswith("broken.jpg")
    # the workers run 1 thread each: so does the CLI here (other thread counts sum in
    # another order, and differ in the last bits)
    cli("index", "build", "-m", model_path("clip-tiny"), "--threads", "1", "-o",
        str(tmp_path / "cli.index"), *chosen)
    with vlp.Index(out, model_path("clip-tiny")) as got, \
            vlp.Index(tmp_path / "cli.index", model_path("clip-tiny")) as want:
        assert got.paths == want.paths and got.model_dir == want.model_dir
        assert np.array_equal(got.embeddings, want.embeddings)
        for text in ["a cat", "a rocket"]:
            assert got.search(text, k=5) == want.search(text, k=5)
    # again with fewer files: the index is replaced, the dropped ones reported
    st = vlp.dask.build_index(client, chosen[:4], model_path("clip-tiny"), out)
    assert (st.files, st.removed) == (4, 4)
    assert len(vlp.Index(out)) == 4
