"""Accuracy of ``kernels.recolor`` over every 8-bit BGR input (2^24 colours) against the float64
textbook reference of the tests (tests/reference.py).

    python scripts/recolour_error.py [--step 1] [--out results.json]

For each mode the layer is blended with alpha 0.75 (so the rounding of the blend is exercised),
and the report gives, per mode: the largest ``|facecore - exact|`` in grey levels (the tests
allow 0.51: the rounding of the exact value, 0.5, plus float32 noise) and how many values
round differently from the exact value rounded half up. Run it on two builds to compare them
(``PYTHONPATH`` pointing at the other build's package). About 3 minutes per build on one core.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import reference as ref

import facecore as fc

MODES = [
    ("lab", 1.0, "#a52a2a"),
    ("lab", 0.5, "#8a2be2"),
    ("transfer", 1.0, "#0000ff"),
    ("transfer", 0.5, "#e6c27a"),
    ("natural", 1.0, "#7b3f00"),
]
SOURCE = (45.0, 12.0)  # fixed hair statistics for transfer/natural (chunks must share them)


def all_colours(step: int) -> np.ndarray:
    v = np.arange(0, 256, step, dtype=np.uint8)
    b, g, r = np.meshgrid(v, v, v, indexing="ij")
    return np.stack([b.ravel(), g.ravel(), r.ravel()], -1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--step", type=int, default=1, help="sample every STEP-th level per channel")
    ap.add_argument("--out", type=Path, default=None, help="write the figures as JSON")
    args = ap.parse_args(argv)
    fc.set_num_threads(1)
    px = all_colours(args.step)
    chunk = 1 << 20
    report = {}
    for mode, strength, color in MODES:
        bgr = fc._validate.as_color(color)
        worst, flips, n = 0.0, 0, 0
        for i in range(0, len(px), chunk):
            img = np.ascontiguousarray(px[i : i + chunk].reshape(1, -1, 3))
            a = np.full(img.shape[:2], 0.75, np.float32)
            kw = {"source": SOURCE} if mode != "lab" else {}
            got = fc.kernels.recolor(img, a, color, mode=mode, strength=strength, **kw)
            if mode == "lab":
                want = ref.recolor(img, a, bgr, "lab", strength)
            else:
                want = ref.recolor_transfer(
                    img, a, bgr, strength, natural=mode == "natural", source=SOURCE
                )
            d = np.abs(got - want)
            worst = max(worst, float(d.max()))
            flips += int((got != np.floor(want + 0.5)).sum())
            n += got.size
        key = f"{mode} strength {strength} {color}"
        report[key] = {"max_abs_levels": round(worst, 5), "rounding_flips": flips, "values": n}
        print(
            f"{key:32s} max |fc - exact| {worst:.5f} levels, {flips} of {n} values round differently"
        )
    if args.out:
        args.out.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
