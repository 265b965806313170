#!/usr/bin/python3
"""Regenerate tests/data/formats: small WebP, GIF, BMP, TIFF and HEIF/AVIF files and, next to
each, NAME.ref.png = what the reference gives for it. The reference is Debian 12's Pillow 9.4
(python3-pil): ImageOps.exif_transpose(Image.open(f)).convert("RGB"), as transformers'
load_image does. Pillow 9.4 cannot open HEIF/AVIF, so for those the reference is libheif's
own decoding (heif-convert from libheif-examples; heif-enc makes the files).
Files named refuse_* must fail to load (no reference). Run with Debian's python3:
    /usr/bin/python3 tests/make_format_refs.py
"""
import io
import os
import struct
import subprocess
import tempfile

from PIL import Image, ImageOps

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "data", "formats")
GOLDEN = os.path.join(HERE, "golden", "images")


def reference(path):
    with Image.open(path) as im:
        return ImageOps.exif_transpose(im).convert("RGB")


def save_case(name, data, ref=None):
    path = os.path.join(OUT, name)
    with open(path, "wb") as f:
        f.write(data)
    if name.startswith("refuse_"):
        return
    (ref or reference(path)).save(path + ".ref.png")


def base(w=41, h=29):
    """A small natural image (odd sizes catch stride and padding mistakes)."""
    im = Image.open(os.path.join(GOLDEN, "chelsea_cat.png")).convert("RGB")
    im = im.resize((w, h), Image.Resampling.BILINEAR)
    return Image.frombytes("RGB", im.size, im.tobytes())  # no metadata (ICC) carried over


def encoded(im, fmt, **kw):
    b = io.BytesIO()
    im.save(b, fmt, **kw)
    return b.getvalue()


def exif_with_orientation(o):
    ex = Image.Exif()
    ex[0x0112] = o
    return ex.tobytes()


# ---------------------------------------------------------------- WebP
def webp_cases():
    rgb = base()
    rgba = rgb.copy()
    rgba.putalpha(Image.linear_gradient("L").resize(rgb.size))
    save_case("lossy.webp", encoded(rgb, "WEBP", quality=80))
    save_case("lossless_rgba.webp", encoded(rgba, "WEBP", lossless=True))
    save_case("lossy_alpha.webp", encoded(rgba, "WEBP", quality=70))
    save_case("exif_rot6.webp", encoded(rgb, "WEBP", quality=90, exif=exif_with_orientation(6)))
    f2 = rgb.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    save_case("animated.webp", encoded(rgb, "WEBP", save_all=True, append_images=[f2],
                                       duration=100, quality=80))


# ---------------------------------------------------------------- GIF
def gif_patch_first_frame(data, screen=None, pos=None):
    """Change the logical screen size and/or the first frame's position."""
    b = bytearray(data)
    if screen:
        b[6:10] = struct.pack("<HH", *screen)
    i = 13 + (3 << ((b[10] & 7) + 1) if b[10] & 128 else 0)
    while b[i] == 0x21:  # skip extensions
        i += 2
        while b[i]:
            i += b[i] + 1
        i += 1
    assert b[i] == 0x2C
    if pos:
        b[i + 1:i + 5] = struct.pack("<HH", *pos)
    return bytes(b)


def gif_cases():
    rgb = base()
    p = rgb.quantize(64)
    save_case("palette.gif", encoded(p, "GIF"))
    save_case("interlaced.gif", encoded(p, "GIF", interlace=True))
    save_case("gray.gif", encoded(rgb.convert("L"), "GIF"))
    save_case("transparent.gif", encoded(p, "GIF", transparency=5))
    # first frame smaller than the screen: the rest is the transparency index / index 0
    small = rgb.resize((20, 12)).quantize(32)
    d = encoded(small, "GIF", transparency=3)
    save_case("frame_in_screen_trns.gif", gif_patch_first_frame(d, screen=(30, 25), pos=(7, 9)))
    d = encoded(small, "GIF")
    save_case("frame_in_screen.gif", gif_patch_first_frame(d, screen=(30, 25), pos=(3, 2)))
    # first frame reaching past the screen: the canvas grows
    save_case("frame_past_screen.gif", gif_patch_first_frame(d, pos=(15, 6)))
    f2 = rgb.transpose(Image.Transpose.FLIP_TOP_BOTTOM).quantize(64)
    save_case("animated.gif", encoded(p, "GIF", save_all=True, append_images=[f2], duration=50))


