"""vlp: vision-language models (BLIP, CLIP, SigLIP) from Python, over libvlp.

    import vlp
    with vlp.Model("path/to/blip-image-captioning-base") as m:
        print(m.caption(["a.jpg", "b.png"]))

Errors raise vlp.Error subclasses carrying vlp's message; vlp.dask runs the same work on a
dask.distributed cluster."""

from ._lib import version as _version
from .errors import (Error, FileError, FormatError, InvalidArgument, ModelError, OutOfMemory,
                     UnsupportedError)
from .index import BuildStats, Hit, Index, Report
from .model import Answer, Caption, Match, Model, Tag

__version__ = "1.1.0"


def library_version() -> str:
    """The linked libvlp's version ("MAJOR.MINOR.PATCH")."""
    return _version().decode()


__all__ = ["Model", "Index", "Hit", "BuildStats", "Report", "Caption", "Answer", "Match", "Tag", "Error", "FileError", "FormatError",
           "UnsupportedError", "ModelError", "InvalidArgument", "OutOfMemory",
           "library_version"]
