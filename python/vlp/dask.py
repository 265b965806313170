"""vlp on a dask.distributed cluster: caption, embed or tag a list (or glob) of image files.

Files are cut into batches, one task per batch; each worker process loads the model once
(the first task that needs it) and keeps it for the next tasks. Tasks return their rows
and write nothing, so when a worker dies Dask re-runs its tasks elsewhere and every file
still appears exactly once. Results are a dask DataFrame with a `path` column and the
command's fields (`error` is None, or vlp's message for a file that failed);
write_jsonl() writes one JSON Lines shard per partition. build_index() embeds on the workers
and writes one retrieval index, the same as `vlp index build` of the same files.

    from dask.distributed import Client
    import vlp.dask
    client = Client(n_workers=2, threads_per_worker=1)
    df = vlp.dask.caption(client, "photos/**/*.jpg", "blip-image-captioning-base")
    vlp.dask.write_jsonl(df, "captions/")
"""

from __future__ import annotations

import glob as _glob
import os
import threading
from typing import Optional, Sequence, Union

import numpy as np
import pandas as pd

from . import errors
from .model import Model

Paths = Union[str, Sequence[str]]

_models: dict = {}
_models_lock = threading.Lock()


def worker_model(path: str, threads: Optional[int] = None, precision: str = "f32") -> Model:
    """The model of this worker process, loaded on first use and kept (one per process)."""
    key = (path, threads, precision)
    with _models_lock:
        m = _models.get(key)
        if m is None:
            m = _models[key] = Model(path, threads=threads, precision=precision)
        return m


def loaded_models() -> int:
    """How many models this process has loaded (tests check one per worker)."""
    return len(_models)


def expand(paths: Paths) -> list:
    """A glob pattern (** recurses) or a list of paths, as a sorted list without repeats."""
    if isinstance(paths, (str, os.PathLike)):
        found = sorted(set(_glob.glob(os.fspath(paths), recursive=True)))
        if not found:
            raise errors.FileError(f"{os.fspath(paths)}: no files match")
        return found
    return list(dict.fromkeys(os.fspath(p) for p in paths))


def _per_file(model: Model, batch: list, run, empty: dict) -> list:
    """Run `run(model, good_paths)` on the files of a batch; a file that fails on its own is
    a row with its error instead of failing the batch."""
    try:
        rows = run(model, batch)
        return [dict(path=p, error=None, **r) for p, r in zip(batch, rows)]
    except errors.Error:
        pass
    out = []
    for p in batch:  # one at a time, to name the file that fails
        try:
            out.append(dict(path=p, error=None, **run(model, [p])[0]))
        except errors.Error as e:
            out.append(dict(path=p, error=str(e), **empty))
    return out


def _caption_task(batch, model, threads, precision, gen):
    m = worker_model(model, threads, precision)

    def run(m, paths):
        return [dict(caption=c.caption, tokens=list(c.tokens), truncated=c.truncated)
                for c in m.caption(paths, batch_size=len(paths), **gen)]

    return pd.DataFrame(_per_file(m, batch, run, dict(caption=None, tokens=None,
                                                      truncated=None)),
                        columns=["path", "caption", "tokens", "truncated", "error"])


def _embed_task(batch, model, threads, precision):
    m = worker_model(model, threads, precision)

    def run(m, paths):
        return [dict(embedding=e) for e in m.embed_images(paths, batch_size=len(paths))]

    return pd.DataFrame(_per_file(m, batch, run, dict(embedding=None)),
                        columns=["path", "embedding", "error"])


def _tag_task(batch, model, threads, precision, labels, template, top):
    m = worker_model(model, threads, precision)

    def run(m, paths):
        tags = m.tag(paths, labels, template=template, top=top, batch_size=len(paths))
        return [dict(tags=[{"label": t.label, "score": t.score} for t in ts]) for ts in tags]

    return pd.DataFrame(_per_file(m, batch, run, dict(tags=None)),
                        columns=["path", "tags", "error"])


