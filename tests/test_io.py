"""facecore.io decoding against OpenCV's own decoder, and its refusals."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facecore.io import decode_image, read_image


def test_decode_image_equals_opencv(data_dir):
    path = data_dir / "photos" / "single_01.jpg"
    if not path.exists():
        pytest.skip(f"{path} is missing")
    raw = path.read_bytes()
    want = cv2.imread(str(path), cv2.IMREAD_COLOR)
    np.testing.assert_array_equal(decode_image(raw), want)
    np.testing.assert_array_equal(decode_image(np.frombuffer(raw, np.uint8)), want)
    np.testing.assert_array_equal(
        decode_image(raw, grey=True), cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    )
    np.testing.assert_array_equal(read_image(path), want)


def test_decode_image_16_bit_png_becomes_8_bit():
    img16 = np.arange(12, dtype=np.uint16).reshape(3, 4) * 5000
    ok, buf = cv2.imencode(".png", img16)
    assert ok
    got = decode_image(buf.tobytes())
    # OpenCV's IMREAD_COLOR reduces 16-bit to 8-bit by >> 8
    np.testing.assert_array_equal(got[:, :, 0], (img16 >> 8).astype(np.uint8))


@pytest.mark.parametrize(
    "data, exc",
    [
        (b"", ValueError),
        (b"\x89PNG\r\n\x1a\n", ValueError),
        (b"not an image", ValueError),
        ("x.jpg", TypeError),
        (np.zeros((2, 2), np.uint8), TypeError),
        (np.zeros(4, np.float32), TypeError),
    ],
)
def test_decode_image_bad_input(data, exc):
    with pytest.raises(exc, match="data"):
        decode_image(data)
