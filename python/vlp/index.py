"""vlp.Index: a retrieval index folder (the one `vlp index build` writes and `vlp search`
reads), built, updated and searched from Python.

    with vlp.Model("clip-vit-base-patch32") as m, vlp.Index("photos.index", m) as ix:
        ix.build("photos/")                  # or a list of files and folders
        for hit in ix.search(text="a cat on a sofa", k=5):
            print(hit.path, hit.score)

build() is vlp_index_build: an existing index is updated (unchanged files keep their
embeddings, files not given any more are dropped), a file that fails is reported in the
stats and left out, and the index lock keeps two builds from writing one folder."""

from __future__ import annotations

import ctypes
import os
from typing import NamedTuple, Optional, Sequence, Union

import numpy as np

from . import _lib, errors
from .images import Batch, ImageLike
from .model import Model

PathLike = Union[str, os.PathLike]


class Hit(NamedTuple):
    path: str  # the file (a video for a video frame's entry)
    score: float  # cosine of the query and the entry's embedding
    t: Optional[float] = None  # seconds into the video for a frame's entry, else None


class Report(NamedTuple):
    path: str
    kind: str  # "error" (left out of the index) or "removed" (an old entry dropped)
    message: str


class BuildStats(NamedTuple):
    files: int  # entries in the index now (a video counts once per sampled frame)
    embedded: int  # computed by this build
    unchanged: int  # taken from the old index (same content)
    removed: int  # old entries dropped
    failed: int  # files that could not be read or decoded
    reports: list  # [Report, ...]: the failed and removed files, with why


def is_index_input(path: str) -> bool:
    """What a folder walk takes, as `vlp index build` does: images by their first bytes or
    their name, videos by their name."""
    kind = _lib.image_sniff_file(os.fsencode(path))
    if kind in (1, 2, -1):  # an image (supported or not: said when built) or unreadable
        return True
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    return ext in _lib.IMAGE_EXTENSIONS or bool(_lib.is_video_path(os.fsencode(path)))


def walk(paths: Union[PathLike, Sequence[PathLike]], skip: Optional[str] = None) -> list:
    """The files of paths: files as given, folders searched recursively (names starting with
    "." skipped, symlinked folders followed once); sorted, without repeats. Files under the
    folder skip (the index itself) are left out."""
    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    skip_real = os.path.realpath(skip) + os.sep if skip else None
    out, seen = [], set()
    for p in map(os.fspath, items):
        if not os.path.isdir(p):
            out.append(p)
            continue
        for root, dirs, files in os.walk(p, followlinks=True):
            st = os.stat(root)
            if (st.st_dev, st.st_ino) in seen:
                dirs[:] = []
                continue
            seen.add((st.st_dev, st.st_ino))
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for f in sorted(files):
                full = os.path.join(root, f)
                if f.startswith(".") or not os.path.isfile(full):
                    continue
                if skip_real and os.path.realpath(full).startswith(skip_real):
                    continue
                if is_index_input(full):
                    out.append(full)
    return sorted(dict.fromkeys(out))