def _index_task(batch, model, threads, precision):
    """Rows for an index: the file's real path, size, mtime, content hash (as
    vlp_index_build records them) and its embedding, computed one image at a time: the
    same bits as vlp_index_build's (which batches only where vlp_batch_invariant(), that
    is where a batch does not change an image's embedding)."""
    import ctypes

    from . import _lib

    m = worker_model(model, threads, precision)
    rows = []
    for p in batch:
        real, e = os.path.realpath(p), _lib.IndexEntry()
        try:
            _lib.check(_lib.index_file_info(os.fsencode(real), ctypes.byref(e)))
            emb = m.embed_images([real], batch_size=1)[0]
            rows.append(dict(path=real, size=e.size, mtime_ns=e.mtime_ns, hash=e.hash,
                             embedding=emb, error=None))
        except errors.Error as err:
            rows.append(dict(path=real, size=None, mtime_ns=None, hash=None, embedding=None,
                             error=str(err)))
    return pd.DataFrame(rows, columns=list(_META[_index_task]))


def _model_info(model, threads, precision):
    """(model folder, architecture, embedding width) of the worker's model."""
    from . import _lib

    m = worker_model(model, threads, precision)
    return _lib.model_dir(m._m).decode(), m.arch, m.embed_dim


_META = {
    _index_task: {"path": "object", "size": "object", "mtime_ns": "object", "hash": "object",
                  "embedding": "object", "error": "object"},
    _caption_task: {"path": "object", "caption": "object", "tokens": "object",
                    "truncated": "object", "error": "object"},
    _embed_task: {"path": "object", "embedding": "object", "error": "object"},
    _tag_task: {"path": "object", "tags": "object", "error": "object"},
}


def _run(client, task, paths, batch_size, *args):
    import dask.dataframe as dd

    files = expand(paths)
    if not files:
        raise errors.InvalidArgument("no files given")
    batches = [files[k:k + batch_size] for k in range(0, len(files), max(1, batch_size))]
    futures = client.map(task, batches, *[[a] * len(batches) for a in args],
                         key=[f"vlp-{task.__name__[1:-5]}-{k}-{os.urandom(4).hex()}"
                              for k in range(len(batches))], retries=2)
    meta = pd.DataFrame({k: pd.Series(dtype=v) for k, v in _META[task].items()})
    return dd.from_delayed(futures, meta=meta, verify_meta=False)


def caption(client, paths: Paths, model: str, *, batch_size: int = 16,
            threads: Optional[int] = 1, precision: str = "f32", **gen):
    """Captions of image files: DataFrame path, caption, tokens, truncated, error.
    gen as vlp.Model.caption (prompt, beams, max_length, ...)."""
    return _run(client, _caption_task, paths, batch_size, model, threads, precision, gen)


def embed(client, paths: Paths, model: str, *, batch_size: int = 16,
          threads: Optional[int] = 1, precision: str = "f32"):
    """Image embeddings: DataFrame path, embedding (float32 array), error."""
    return _run(client, _embed_task, paths, batch_size, model, threads, precision)


def tag(client, paths: Paths, model: str, labels: Sequence[str], *,
        template: Optional[str] = None, top: Optional[int] = None, batch_size: int = 16,
        threads: Optional[int] = 1, precision: str = "f32"):
    """Zero-shot tags: DataFrame path, tags ([{label, score}] best first), error."""
    return _run(client, _tag_task, paths, batch_size, model, threads, precision,
                list(labels), template, top)


