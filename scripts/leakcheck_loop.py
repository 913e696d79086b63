"""The loop scripts/leakcheck.sh runs under valgrind: every kernel, N rounds, errors included."""

import sys

import numpy as np

import facecore as fc

rng = np.random.default_rng(0)
IMG = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
MAP = rng.random((60, 80), dtype=np.float32)
M = np.array([[[0.7, 0.1, -5.0], [-0.1, 0.7, -3.0]]] * 4)
BAD = [
    lambda: fc.kernels.warp_crops(IMG, np.zeros((1, 2, 3)), 8),  # singular matrix
    lambda: fc._core.refine_map_f32(
        MAP, 2.0, np.ones((2, 2), np.float32), 1, MAP.copy()
    ),  # even kernel
    lambda: fc.kernels.recolor(IMG, MAP[:10], "red"),  # shape mismatch
    lambda: fc.kernels.accumulate_windows(MAP, (10, 10), 9),  # inconsistent sizes
]

for _ in range(int(sys.argv[1])):
    fc.kernels.warp_crops(IMG, M, 24)
    fc.kernels.warp_crops(IMG, M, 24, tensor=True, mean=127.5, std=128, swap_rb=True)
    fc.kernels.warp_affine(MAP, M[0], (30, 30), inverse=True)
    for _b in fc.kernels.iter_windows(IMG[:20, :20], 7, stride=3):
        pass
    fc.kernels.accumulate_windows(MAP[:54, :74], (60, 80), 7)
    fc.kernels.refine_map(MAP, iterations=2)
    fc.kernels.blend(IMG, IMG, MAP)
    fc.kernels.recolor(IMG, MAP, "red")
    fc.kernels.recolor(IMG, MAP, "#123456", mode="hsv")
    for bad in BAD:
        try:
            bad()
        except (ValueError, TypeError):
            pass
        else:
            raise SystemExit("a bad call was accepted")
