"""windows family: iter_windows, accumulate_windows, probability_map.

References: an explicit loop over the window grid (tests/reference.py) and NumPy's
sliding_window_view.
"""

from __future__ import annotations

import numpy as np
import pytest
import reference as ref
from hypothesis import given
from hypothesis import strategies as st
from numpy.lib.stride_tricks import sliding_window_view

import facecore as fc


def image(h, w, c=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (h, w, c) if c > 1 else (h, w), dtype=np.uint8)


def all_windows(img, window, **kw):
    batches = list(fc.kernels.iter_windows(img, window, **kw))
    return np.concatenate([b.tensor for b in batches]), np.concatenate([b.origins for b in batches])


# 1. smoke
def test_smoke():
    t, o = all_windows(image(10, 12), 3)
    assert t.shape == (80, 3, 3, 3) and o.shape == (80, 2)


# 2. cardinality
@pytest.mark.parametrize(
    "shape, window, stride, grid",
    [
        ((10, 12), 3, 1, (8, 10)),
        ((10, 12), (2, 5), (3, 2), (3, 4)),
        ((5, 5), 5, 1, (1, 1)),
        ((9, 9), 2, 20, (1, 1)),
        ((1, 1), 1, 1, (1, 1)),
    ],
)
def test_grid_and_batches(shape, window, stride, grid):
    assert fc.kernels.window_grid(shape, window, stride=stride) == grid
    img = image(*shape)
    sizes = [
        b.tensor.shape[0] for b in fc.kernels.iter_windows(img, window, stride=stride, batch_size=3)
    ]
    assert sum(sizes) == grid[0] * grid[1] and max(sizes) <= 3


