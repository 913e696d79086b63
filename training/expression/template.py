"""Measure where YuNet's 5 landmarks fall in FER2013's own 48x48 framing.

    python -m training.expression.template --part train --n 4000

Each FER face is upscaled x3 (bicubic, to 144x144), given a 48-pixel replicated border
(YuNet misses faces that fill the whole frame), and run through facecore's YuNet; the
landmarks of the best face, mapped back to FER pixels and divided by 48, are averaged over
the faces found. The mean is ``FER_TEMPLATE`` in :mod:`facecore.models.expression`:
the pipeline cuts its expression chip by a similarity from the 5 landmarks onto it, which
gives FER's framing on any photo.
"""

from __future__ import annotations

import argparse
import json

import cv2
import numpy as np

from .data import load_part

UP, PAD = 3, 48


def fer_landmarks(det, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, 5, 2) landmarks in FER pixels (NaN where no face) and (N,) detector scores."""
    lm = np.full((len(X), 5, 2), np.nan)
    sc = np.zeros(len(X))
    for i, g in enumerate(X):
        big = cv2.resize(g, (48 * UP, 48 * UP), interpolation=cv2.INTER_CUBIC)
        big = cv2.copyMakeBorder(big, PAD, PAD, PAD, PAD, cv2.BORDER_REPLICATE)
        d = det.detect(cv2.cvtColor(big, cv2.COLOR_GRAY2BGR))
        if len(d):
            lm[i] = (
                d.landmarks[0] - PAD + 0.5
            ) / UP - 0.5  # pixel centres: FER x = (big x + 0.5) / 3 - 0.5
            sc[i] = d.scores[0]
    return lm, sc


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--part", default="train")
    ap.add_argument("--n", type=int, default=4000)
    args = ap.parse_args(argv)
    import facecore.models as fm

    det = fm.load("yunet", score_threshold=0.5, threads=1)
    X, _y, _ = load_part(args.part)
    idx = np.random.default_rng(0).choice(len(X), min(args.n, len(X)), replace=False)
    lm, _sc = fer_landmarks(det, X[idx])
    ok = ~np.isnan(lm[:, 0, 0])
    unit = lm[ok] / 48.0
    print(
        json.dumps(
            {
                "part": args.part,
                "n": int(len(idx)),
                "found": int(ok.sum()),
                "template": np.round(unit.mean(0), 4).tolist(),
                "std": np.round(unit.std(0), 4).tolist(),
            }
        )
    )


if __name__ == "__main__":
    main()
