"""vlp.Index: build, update and search from Python give what `vlp index build` and
`vlp search` give for the same files; bad uses raise vlp.Error subclasses."""

import os
import shutil

import numpy as np
import pytest

import vlp
from conftest import IMAGES, PHOTOS, model_path

CLIP = model_path("clip-tiny")


@pytest.fixture(scope="module")
def clip():
    with vlp.Model(CLIP) as m:
        yield m


@pytest.fixture()
def photos(tmp_path):
    d = tmp_path / "photos"
    (d / "sub").mkdir(parents=True)
    for k, p in enumerate(PHOTOS):
        shutil.copy(os.path.join(IMAGES, p), d / ("sub" if k % 2 else "") / p)
    (d / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (d / "notes.txt").write_text("not an image\n")
    (d / ".hidden.png").write_bytes(open(os.path.join(IMAGES, PHOTOS[0]), "rb").read())
    return d


def cli_search(cli, index, text, k):
    return [(r["path"], r["score"]) for r in cli("search", str(index), text, "-k", str(k))
            if "rank" in r]


def test_build_and_search_equal_the_cli(clip, photos, tmp_path, cli):
    with vlp.Index(tmp_path / "py.index", clip) as ix:
        st = ix.build(photos)
        assert (st.files, st.embedded, st.unchanged, st.removed, st.failed) == (4, 4, 0, 0, 1)
        assert [(os.path.basename(r.path), r.kind) for r in st.reports] == [("broken.jpg",
                                                                              "error")]
        cli("index", "build", "-m", CLIP, "-o", str(tmp_path / "cli.index"), str(photos))
        with vlp.Index(tmp_path / "cli.index") as want:
            assert ix.paths == want.paths
            assert np.array_equal(ix.embeddings, want.embeddings)
            assert ix.model_dir == want.model_dir
        for text in ["a cat", "a cup of coffee", ""]:
            got = ix.search(text, k=3)
            exp = cli_search(cli, tmp_path / "cli.index", text, 3)
            assert [h.path for h in got] == [p for p, _ in exp]
            assert np.allclose([h.score for h in got], [s for _, s in exp], atol=1e-7)
        cat = os.path.join(IMAGES, "chelsea_cat.png")
        best = ix.search(image=cat, k=1)[0]
        assert os.path.basename(best.path) == "chelsea_cat.png" and best.score > 0.999
        by_emb = ix.search(embedding=clip.embed_images(cat, batch_size=1)[0], k=4)
        assert [h.path for h in by_emb] == [h.path for h in ix.search(image=cat, k=4)]


def test_update_embeds_only_what_changed(clip, photos, tmp_path):
    path = tmp_path / "ix"
    with vlp.Index(path, clip) as ix:
        ix.build([photos])
        before = dict(zip(ix.paths, ix.embeddings))
        os.remove(photos / PHOTOS[0])
        shutil.copy(os.path.join(IMAGES, "rocket.jpg"), photos / "rocket.jpg")
        st = ix.update(photos)
        assert (st.files, st.embedded, st.unchanged, st.removed) == (4, 1, 3, 1)
        assert ("removed", PHOTOS[0]) in [(r.kind, os.path.basename(r.path)) for r in st.reports]
        assert len(ix) == 4 and not any(p.endswith(PHOTOS[0]) for p in ix.paths)
        for p, e in zip(ix.paths, ix.embeddings):
            if p in before:
                assert np.array_equal(e, before[p])
    with vlp.Index(path) as again:  # what was committed, read back
        assert len(again) == 4


def test_bad_uses_raise(clip, tmp_path):
    with pytest.raises(vlp.Error):
        vlp.Index(tmp_path / "none").search(embedding=np.zeros(8, np.float32))
    with vlp.Index(tmp_path / "ix", clip) as ix:
        ix.build([os.path.join(IMAGES, "coffee.jpg")])
        with pytest.raises(vlp.InvalidArgument):
            ix.search("a cat", image=os.path.join(IMAGES, "coffee.jpg"))
        with pytest.raises(vlp.InvalidArgument, match="values"):
            ix.search(embedding=np.zeros(3, np.float32))
    with pytest.raises(vlp.InvalidArgument, match="model"):
        vlp.Index(tmp_path / "ix").search("a cat")
    with vlp.Model(model_path("blip-caption-tiny")) as blip:
        with pytest.raises(vlp.Error, match="index"):
            vlp.Index(tmp_path / "other", blip).build([os.path.join(IMAGES, "coffee.jpg")])
