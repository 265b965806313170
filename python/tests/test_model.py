"""The golden tiny models give the same results through Python as through the command line
(token ids identical, numbers within 1e-4), for every way of passing an image."""

import numpy as np
import pytest

import vlp
from conftest import PHOTOS, image_path, model_path

TOL = 1e-4


@pytest.fixture(scope="module")
def clip():
    with vlp.Model(model_path("clip-tiny")) as m:
        yield m


def test_version():
    from vlp import _lib  # the SONAME major this package was written for
    assert vlp.library_version().split(".")[0] == str(_lib.MAJOR)
    assert vlp.library_version() == vlp.__version__


def test_caption_matches_cli(cli):
    paths = [image_path(p) for p in PHOTOS]
    want = cli("caption", "-m", model_path("blip-caption-tiny"), *paths)
    with vlp.Model(model_path("blip-caption-tiny")) as m:
        got = m.caption(paths, batch_size=3)
        assert m.arch == "BlipForConditionalGeneration"
    assert [g.caption for g in got] == [w["caption"] for w in want]
    assert [g.tokens for g in got] == [w["tokens"] for w in want]


def test_caption_options_match_cli(cli):
    path = image_path("coffee.jpg")
    want = cli("caption", "-m", model_path("blip-caption-tiny"), "--beams", "3",
               "--max-length", "12", "--prompt", "a picture of", path)[0]
    with vlp.Model(model_path("blip-caption-tiny")) as m:
        got = m.caption(path, beams=3, max_length=12, prompt="a picture of")
    assert got.tokens == want["tokens"] and got.caption == want["caption"]


def test_vqa_matches_cli(cli):
    path = image_path("chelsea_cat.png")
    qs = ["what animal is this?", "what color is it?"]
    want = cli("vqa", "-m", model_path("blip-vqa-tiny"), path, *qs)
    with vlp.Model(model_path("blip-vqa-tiny")) as m:
        got = m.vqa(path, qs)
    assert [(g.question, g.answer, g.tokens) for g in got] == \
        [(w["question"], w["answer"], w["tokens"]) for w in want]


def test_itm_matches_cli(cli):
    path = image_path("astronaut.png")
    texts = ["an astronaut", "a cat on a sofa"]
    want = cli("itm", "-m", model_path("blip-itm-tiny"), path, *texts)
    with vlp.Model(model_path("blip-itm-tiny")) as m:
        got = m.itm(path, texts)
    for g, w in zip(got, want):
        assert g.text == w["text"]
        assert abs(g.itm - w["itm"]) <= TOL and abs(g.itc - w["itc"]) <= TOL


def test_embed_matches_cli(cli, clip):
    paths = [image_path(p) for p in PHOTOS]
    want = np.array([w["embedding"] for w in cli("embed", "-m", model_path("clip-tiny"),
                                                 "--image", *paths)], dtype=np.float32)
    got = clip.embed_images(paths, batch_size=3)
    assert got.dtype == np.float32 and got.shape == want.shape
    assert np.abs(got - want).max() <= TOL
    texts = ["a photo of a cat", "an astronaut in space"]
    want_t = np.array([w["embedding"] for w in cli("embed", "-m", model_path("clip-tiny"),
                                                   "--text", *texts)], dtype=np.float32)
    got_t = clip.embed_texts(texts)
    assert got_t.shape == (2, clip.embed_dim) and np.abs(got_t - want_t).max() <= TOL


def test_tag_matches_cli(cli, clip):
    paths = [image_path("chelsea_cat.png"), image_path("coffee.jpg")]
    labels = ["cat", "dog", "cup of coffee", "rocket"]
    want = cli("tag", "-m", model_path("clip-tiny"), "--labels", ",".join(labels),
               "--template", "a photo of a {}.", *paths)
    got = clip.tag(paths, labels, template="a photo of a {}.")
    for g, w in zip(got, want):
        assert [t.label for t in g] == [t["label"] for t in w["tags"]]
        assert max(abs(t.score - u["score"]) for t, u in zip(g, w["tags"])) <= TOL
    assert len(clip.tag(paths[0], labels, top=2)) == 2


def test_every_image_kind_gives_the_same_embedding(clip):
    from PIL import Image
    path = image_path("chelsea_cat.png")
    with open(path, "rb") as f:
        data = f.read()
    pil = Image.open(path)
    arr = np.asarray(pil.convert("RGB"))
    e = clip.embed_images([path, data, arr, pil])
    assert np.abs(e - e[0]).max() <= 1e-6
