"""refine family: sharpen + small correlation, fused, iterated, replicate borders.

References: tests/reference.py (float64) and NumPy + cv2.filter2D(BORDER_REPLICATE).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import reference as ref
from hypothesis import given
from hypothesis import strategies as st

import facecore as fc


def test_smoke():
    out = fc.kernels.refine_map(np.random.default_rng(0).random((20, 30), dtype=np.float32))
    assert out.shape == (20, 30) and out.dtype == np.float32


@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (9, 1), (2, 2), (64, 33)])
@pytest.mark.parametrize("kernel", ["lbp3", "box3", "gauss3", "identity"])
def test_shapes_and_named_kernels(shape, kernel):
    p = np.random.default_rng(1).random(shape, dtype=np.float32)
    got = fc.kernels.refine_map(p, kernel=kernel)
    assert got.shape == shape
    np.testing.assert_allclose(got, ref.refine(p, 2, fc.kernels.KERNELS[kernel]), atol=1e-6)


@pytest.mark.parametrize("value", [0.0, 1.0])
def test_all_zero_and_all_one_are_fixed_points(value):
    p = np.full((17, 23), value, np.float32)
    np.testing.assert_array_equal(fc.kernels.refine_map(p, iterations=3), p)


def test_sharpen_only_with_identity_kernel():
    p = np.linspace(0, 1, 50, dtype=np.float32).reshape(5, 10)
    got = fc.kernels.refine_map(p, kernel="identity", power=3)
    np.testing.assert_allclose(got, 1 - (1 - p.astype(np.float64)) ** 3, atol=1e-6)


def test_iterations_zero_copies_and_in_place_works():
    p = np.random.default_rng(2).random((8, 8), dtype=np.float32)
    z = fc.kernels.refine_map(p, iterations=0)
    np.testing.assert_array_equal(z, p)
    assert z is not p
    want = fc.kernels.refine_map(p, iterations=2)
    q = p.copy()
    assert fc.kernels.refine_map(q, iterations=2, out=q) is q
    np.testing.assert_array_equal(q, want)


@given(
    h=st.integers(1, 40),
    w=st.integers(1, 40),
    k=st.sampled_from([1, 3, 5]),
    power=st.sampled_from([1.0, 2.0, 2.5, 4.0]),
    iterations=st.integers(1, 3),
    seed=st.integers(0, 999),
)
def test_matches_reference_and_opencv(h, w, k, power, iterations, seed):
    rng = np.random.default_rng(seed)
    p = rng.random((h, w), dtype=np.float32)
    kernel = rng.random((k, k), dtype=np.float32)
    kernel /= kernel.sum()
    got = fc.kernels.refine_map(p, power=power, kernel=kernel, iterations=iterations)
    np.testing.assert_allclose(got, ref.refine(p, power, kernel, iterations), atol=1e-5)
    cur = p
    for _ in range(iterations):  # what a user writes with OpenCV
        s = (1 - (1 - cur.astype(np.float64)) ** power).astype(np.float32)
        cur = np.clip(cv2.filter2D(s, -1, kernel, borderType=cv2.BORDER_REPLICATE), 0, 1)
    np.testing.assert_allclose(got, cur, atol=1e-5)


def test_out_of_range_and_nan_are_clamped():
    p = np.array([[-1.0, 2.0, np.nan]], np.float32)
    got = fc.kernels.refine_map(p, kernel="identity")
    np.testing.assert_array_equal(got, [[0.0, 1.0, 0.0]])


def test_bad_inputs():
    p = np.zeros((5, 5), np.float32)
    with pytest.raises(TypeError, match="p"):
        fc.kernels.refine_map(p.astype(np.float64))
    with pytest.raises(ValueError, match="p"):
        fc.kernels.refine_map(np.zeros((5, 5, 1), np.float32))
    with pytest.raises(ValueError, match="power"):
        fc.kernels.refine_map(p, power=0)
    with pytest.raises(ValueError, match="power"):
        fc.kernels.refine_map(p, power=float("inf"))
    with pytest.raises(ValueError, match="kernel"):
        fc.kernels.refine_map(p, kernel=np.ones((2, 2), np.float32))
    with pytest.raises(ValueError, match="kernel"):
        fc.kernels.refine_map(p, kernel="sobel")
    with pytest.raises(TypeError, match="kernel"):
        fc.kernels.refine_map(p, kernel=np.ones((3, 3), int))
    with pytest.raises(ValueError, match="kernel"):
        fc.kernels.refine_map(p, kernel=np.full((3, 3), np.nan, np.float32))
    with pytest.raises(ValueError, match="iterations"):
        fc.kernels.refine_map(p, iterations=-1)
    with pytest.raises(ValueError, match="kernel"):
        fc._core.refine_map_f32(p, 2.0, np.ones((4, 3), np.float32), 1, np.empty_like(p))