# ---------------------------------------------------------------- BMP
def bmp_file(w, h, bits, rows, header=40, compression=0, palette=None, masks=None,
             top_down=False, colors=None):
    """rows: the pixel data as stored (already padded / encoded)."""
    pal = b""
    if palette is not None:
        pad = 3 if header == 12 else 4
        pal = b"".join(bytes((b, g, r)) + (b"\0" if pad == 4 else b"") for r, g, b in palette)
    extra = b""
    if header == 12:
        info = struct.pack("<IHHHH", 12, w, h, 1, bits)
    else:
        n = len(palette) if colors is None and palette is not None else (colors or 0)
        info = struct.pack("<IiiHHIIiiII", header, w, -h if top_down else h, 1, bits,
                           compression, len(rows), 2835, 2835, n, 0)
        if header > 40:
            m = list(masks or (0, 0, 0, 0)) + [0] * 4
            info += struct.pack("<IIII", *m[:4]) + b"\0" * (header - 56)
        elif masks:
            extra = struct.pack("<III", *masks[:3])
    off = 14 + len(info) + len(extra) + len(pal)
    head = b"BM" + struct.pack("<IHHI", off + len(rows), 0, 0, off)
    return head + info + extra + pal + rows


def pad4(b):
    return b + b"\0" * (-len(b) % 4)


def bmp_rows(im, pack, top_down=False):
    w, h = im.size
    px = im.load()
    order = range(h) if top_down else range(h - 1, -1, -1)
    return b"".join(pad4(pack([px[x, y] for x in range(w)])) for y in order)


def pack_bits(vals, bits):
    out, acc, n = bytearray(), 0, 0
    for v in vals:
        acc = acc << bits | v
        n += bits
        if n == 8:
            out.append(acc)
            acc, n = 0, 0
    if n:
        out.append(acc << (8 - n))
    return bytes(out)


def rle8(im):
    """RLE8 with encoded runs, absolute runs, end-of-line and end-of-bitmap."""
    w, h = im.size
    px = im.load()
    out = bytearray()
    for y in range(h - 1, -1, -1):
        row = [px[x, y] for x in range(w)]
        x = 0
        while x < w:
            run = 1
            while x + run < w and run < 255 and row[x + run] == row[x]:
                run += 1
            if run >= 3 or w - x < 3:
                out += bytes((run, row[x]))
                x += run
            else:
                n = min(w - x, 255)
                n = max(3, n if n < 10 else 9)
                n = min(n, w - x)
                out += bytes((0, n)) + bytes(row[x:x + n])
                if n % 2:
                    out += b"\0"
                x += n
        out += b"\0\0"
    out += b"\0\1"
    return bytes(out)


def rle4(im):
    w, h = im.size
    px = im.load()
    out = bytearray()
    for y in range(h - 1, -1, -1):
        row = [px[x, y] for x in range(w)]
        x = 0
        while x < w:
            n = min(6, w - x)
            if n >= 3 and y % 2:  # absolute run of n pixels, two per byte, word-aligned
                vals = row[x:x + n] + [0]
                b = bytes(vals[i] << 4 | vals[i + 1] for i in range(0, n, 2))
                out += bytes((0, n)) + b
                if len(b) % 2:
                    out += b"\0"
            else:  # encoded run alternating two colours
                n = min(4, w - x)
                out += bytes((n, row[x] << 4 | row[min(x + 1, w - 1)]))
            x += n
        out += b"\0\0"
    out += b"\0\1"
    return bytes(out)


