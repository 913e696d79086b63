"""Person-mask quality of facecore.background on data/parsing/celebamask (all 800 images).

Ground truth: every non-background class (mask != 0) is the person. For each image the
model's full-resolution alpha (the same path as ``BackgroundReplacer.matte``, no temporal
smoothing) is thresholded at 0.5. Reports:

* IoU: total intersection / total union over the set, and the mean per image;
* boundary F-score (DAVIS "F"): boundary pixels of prediction and truth matched within a
  tolerance of ``max(1, round(0.008 * diagonal))`` pixels (3 px at 256 x 256); mean per image;
* 95 % bootstrap intervals (1,000 resamples of the images, seed 0) for the per-image means.

Caution: MODNet and MediaPipe were not trained on CelebAMask-HQ as far as their cards say,
but these are tight face crops, not the head-and-shoulders frames of a video call.

    python scripts/eval_background.py --model fast --json docs/results/background_fast.json
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import cv2
import numpy as np


def boundary(mask: np.ndarray) -> np.ndarray:
    m = mask.astype(np.uint8)
    return (
        m - cv2.erode(m, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=0)
    ) > 0


def boundary_f(pred: np.ndarray, gt: np.ndarray) -> float:
    tol = max(1, round(0.008 * float(np.hypot(*gt.shape))))
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * tol + 1, 2 * tol + 1))
    pb, gb = boundary(pred), boundary(gt)
    if not pb.any() and not gb.any():
        return 1.0
    if not pb.any() or not gb.any():
        return 0.0
    gd = cv2.dilate(gb.astype(np.uint8), k) > 0
    pd = cv2.dilate(pb.astype(np.uint8), k) > 0
    p = (pb & gd).sum() / pb.sum()
    r = (gb & pd).sum() / gb.sum()
    return 0.0 if p + r == 0 else float(2 * p * r / (p + r))


def bootstrap(x: np.ndarray, n: int = 1000, seed: int = 0) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    means = [x[rng.integers(0, len(x), len(x))].mean() for _ in range(n)]
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--model", choices=("fast", "matting"), default="fast")
    ap.add_argument(
        "--data",
        default=os.path.join(
            os.environ.get("FACECORE_DATA_DIR", "../shared/data"), "parsing", "celebamask"
        ),
    )
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    from facecore.background import BackgroundReplacer

    root = Path(args.data)
    ids = (root / "ids.txt").read_text().split()[: args.limit]
    rep = BackgroundReplacer(args.model, temporal=False, threads=args.threads)
    inter = union = 0
    ious, fs = [], []
    t0 = time.perf_counter()

    def report(done: int) -> dict:
        a, f = np.array(ious), np.array(fs)
        res = {
            "model": args.model,
            "images": done,
            "of": len(ids),
            "data": "parsing/celebamask (ids.txt order)",
            "iou_total": inter / union,
            "iou_mean": float(a.mean()),
            "iou_mean_ci95": bootstrap(a),
            "boundary_f_mean": float(f.mean()),
            "boundary_f_ci95": bootstrap(f),
            "seconds": time.perf_counter() - t0,
        }
        if args.json:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps(res, indent=2) + "\n")
        return res

    for k, i in enumerate(ids):
        if k and k % 50 == 0:
            report(k)  # partial results survive an interrupted run
        img = cv2.imread(str(root / "images" / f"{i}.jpg"))
        gt = cv2.imread(str(root / "masks" / f"{i}.png"), cv2.IMREAD_GRAYSCALE) != 0
        pred = rep.matte(img).alpha >= 0.5
        n_and, n_or = int((pred & gt).sum()), int((pred | gt).sum())
        inter, union = inter + n_and, union + n_or
        ious.append(n_and / n_or if n_or else 1.0)
        fs.append(boundary_f(pred, gt))
    print(json.dumps(report(len(ids)), indent=2))


if __name__ == "__main__":
    main()
