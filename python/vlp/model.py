"""vlp.Model: a loaded model, shared by any number of Python threads.

The C model is read-only after loading; each thread that calls a method gets its own
vlp_session (per-run buffers), made on first use and freed by close(). ctypes releases
the GIL during the C calls, so threads run in parallel."""

from __future__ import annotations

import ctypes
import threading
from typing import NamedTuple, Optional, Sequence, Union

import numpy as np

from . import _lib, errors
from .images import Batch, ImageLike, is_single

PRECISIONS = {"f32": 0, "bf16": 1, "int8": 2}


class Caption(NamedTuple):
    caption: str
    tokens: list  # the full generated id sequence, as the reference's generate() returns it
    truncated: bool  # the length limit ended it before the end token


class Answer(NamedTuple):
    question: str
    answer: str
    tokens: list


class Match(NamedTuple):
    text: str
    itm: float  # probability of a match (BLIP ITM head)
    itc: float  # cosine of the projected, normalised embeddings


class Tag(NamedTuple):
    label: str
    score: float


def _text_result(r: _lib.TextResult):
    text = r.text.decode("utf-8") if r.text else ""
    return text, [r.ids[k] for k in range(r.n_ids)], bool(r.truncated)


class Model:
    """A BLIP, CLIP or SigLIP model folder (or cache name) loaded with libvlp.

    >>> with vlp.Model("blip-image-captioning-base") as m:
    ...     print(m.caption("cat.jpg").caption)

    threads: OpenMP threads per call (None: VLP_THREADS or the number of cores);
    precision: "f32" (exact, default), "bf16" or "int8" where the build supports them."""

    def __init__(self, path_or_name: str, threads: Optional[int] = None,
                 precision: str = "f32"):
        if precision not in PRECISIONS:
            raise errors.InvalidArgument(f"precision must be one of {sorted(PRECISIONS)}, "
                                         f"not {precision!r}")
        self.path = str(path_or_name)
        p = _lib.ModelParams(PRECISIONS[precision], int(threads or 0))
        handle = ctypes.c_void_p()
        _lib.check(_lib.model_load_with(_lib.encode(self.path), ctypes.byref(p),
                                        ctypes.byref(handle)))
        self._m = handle
        self._local = threading.local()
        self._sessions: list[ctypes.c_void_p] = []
        self._lock = threading.Lock()
        self.arch: str = _lib.arch_name(_lib.model_arch(handle)).decode()
        self.embed_dim: int = _lib.model_embed_dim(handle)

    # ---- lifetime ---------------------------------------------------------------------

    def close(self) -> None:
        """Free the model and every thread's session. No call may be running."""
        with self._lock:
            for s in self._sessions:
                _lib.session_free(s)
            self._sessions = []
            if self._m:
                _lib.model_free(self._m)
                self._m = None
        self._local = threading.local()

    def __enter__(self) -> "Model":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_m", None):
            self.close()

    def __repr__(self) -> str:
        return f"vlp.Model({self.path!r}, arch={self.arch!r})"

    def _session(self) -> ctypes.c_void_p:
        if not self._m:
            raise errors.InvalidArgument("the model is closed")
        s = getattr(self._local, "session", None)
        if s is None:
            s = ctypes.c_void_p()
            _lib.check(_lib.session_new(self._m, None, ctypes.byref(s)))
            with self._lock:
                self._sessions.append(s)
            self._local.session = s
        return s

    def _encode(self, session, batch: Batch, image_size: int) -> ctypes.c_void_p:
        f = ctypes.c_void_p()
        _lib.check(_lib.encode_images(session, batch.array, batch.n, int(image_size),
                                      ctypes.byref(f)))
        return f

    # ---- generation -------------------------------------------------------------------

    @staticmethod
    def _gen(prompt=None, beams=None, max_length=None, max_new_tokens=None, min_length=None,
             repetition_penalty=None, length_penalty=None) -> _lib.GenParams:
        p = _lib.gen_default_params()
        if prompt is not None:
            p.prompt = _lib.encode(prompt)
        for field, v in (("num_beams", beams), ("max_length", max_length),
                         ("max_new_tokens", max_new_tokens), ("min_length", min_length)):
            if v is not None:
                setattr(p, field, int(v))
        for field, v in (("repetition_penalty", repetition_penalty),
                         ("length_penalty", length_penalty)):
            if v is not None:
                setattr(p, field, float(v))
        return p

    def caption(self, images: Union[ImageLike, Sequence[ImageLike]], *, batch_size: int = 8,
                image_size: int = 0, **gen) -> Union[Caption, list]:
        """Captions (BLIP captioning models). One image gives one Caption, a list a list.

        gen: prompt, beams, max_length, max_new_tokens, min_length, repetition_penalty,
        length_penalty (as `vlp caption`'s options)."""
        single = is_single(images)
        items = [images] if single else list(images)
        p = self._gen(**gen)
        s = self._session()
        out: list = []
        for k in range(0, len(items), max(1, batch_size)):
            with Batch(items[k:k + batch_size]) as b:
                f = self._encode(s, b, image_size)
                res = (_lib.TextResult * b.n)()
                try:
                    _lib.check(_lib.caption(s, f, ctypes.byref(p), res))
                    out += [Caption(*_text_result(r)) for r in res]
                finally:
                    for r in res:
                        _lib.text_result_free(ctypes.byref(r))
                    _lib.features_free(f)
        return out[0] if single else out

    def vqa(self, image: ImageLike, questions: Union[str, Sequence[str]], *,
            image_size: int = 0, **gen) -> Union[Answer, list]:
        """Answers to questions about one image (BLIP VQA models); the vision tower runs
        once for all of them. One question gives one Answer, a list a list."""
        single = isinstance(questions, str)
        qs = [questions] if single else list(questions)
        p = self._gen(**gen)
        s = self._session()
        out = []
        with Batch([image]) as b:
            f = self._encode(s, b, image_size)
            try:
                for q in qs:
                    r = _lib.TextResult()
                    try:
                        _lib.check(_lib.vqa(s, f, 0, _lib.encode(q), ctypes.byref(p),
                                            ctypes.byref(r)))
                        text, tokens, _ = _text_result(r)
                    finally:
                        _lib.text_result_free(ctypes.byref(r))
                    out.append(Answer(q, text, tokens))
            finally:
                _lib.features_free(f)
        return out[0] if single else out

    def itm(self, image: ImageLike, texts: Union[str, Sequence[str]], *,
            image_size: int = 0) -> Union[Match, list]:
        """Image-text matching (BLIP retrieval models): itm probability and itc cosine per
        text. One text gives one Match, a list a list."""
        single = isinstance(texts, str)
        ts = [texts] if single else list(texts)
        s = self._session()
        out = []
        with Batch([image]) as b:
            f = self._encode(s, b, image_size)
            try:
                for t in ts:
                    a, c = ctypes.c_float(), ctypes.c_float()
                    _lib.check(_lib.itm(s, f, 0, _lib.encode(t), ctypes.byref(a),
                                        ctypes.byref(c)))
                    out.append(Match(t, a.value, c.value))
            finally:
                _lib.features_free(f)
        return out[0] if single else out

    # ---- embeddings and tags ----------------------------------------------------------

    def embed_images(self, images: Union[ImageLike, Sequence[ImageLike]], *,
                     batch_size: int = 16, image_size: int = 0) -> np.ndarray:
        """Projected, L2-normalised image embeddings: float32 array (N, embed_dim)."""
        items = [images] if is_single(images) else list(images)
        if not items:
            raise errors.InvalidArgument("no images given")
        out = np.empty((len(items), self.embed_dim), dtype=np.float32)
        s = self._session()
        for k in range(0, len(items), max(1, batch_size)):
            with Batch(items[k:k + batch_size]) as b:
                dst = out[k:k + b.n]
                _lib.check(_lib.embed_images(s, b.array, b.n, int(image_size),
                                             dst.ctypes.data_as(_lib.c_float_p)))
        return out

    def embed_texts(self, texts: Union[str, Sequence[str]], *,
                    batch_size: int = 64) -> np.ndarray:
        """Projected, L2-normalised text embeddings: float32 array (N, embed_dim)."""
        items = [texts] if isinstance(texts, str) else list(texts)
        if not items:
            raise errors.InvalidArgument("no texts given")
        out = np.empty((len(items), self.embed_dim), dtype=np.float32)
        s = self._session()
        for k in range(0, len(items), max(1, batch_size)):
            chunk = [_lib.encode(t) for t in items[k:k + batch_size]]
            arr = (ctypes.c_char_p * len(chunk))(*chunk)
            dst = out[k:k + len(chunk)]
            _lib.check(_lib.embed_texts(s, arr, len(chunk), dst.ctypes.data_as(_lib.c_float_p)))
        return out

    def tag(self, images: Union[ImageLike, Sequence[ImageLike]], labels: Sequence[str], *,
            template: Optional[str] = None, top: Optional[int] = None, batch_size: int = 16,
            image_size: int = 0) -> list:
        """Zero-shot labels (CLIP, SigLIP), best first: [Tag(label, score), ...] per image
        (a list of those for a list of images). template wraps each label ("{}" is the
        label; None: the model's default, e.g. "a photo of a {}.")."""
        single = is_single(images)
        items = [images] if single else list(images)
        labels = [labels] if isinstance(labels, str) else list(labels)
        if not labels:
            raise errors.InvalidArgument("no labels given")
        s = self._session()
        enc = [_lib.encode(x) for x in labels]
        lab = ctypes.c_void_p()
        _lib.check(_lib.labels_new(s, (ctypes.c_char_p * len(enc))(*enc), len(enc),
                                   _lib.encode(template) if template is not None else None,
                                   ctypes.byref(lab)))
        out = []
        try:
            n = _lib.labels_count(lab)
            for k in range(0, len(items), max(1, batch_size)):
                with Batch(items[k:k + batch_size]) as b:
                    f = self._encode(s, b, image_size)
                    try:
                        for i in range(b.n):
                            res = (_lib.TagResult * n)()
                            _lib.check(_lib.tag(s, f, i, lab, res))
                            tags = [Tag(labels[r.label], r.score) for r in res]
                            out.append(tags[:top] if top else tags)
                    finally:
                        _lib.features_free(f)
        finally:
            _lib.labels_free(lab)
        return out[0] if single else out