def bmp_cases():
    rgb = base()
    save_case("rgb24.bmp", encoded(rgb, "BMP"))
    p = rgb.quantize(200)
    save_case("pal8.bmp", encoded(p, "BMP"))
    save_case("gray8.bmp", encoded(rgb.convert("L"), "BMP"))
    save_case("bw1.bmp", encoded(rgb.convert("1"), "BMP"))
    w, h = rgb.size
    pal16 = rgb.quantize(16)
    palette16 = [tuple(pal16.getpalette()[3 * i:3 * i + 3]) for i in range(16)]
    save_case("pal4.bmp", bmp_file(w, h, 4, bmp_rows(pal16, lambda v: pack_bits(v, 4)),
                                   palette=palette16))
    two = [(200, 30, 40), (10, 90, 250)]
    bw = rgb.convert("1").point(lambda v: 1 if v else 0, "L")
    save_case("pal1_color.bmp", bmp_file(w, h, 1, bmp_rows(bw, lambda v: pack_bits(v, 1)),
                                         palette=two))
    save_case("os2_pal4.bmp", bmp_file(w, h, 4, bmp_rows(pal16, lambda v: pack_bits(v, 4)),
                                       header=12, palette=palette16))
    save_case("top_down24.bmp", bmp_file(w, h, 24, bmp_rows(
        rgb, lambda v: b"".join(bytes((b, g, r)) for r, g, b in v), top_down=True),
        top_down=True))
    bgrx = lambda v: b"".join(bytes((b, g, r, 77)) for r, g, b in v)
    save_case("bgrx32.bmp", bmp_file(w, h, 32, bmp_rows(rgb, bgrx)))
    save_case("bgra32_v4.bmp", bmp_file(w, h, 32, bmp_rows(rgb, bgrx), header=108, compression=3,
                                        masks=(0xFF0000, 0xFF00, 0xFF, 0xFF000000)))
    rgba = lambda v: b"".join(bytes((r, g, b, 9)) for r, g, b in v)
    save_case("rgba32_v5.bmp", bmp_file(w, h, 32, bmp_rows(rgb, rgba), header=124, compression=3,
                                        masks=(0xFF, 0xFF00, 0xFF0000, 0xFF000000)))
    p555 = lambda v: b"".join(struct.pack("<H", (r >> 3) << 10 | (g >> 3) << 5 | b >> 3 | 0x8000)
                              for r, g, b in v)
    save_case("rgb555.bmp", bmp_file(w, h, 16, bmp_rows(rgb, p555)))
    p565 = lambda v: b"".join(struct.pack("<H", (r >> 3) << 11 | (g >> 2) << 5 | b >> 3)
                              for r, g, b in v)
    save_case("rgb565.bmp", bmp_file(w, h, 16, bmp_rows(rgb, p565), compression=3,
                                     masks=(0xF800, 0x7E0, 0x1F)))
    palette200 = [tuple(p.getpalette()[3 * i:3 * i + 3]) for i in range(200)]
    save_case("rle8.bmp", bmp_file(w, h, 8, rle8(p), compression=1, palette=palette200))
    save_case("rle4.bmp", bmp_file(w, h, 4, rle4(pal16), compression=2, palette=palette16))
    # RLE8 with a delta jump (PIL reads two extra bytes there) and an early end of bitmap
    d = bytes((4, 7, 0, 2, 0, 0, 1, 1, 3, 9, 0, 0)) + bytes((6, 2)) * 1 + b"\0\0" + bytes((6, 4)) + b"\0\1"
    save_case("rle8_delta.bmp", bmp_file(6, 3, 8, d, compression=1, palette=palette200[:16]))
    # PIL would read a 4-bit file with a gray 0..15 palette as 8-bit L data: refused
    gray16 = [(i, i, i) for i in range(16)]
    save_case("refuse_gray4.bmp", bmp_file(w, h, 4, bmp_rows(pal16, lambda v: pack_bits(v, 4)),
                                           palette=gray16))


# ---------------------------------------------------------------- TIFF
def tiff_file(w, h, bits, spp, photometric, strips, tiles=None, planar=1, extra=None,
              colormap=None, orientation=None):
    """A little-endian TIFF with uncompressed strips (one per plane) or tiles."""
    entries = []
    def tag(t, typ, vals):
        entries.append((t, typ, vals))
    blobs = tiles if tiles is not None else strips
    tag(256, 4, [w]); tag(257, 4, [h])
    tag(258, 3, [bits] * spp); tag(259, 3, [1]); tag(262, 3, [photometric])
    if orientation:
        tag(274, 3, [orientation])
    tag(277, 3, [spp])
    if tiles is None:
        tag(273, 4, [0] * len(blobs)); tag(278, 4, [h]); tag(279, 4, [len(b) for b in blobs])
    tag(284, 3, [planar])
    if colormap:
        tag(320, 3, colormap)
    if tiles is not None:
        tw, th = tiles_size
        tag(322, 4, [tw]); tag(323, 4, [th])
        tag(324, 4, [0] * len(blobs)); tag(325, 4, [len(b) for b in blobs])
    if extra is not None:
        tag(338, 3, [extra])
    entries.sort()
    size = {3: 2, 4: 4}
    ifd_at = 8
    ifd_len = 2 + 12 * len(entries) + 4
    data_at = ifd_at + ifd_len
    out_data = bytearray()
    offsets_of = {}
    # values that do not fit in 4 bytes go after the IFD
    packed = []
    for t, typ, vals in entries:
        raw = b"".join(struct.pack("<H" if typ == 3 else "<I", v) for v in vals)
        packed.append((t, typ, vals, raw))
    blob_at = data_at + sum(len(r) for _, _, _, r in packed if len(r) > 4)
    blob_offsets, pos = [], blob_at
    for b in blobs:
        blob_offsets.append(pos)
        pos += len(b)
    ifd = struct.pack("<H", len(packed))
    for t, typ, vals, raw in packed:
        if t in (273, 324):
            raw = b"".join(struct.pack("<I", o) for o in blob_offsets)
        if len(raw) <= 4:
            ifd += struct.pack("<HHI", t, typ, len(vals)) + raw.ljust(4, b"\0")
        else:
            ifd += struct.pack("<HHII", t, typ, len(vals), data_at + len(out_data))
            out_data += raw
    ifd += b"\0\0\0\0"
    return b"II*\0" + struct.pack("<I", ifd_at) + ifd + bytes(out_data) + b"".join(blobs)


