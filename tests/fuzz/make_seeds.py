#!/usr/bin/env python3
"""Regenerate the committed seed corpora tests/fuzz/seeds/<target> from the golden data
(standard library only). The image and video targets take their seeds straight from
tests/data/formats, tests/golden/images and tests/golden/video (see run.sh).
    python3 tests/fuzz/make_seeds.py BUILD/vlp
(the vlp binary builds the index seed with the golden CLIP model)."""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "..", "golden")
MODELS = os.path.join(GOLDEN, "models")
SEEDS = os.path.join(HERE, "seeds")
# the model order of fuzz_config.c
CONFIG_MODELS = ["blip-caption-tiny", "blip-itm-tiny", "blip-vqa-tiny", "clip-tiny", "clip-tiny-f16"]


def read(*p):
    with open(os.path.join(*p), "rb") as f:
        return f.read()


def put(target, name, data):
    d = os.path.join(SEEDS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def safetensors(tensors, meta=None):
    header, blob = {}, b""
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    if meta:
        header["__metadata__"] = meta
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + blob


def npy(descr, shape, data, version=1):
    d = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (
        descr, "(%s)" % "".join("%d," % s for s in shape) if len(shape) == 1 else str(tuple(shape)))
    pre = 10 if version == 1 else 12
    d += " " * (-(pre + len(d) + 1) % 64) + "\n"
    head = b"\x93NUMPY" + bytes((version, 0))
    head += struct.pack("<H" if version == 1 else "<I", len(d))
    return head + d.encode() + data


def main():
    vlp = sys.argv[1] if len(sys.argv) > 1 else None
    for t in ("safetensors", "npy", "config", "preprocessor", "tokenizer", "index"):
        shutil.rmtree(os.path.join(SEEDS, t), ignore_errors=True)

    f32 = struct.pack("<4f", 1, -2, 0.5, 3)
    put("safetensors", "small.safetensors", safetensors(
        [("a.weight", "F32", [2, 2], f32), ("b.bias", "F16", [3], b"\0<\0<\0<"),
         ("c", "BF16", [1, 2], b"\x80?\x00@"), ("d", "I64", [1], struct.pack("<q", 7))],
        {"format": "pt"}))
    put("safetensors", "scalar.safetensors", safetensors([("s", "F32", [], f32[:4]),
                                                          ("e", "U8", [0], b"")]))
    # the golden BLIP header with its tensors shrunk: every dtype / shape pattern it uses
    st = read(MODELS, "blip-caption-tiny-bf16", "model.safetensors")
    n = struct.unpack("<Q", st[:8])[0]
    hdr = json.loads(st[8:8 + n])
    small = []
    for name, v in list(hdr.items())[:40]:
        if name == "__metadata__":
            continue
        shape = [min(s, 2) for s in v["shape"]]
        count = 1
        for s in shape:
            count *= s
        small.append((name, v["dtype"], shape, b"\x11" * (count * 2)))
    put("safetensors", "blip_like.safetensors", safetensors(small, {"format": "pt"}))

    put("npy", "f32_2d.npy", npy("<f4", [2, 3], struct.pack("<6f", *range(6))))
    put("npy", "u8_3d.npy", npy("|u1", [2, 2, 3], bytes(range(12))))
    put("npy", "i64_v2.npy", npy("<i8", [3], struct.pack("<3q", 1, -1, 2), version=2))
    put("npy", "f16_1d.npy", npy("<f2", [2], b"\0<\0\xbc"))
    put("npy", "bool.npy", npy("|b1", [4], b"\0\1\1\0"))
    put("npy", "f64_scalar.npy", npy("<f8", [], struct.pack("<d", 2.5)))
    small_npy = os.path.join(GOLDEN, "npy", "clip")
    for root, _, files in os.walk(small_npy):
        for fn in sorted(files)[:4]:
            data = read(root, fn)
            if len(data) <= 16384:
                put("npy", "golden_" + fn, data)

    for i, m in enumerate(CONFIG_MODELS):
        put("config", m + ".json", bytes((i,)) + read(MODELS, m, "config.json"))
    for m in ("blip-caption-tiny", "clip-tiny"):
        put("preprocessor", m + ".json", read(MODELS, m, "preprocessor_config.json"))

    bert = os.path.join(MODELS, "blip-caption-tiny")
    clip = os.path.join(MODELS, "clip-tiny")
    vocab = read(bert, "vocab.txt").split(b"\n")
    put("tokenizer", "0_vocab.txt", b"\0" + b"\n".join(vocab[:150] + vocab[1990:2300]))
    cv = json.loads(read(clip, "vocab.json"))
    merges = read(clip, "merges.txt").split(b"\n")
    keep = dict(list(cv.items())[:400])
    for k in ("<|startoftext|>", "<|endoftext|>"):
        keep[k] = cv[k]
    put("tokenizer", "1_clip.txt", b"\1" + json.dumps(keep).encode() + b"\0" + b"\n".join(merges[:200]))
    put("tokenizer", "2_tokenizer_config.json", b"\2" + read(bert, "tokenizer_config.json"))
    put("tokenizer", "3_special_tokens_map.json", b"\3" + read(bert, "special_tokens_map.json"))
    put("tokenizer", "4_added_tokens.json", b"\4" + read(bert, "added_tokens.json"))
    put("tokenizer", "5_clip_tokenizer_config.json", b"\5" + read(clip, "tokenizer_config.json"))
    put("tokenizer", "6_text.txt", "\6A man's café, naïve résumé: [MASK] 12.5% 东京 ⅷ".encode())
    put("tokenizer", "7_text.txt", "\7a photo of a <|endoftext|> DOG!!  it's 3:45 &amp; 🙂".encode())

    if vlp:
        with tempfile.TemporaryDirectory() as t:
            imgs = os.path.join(t, "imgs")
            os.makedirs(imgs)
            for fn in ("edge_1x1.png", "coffee.jpg", "edge_gray_L.png"):
                shutil.copy(os.path.join(GOLDEN, "images", fn), imgs)
            idx = os.path.join(t, "idx")
            subprocess.run([vlp, "index", "build", "-m", os.path.join(MODELS, "clip-tiny"),
                            "-o", idx, imgs], check=True, stdout=subprocess.DEVNULL)
            db = read(idx, "index.db")
            emb = [f for f in os.listdir(idx) if f.startswith("embeddings-")]
            assert emb == ["embeddings-1.npy"], emb  # the name fuzz_index.c writes
            put("index", "three_images.bin", struct.pack("<I", len(db)) + db + read(idx, emb[0]))
    print("seeds written to", SEEDS)


if __name__ == "__main__":
    main()
