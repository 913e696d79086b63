"""YuNet on synthetically masked faces: the data behind :func:`facecore.occlusion.refine_landmarks`.

    python -m training.restore.masked_landmarks [--data ../shared/data] [--draws 1] [--train-step 3]

For the UTKFace faces of ``val.txt`` (all 501) and of ``train.txt`` (every ``--train-step``-th,
default 3: 500 faces, for time on 2 shared cores), padded by half their size with black as the
occlusion study does, YuNet (score 0.6) runs on the unmasked image (the reference landmarks
and box: what the masks are drawn from, and what the occlusion study's chips use) and on
``--draws`` masked copies (:func:`facecore.occlusion.synthesize`): train faces get random
styles and seeds, val faces the study's scheme (face ``i``: style ``i % 4``, seed ``i``) as
draw 0 and random ones after. The detection nearest the image centre is kept, and
:func:`facecore.occlusion.refine_landmarks`' six views are run from it (their average before
the correction is stored).

Writes ``<cache>/masked_landmarks_<split>.npz`` with ``names``, ``true`` (N, 5, 2),
``true_box`` (N, 4), ``found`` (N,), and per draw ``lm`` (N, D, 5, 2), ``box`` (N, D, 4),
``score`` (N, D), ``hit`` (N, D) (masked face found), ``avg_lm``, ``avg_box``, ``avg_score``,
``avg_hit`` (the views averaged). Then fits the correction (:func:`fit`, ridge regression) on
train, prints the coefficients to paste into
``facecore.occlusion.landmarks.MASKED_LANDMARK_COEF`` and the per-point median errors on
train and val (raw detection, views averaged, refined). About 8 min for val and 8 for train
at load 12-16 on 2 cores.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from facecore import occlusion
from facecore.occlusion.landmarks import REFINE_SCALES, _features, _views

from .data import data_root, padded, split_names


def _nearest(det, shape) -> int:
    c = np.array([shape[1] / 2, shape[0] / 2])
    return int(np.argmin(np.linalg.norm(det.boxes[:, :2] + det.boxes[:, 2:] / 2 - c, axis=1)))


def collect(root: Path, split: str, draws: int, cache: Path, detector=None, step: int = 1) -> dict:
    path = cache / f"masked_landmarks_{split}.npz"
    names = split_names(root, "val_all" if split == "val" else split)[::step]
    if path.is_file():
        z = dict(np.load(path, allow_pickle=False))
        if list(z["names"]) == names and z["lm"].shape[1] >= draws:
            return z
    if detector is None:
        import facecore.models as fm

        detector = fm.load("yunet", score_threshold=0.6, nms_threshold=0.3, threads=1)
    n = len(names)
    out = {
        "names": np.array(names),
        "true": np.zeros((n, 5, 2)),
        "true_box": np.zeros((n, 4)),
        "found": np.zeros(n, bool),
        "lm": np.zeros((n, draws, 5, 2)),
        "box": np.zeros((n, draws, 4)),
        "score": np.zeros((n, draws)),
        "hit": np.zeros((n, draws), bool),
        "style": np.zeros((n, draws), np.int64),
        # refine_landmarks' views averaged (before its linear correction)
        "avg_lm": np.zeros((n, draws, 5, 2)),
        "avg_box": np.zeros((n, draws, 4)),
        "avg_score": np.zeros((n, draws)),
        "avg_hit": np.zeros((n, draws), bool),
    }
    rng = np.random.default_rng(12345 if split == "train" else 54321)
    t0 = time.time()
    for i, name in enumerate(names):
        big, _ = padded(cv2.imread(str(root / "images" / name)))
        d = detector.detect(big)
        if len(d) == 0:
            continue
        j = _nearest(d, big.shape)
        lm = d.landmarks[j].astype(np.float64)
        out["true"][i], out["true_box"][i], out["found"][i] = lm, d.boxes[j], True
        for k in range(draws):
            if split == "val" and k == 0:
                s, seed = i % 4, i
            else:
                s, seed = int(rng.integers(0, 4)), int(rng.integers(1 << 30))
            occ, _ = occlusion.synthesize(big, lm, style=occlusion.MASK_STYLES[s], seed=seed)
            out["style"][i, k] = s
            dm = detector.detect(occ)
            if len(dm) == 0:
                continue
            jm = _nearest(dm, occ.shape)
            out["lm"][i, k], out["box"][i, k] = dm.landmarks[jm], dm.boxes[jm]
            out["score"][i, k], out["hit"][i, k] = dm.scores[jm], True
            views = _views(occ, dm.boxes[jm].astype(np.float64), detector, REFINE_SCALES)
            if views:
                out["avg_lm"][i, k] = np.mean([w[0] for w in views], axis=0)
                out["avg_box"][i, k] = np.mean([w[1] for w in views], axis=0)
                out["avg_score"][i, k] = np.mean([w[2] for w in views])
                out["avg_hit"][i, k] = True
        if (i + 1) % 250 == 0:
            print(f"  {split}: {i + 1}/{n} faces ({time.time() - t0:.0f} s)", flush=True)
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(path, **out)
    return out


def _rows(z: dict, avg: bool = True):
    """Per masked detection: features, eye-frame matrices, true points, raw points, face index."""
    ok = z["found"][:, None] & z["hit"] & (z["avg_hit"] if avg else True)
    d = z["lm"].shape[1]
    true = np.repeat(z["true"][:, None], d, 1)[ok]
    pre = "avg_" if avg else ""
    lm, box, score = z[pre + "lm"][ok], z[pre + "box"][ok], z[pre + "score"][ok]
    F, M = zip(*(_features(lm[k], box[k], float(score[k])) for k in range(len(lm))))
    face = np.repeat(np.arange(len(z["found"]))[:, None], d, 1)[ok]
    return np.array(F), np.array(M), true, lm, face


def _to_frame(m: np.ndarray, p: np.ndarray) -> np.ndarray:
    return np.einsum("nij,nkj->nki", m[:, :, :2], p) + m[:, None, :, 2]


def _from_frame(m: np.ndarray, p: np.ndarray) -> np.ndarray:
    ai = np.linalg.inv(m[:, :, :2])
    return np.einsum("nij,nkj->nki", ai, p - m[:, None, :, 2])


def fit(z: dict, ridge: float = 1e-3) -> np.ndarray:
    """Ridge regression of the true points (eye frame of the averaged views) on :func:`_features`."""
    F, M, true, _, _ = _rows(z)
    Y = _to_frame(M, true).reshape(len(F), -1)
    reg = ridge * len(F) * np.eye(F.shape[1])
    reg[-1, -1] = 0.0  # no penalty on the intercept
    return np.linalg.solve(F.T @ F + reg, F.T @ Y)


def errors(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Per point distance / the true inter-ocular distance, (N, 5)."""
    iod = np.linalg.norm(true[:, 1] - true[:, 0], axis=1)
    return np.linalg.norm(pred - true, axis=2) / iod[:, None]


