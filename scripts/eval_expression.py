"""Evaluate an expression model on FER2013's test part: accuracy, per-class recall, confusion, ECE.

    FACECORE_MODEL_DIR=../shared/models FACECORE_DATA_DIR=../shared/data \\
        python scripts/eval_expression.py --model fer_expression --json /tmp/fer.json
    python scripts/eval_expression.py --model path/to/expression_fc.onnx --pipeline 2000

Two framings:

- **FER framing** (default, all 7,178 test faces): the model sees FER's own 48x48 crops,
  resized to its input by the warp kernel (``ExpressionModel.predict_fer``);
- **pipeline framing** (``--pipeline N``: a seeded sample of N test faces): each face is
  upscaled x3 (bicubic) with a 48-pixel replicated border, YuNet finds the 5 landmarks, and
  the chip is cut as ``FaceAnalyzer`` cuts it (``chip_matrices`` onto ``FER_TEMPLATE``);
  faces YuNet misses are counted and reported, and accuracy is given on the detected ones
  for both framings.

Calibration: the temperature ``T`` minimising the NLL on the seeded 10 % validation split of
``fer2013_train`` (``training/expression/data.py``; the ``fer`` model probably trained on
all of FER2013's training part, so for it this split is not held out); ECE with 15 equal-width
confidence bins, before and after ``T``. 95 % intervals: 1,000 bootstrap resamples of the faces.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from training.expression.data import CLASSES, load_part, split_train_val  # noqa: E402


def ece(p: np.ndarray, y: np.ndarray, bins: int = 15) -> float:
    conf, pred = p.max(1), p.argmax(1)
    edges = np.linspace(0, 1, bins + 1)
    e = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            e += m.mean() * abs((pred[m] == y[m]).mean() - conf[m].mean())
    return float(e)


def nll(p: np.ndarray, y: np.ndarray) -> float:
    return float(-np.log(np.clip(p[np.arange(len(y)), y], 1e-12, None)).mean())


def fit_temperature(p: np.ndarray, y: np.ndarray) -> float:
    from facecore.models.expression import temper

    grid = np.arange(0.5, 4.001, 0.01)
    losses = [nll(temper(p, t), y) for t in grid]
    return float(np.round(grid[int(np.argmin(losses))], 2))


def boot_ci(y: np.ndarray, pred: np.ndarray, rng, n: int = 1000) -> tuple[float, float]:
    ok = (pred == y).astype(np.float64)
    idx = rng.integers(0, len(y), (n, len(y)))
    accs = ok[idx].mean(1)
    return float(np.percentile(accs, 2.5)), float(np.percentile(accs, 97.5))


def report(p: np.ndarray, y: np.ndarray, rng) -> dict:
    pred = p.argmax(1)
    k = len(CLASSES)
    cm = np.zeros((k, k), np.int64)
    np.add.at(cm, (y, pred), 1)
    recall = cm.diagonal() / np.maximum(cm.sum(1), 1)
    # per-class recall intervals: bootstrap within the class
    rec_ci = []
    for c in range(k):
        ok = (pred[y == c] == c).astype(np.float64)
        if len(ok) == 0:
            rec_ci.append([float("nan")] * 2)
            continue
        r = ok[rng.integers(0, len(ok), (1000, len(ok)))].mean(1)
        rec_ci.append(
            [round(float(np.percentile(r, 2.5)), 4), round(float(np.percentile(r, 97.5)), 4)]
        )
    lo, hi = boot_ci(y, pred, rng)
    return {
        "n": int(len(y)),
        "accuracy": round(float((pred == y).mean()), 4),
        "accuracy_ci95": [round(lo, 4), round(hi, 4)],
        "recall": {c: round(float(r), 4) for c, r in zip(CLASSES, recall)},
        "recall_ci95": dict(zip(CLASSES, rec_ci)),
        "confusion": cm.tolist(),
        "macro_recall": round(float(recall.mean()), 4),
    }


def pipeline_probs(model, det, X: np.ndarray):
    import cv2

    from training.expression.template import PAD, UP

    probs = np.full((len(X), len(CLASSES)), np.nan, np.float32)
    for i, g in enumerate(X):
        big = cv2.resize(g, (48 * UP, 48 * UP), interpolation=cv2.INTER_CUBIC)
        big = cv2.copyMakeBorder(big, PAD, PAD, PAD, PAD, cv2.BORDER_REPLICATE)
        bgr = cv2.cvtColor(big, cv2.COLOR_GRAY2BGR)
        d = det.detect(bgr)
        if len(d):
            probs[i] = model.predict(bgr, d.landmarks[:1])[0]
    return probs


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--model", default="fer_expression", help="zoo name or path")
    ap.add_argument(
        "--pipeline",
        type=int,
        default=0,
        help="also the pipeline framing on a seeded sample of N test faces",
    )
    ap.add_argument("--json", type=Path)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    import facecore.models as fm

    rng = np.random.default_rng(0)
    model = fm.load(args.model, kind="expression", threads=args.threads, temperature=1.0)
    Xte, yte, _ = load_part("test")
    Xtr, ytr, _ = load_part("train")
    _, va = split_train_val(ytr)
    t0 = time.perf_counter()
    p_val = model.predict_fer(Xtr[va])
    p_te = model.predict_fer(Xte)
    secs = time.perf_counter() - t0
    T = fit_temperature(p_val, ytr[va])
    from facecore.models.expression import temper

    pc = temper(p_te, T)
    out = {
        "model": str(args.model),
        "split": "fer2013_test (all)",
        "framing": "FER",
        "seconds_per_face": round(secs / (len(va) + len(Xte)), 5),
        **report(p_te, yte, rng),
        "temperature": T,
        "val_accuracy": round(float((p_val.argmax(1) == ytr[va]).mean()), 4),
        "ece": round(ece(p_te, yte), 4),
        "ece_calibrated": round(ece(pc, yte), 4),
        "nll": round(nll(p_te, yte), 4),
        "nll_calibrated": round(nll(pc, yte), 4),
    }
    if args.pipeline:
        det = fm.load("yunet", score_threshold=0.5, threads=args.threads)
        idx = np.sort(
            np.random.default_rng(1).choice(len(Xte), min(args.pipeline, len(Xte)), replace=False)
        )
        pp = pipeline_probs(model, det, Xte[idx])
        found = ~np.isnan(pp[:, 0])
        sub = idx[found]
        out["pipeline"] = {
            "sample": int(len(idx)),
            "detected": int(found.sum()),
            "pipeline_framing": report(pp[found], yte[sub], rng),
            "fer_framing_same_faces": report(p_te[sub], yte[sub], rng),
            "argmax_agreement": round(
                float((pp[found].argmax(1) == p_te[sub].argmax(1)).mean()), 4
            ),
        }
    print(
        json.dumps(
            {k: v for k, v in out.items() if k not in ("confusion", "recall_ci95")}, indent=1
        )
    )
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
