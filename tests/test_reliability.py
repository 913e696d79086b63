"""Reliability of the compiled core: no memory growth over repeated calls, errors never leak
memory, a forked child can use the kernels, inputs are never modified."""

from __future__ import annotations

import gc
import hashlib
import multiprocessing
import os

import numpy as np
import pytest

import facecore as fc

rng = np.random.default_rng(0)
IMG = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
MAP = rng.random((120, 160), dtype=np.float32)
M = np.array([[[0.7, 0.1, -5.0], [-0.1, 0.7, -3.0]]] * 8)


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def every_kernel():
    fc.kernels.warp_crops(IMG, M, 48)
    fc.kernels.warp_crops(IMG, M, 48, tensor=True, mean=127.5, std=128, swap_rb=True)
    fc.kernels.warp_affine(MAP, M[0], (60, 60), inverse=True)
    for _ in fc.kernels.iter_windows(IMG[:40, :40], 9, stride=3):
        pass
    fc.kernels.accumulate_windows(MAP[:112, :152], (120, 160), 9)
    fc.kernels.refine_map(MAP, iterations=2)
    fc.kernels.blend(IMG, IMG, MAP)
    fc.kernels.recolor(IMG, MAP, "red")
    for bad in (
        lambda: fc.kernels.warp_crops(IMG, np.zeros((1, 2, 3)), 8),  # errors too
        lambda: fc._core.refine_map_f32(MAP, 2.0, np.ones((2, 2), np.float32), 1, MAP.copy()),
    ):
        with pytest.raises(ValueError):
            bad()


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc (Linux)")
def test_no_memory_growth_over_repeated_calls():
    for _ in range(20):  # warm up pools, caches and the allocator
        every_kernel()
    gc.collect()
    before = rss_bytes()
    for _ in range(300):
        every_kernel()
    gc.collect()
    growth = rss_bytes() - before
    # one leaked 48x48 crop batch per call would be > 16 MB here; allow allocator noise
    assert growth < 4 * 2**20, f"RSS grew by {growth / 2**20:.1f} MiB over 300 rounds"


def _child(queue):
    queue.put(fc.kernels.refine_map(MAP, iterations=2).tobytes())


@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")
def test_kernels_work_in_a_forked_child():
    fc.kernels.refine_map(MAP)  # the parent's pool exists before the fork
    want = fc.kernels.refine_map(MAP, iterations=2).tobytes()
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(queue,))
    proc.start()
    got = queue.get(timeout=60)
    proc.join(timeout=60)
    assert proc.exitcode == 0 and got == want


def test_inputs_are_never_modified():
    args = [IMG.copy(), MAP.copy(), M.copy()]
    digest = [hashlib.sha256(a.tobytes()).hexdigest() for a in args]
    img, p, m = args
    fc.kernels.warp_crops(img, m, 32, tensor=True)
    fc.kernels.warp_affine(p, m[0], (50, 50))
    list(fc.kernels.iter_windows(img[:30, :30], 7))
    fc.kernels.refine_map(p, iterations=3)
    fc.kernels.blend(img, img[::-1].copy(), p)
    fc.kernels.recolor(img, p, "blue", mode="hsv")
    assert [hashlib.sha256(a.tobytes()).hexdigest() for a in args] == digest
