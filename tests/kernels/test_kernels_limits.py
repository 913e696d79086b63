"""Issue 13, finding 12: huge output sizes are a ValueError with the size (not MemoryError),
and out= may alias an input only as the very same array (memory overlap, not identity)."""

from __future__ import annotations

import numpy as np
import pytest

import facecore as fc

rng = np.random.default_rng(0)
IMG = rng.integers(0, 256, (64, 80, 3), dtype=np.uint8)
M = np.array([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]] * 100)


def test_huge_warp_outputs_are_value_errors_with_the_size():
    with pytest.raises(
        ValueError, match=r"shape: the output \(100, 32767, 32767, 3\) uint8 would take 300"
    ):
        fc.kernels.warp_crops(IMG, M, 32767)
    with pytest.raises(
        ValueError, match=r"shape: the output \(100, 3, 32767, 32767\) float32 .* GiB"
    ):
        fc.kernels.warp_crops(IMG, M, 32767, tensor=True)
    with pytest.raises(
        ValueError, match=r"shape: the output \(1, 32767, 32767, 3\) float32 would take 12.0 GiB"
    ):
        fc.kernels.warp_affine(IMG.astype(np.float32), M[0], (32767, 32767))
    assert fc.kernels.warp_affine(IMG[:, :, 0], M[0], (4000, 1000)).shape == (
        4000,
        1000,
    )  # a normal size works


def test_huge_accumulate_is_a_value_error_with_the_size():
    with pytest.raises(
        ValueError, match=r"image_shape: the output \(100000, 100000\) float32 would take 37.3 GiB"
    ):
        fc.kernels.accumulate_windows(np.zeros(1, np.float32), (100000, 100000), 100000)


def test_huge_window_batches_are_refused_before_iterating():
    img = np.zeros((8000, 8000), np.uint8)
    with pytest.raises(ValueError, match="batch_size: .* GiB"):
        fc.kernels.iter_windows(img, 4000, stride=1, batch_size=100)


def test_blend_out_may_alias_base_only_as_the_same_array():
    big = np.concatenate([IMG, IMG])
    base, shifted = big[:64], big[1:65]
    alpha = np.full(IMG.shape[:2], 0.5, np.float32)
    with pytest.raises(ValueError, match="out: overlaps an input"):
        fc.kernels.blend(
            base, shifted, alpha, out=base
        )  # `out is base` let this through, silently wrong
    with pytest.raises(ValueError, match="out: .*overlap"):
        fc.kernels.blend(
            big[:63], big[1:64], alpha[:-1], out=big[:63]
        )  # another view object of base
    # the same array in place is fine, and equals the out-of-place result
    effect = 255 - IMG
    want = fc.kernels.blend(IMG, effect, alpha)
    b = IMG.copy()
    assert fc.kernels.blend(b, effect, alpha, out=b) is b
    np.testing.assert_array_equal(b, want)
    e = effect.copy()
    fc.kernels.blend(IMG, e, alpha, out=e)
    np.testing.assert_array_equal(e, want)
    # an interleaved view of the same buffer that does not overlap is allowed
    buf = np.zeros((64, 160, 3), np.uint8)
    buf[:, ::2] = IMG
    buf[:, 1::2] = effect
    left, right = buf[:, ::2], buf[:, 1::2]
    out = np.empty_like(IMG)
    fc.kernels.blend(left, right, alpha, out=out)
    np.testing.assert_array_equal(out, want)


def test_recolor_out_overlap_is_checked_by_memory():
    img = IMG.copy()
    alpha = np.full(IMG.shape[:2], 0.7, np.float32)
    want = fc.kernels.recolor(IMG, alpha, "red")
    fc.kernels.recolor(img, alpha, "red", out=img)
    np.testing.assert_array_equal(img, want)
    big = np.concatenate([IMG, IMG])
    with pytest.raises(ValueError, match="out"):
        fc.kernels.recolor(big[:64], alpha, "red", out=big[1:65])
