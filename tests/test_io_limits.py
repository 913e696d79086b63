"""Issue 13, findings 3 and 12: decoding is bounded by the header's pixel count, checked
before any decoder allocates; only regular files are read (a FIFO never blocks)."""

from __future__ import annotations

import os
import resource
import struct
import threading
import zlib

import cv2
import numpy as np
import pytest

import facecore as fc
from facecore.io import MAX_PIXELS, decode_image, probe_size

IMG = np.random.default_rng(0).integers(0, 256, (37, 53, 3), dtype=np.uint8)
# every format this OpenCV writes (the decoder corpus of the fuzz harness is built the same way)
FORMATS = [
    ".jpg",
    ".png",
    ".webp",
    ".bmp",
    ".tif",
    ".jp2",
    ".ppm",
    ".pgm",
    ".pbm",
    ".pam",
    ".pfm",
    ".hdr",
    ".sr",
    ".avif",
    ".gif",
]


def _encode(ext: str) -> bytes:
    a = IMG[..., 0] if ext in (".pgm", ".pbm") else IMG
    if ext in (".pfm", ".hdr"):
        a = IMG.astype(np.float32) / 255
    try:
        ok, buf = cv2.imencode(ext, a)
    except cv2.error:
        pytest.skip(f"this OpenCV cannot write {ext}")
    assert ok
    return buf.tobytes()


@pytest.mark.parametrize("ext", FORMATS)
def test_probe_size_reads_every_format_opencv_writes(ext):
    data = _encode(ext)
    assert probe_size(data) == (53, 37)  # the reference: what OpenCV was asked to write
    assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR).shape[:2] == (37, 53)


@pytest.mark.parametrize("ext", FORMATS)
def test_the_limit_is_applied_to_every_format(ext):
    data = _encode(ext)
    assert decode_image(data, max_pixels=53 * 37).shape[:2] == (37, 53)
    with pytest.raises(ValueError, match=r"53 x 37 image .* exceeds the limit of 1,960 pixels"):
        decode_image(data, max_pixels=53 * 37 - 1)


def _jpeg_bomb(w: int, h: int) -> bytes:
    """A real 16x16 JPEG whose frame header claims w x h (the issue's 689-byte file)."""
    _ok, buf = cv2.imencode(".jpg", IMG[:16, :16])
    b = bytearray(buf.tobytes())
    i = 2
    while b[i + 1] not in (0xC0, 0xC2):
        i += 2 + struct.unpack(">H", b[i + 2 : i + 4])[0]
    b[i + 5 : i + 9] = struct.pack(">HH", h, w)
    return bytes(b)


def _png_bomb(w: int, h: int) -> bytes:
    """A valid grey PNG of w x h zeros, compressed (about 1/1000 of its pixels in bytes)."""

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    z = zlib.compressobj(9)
    row = b"\x00" * (w + 1)
    body = b"".join(z.compress(row) for _ in range(h)) + z.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", body)
        + chunk(b"IEND", b"")
    )


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_a_decompression_bomb_is_refused_before_decoding(tmp_path):
    bomb = _jpeg_bomb(30000, 30000)
    assert len(bomb) < 1000
    before = _peak_mib()
    with pytest.raises(ValueError, match=r"30000 x 30000 image .* exceeds the limit"):
        decode_image(bomb)
    p = tmp_path / "bomb.jpg"
    p.write_bytes(bomb)
    with pytest.raises(
        ValueError, match=r"path: .*bomb\.jpg: a 30000 x 30000 image .* exceeds the limit"
    ):
        fc.read_image(p)
    png = _png_bomb(12000, 12000)  # 144 MP, 140 KB
    with pytest.raises(ValueError, match="12000 x 12000"):
        decode_image(png)
    assert _peak_mib() - before < 100  # the 2.7 GB array was never allocated


def test_the_limit_is_configurable(monkeypatch):
    data = _encode(".png")
    monkeypatch.setenv("FACECORE_MAX_IMAGE_PIXELS", "100")
    with pytest.raises(ValueError, match="exceeds the limit of 100 pixels"):
        decode_image(data)
    assert decode_image(data, max_pixels=10**6).shape == (37, 53, 3)
    monkeypatch.delenv("FACECORE_MAX_IMAGE_PIXELS")
    assert MAX_PIXELS == 1 << 27 and decode_image(data).shape == (37, 53, 3)
    with pytest.raises(ValueError, match="max_pixels"):
        decode_image(data, max_pixels=0)
    with pytest.raises(TypeError, match="max_pixels"):
        decode_image(data, max_pixels=1.5)


def test_truncated_headers_are_value_errors():
    for data in (
        b"\xff\xd8\xff\xe0\x00",
        b"\x89PNG\r\n\x1a\n\x00",
        b"RIFF\x00\x00\x00\x00WEBPVP8X",
        b"II*\x00\xff\xff\xff\x00",
        b"P6\n# only a comment",
        b"#?RADIANCE\n",
    ):
        with pytest.raises(ValueError):
            decode_image(data)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs (POSIX)")
def test_read_image_refuses_a_fifo_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    result = []

    def call():
        try:
            fc.read_image(fifo)
        except ValueError as exc:
            result.append(str(exc))

    t = threading.Thread(target=call, daemon=True)
    t.start()
    t.join(10)
    if t.is_alive():  # unblock the reader so the test process can end
        with open(fifo, "wb"):
            pass
        pytest.fail("read_image blocked on a FIFO")
    assert result and "not a regular file" in result[0]
    for dev in ("/dev/zero", "/dev/urandom"):
        if os.path.exists(dev):
            with pytest.raises(ValueError, match="not a regular file"):
                fc.read_image(dev)


@pytest.mark.parametrize("ext", FORMATS)
def test_decoded_layout_is_the_documented_one_for_every_format(ext):
    """(H, W, 3) uint8, or (H, W) with grey=True, for colour and grey files of every format.
    The decode fuzz target found OpenCV 5 returning a grey PFM as (H, W) under IMREAD_COLOR."""
    for a in (IMG, IMG[..., 0]):
        if ext in (".pfm", ".hdr"):
            a = a.astype(np.float32) / 255
        try:
            ok, buf = cv2.imencode(ext, a)
        except cv2.error:
            continue
        if not ok:
            continue
        colour, grey = decode_image(buf.tobytes()), decode_image(buf.tobytes(), grey=True)
        assert colour.shape == (37, 53, 3) and colour.dtype == np.uint8, (ext, a.ndim, colour.shape)
        assert grey.shape == (37, 53) and grey.dtype == np.uint8, (ext, a.ndim, grey.shape)