def build_index(client, paths: Paths, model: str, output: str, *, batch_size: int = 16,
                threads: Optional[int] = 1, precision: str = "f32"):
    """Embed image files on the workers and write one retrieval index in the folder output
    (made or replaced; its lock is held while it is written): the index `vlp index build -m
    model -o output FILES` makes, searched the same way (vlp.Index, `vlp search`). Files
    that fail are left out and reported. Returns vlp.BuildStats (unchanged is 0: every file
    is embedded again)."""
    import ctypes

    import numpy as np

    from . import _lib
    from .index import BuildStats, Report

    skip = os.path.realpath(output) + os.sep
    files = [p for p in expand(paths) if not os.path.realpath(p).startswith(skip)]
    info = client.submit(_model_info, model, threads, precision, pure=False)
    df = _run(client, _index_task, files, batch_size, model, threads, precision).compute()
    model_dir, arch, dim = info.result()
    df = df.sort_values("path", kind="stable").drop_duplicates("path")
    bad = df[df["error"].notna()]
    ok = df[df["error"].isna()]
    reports = [Report(p, "error", e) for p, e in zip(bad["path"], bad["error"])]
    enc = [os.fsencode(p) for p in ok["path"]]
    entries = (_lib.IndexEntry * max(1, len(enc)))()
    for e, p, size, mtime, h in zip(entries, enc, ok["size"], ok["mtime_ns"], ok["hash"]):
        e.path, e.size, e.mtime_ns, e.hash = p, int(size), int(mtime), int(h)
    emb = (np.stack(list(ok["embedding"])).astype(np.float32) if len(ok)
           else np.zeros((1, dim), np.float32))
    emb = np.ascontiguousarray(emb)
    fd = ctypes.c_int(-1)
    _lib.check(_lib.index_lock(os.fsencode(output), ctypes.byref(fd)))
    try:
        removed = _removed(output, set(ok["path"]), reports)
        _lib.check(_lib.index_commit(os.fsencode(output), os.fsencode(model_dir), arch.encode(),
                                     dim, entries, len(enc),
                                     emb.ctypes.data_as(_lib.c_float_p)))
    finally:
        _lib.index_unlock(fd)
    return BuildStats(len(enc), len(enc), 0, removed, len(bad), reports)


def _removed(output: str, keep: set, reports: list) -> int:
    """Entries of an index already in output that the new one drops (reported)."""
    from . import _lib
    from .index import Index, Report

    if not _lib.index_exists(os.fsencode(output)):
        return 0
    with Index(output) as old:
        gone = [p for p in old.paths if p not in keep]
    reports += [Report(p, "removed", "not in the paths given") for p in gone]
    return len(gone)


def write_jsonl(df, folder: str) -> list:
    """One JSON Lines shard per partition (folder/part-N.jsonl); embeddings as lists.
    Returns the shard paths."""
    import json

    os.makedirs(folder, exist_ok=True)

    def write(part: pd.DataFrame, partition_info=None) -> pd.DataFrame:
        n = partition_info["number"] if partition_info else 0
        path = os.path.join(folder, f"part-{n:05d}.jsonl")
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            for row in part.to_dict("records"):
                if isinstance(row.get("embedding"), np.ndarray):
                    row["embedding"] = [float(x) for x in row["embedding"]]
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        os.replace(tmp, path)
        return pd.DataFrame({"shard": [path]})

    shards = df.map_partitions(write, meta={"shard": "object"}).compute()
    return list(shards["shard"])


def write_npy_shards(df, folder: str) -> list:
    """Embeddings as .npy shards: folder/part-N.npy (float32, [rows, dim]) beside
    folder/part-N.paths (one path a line, same order); failed files are left out.
    Returns the .npy paths."""
    os.makedirs(folder, exist_ok=True)

    def write(part: pd.DataFrame, partition_info=None) -> pd.DataFrame:
        n = partition_info["number"] if partition_info else 0
        ok = part[part["error"].isna()]
        base = os.path.join(folder, f"part-{n:05d}")
        emb = np.stack(list(ok["embedding"])) if len(ok) else np.zeros((0, 0), np.float32)
        np.save(base + ".npy.tmp", emb.astype(np.float32), allow_pickle=False)
        os.replace(base + ".npy.tmp.npy", base + ".npy")
        with open(base + ".paths.tmp", "w", encoding="utf-8") as f:
            f.writelines(p + "\n" for p in ok["path"])
        os.replace(base + ".paths.tmp", base + ".paths")
        return pd.DataFrame({"shard": [base + ".npy"]})

    shards = df.map_partitions(write, meta={"shard": "object"}).compute()
    return list(shards["shard"])
