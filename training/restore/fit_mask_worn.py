"""Fit the logistic model of :func:`facecore.occlusion.mask_worn` on synthetic masks.

    python -m training.restore.fit_mask_worn [--data ../shared/data]

Positives: UTKFace ``train.txt`` faces (padded, landmarks as in :mod:`training.restore.data`)
with a synthetic face mask drawn by :func:`facecore.occlusion.synthesize` (the four mask
styles in turn, random jitter); negatives: the same faces without one. Prints the coefficients
to paste into ``MASK_WORN_COEF`` and the training accuracy. The real-photo precision and recall
are measured by scripts/occlusion_study.py (never used to fit).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from facecore import occlusion
from facecore.occlusion.mask_worn import design_matrix

from .data import data_root, detect_landmarks, padded, split_names


def fit_logistic(X: np.ndarray, y: np.ndarray, l2: float = 1e-3, iters: int = 50) -> np.ndarray:
    """Newton's method for L2-regularised logistic regression (no intercept penalty)."""
    w = np.zeros(X.shape[1])
    reg = np.full(X.shape[1], l2)
    reg[0] = 0.0
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-(X @ w)))
        g = X.T @ (p - y) / len(y) + reg * w
        H = (X * (p * (1 - p))[:, None]).T @ X / len(y) + np.diag(reg)
        w -= np.linalg.solve(H, g)
    return w


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--data", default=None)
    ap.add_argument("--cache", default="/tmp/facecore_restore")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    root = data_root(args.data)
    names = split_names(root, "train")
    lms, found = detect_landmarks(root, names, Path(args.cache) / "landmarks_train.npz")
    rng = np.random.default_rng(args.seed)
    F, y = [], []
    for k, n in enumerate(names):
        if not found[k]:
            continue
        big, _ = padded(cv2.imread(str(root / "images" / n)))
        F.append(occlusion.mask_features(big, lms[k]))
        y.append(0)
        style = occlusion.MASK_STYLES[k % 4]
        occ, _ = occlusion.synthesize(
            big,
            lms[k],
            style=style,
            seed=int(rng.integers(2**31)),
            jitter=float(rng.uniform(0.5, 2)),
        )
        F.append(occlusion.mask_features(occ, lms[k]))
        y.append(1)
    F, y = np.array(F), np.array(y, float)
    X = design_matrix(F)
    w = fit_logistic(X, y)
    p = 1 / (1 + np.exp(-(X @ w)))
    print(f"{len(y)} samples; train accuracy {((p >= 0.5) == y).mean():.4f}")
    print("MASK_WORN_COEF = np.array([" + ", ".join(f"{v:.4f}" for v in w) + "])")


if __name__ == "__main__":
    main()
