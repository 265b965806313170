"""Loading libvlp.so and declaring the C functions the package calls (ctypes).

The library is looked for, in order: the file named by VLP_LIBRARY; lib/libvlp.so.MAJOR
under VLP_PREFIX, under this Python's prefix, under /usr/local and /usr (where
`cmake --install` puts it); then the system's library search (ldconfig). ctypes releases
the GIL during every call, so threads compute in parallel."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

from . import errors

MAJOR = 1  # the SONAME major version this package speaks (VLP_VERSION_MAJOR)

c_int_p = ctypes.POINTER(ctypes.c_int)
c_float_p = ctypes.POINTER(ctypes.c_float)


class Image(ctypes.Structure):
    """vlp_image: 8-bit RGB, (h, w, 3) interleaved."""
    _fields_ = [("w", ctypes.c_int), ("h", ctypes.c_int), ("rgb", ctypes.POINTER(ctypes.c_uint8))]


class ModelParams(ctypes.Structure):
    # parts 0: every tower (VLP_LOAD_ALL)
    _fields_ = [("precision", ctypes.c_int), ("n_threads", ctypes.c_int),
                ("parts", ctypes.c_uint)]


class SessionParams(ctypes.Structure):
    _fields_ = [("n_threads", ctypes.c_int)]


class GenParams(ctypes.Structure):
    _fields_ = [("prompt", ctypes.c_char_p), ("num_beams", ctypes.c_int),
                ("max_length", ctypes.c_int), ("max_new_tokens", ctypes.c_int),
                ("min_length", ctypes.c_int), ("repetition_penalty", ctypes.c_float),
                ("length_penalty", ctypes.c_float)]


class TextResult(ctypes.Structure):
    _fields_ = [("ids", c_int_p), ("n_ids", ctypes.c_int), ("text", ctypes.c_char_p),
                ("truncated", ctypes.c_int)]


class TagResult(ctypes.Structure):
    _fields_ = [("label", ctypes.c_int), ("text", ctypes.c_char_p), ("score", ctypes.c_float)]


class IndexEntry(ctypes.Structure):
    """vlp_index_entry: one file (or video frame) of an index."""
    _fields_ = [("path", ctypes.c_char_p), ("size", ctypes.c_int64), ("mtime_ns", ctypes.c_int64),
                ("hash", ctypes.c_uint64)]


class IndexStruct(ctypes.Structure):
    """vlp_index: an open index (read only)."""
    _fields_ = [("dir", ctypes.c_char_p), ("model", ctypes.c_char_p), ("arch", ctypes.c_char_p),
                ("dim", ctypes.c_int), ("count", ctypes.c_int64), ("generation", ctypes.c_int64),
                ("entries", ctypes.POINTER(IndexEntry)), ("emb", c_float_p),
                ("map", ctypes.c_void_p), ("map_size", ctypes.c_size_t)]


class IndexHit(ctypes.Structure):
    _fields_ = [("row", ctypes.c_int64), ("score", ctypes.c_float), ("itm", ctypes.c_float),
                ("reranked", ctypes.c_int)]


SAMPLE_EVERY = 1  # vlp_sample_mode VLP_SAMPLE_EVERY


class VideoSampling(ctypes.Structure):
    _fields_ = [("mode", ctypes.c_int), ("every", ctypes.c_double), ("fps", ctypes.c_double),
                ("scene_threshold", ctypes.c_double), ("start", ctypes.c_double),
                ("end", ctypes.c_double), ("max_frames", ctypes.c_int64)]


StepFn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int64,
                          ctypes.c_int64)
IndexReportFn = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p,
                                 ctypes.c_char_p)


class IndexBuildOptions(ctypes.Structure):
    _fields_ = [("video", VideoSampling), ("progress", StepFn), ("progress_ctx", ctypes.c_void_p),
                ("report", IndexReportFn), ("report_ctx", ctypes.c_void_p),
                ("batch", ctypes.c_int)]


class IndexBuildStats(ctypes.Structure):
    _fields_ = [(name, ctypes.c_int64)
                for name in ("files", "embedded", "unchanged", "removed", "failed")]


# names a folder walk takes as images even when the first bytes do not say so (as the CLI)
IMAGE_EXTENSIONS = {"png", "jpg", "jpeg", "jpe", "jfif", "gif", "webp", "bmp", "tif", "tiff",
                    "heic", "heif", "avif", "jxl"}


def _candidates() -> list[str]:
    name = f"libvlp.so.{MAJOR}"
    found = []
    if os.environ.get("VLP_LIBRARY"):
        return [os.environ["VLP_LIBRARY"]]
    prefixes = [os.environ.get("VLP_PREFIX"), sys.prefix, "/usr/local", "/usr"]
    for p in prefixes:
        if p:
            found += [os.path.join(p, "lib", name), os.path.join(p, "lib64", name),
                      os.path.join(p, "lib", "x86_64-linux-gnu", name)]
    sys_name = ctypes.util.find_library("vlp")
    if sys_name:
        found.append(sys_name)
    return found


def _load() -> ctypes.CDLL:
    # Idle OpenMP workers sleep instead of spinning (as the vlp command does: a spinning
    # worker starves the thread its team waits for when another process is busy). libgomp
    # reads this once, when it is loaded, which is normally with libvlp, here.
    if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
        os.environ["OMP_WAIT_POLICY"] = "passive"
    tried = _candidates()
    for path in tried:
        if os.path.sep not in path or os.path.exists(path):
            try:
                return ctypes.CDLL(path)
            except OSError as e:
                if os.environ.get("VLP_LIBRARY"):
                    raise ImportError(f"vlp: VLP_LIBRARY={path}: {e}") from e
    raise ImportError("vlp: libvlp.so.%d not found (tried %s); install it with `cmake --install` "
                      "or set VLP_LIBRARY to its path" % (MAJOR, ", ".join(tried) or "nothing"))


lib = _load()


def _fn(name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = argtypes
    return f


P = ctypes.c_void_p
I, F, S = ctypes.c_int, ctypes.c_float, ctypes.c_char_p
ST = ctypes.c_int  # vlp_status

version = _fn("vlp_version", S)
free = _fn("vlp_free", None, P)
last_error = _fn("vlp_last_error", S)
image_load = _fn("vlp_image_load", ST, S, ctypes.POINTER(Image))
image_load_memory = _fn("vlp_image_load_memory", ST, ctypes.c_char_p, ctypes.c_size_t, S,
                        ctypes.POINTER(Image))
image_free = _fn("vlp_image_free", None, ctypes.POINTER(Image))
model_load_with = _fn("vlp_model_load_with", ST, S, ctypes.POINTER(ModelParams),
                      ctypes.POINTER(P))
model_free = _fn("vlp_model_free", None, P)
model_arch = _fn("vlp_model_arch", I, P)
arch_name = _fn("vlp_arch_name", S, I)
model_embed_dim = _fn("vlp_model_embed_dim", I, P)
session_new = _fn("vlp_session_new", ST, P, ctypes.POINTER(SessionParams), ctypes.POINTER(P))
session_free = _fn("vlp_session_free", None, P)
encode_images = _fn("vlp_encode_images", ST, P, ctypes.POINTER(Image), I, I, ctypes.POINTER(P))
features_free = _fn("vlp_features_free", None, P)
gen_default_params = _fn("vlp_gen_default_params", GenParams)
text_result_free = _fn("vlp_text_result_free", None, ctypes.POINTER(TextResult))
caption = _fn("vlp_caption", ST, P, P, ctypes.POINTER(GenParams), ctypes.POINTER(TextResult))
vqa = _fn("vlp_vqa", ST, P, P, I, S, ctypes.POINTER(GenParams), ctypes.POINTER(TextResult))
itm = _fn("vlp_itm", ST, P, P, I, S, c_float_p, c_float_p)
embed_images = _fn("vlp_embed_images", ST, P, ctypes.POINTER(Image), I, I, c_float_p)
embed_texts = _fn("vlp_embed_texts", ST, P, ctypes.POINTER(S), I, c_float_p)
labels_new = _fn("vlp_labels_new", ST, P, ctypes.POINTER(S), I, S, ctypes.POINTER(P))
labels_count = _fn("vlp_labels_count", I, P)
labels_free = _fn("vlp_labels_free", None, P)
tag = _fn("vlp_tag", ST, P, P, I, P, ctypes.POINTER(TagResult))
tag_default_template = _fn("vlp_tag_default_template", S, P)
model_dir = _fn("vlp_model_dir", S, P)
image_sniff_file = _fn("vlp_image_sniff_file", I, S)
is_video_path = _fn("vlp_is_video_path", I, S)
IndexP = ctypes.POINTER(IndexStruct)
index_open = _fn("vlp_index_open", ST, S, ctypes.POINTER(IndexP))
index_exists = _fn("vlp_index_exists", I, S)
index_close = _fn("vlp_index_close", None, IndexP)
index_lock = _fn("vlp_index_lock", ST, S, c_int_p)
index_unlock = _fn("vlp_index_unlock", None, I)
index_commit = _fn("vlp_index_commit", ST, S, S, S, I, ctypes.POINTER(IndexEntry), ctypes.c_int64,
                   c_float_p)
index_file_info = _fn("vlp_index_file_info", ST, S, ctypes.POINTER(IndexEntry))
index_build_default_options = _fn("vlp_index_build_default_options", IndexBuildOptions)
index_build = _fn("vlp_index_build", ST, P, S, ctypes.POINTER(S), I,
                  ctypes.POINTER(IndexBuildOptions), ctypes.POINTER(IndexBuildStats))
index_query_text = _fn("vlp_index_query_text", ST, P, IndexP, S, I, ctypes.POINTER(IndexHit),
                       c_int_p)
index_query_image = _fn("vlp_index_query_image", ST, P, IndexP, ctypes.POINTER(Image), I,
                        ctypes.POINTER(IndexHit), c_int_p)
index_query_embedding = _fn("vlp_index_query_embedding", ST, IndexP, c_float_p, I,
                            ctypes.POINTER(IndexHit), c_int_p)
frame_ref_split = _fn("vlp_frame_ref_split", I, S, ctypes.POINTER(P),
                      ctypes.POINTER(ctypes.c_double))
write_npy_f32 = _fn("vlp_write_npy_f32", ST, S, c_float_p, I, ctypes.POINTER(ctypes.c_int64))


def check(status: int) -> None:
    """Raise the vlp.Error subclass for a failed call (the message is this thread's
    vlp_last_error)."""
    if status:
        msg = last_error()
        raise errors.from_status(status, msg.decode("utf-8", "replace") if msg else
                                 f"vlp error {status}")


def encode(s: str) -> bytes:
    if not isinstance(s, str):
        raise TypeError(f"expected a str, got {type(s).__name__}")
    if "\0" in s:
        raise errors.InvalidArgument(f"text contains a NUL character: {s[:60]!r}")
    return s.encode("utf-8")
