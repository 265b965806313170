"""Turning what Python callers hold into vlp_image structs: a path (decoded by vlp exactly as
the command line decodes it, EXIF orientation included), the bytes of an encoded file, a
numpy array (H, W, 3) uint8 or a PIL image (converted to RGB, used as it is)."""

from __future__ import annotations

import ctypes
import os
from typing import Any, Sequence, Union

import numpy as np

from . import _lib, errors

ImageLike = Union[str, os.PathLike, bytes, bytearray, memoryview, np.ndarray, Any]


def is_single(x: Any) -> bool:
    """True when x is one image rather than a sequence of them."""
    if isinstance(x, (str, os.PathLike, bytes, bytearray, memoryview)):
        return True
    if isinstance(x, np.ndarray):
        return x.ndim == 3
    return hasattr(x, "convert") and hasattr(x, "size")  # a PIL image


def describe(x: Any) -> str:
    """A short name for an image in messages and results."""
    if isinstance(x, (str, os.PathLike)):
        return os.fspath(x)
    if isinstance(x, np.ndarray):
        return "<array %s>" % "x".join(map(str, x.shape))
    if isinstance(x, (bytes, bytearray, memoryview)):
        return "<%d bytes>" % len(x)
    return "<%s>" % type(x).__name__


class Batch:
    """vlp_image structs for a list of images; a context manager that frees what vlp decoded
    and keeps the arrays it points into alive until then."""

    def __init__(self, images: Sequence[ImageLike]):
        self.n = len(images)
        if self.n == 0:
            raise errors.InvalidArgument("no images given")
        self.array = (_lib.Image * self.n)()
        self._owned: list[int] = []
        self._keep: list[Any] = []
        try:
            for i, x in enumerate(images):
                self._fill(i, x)
        except BaseException:
            self.close()
            raise

    def _fill(self, i: int, x: Any) -> None:
        out = self.array[i]
        if isinstance(x, (str, os.PathLike)):
            _lib.check(_lib.image_load(os.fsencode(x), ctypes.byref(out)))
            self._owned.append(i)
            return
        if isinstance(x, (bytes, bytearray, memoryview)):
            data = bytes(x)
            _lib.check(_lib.image_load_memory(data, len(data), b"<bytes>", ctypes.byref(out)))
            self._owned.append(i)
            return
        if hasattr(x, "convert") and not isinstance(x, np.ndarray):  # PIL
            x = np.asarray(x.convert("RGB"))
        if not isinstance(x, np.ndarray):
            raise TypeError("an image is a path, bytes, a numpy array (H, W, 3) uint8 or a PIL "
                            f"image, not {type(x).__name__}")
        if x.dtype != np.uint8 or x.ndim != 3 or x.shape[2] != 3:
            raise errors.InvalidArgument(f"an image array must be (H, W, 3) uint8, not "
                                         f"{x.shape} {x.dtype}")
        if x.shape[0] == 0 or x.shape[1] == 0:
            raise errors.InvalidArgument(f"empty image array {x.shape}")
        x = np.ascontiguousarray(x)
        self._keep.append(x)
        out.w, out.h = int(x.shape[1]), int(x.shape[0])
        out.rgb = x.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8))

    def close(self) -> None:
        for i in self._owned:
            _lib.image_free(ctypes.byref(self.array[i]))
        self._owned = []
        self._keep = []

    def __enter__(self) -> "Batch":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