def report(z: dict, coef: np.ndarray) -> dict:
    """Per-point median error (inter-ocular units) of the raw detection, the averaged views and
    the corrected average, on the detections where all three exist."""
    F, M, true, avg, _face = _rows(z)
    ok = z["found"][:, None] & z["hit"] & z["avg_hit"]
    raw = z["lm"][ok]
    corr = _from_frame(M, (F @ coef).reshape(-1, 5, 2))
    out = {}
    for name, p in (("raw", raw), ("views averaged", avg), ("refined", corr)):
        e = errors(p, true)
        out[name] = {
            "per_point_median": np.round(np.median(e, 0), 3).tolist(),
            "mean5_median": round(float(np.median(e.mean(1))), 3),
            "mean": round(float(e.mean()), 3),
        }
        print(
            f"  {name:15s} per point (median) {out[name]['per_point_median']}  "
            f"5-point mean: median {out[name]['mean5_median']}, mean {out[name]['mean']}"
        )
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--data", default=None)
    ap.add_argument("--cache", default="/tmp/facecore_restore")
    ap.add_argument("--draws", type=int, default=1)
    ap.add_argument(
        "--train-step", type=int, default=3, help="every n-th train face (time on 2 shared cores)"
    )
    args = ap.parse_args(argv)
    cv2.setNumThreads(1)
    root = data_root(args.data)
    zs = {}
    for split in ("val", "train"):
        step = args.train_step if split == "train" else 1
        zs[split] = collect(root, split, args.draws, Path(args.cache), step=step)
        z = zs[split]
        print(split, int(z["found"].sum()), "faces,", int(z["hit"].sum()), "masked detections")
    coef = fit(zs["train"])
    np.set_printoptions(precision=4, suppress=True)
    print("MASKED_LANDMARK_COEF = np.array(", np.array2string(coef, separator=", "), ")")
    for split in ("train", "val"):
        print(split)
        report(zs[split], coef)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