# 3. exact cases
def test_origins_and_values():
    img = image(7, 9, 3)
    t, o = all_windows(img, (2, 3), stride=(2, 3), mean=(1, 2, 3), std=(2, 4, 8), swap_rb=True)
    gh, gw = fc.kernels.window_grid(img.shape, (2, 3), stride=(2, 3))
    for k in range(gh * gw):
        x, y = o[k]
        assert (x, y) == ((k % gw) * 3, (k // gw) * 2)
        want = (
            img[y : y + 2, x : x + 3, ::-1].astype(np.float32) - np.float32([1, 2, 3])
        ) / np.float32([2, 4, 8])
        np.testing.assert_array_equal(t[k], want.transpose(2, 0, 1))


def test_constant_scores_give_constant_map():
    for reduce in ("mean", "centre"):
        grid = fc.kernels.window_grid((20, 30), (5, 7), stride=2)
        m = fc.kernels.accumulate_windows(
            np.full(grid, 0.3, np.float32), (20, 30), (5, 7), stride=2, reduce=reduce
        )
        np.testing.assert_allclose(m[:17, :29], 0.3, rtol=1e-6)


def test_uncovered_pixels_take_fill():
    # stride 4 > window 2 leaves gaps; mean mode fills them
    m = fc.kernels.accumulate_windows(np.ones((3, 3), np.float32), (10, 10), 2, stride=4, fill=-1.0)
    assert m[0, 0] == 1 and m[2, 2] == -1 and m[3, 7] == -1 and m[9, 9] == 1  # windows at 0, 4, 8


def test_window_equal_to_image():
    img = image(6, 6)
    t, _ = all_windows(img, 6)
    np.testing.assert_array_equal(t[0], img.transpose(2, 0, 1).astype(np.float32))
    m = fc.kernels.accumulate_windows(np.array([[0.7]], np.float32), img.shape, 6, reduce="centre")
    np.testing.assert_allclose(m, 0.7)


# 4. properties vs references
dims = st.integers(1, 24)


@given(h=dims, w=dims, data=st.data(), c=st.sampled_from([1, 3]), seed=st.integers(0, 999))
def test_extraction_matches_reference(h, w, data, c, seed):
    wh, ww = data.draw(st.integers(1, h)), data.draw(st.integers(1, w))
    sy, sx = data.draw(st.integers(1, 30)), data.draw(st.integers(1, 30))
    bs = data.draw(st.integers(1, 50))
    img = image(h, w, c, seed)
    got, _ = all_windows(img, (wh, ww), stride=(sy, sx), batch_size=bs, mean=10.0, std=3.0)
    want = ref.extract_windows(img, (wh, ww), (sy, sx), mean=10.0, std=3.0)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    # and against NumPy's sliding_window_view (the user's alternative)
    view = sliding_window_view(img if c > 1 else img[..., None], (wh, ww), axis=(0, 1))[::sy, ::sx]
    np.testing.assert_allclose(
        got, (view.reshape(-1, c, wh, ww).astype(np.float32) - 10) / 3, rtol=1e-6
    )


@given(h=dims, w=dims, data=st.data(), seed=st.integers(0, 999))
def test_accumulation_matches_reference(h, w, data, seed):
    wh, ww = data.draw(st.integers(1, h)), data.draw(st.integers(1, w))
    sy, sx = data.draw(st.integers(1, 12)), data.draw(st.integers(1, 12))
    grid = fc.kernels.window_grid((h, w), (wh, ww), stride=(sy, sx))
    scores = np.random.default_rng(seed).random(grid, dtype=np.float32)
    got = fc.kernels.accumulate_windows(scores, (h, w), (wh, ww), stride=(sy, sx), fill=0.5)
    np.testing.assert_allclose(
        got, ref.accumulate_mean(scores, (h, w), (wh, ww), (sy, sx), 0.5), atol=1e-5
    )
    got = fc.kernels.accumulate_windows(
        scores.ravel(), (h, w), (wh, ww), stride=(sy, sx), reduce="centre"
    )
    np.testing.assert_allclose(
        got, ref.accumulate_centre(scores, (h, w), (wh, ww), (sy, sx)), atol=1e-5
    )


def test_probability_map_stride1_512_in_bounded_memory():
    img = image(512, 512, 3)
    seen = []

    def classify(batch):
        seen.append(batch.shape[0])
        return batch.mean(axis=(1, 2, 3)) / 255

    p = fc.probability_map(img, classify, 35, stride=1, batch_size=2048)
    assert p.shape == (512, 512) and max(seen) <= 2048
    assert sum(seen) == 478 * 478
    assert 0.45 < p.mean() < 0.55  # uniform noise, mean ~127.5


def test_probability_map_matches_manual_chain():
    img = image(40, 50, 3, seed=3)
    w = np.random.default_rng(1).random((3, 9, 9), dtype=np.float32)
    classify = lambda b: (b * w).sum(axis=(1, 2, 3))[:, None] / 1e5
    p = fc.probability_map(img, classify, 9, stride=2, batch_size=7, reduce="centre")
    scores = classify(ref.extract_windows(img, (9, 9), (2, 2))).reshape(
        fc.kernels.window_grid(img.shape, 9, stride=2)
    )
    np.testing.assert_allclose(
        p, ref.accumulate_centre(scores, img.shape, (9, 9), (2, 2)), rtol=1e-4, atol=1e-6
    )


# 5. bad inputs
def test_bad_inputs():
    img = image(10, 10)
    with pytest.raises(ValueError, match="window"):
        fc.kernels.iter_windows(img, 11)
    with pytest.raises(ValueError, match="stride"):
        fc.kernels.iter_windows(img, 3, stride=0)
    with pytest.raises(ValueError, match="batch_size"):
        fc.kernels.iter_windows(img, 3, batch_size=0)
    with pytest.raises(TypeError, match="image"):
        fc.kernels.iter_windows(img.astype(np.float32), 3)
    with pytest.raises(ValueError, match="std"):
        fc.kernels.iter_windows(img, 3, std=0)
    with pytest.raises(TypeError, match="window"):
        fc.kernels.iter_windows(img, "3")
    with pytest.raises(ValueError, match="scores"):
        fc.kernels.accumulate_windows(np.zeros((2, 2), np.float32), (10, 10), 3)
    with pytest.raises(TypeError, match="scores"):
        fc.kernels.accumulate_windows(np.zeros((8, 8)), (10, 10), 3)
    with pytest.raises(ValueError, match="reduce"):
        fc.kernels.accumulate_windows(np.zeros((8, 8), np.float32), (10, 10), 3, reduce="max")
    with pytest.raises(TypeError, match="classify"):
        fc.probability_map(img, None, 3)
    with pytest.raises(ValueError, match="classify"):
        fc.probability_map(img, lambda b: np.zeros(3), 3)
    with pytest.raises(ValueError, match="first/count"):
        out = np.empty((1, 3, 3, 3), np.float32)
        fc._core.extract_windows_nchw_f32(
            img, 3, 3, 1, 1, 64, 1, np.zeros(3, np.float32), np.ones(3, np.float32), False, out
        )
