"""guided family: fast guided filter upsampling of a low-resolution alpha.

Reference: tests/reference.py (float64, explicit window means, cv2.resize for the upsampling).
"""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest
import reference as ref
from hypothesis import given
from hypothesis import strategies as st

import facecore as fc


def _scene(H, W, seed=0, noise=60):
    rng = np.random.default_rng(seed)
    img = rng.integers(0, noise, (H, W, 3), dtype=np.uint8)
    img[:, W // 3 : 2 * W // 3] += 150  # a bright "person" band with sharp edges
    return img


def test_smoke():
    img = _scene(72, 128)
    low = np.zeros((18, 32), np.float32)
    out = fc.kernels.guided_upsample(img, low)
    assert out.shape == (72, 128) and out.dtype == np.float32


@pytest.mark.parametrize(
    "H,W,h,w", [(1, 1, 1, 1), (5, 7, 5, 7), (9, 13, 2, 3), (72, 128, 18, 32), (100, 60, 33, 17)]
)
def test_shapes(H, W, h, w):
    img = _scene(H, W)
    low = np.random.default_rng(1).random((h, w), dtype=np.float32)
    out = fc.kernels.guided_upsample(img, low, radius=2)
    assert out.shape == (H, W)
    assert np.all((out >= 0) & (out <= 1))


@pytest.mark.parametrize("value", [0.0, 1.0])
def test_constant_alpha_is_a_fixed_point(value):
    img = _scene(40, 60)
    out = fc.kernels.guided_upsample(img, np.full((10, 15), value, np.float32), radius=3)
    np.testing.assert_allclose(out, value, atol=1e-6)


def test_edges_follow_the_guide():
    """The 8x-downsampled mask of a bright band comes back with the guide's sharp edges."""
    H, W = 120, 240
    img = _scene(H, W, 3, noise=8)
    img[:, 83:163] = img[:, 83:163] // 2 + 150  # edges off the 8-pixel grid
    img[:, :83] //= 2
    img[:, 163:] //= 2
    truth = np.zeros((H, W), np.float32)
    truth[:, 83:163] = 1
    low = cv2.resize(truth, (W // 8, H // 8), interpolation=cv2.INTER_AREA)
    naive = cv2.resize(low, (W, H), interpolation=cv2.INTER_LINEAR)
    got = fc.kernels.guided_upsample(img, low, radius=2, eps=1e-4)
    err_naive = np.abs(naive - truth).mean()
    err = np.abs(got - truth).mean()
    assert err < 0.5 * err_naive, (err, err_naive)


@given(
    H=st.integers(1, 48),
    W=st.integers(1, 48),
    fy=st.integers(1, 4),
    fx=st.integers(1, 4),
    radius=st.integers(1, 5),
    eps=st.sampled_from([1e-4, 1e-3, 1e-2]),
    grey=st.booleans(),
    seed=st.integers(0, 999),
)
def test_matches_reference(H, W, fy, fx, radius, eps, grey, seed):
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (H, W) if grey else (H, W, 3), dtype=np.uint8)
    h, w = max(1, H // fy), max(1, W // fx)
    low = rng.random((h, w), dtype=np.float32) * 1.2 - 0.1  # some values outside [0, 1]
    got = fc.kernels.guided_upsample(img, low, radius=radius, eps=eps)
    want = ref.guided_upsample(img, low, radius, eps)
    # float32 coefficients and final multiply-add against float64: measured max ~2e-6
    np.testing.assert_allclose(got, want, atol=2e-5)


def test_real_photo_against_reference(photo):
    img = photo("single_01.jpg")
    img = cv2.resize(img, (320, 180), interpolation=cv2.INTER_AREA)
    low = np.random.default_rng(0).random((36, 64), dtype=np.float32)
    got = fc.kernels.guided_upsample(img, low, radius=3, eps=1e-3)
    np.testing.assert_allclose(got, ref.guided_upsample(img, low, 3, 1e-3), atol=2e-5)


def test_inputs_unchanged_and_out():
    img = _scene(30, 40)
    low = np.random.default_rng(2).random((10, 10), dtype=np.float32)
    i0, l0 = img.copy(), low.copy()
    out = np.empty((30, 40), np.float32)
    assert fc.kernels.guided_upsample(img, low, out=out) is out
    np.testing.assert_array_equal(img, i0)
    np.testing.assert_array_equal(low, l0)


def test_threaded_equals_serial():
    img = _scene(180, 320)
    low = np.random.default_rng(3).random((36, 64), dtype=np.float32)
    want = fc.kernels.guided_upsample(img, low)
    results = [None] * 8

    def work(i):
        results[i] = fc.kernels.guided_upsample(img, low)

    ts = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    for r in results:
        np.testing.assert_array_equal(r, want)


def test_bad_inputs():
    img = _scene(20, 20)
    low = np.zeros((5, 5), np.float32)
    with pytest.raises(TypeError, match="guide"):
        fc.kernels.guided_upsample(img.astype(np.float32), low)
    with pytest.raises(TypeError, match="alpha"):
        fc.kernels.guided_upsample(img, low.astype(np.float64))
    with pytest.raises(ValueError, match="alpha"):
        fc.kernels.guided_upsample(img, np.zeros((30, 5), np.float32))
    with pytest.raises(ValueError, match="radius"):
        fc.kernels.guided_upsample(img, low, radius=0)
    with pytest.raises(ValueError, match="eps"):
        fc.kernels.guided_upsample(img, low, eps=0.0)
    with pytest.raises(ValueError, match="out"):
        fc.kernels.guided_upsample(img, low, out=np.empty((5, 5), np.float32))
    with pytest.raises(ValueError, match="guide"):
        fc.kernels.guided_upsample(np.zeros((20, 20, 4), np.uint8), low)
    with pytest.raises(ValueError):  # the C++ checks, directly
        fc._core.guided_upsample_f32(
            img, np.zeros((30, 5), np.float32), 1, 1e-3, np.empty((20, 20), np.float32)
        )
