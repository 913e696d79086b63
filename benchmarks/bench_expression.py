"""The expression stage: one warp + one model call for all faces vs the per-face loop a user writes.

    FACECORE_MODEL_DIR=../shared/models FACECORE_DATA_DIR=../shared/data python benchmarks/bench_expression.py [--quick] [--json OUT]

* ``facecore``: ``ExpressionModel.predict(image, landmarks)`` -- the FER-framed chips of all
  faces of the frame in one ``warp_crops`` call (normalised tensor, grey mix), one
  onnxruntime run;
* ``loop``: per face ``cv2.warpAffine`` of the same similarity, ``cv2.cvtColor`` to grey,
  normalise, one onnxruntime run of the same session.

Both use the same landmarks (YuNet, found once before timing) and the same session; the
probabilities are checked to agree (argmax equal, max |diff| < 0.05: the loop's uint8 grey
is rounded once more) before anything is timed. One thread.
"""

from __future__ import annotations

import argparse
import os
import sys
from functools import partial
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import format_header, format_ms, run_metadata, save_json, time_it

PHOTOS = ("single_03.jpg", "group_01.jpg", "group_03.jpg", "crowd_01.jpg")


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json")
    ap.add_argument("--model", default="fer_expression")
    args = ap.parse_args(argv)
    import facecore.models as fm
    from facecore.models.expression import chip_matrices

    data = Path(
        os.environ.get("FACECORE_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data")
    )
    det = fm.load("yunet", threads=1)
    m = fm.load(args.model, threads=1, temperature=1.0)
    s = m.size
    meta = run_metadata()
    print(format_header(meta))
    print(f"{'image':14s} {'faces':>5s} {'facecore ms':>14s} {'loop ms':>14s} {'ratio':>6s}")
    results = []
    for name in PHOTOS[:2] if args.quick else PHOTOS:
        img = cv2.imread(str(data / "photos" / name))
        if img is None:
            continue
        lm = det.detect(img).landmarks.astype(np.float64)
        mats = chip_matrices(lm, s)

        def loop(img, lm, mats):
            out = []
            for k in range(len(lm)):
                chip = cv2.cvtColor(
                    cv2.warpAffine(img, mats[k], (s, s), flags=cv2.INTER_LINEAR), cv2.COLOR_BGR2GRAY
                )
                x = ((chip.astype(np.float32) - m.spec.mean[0]) / m.spec.std[0])[None, None]
                out.append(m.run(x)[0])
            return np.stack(out)

        a, b = m.predict(img, lm), loop(img, lm, mats)
        if not (np.abs(a - b).max() < 0.05 and (a.argmax(1) == b.argmax(1)).mean() >= 0.9):
            raise SystemExit(
                f"{name}: facecore and the loop disagree (max |diff| {np.abs(a - b).max():.3g}); not timing"
            )
        rep = 3 if args.quick else 10
        fc = time_it(partial(m.predict, img, lm), repeat=rep, warmup=1)
        lp = time_it(partial(loop, img, lm, mats), repeat=rep, warmup=1)
        r = lp["median_ms"] / fc["median_ms"]
        print(f"{name:14s} {len(lm):5d} {format_ms(fc):>14s} {format_ms(lp):>14s} {r:5.2f}x")
        results.append(
            {"image": name, "faces": int(len(lm)), "facecore": fc, "loop": lp, "speedup": r}
        )
    print("\nratio = loop median / facecore median (higher: facecore faster)")
    if args.json:
        save_json(args.json, meta, results)


if __name__ == "__main__":
    main()
