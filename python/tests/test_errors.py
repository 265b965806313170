"""Bad inputs raise the vlp.Error subclass for their vlp_status, with vlp's message."""

import os

import numpy as np
import pytest

import vlp
from conftest import image_path, model_path


@pytest.fixture(scope="module")
def clip():
    with vlp.Model(model_path("clip-tiny")) as m:
        yield m


def test_missing_model_folder():
    with pytest.raises(vlp.Error) as e:
        vlp.Model("/nonexistent/model-folder")
    assert "/nonexistent/model-folder" in str(e.value)


def test_bad_precision():
    with pytest.raises(vlp.InvalidArgument):
        vlp.Model(model_path("clip-tiny"), precision="f64")


def test_missing_image_is_a_file_error(clip):
    with pytest.raises(vlp.FileError) as e:
        clip.embed_images("/nonexistent/cat.png")
    assert "/nonexistent/cat.png" in str(e.value)
    assert isinstance(e.value, OSError)


def test_corrupt_image_is_a_format_error(clip, tmp_path):
    bad = tmp_path / "broken.png"
    with open(image_path("chelsea_cat.png"), "rb") as f:
        bad.write_bytes(f.read()[:200])
    with pytest.raises(vlp.FormatError) as e:
        clip.embed_images(str(bad))
    assert "broken.png" in str(e.value)
    with pytest.raises(vlp.Error):
        clip.embed_images(b"definitely not an image")


def test_bad_arrays(clip):
    with pytest.raises(vlp.InvalidArgument):
        clip.embed_images(np.zeros((8, 8, 3), dtype=np.float32))
    with pytest.raises(vlp.InvalidArgument):
        clip.embed_images(np.zeros((8, 8, 4), dtype=np.uint8))
    with pytest.raises(TypeError):
        clip.embed_images([42])
    with pytest.raises(vlp.InvalidArgument):
        clip.embed_images([])


def test_wrong_model_for_the_task(clip):
    with pytest.raises(vlp.Error):
        clip.caption(image_path("chelsea_cat.png"))


def test_closed_model(tmp_path):
    m = vlp.Model(model_path("clip-tiny"))
    m.close()
    with pytest.raises(vlp.InvalidArgument):
        m.embed_texts(["a cat"])
    m.close()  # twice is fine
    assert os.path.exists(model_path("clip-tiny"))
