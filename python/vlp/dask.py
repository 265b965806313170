"""vlp on a dask.distributed cluster: caption, embed or tag a list (or glob) of image files.

Files are cut into batches, one task per batch; each worker process loads the model once
(the first task that needs it) and keeps it for the next tasks. Tasks return their rows
and write nothing, so when a worker dies Dask re-runs its tasks elsewhere and every file
still appears exactly once. Results are a dask DataFrame with a `path` column and the
command's fields (`error` is None, or vlp's message for a file that failed);
write_jsonl() writes one JSON Lines shard per partition.

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


_META = {
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
