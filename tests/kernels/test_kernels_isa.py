"""The AVX2 clones (warp, refine, blend; recolor is covered in test_kernels_blend.py) against
the baseline build: FACECORE_ISA=baseline forces the latter, and both must give the same bits.
Each clone is also checked against its independent reference in its own test file."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

SCRIPT = """
import sys
import numpy as np
import facecore as fc

K = fc.kernels
rng = np.random.default_rng(11)
outs = {}
for c in (1, 3, 4):
    img = rng.integers(0, 256, (61, 83, c), dtype=np.uint8)
    ang = rng.uniform(-np.pi, np.pi, 9)
    s = rng.uniform(0.3, 3.0, 9)
    m = np.zeros((9, 2, 3))
    m[:, 0, 0], m[:, 0, 1] = s * np.cos(ang), s * np.sin(ang)
    m[:, 1, 0], m[:, 1, 1] = -s * np.sin(ang), s * np.cos(ang)
    m[:, :, 2] = rng.uniform(-60, 60, (9, 2))
    for border in ("constant", "replicate"):
        outs[f"w{c}{border}"] = K.warp_crops(img, m, (29, 37), border=border, fill=200)
        outs[f"t{c}{border}"] = K.warp_crops(
            img, m, (29, 37), border=border, fill=3, tensor=True, mean=100.0, std=7.0
        )
    b = rng.integers(0, 256, (13, 71, c), dtype=np.uint8)
    e = rng.integers(0, 256, (13, 71, c), dtype=np.uint8)
    a = rng.uniform(-0.3, 1.3, (13, 71)).astype(np.float32)
    a[0, :3] = np.nan
    outs[f"b{c}"] = K.blend(b, e, a)
p = rng.uniform(-0.2, 1.2, (37, 53)).astype(np.float32)
for kern in ("lbp3", "gauss3"):
    for power in (1, 2, 3, 1.5):
        outs[f"r{kern}{power}"] = K.refine_map(p, power=power, kernel=kern, iterations=2)
np.savez(sys.argv[1], **outs)
"""


def test_avx2_and_baseline_builds_agree_bit_for_bit(tmp_path):
    results = []
    for isa in ("native", "baseline"):
        path = tmp_path / f"{isa}.npz"
        env = dict(os.environ, FACECORE_ISA=isa)
        subprocess.run([sys.executable, "-c", SCRIPT, str(path)], check=True, env=env)
        results.append(np.load(path))
    assert results[0].files == results[1].files
    for name in results[0].files:
        np.testing.assert_array_equal(results[0][name], results[1][name], err_msg=name)
