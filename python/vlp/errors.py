"""Exceptions raised by vlp: one class per vlp_status, all subclasses of :class:`Error`.

The message is libvlp's own (which file, which tensor, what was expected)."""

from __future__ import annotations


class Error(Exception):
    """A libvlp call failed. ``status`` is the vlp_status code, ``str(e)`` vlp's message."""

    status = -1

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        if status is not None:
            self.status = status


class FileError(Error, OSError):
    """A file could not be opened, read or written (VLP_ERR_IO)."""

    status = 1


class FormatError(Error, ValueError):
    """A file's content is malformed: corrupt image, bad header, not JSON (VLP_ERR_FORMAT)."""

    status = 2


class UnsupportedError(Error):
    """Well-formed but not something vlp handles, or a part this build lacks
    (VLP_ERR_UNSUPPORTED)."""

    status = 3


class ModelError(Error):
    """The model folder is inconsistent, or the model cannot do what was asked
    (VLP_ERR_MODEL)."""

    status = 4


class InvalidArgument(Error, ValueError):
    """A bad argument: empty list, size out of range, ... (VLP_ERR_INVALID)."""

    status = 5


class OutOfMemory(Error, MemoryError):
    """An allocation failed or a size would overflow (VLP_ERR_NOMEM)."""

    status = 6


BY_STATUS = {c.status: c for c in (FileError, FormatError, UnsupportedError, ModelError,
                                   InvalidArgument, OutOfMemory)}


def from_status(status: int, message: str) -> Error:
    """The exception for a vlp_status and its message."""
    return BY_STATUS.get(status, Error)(message, status)