class Index:
    """An index folder. model (a vlp.Model, or a path or name to load) embeds what build()
    and the text / image searches need; searching by embedding needs none."""

    def __init__(self, path: PathLike, model: Union[Model, PathLike, None] = None, *,
                 threads: Optional[int] = None):
        self.path = os.fspath(path)
        self._own_model = model is not None and not isinstance(model, Model)
        self.model: Optional[Model] = (Model(os.fspath(model), threads=threads)
                                       if self._own_model else model)
        self._ix: Optional[ctypes.POINTER(_lib.IndexStruct)] = None

    # ---- lifetime ---------------------------------------------------------------------

    def close(self) -> None:
        """Close the open index (and the model when this Index loaded it)."""
        if self._ix:
            _lib.index_close(self._ix)
            self._ix = None
        if self._own_model and self.model is not None:
            self.model.close()
            self.model = None

    def __enter__(self) -> "Index":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_ix", None):
            _lib.index_close(self._ix)
            self._ix = None

    def __repr__(self) -> str:
        return f"vlp.Index({self.path!r})"

    def _open(self):
        if not self._ix:
            ix = ctypes.POINTER(_lib.IndexStruct)()
            _lib.check(_lib.index_open(os.fsencode(self.path), ctypes.byref(ix)))
            self._ix = ix
        return self._ix.contents

    def _need_model(self) -> Model:
        if self.model is None:
            raise errors.InvalidArgument("this needs a model: vlp.Index(path, model)")
        return self.model

    # ---- building ---------------------------------------------------------------------

    def build(self, paths: Union[PathLike, Sequence[PathLike]], *,
              every: Optional[float] = None) -> BuildStats:
        """Make the index hold exactly the images and videos of paths (files, or folders
        walked recursively in Python as `vlp index build` walks them). Files already in the
        index with the same content keep their embeddings; entries of files not given are
        removed. every: seconds between the sampled frames of videos (default 1)."""
        m = self._need_model()
        files = walk(paths, skip=self.path)
        enc = [os.fsencode(f) for f in files]
        arr = (ctypes.c_char_p * max(1, len(enc)))(*enc)
        o = _lib.index_build_default_options()
        if every is not None:
            if not every > 0:
                raise errors.InvalidArgument(f"every must be > 0 seconds, not {every!r}")
            o.video.mode, o.video.every = _lib.SAMPLE_EVERY, float(every)
        reports: list = []

        def on_report(ctx, path, kind, message):
            reports.append(Report(path.decode("utf-8", "replace"), kind.decode(),
                                  message.decode("utf-8", "replace")))

        cb = _lib.IndexReportFn(on_report)  # kept alive for the call
        o.report = cb
        st = _lib.IndexBuildStats()
        if self._ix:  # the build replaces the files an open index maps
            _lib.index_close(self._ix)
            self._ix = None
        _lib.check(_lib.index_build(m._session(), os.fsencode(self.path), arr, len(enc),
                                    ctypes.byref(o), ctypes.byref(st)))
        return BuildStats(st.files, st.embedded, st.unchanged, st.removed, st.failed, reports)

    update = build  # building again updates: only new or changed files are embedded

    # ---- reading ----------------------------------------------------------------------

    def __len__(self) -> int:
        return int(self._open().count)

    @property
    def paths(self) -> list:
        """The entries' paths, row by row (absolute; "VIDEO#t=SECONDS" for video frames)."""
        ix = self._open()
        return [ix.entries[i].path.decode("utf-8", "replace") for i in range(ix.count)]

    @property
    def embeddings(self) -> np.ndarray:
        """A copy of the embeddings: float32 (len, dim), row i is paths[i]."""
        ix = self._open()
        if not ix.count:
            return np.zeros((0, ix.dim), np.float32)
        return np.ctypeslib.as_array(ix.emb, shape=(ix.count, ix.dim)).copy()

    @property
    def model_dir(self) -> str:
        """The model folder the index was built with."""
        return self._open().model.decode("utf-8", "replace")

    def search(self, text: Optional[str] = None, *, image: Optional[ImageLike] = None,
               embedding: Optional[np.ndarray] = None, k: int = 10) -> list:
        """The k best entries for one query, best first, as [Hit(path, score, t), ...]
        (highest cosine first, ties by row). Give exactly one of text, image (a path,
        bytes, array or PIL image) or embedding (float32 [dim], L2-normalised)."""
        if sum(x is not None for x in (text, image, embedding)) != 1:
            raise errors.InvalidArgument("search takes one of text=, image= or embedding=")
        if int(k) < 1:
            raise errors.InvalidArgument(f"k must be >= 1, not {k!r}")
        ix = self._open()
        hits = (_lib.IndexHit * int(k))()
        n = ctypes.c_int()
        if text is not None:
            s = self._need_model()._session()
            _lib.check(_lib.index_query_text(s, self._ix, _lib.encode(text), int(k), hits,
                                             ctypes.byref(n)))
        elif image is not None:
            s = self._need_model()._session()
            with Batch([image]) as b:
                _lib.check(_lib.index_query_image(s, self._ix, b.array, int(k), hits,
                                                  ctypes.byref(n)))
        else:
            q = np.ascontiguousarray(embedding, dtype=np.float32).reshape(-1)
            if q.shape[0] != ix.dim:
                raise errors.InvalidArgument(f"the embedding has {q.shape[0]} values; the "
                                             f"index's have {ix.dim}")
            _lib.check(_lib.index_query_embedding(self._ix, q.ctypes.data_as(_lib.c_float_p),
                                                  int(k), hits, ctypes.byref(n)))
        return [self._hit(ix, hits[i]) for i in range(n.value)]

    @staticmethod
    def _hit(ix, h) -> Hit:
        ref = ix.entries[h.row].path
        video, t = ctypes.c_void_p(), ctypes.c_double()
        if _lib.frame_ref_split(ref, ctypes.byref(video), ctypes.byref(t)):
            path = ctypes.string_at(video).decode("utf-8", "replace")
            _lib.free(video)
            return Hit(path, float(h.score), t.value)
        return Hit(ref.decode("utf-8", "replace"), float(h.score))
