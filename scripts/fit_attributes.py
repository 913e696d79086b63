"""Fit and measure the attribute models of facecore.attributes.

Stage 1 (``extract``, slow, resumable per set): run the same path as
``FaceAnalyzer(parsing=True)`` (YuNet, aligned 512 crop, BiSeNet) on labelled sets, keep the
largest face of each image (every face of size for the scene photos), and store the
attribute features (:func:`facecore.attributes.features`) plus ``mask_worn`` for the masked
photos, in ``OUT/<set>.json``:

- ``sun``: data/attributes/sunglasses, 160 of 400 (seeded), positives for sunglasses and eyes hidden;
- ``utk``: data/age/utkface test crops, the first 100 of test.txt (looked at: no sunglasses);
- ``photos``: faces of data/photos single/pair/group photos with eye distance >= 20 px;
- ``masked``: data/photos/masked (with_mask 48, without_mask 46), with occlusion.mask_worn;
- ``cm_train``: parsing train split faces with eyeglasses or a hat in the hand mask + 40 others;
- ``cm_val``: the 200 parsing val faces (eyeglasses and hat from the hand masks).

Stage 2 (``fit``): logistic regressions (Newton, L2 1e-3) on the seeded fit halves, measured
on the other halves; prints COEF for facecore/attributes.py and the tables of docs/accuracy.md.

Usage::

    python scripts/fit_attributes.py extract --out /tmp/attr
    python scripts/fit_attributes.py fit --out /tmp/attr
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import cv2
import numpy as np

import facecore as fc
from facecore import kernels
from facecore.attributes import COEF, features
from facecore.occlusion import mask_worn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_parsing import GT_TO_MODEL, ROOT, split  # noqa: E402

DATA = Path(os.environ.get("FACECORE_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))
CLS = fc.parsing.CLASSES if hasattr(fc, "parsing") else None


def _analyzer():
    return fc.FaceAnalyzer(parsing=True, embedder=False, age=False, gender=False, quality=False, pose=False,
                           det_threshold=0.5, threads=2)


def _feat(img: np.ndarray, face) -> dict:
    p = face.parsing
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    chip = kernels.warp_crops(grey, p.matrix[None], p.shape)[0]
    f = features(p, chip)
    f["eye_distance"] = float(face.landmarks.eye_distance)
    return f


def _largest(faces):
    return max(faces, key=lambda f: f.box.area) if faces else None


def sets() -> dict[str, list[tuple[str, dict]]]:
    rng = np.random.default_rng(23)
    out: dict[str, list[tuple[str, dict]]] = {}
    sun = sorted((DATA / "attributes" / "sunglasses").glob("*.jpg"))
    out["sun"] = [(str(sun[i]), {"sunglasses": 1}) for i in sorted(rng.permutation(len(sun))[:160])]
    utk = [ln.split()[0] for ln in (DATA / "age" / "utkface" / "test.txt").read_text().splitlines() if ln.strip()][:100]
    out["utk"] = [(str(DATA / "age" / "utkface" / "images" / n), {"sunglasses": 0}) for n in utk]
    ph = [p for p in sorted((DATA / "photos").glob("*.jpg")) if p.name.split("_")[0] in ("single", "pair", "group")]
    out["photos"] = [(str(p), {"sunglasses": 0, "all_faces": 1}) for p in ph]
    m = DATA / "photos" / "masked"
    out["masked"] = [(str(p), {"mask": int(p.parent.name == "with_mask")})
                     for d in ("with_mask", "without_mask") for p in sorted((m / d).glob("*.jpg"))]
    train, val = split()
    pos, neg = [], []
    for i in train:
        gt = GT_TO_MODEL[cv2.imread(str(ROOT / "masks" / f"{i}.png"), 0)]
        lab = {"glasses": int((gt == 6).sum() > 50), "hat": int((gt == 18).sum() > 50)}
        (pos if lab["glasses"] or lab["hat"] else neg).append((str(ROOT / "images" / f"{i}.jpg"), lab))
    out["cm_train"] = pos + neg[:40]
    vals = []
    for i in val:
        gt = GT_TO_MODEL[cv2.imread(str(ROOT / "masks" / f"{i}.png"), 0)]
        vals.append((str(ROOT / "images" / f"{i}.jpg"),
                     {"glasses": int((gt == 6).sum() > 50), "hat": int((gt == 18).sum() > 50)}))
    out["cm_val"] = vals
    return out


def extract(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    fa = _analyzer()
    for name, items in sets().items():
        dst = out / f"{name}.json"
        if dst.exists():
            continue
        rows = []
        for k, (path, lab) in enumerate(items):
            img = fc.read_image(path)
            faces = fa.analyze(img)
            chosen = [f for f in faces if f.landmarks.eye_distance >= 20] if lab.get("all_faces") else \
                [f for f in [_largest(faces)] if f is not None]
            if not chosen:
                rows.append({"path": path, "label": lab, "detected": False})
            for f in chosen:
                r = {"path": path, "label": lab, "detected": True, "features": _feat(img, f)}
                if name == "masked":
                    r["mask_worn"] = mask_worn(img, f).probability
                rows.append(r)
            if (k + 1) % 20 == 0:
                print(f"{name} {k + 1}/{len(items)}", file=sys.stderr, flush=True)
        dst.write_text(json.dumps(rows))


# -- fitting -----------------------------------------------------------------------------------


def logistic(X: np.ndarray, y: np.ndarray, l2: float = 1e-3) -> np.ndarray:
    X1 = np.hstack([np.ones((len(X), 1)), X])
    b = np.zeros(X1.shape[1])
    for _ in range(100):
        p = 1 / (1 + np.exp(-np.clip(X1 @ b, -30, 30)))
        g = X1.T @ (p - y) + l2 * np.r_[0, b[1:]]
        H = (X1 * (p * (1 - p))[:, None]).T @ X1 + l2 * np.diag(np.r_[0, np.ones(len(b) - 1)])
        step = np.linalg.solve(H + 1e-9 * np.eye(len(b)), g)
        b -= step
        if np.abs(step).max() < 1e-8:
            break
    return b


def predict(b: np.ndarray, X: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-np.clip(b[0] + X @ b[1:], -30, 30)))


def _ci(vals: np.ndarray, stat, n: int = 1000) -> list[float]:
    rng = np.random.default_rng(0)
    s = [stat(vals[rng.integers(0, len(vals), len(vals))]) for _ in range(n)]
    return [float(np.nanpercentile(s, 2.5)), float(np.nanpercentile(s, 97.5))]


def fit(out: Path) -> None:
    data = {n: json.loads((out / f"{n}.json").read_text()) for n in ("sun", "utk", "photos", "masked", "cm_train", "cm_val")}
    rep: dict = {}
    for n, rows in data.items():
        rep.setdefault("detected", {})[n] = [sum(r["detected"] for r in rows), len({r["path"] for r in rows})]
    det = {n: [r for r in rows if r["detected"]] for n, rows in data.items()}

    def half(rows, seed=23):
        idx = np.random.default_rng(seed).permutation(len(rows))
        h = len(rows) // 2
        return [rows[i] for i in sorted(idx[:h])], [rows[i] for i in sorted(idx[h:])]

    def X(rows, names):
        return np.array([[r["features"][k] for k in names] for r in rows], np.float64)

    coef = {}
    # eyewear and hat: CelebAMask-HQ train faces (hand masks), measured on val
    for key, lab in (("eyewear", "glasses"), ("hat", "hat")):
        names = COEF[key][0]
        tr = det["cm_train"]
        b = logistic(X(tr, names), np.array([r["label"][lab] for r in tr], float))
        coef[key] = (names, b)
    # sunglasses + eyes hidden: sunglasses vs utk + celebamask train (incl. clear glasses)
    sun_fit, sun_test = half(det["sun"])
    utk_fit, utk_test = half(det["utk"])
    negs_fit = utk_fit + det["cm_train"]
    for key in ("sunglasses", "eyes_hidden"):
        names = COEF[key][0]
        rows = sun_fit + negs_fit
        y = np.array([1.0] * len(sun_fit) + [0.0] * len(negs_fit))
        coef[key] = (names, logistic(X(rows, names), y))
    # mask, nose and mouth hidden: photos/masked halves
    m_fit, m_test = half(det["masked"])
    for key in ("mask", "nose_hidden", "mouth_hidden"):
        names = COEF[key][0]
        coef[key] = (names, logistic(X(m_fit, names), np.array([r["label"]["mask"] for r in m_fit], float)))
    rep["coef"] = {k: [list(n), [round(float(v), 4) for v in b]] for k, (n, b) in coef.items()}

    def p(key, rows):
        names, b = coef[key]
        return predict(b, X(rows, names))

    # measurements on held-out parts
    s_sun = p("sunglasses", sun_test)
    rec = (s_sun >= 0.5).astype(float)
    rep["sunglasses_recall"] = {"n": len(sun_test), "recall": float(rec.mean()), "ci95": _ci(rec, np.mean)}
    for n, rows in (("utk_test", utk_test), ("photos", det["photos"]), ("cm_val", det["cm_val"]),
                    ("cm_val_glasses", [r for r in det["cm_val"] if r["label"]["glasses"]])):
        fp = (p("sunglasses", rows) >= 0.5).astype(float)
        rep.setdefault("sunglasses_fpr", {})[n] = {"n": len(rows), "fpr": float(fp.mean()) if len(rows) else None,
                                                   "ci95": _ci(fp, np.mean) if len(rows) else None}
    # glasses (eyewear) and hat on cm_val
    for key, lab in (("eyewear", "glasses"), ("hat", "hat")):
        rows = det["cm_val"]
        y = np.array([r["label"][lab] for r in rows])
        pr = (p(key, rows) >= 0.5).astype(int)
        tp, fpn, fn = int(((pr == 1) & (y == 1)).sum()), int(((pr == 1) & (y == 0)).sum()), int(((pr == 0) & (y == 1)).sum())
        rep[key + "_cm_val"] = {"positives": int(y.sum()), "n": len(y), "tp": tp, "fp": fpn, "fn": fn,
                                "precision": tp / max(tp + fpn, 1), "recall": tp / max(tp + fn, 1)}
    # mask: parsing vs mask_worn on the masked test half
    y = np.array([r["label"]["mask"] for r in m_test])
    for name, score in (("parsing", p("mask", m_test)), ("mask_worn", np.array([r["mask_worn"] for r in m_test]))):
        pr = (score >= 0.5).astype(int)
        tp, fpn, fn = int(((pr == 1) & (y == 1)).sum()), int(((pr == 1) & (y == 0)).sum()), int(((pr == 0) & (y == 1)).sum())
        acc = (pr == y).astype(float)
        rep.setdefault("mask_test", {})[name] = {"n": len(y), "positives": int(y.sum()), "precision": tp / max(tp + fpn, 1),
                                                 "recall": tp / max(tp + fn, 1), "accuracy": float(acc.mean()),
                                                 "accuracy_ci95": _ci(acc, np.mean)}
    # mask: both on all 94 too (mask_worn was never fitted on them)
    ally = np.array([r["label"]["mask"] for r in det["masked"]])
    mw = (np.array([r["mask_worn"] for r in det["masked"]]) >= 0.5).astype(int)
    rep["mask_worn_all"] = {"n": len(ally), "accuracy": float((mw == ally).mean()),
                            "recall": float(mw[ally == 1].mean()), "fpr": float(mw[ally == 0].mean())}
    print(json.dumps(rep, indent=1))
    (out / "report.json").write_text(json.dumps(rep, indent=1))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("stage", choices=("extract", "fit"))
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    (extract if a.stage == "extract" else fit)(Path(a.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