tiles_size = (16, 16)


def tiff_cases():
    rgb = base()
    w, h = rgb.size
    for comp in ("raw", "tiff_lzw", "tiff_adobe_deflate", "packbits", "jpeg"):
        save_case(f"rgb_{comp}.tif", encoded(rgb, "TIFF", compression=comp))
    save_case("gray.tif", encoded(rgb.convert("L"), "TIFF", compression="tiff_lzw"))
    save_case("bilevel_g4.tif", encoded(rgb.convert("1"), "TIFF", compression="group4"))
    save_case("palette.tif", encoded(rgb.quantize(100), "TIFF"))
    save_case("cmyk.tif", encoded(rgb.convert("CMYK"), "TIFF"))
    save_case("rgba_unassoc.tif", encoded(rgb.convert("RGBA"), "TIFF"))
    g16 = Image.new("I;16", (w, h))
    g16.putdata([(x * 37 + y * 11) % 700 for y in range(h) for x in range(w)])
    save_case("gray16.tif", encoded(g16, "TIFF"))
    save_case("exif_rot8.tif", encoded(rgb, "TIFF", exif=exif_with_orientation(8)))
    px = list(rgb.getdata())
    raw = b"".join(bytes(p) for p in px)
    save_case("miniswhite8.tif", tiff_file(w, h, 8, 1, 0, [bytes(255 - ((r + g + b) // 3) for r, g, b in px)]))
    gray = [((r + g + b) // 3) for r, g, b in px]
    save_case("gray4.tif", tiff_file(w, h, 4, 1, 1, [b"".join(
        pack_bits([v >> 4 for v in gray[y * w:(y + 1) * w]], 4) for y in range(h))]))
    save_case("gray2.tif", tiff_file(w, h, 2, 1, 1, [b"".join(
        pack_bits([v >> 6 for v in gray[y * w:(y + 1) * w]], 2) for y in range(h))]))
    rgb16 = b"".join(struct.pack("<HHH", r * 257 + 3, g * 251, b * 256 + 255) for r, g, b in px)
    save_case("rgb16.tif", tiff_file(w, h, 16, 3, 2, [rgb16]))
    planes = [bytes(p[k] for p in px) for k in range(3)]
    save_case("planar_rgb.tif", tiff_file(w, h, 8, 3, 2, planes, planar=2))
    premul = b"".join(bytes((r * a // 255, g * a // 255, b * a // 255, a))
                      for (r, g, b), a in zip(px, [(i * 7) % 256 for i in range(len(px))]))
    save_case("rgba_assoc.tif", tiff_file(w, h, 8, 4, 2, [premul], extra=1))
    tw, th = tiles_size
    tiles = []
    for ty in range(0, h, th):
        for tx in range(0, w, tw):
            t = bytearray()
            for y in range(ty, ty + th):
                for x in range(tx, tx + tw):
                    t += bytes(px[y * w + x]) if x < w and y < h else b"\0\0\0"
            tiles.append(bytes(t))
    save_case("tiled_rgb.tif", tiff_file(w, h, 8, 3, 2, None, tiles=tiles, orientation=3))


# ---------------------------------------------------------------- HEIF / AVIF
def heif_cases():
    rgb = base(40, 28)  # even sizes: 4:2:0 chroma
    with tempfile.TemporaryDirectory() as t:
        src = os.path.join(t, "in.png")
        rgb.save(src)
        for name, args in (("still.heic", []), ("still.avif", ["-A"])):
            dst = os.path.join(t, name)
            subprocess.run(["heif-enc", "-q", "60", *args, "-o", dst, src], check=True,
                           stdout=subprocess.DEVNULL)
            ref = os.path.join(t, name + ".png")
            subprocess.run(["heif-convert", dst, ref], check=True, stdout=subprocess.DEVNULL)
            with open(dst, "rb") as f:
                data = f.read()
            save_case(name, data, Image.open(ref).convert("RGB"))


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    webp_cases()
    gif_cases()
    bmp_cases()
    tiff_cases()
    heif_cases()
    print("wrote", len(os.listdir(OUT)), "files to", OUT)
