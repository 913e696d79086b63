"""Concurrency: every kernel called from 8 Python threads gives the serial result.

The kernels release the GIL and share one worker pool; a second caller that finds the pool
busy works alone. This catches shared mutable state and an unsafe GIL release.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import facecore as fc

rng = np.random.default_rng(0)
IMG = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
MAP = rng.random((240, 320), dtype=np.float32)
M = np.stack([np.array([[0.8, 0.1, -10.0 - i], [-0.1, 0.8, -5.0]]) for i in range(16)])

CALLS = {
    "warp_crops": lambda: fc.kernels.warp_crops(IMG, M, 64),
    "warp_tensor": lambda: fc.kernels.warp_crops(
        IMG, M, 64, tensor=True, mean=127.5, std=128, swap_rb=True
    ),
    "warp_affine": lambda: fc.kernels.warp_affine(MAP, M[0], (200, 200), inverse=True),
    "windows": lambda: np.concatenate(
        [b.tensor for b in fc.kernels.iter_windows(IMG[:60, :60], 15, stride=2)]
    ),
    "accumulate": lambda: fc.kernels.accumulate_windows(MAP[:226, :306], (240, 320), 15),
    "refine": lambda: fc.kernels.refine_map(MAP, iterations=2),
    "blend": lambda: fc.kernels.blend(IMG, IMG[::-1].copy(), MAP),
    "recolor": lambda: fc.kernels.recolor(IMG, MAP, "#8a2be2"),
    "recolor_hsv": lambda: fc.kernels.recolor(IMG, MAP, "#8a2be2", mode="hsv", strength=0.5),
    "recolor_transfer": lambda: fc.kernels.recolor(IMG, MAP, "blue", mode="transfer", strength=0.7),
    "lab_stats": lambda: fc.kernels.lab_stats(IMG, MAP),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_threaded_equals_serial(name):
    call = CALLS[name]
    serial = call()
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: call(), range(32)))
    for r in results:
        np.testing.assert_array_equal(r, serial)


def test_thread_count_does_not_change_results():
    want = {k: v() for k, v in CALLS.items()}
    try:
        for n in (1, 3):
            fc.set_num_threads(n)
            assert fc.num_threads() == n
            for k, v in CALLS.items():
                np.testing.assert_array_equal(v(), want[k], err_msg=f"{k} with {n} threads")
    finally:
        fc.set_num_threads(0)


def test_set_num_threads_validates():
    with pytest.raises(TypeError, match="n"):
        fc.set_num_threads(1.5)


def test_shared_model_sessions_from_threads(photo, models_dir):
    """One FaceAnalyzer (detector, embedder, age, gender sessions) shared by 6 threads gives
    each thread the serial answer: onnxruntime's Run is thread-safe and the adapters keep no
    per-call state on the instance."""
    from facecore import FaceAnalyzer

    fa = FaceAnalyzer(threads=1)
    images = [photo(name) for name in ("group_01.jpg", "group_02.jpg")]
    serial = [[f.to_dict(embedding=True) for f in fa.analyze(im)] for im in images]
    assert all(serial)
    with ThreadPoolExecutor(6) as pool:
        got = list(
            pool.map(
                lambda k: [f.to_dict(embedding=True) for f in fa.analyze(images[k % 2])], range(12)
            )
        )
    for k, faces in enumerate(got):
        assert faces == serial[k % 2]
