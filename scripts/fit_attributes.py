"""Fit and measure the attribute models of facecore.attributes.

Stage 1 (``extract``, slow, resumable per set): run the same path as
``FaceAnalyzer(parsing=True)`` (YuNet, aligned 512 crop, BiSeNet) on labelled sets, keep the
largest face of each image (every face of size for the scene photos), and store the
attribute features (:func:`facecore.attributes.features`) plus ``mask_worn``, in
``OUT/<set>.json``:

- ``sun``: data/attributes/sunglasses, 160 of 400 (seeded), positives for sunglasses and eyes hidden;
- ``utk``: data/age/utkface test crops, the first 100 of test.txt (looked at: no sunglasses);
- ``photos``: faces of data/photos single/pair/group photos with eye distance >= 20 px;
- ``masked``: data/photos/masked (with_mask 48, without_mask 46), with occlusion.mask_worn;
- ``cm_train``: parsing train split faces with eyeglasses or a hat in the hand mask + 40 others;
- ``cm_val``: the 200 parsing val faces (eyeglasses and hat from the hand masks).

Stage 2 (``fit``, after ``sunglasses``): logistic regressions (Newton, L2 1e-3) on the seeded
fit halves, measured on the other halves; the sunglasses figures on the faces outside the
``sunglasses`` stage's fit half; prints COEF for facecore/attributes.py and the tables of
docs/accuracy.md.

Stage ``sunglasses`` (sunglasses against clear glasses, the ``sunglasses`` model): the 49
hand-sorted CelebAMask-HQ eyewear faces (``EYEWEAR_BY_EYE``), the 160 sunglasses photos and the
100 UTKFace crops above, largest face; caches the grey crop and the skin / eye / eyeglasses
probabilities per face in ``OUT/sun_cache/`` (resumable), computes
:func:`facecore.attributes.lens_features`, fits on the seeded (23) fit half of each group
(clear glasses weighted 2) and reports the other halves with 95 % bootstrap intervals.

Usage::

    python scripts/fit_attributes.py extract --out /tmp/attr   # --sets cm_val,... to split it
    python scripts/fit_attributes.py sunglasses --out /tmp/attr
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
from eval_parsing import GT_TO_MODEL, ROOT, split

DATA = Path(
    os.environ.get("FACECORE_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data")
)
CLS = fc.parsing.CLASSES if hasattr(fc, "parsing") else None


#: CelebAMask-HQ's "eyeglasses" class covers sunglasses too. Its 49 eyewear faces here (train
#: and val) were looked at one by one (eye-region contact sheet) and sorted: "dark" (sunglasses,
#: tinted or mirrored lenses), "clear", or "unsure" (no glasses in view, side view, light tint;
#: left out of the sunglasses fit and measures).
EYEWEAR_BY_EYE = {
    "1c82f1d87e1941d99dfd540f43ffcfa8": "clear",
    "087decfcda1e4ec88c47cb3085ae88e5": "unsure",
    "d4ea0635363e4d738468595bd7d42e67": "clear",
    "5c4ac8e64ce44d1992c52d40f469cedb": "clear",
    "f3239da8f6ae441d85b913eb70dfd839": "clear",
    "8a4d78f75acb4be486e179d77bedd6ff": "dark",
    "8d17469cfab2475c9ababa9ed34dff8e": "clear",
    "85e26c7dea8245d0971c66b5385c0733": "unsure",
    "01a16a82ec1c42cab59a4dda09aab006": "clear",
    "d7f6637562a44d4c85746609e1ea3acf": "dark",
    "738782527db74702b1c9716ec58195bb": "dark",
    "3052049e8d45486299f222769833253d": "unsure",
    "d9c05ca0a40f48ac8e3ab80b8b7895e6": "unsure",
    "7224d71d1e2b4f69918d1e0e28d02786": "clear",
    "04dc4aa34d7e4ead941f111e00d88469": "clear",
    "545b4932694f43ccb438371a0ce13891": "clear",
    "c51a3738a3424676982bb4990dfe220b": "clear",
    "7a69f60d1347403e80d0290a2298a3f8": "clear",
    "1454fa76935c4deab6edbb2caa008eec": "dark",
    "a30b0bb18bc8430e819d6aaf50a8b36e": "dark",
    "9e25736fd45f4f51a6735241a6cac137": "clear",
    "25fcc365581948b59122fccfd9f7633b": "clear",
    "c373885376ce4324a0b4f14ca97d6c2b": "clear",
    "fab4db25188847c6abe1dd85475884ae": "clear",
    "802bc5609206479caaadded02173908e": "clear",
    "a56a427b268649c1a9011c22657937a8": "dark",
    "7e8b4062fa7649b8824677d5c6c791b0": "clear",
    "08f920413efb4477b8a64b5ea35726bc": "clear",
    "f0ec833de3424aebb8703f636c15acce": "dark",
    "65fda355f36947eea131d5f023668d4b": "dark",
    "8e4835b6841f42a3867499681f28eeb5": "clear",
    "7e6c022937fb4cd5a298d47bd46f2739": "clear",
    "f1440b7a11c04d319e34831a8a763921": "clear",
    "2ff81b0c7c9a402183435f80edf9c414": "dark",
    "95b15283ad764a99b4ccafee2feac80a": "dark",
    "d63d2aa037fb4f5994677aa9cdee73ff": "clear",
    "a0ade2c7db6f4ef4a301a47069e4fa02": "dark",
    "fb7af4ff90294922902ae874d675c07d": "dark",
    "24285ffdb5e3437bb6790475feb716df": "clear",
    "fcd88f29de4e4a4881eabd70cd8a7d85": "dark",
    "21f48e24530f4ff49041701b1b20b0c8": "clear",
    "302a8a772f2147129ef2e978f19a521d": "dark",
    "96bad2d2c745401fa95bf60ddff32321": "clear",
    "dc60a335b7a44e95b553476bc174a449": "clear",
    "38a538927e1d4596b5a21fb66b539e0c": "dark",
    "132a223583f74396b63032a6be86f168": "clear",
    "d7a40636126546adbcc20cb6f61406a3": "unsure",
    "717094de71d847719dabea471937dfca": "dark",
    "88e3b7f68a684a62b11875ed96d5cc15": "unsure",
}


def _kind(row) -> str:
    return EYEWEAR_BY_EYE.get(Path(row["path"]).stem, "none")


def _analyzer():
    return fc.FaceAnalyzer(
        parsing=True,
        embedder=False,
        age=False,
        gender=False,
        quality=False,
        pose=False,
        det_threshold=0.5,
        threads=1,
    )


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
    utk = [
        ln.split()[0]
        for ln in (DATA / "age" / "utkface" / "test.txt").read_text().splitlines()
        if ln.strip()
    ][:100]
    out["utk"] = [(str(DATA / "age" / "utkface" / "images" / n), {"sunglasses": 0}) for n in utk]
    ph = [
        p
        for p in sorted((DATA / "photos").glob("*.jpg"))
        if p.name.split("_")[0] in ("single", "pair", "group")
    ]
    out["photos"] = [(str(p), {"sunglasses": 0, "all_faces": 1}) for p in ph]
    m = DATA / "photos" / "masked"
    out["masked"] = [
        (str(p), {"mask": int(p.parent.name == "with_mask")})
        for d in ("with_mask", "without_mask")
        for p in sorted((m / d).glob("*.jpg"))
    ]
    train, val = split()
    pos, neg = [], []
    for i in train:
        gt = GT_TO_MODEL[cv2.imread(str(ROOT / "masks" / f"{i}.png"), 0)]
        lab = {"glasses": int((gt == 6).sum() > 50), "hat": int((gt == 18).sum() > 50)}
        (pos if lab["glasses"] or lab["hat"] else neg).append(
            (str(ROOT / "images" / f"{i}.jpg"), lab)
        )
    out["cm_train"] = pos + neg[:40]
    vals = []
    for i in val:
        gt = GT_TO_MODEL[cv2.imread(str(ROOT / "masks" / f"{i}.png"), 0)]
        vals.append(
            (
                str(ROOT / "images" / f"{i}.jpg"),
                {"glasses": int((gt == 6).sum() > 50), "hat": int((gt == 18).sum() > 50)},
            )
        )
    out["cm_val"] = vals
    return out


def extract(out: Path, only: tuple[str, ...] = ()) -> None:
    out.mkdir(parents=True, exist_ok=True)
    fa = _analyzer()
    for name, items in sets().items():
        dst = out / f"{name}.json"
        if dst.exists() or (only and name not in only):
            continue
        rows = []
        for k, (path, lab) in enumerate(items):
            img = fc.read_image(path)
            faces = fa.analyze(img)
            chosen = (
                [f for f in faces if f.landmarks.eye_distance >= 20]
                if lab.get("all_faces")
                else [f for f in [_largest(faces)] if f is not None]
            )
            if not chosen:
                rows.append({"path": path, "label": lab, "detected": False})
            for f in chosen:
                r = {"path": path, "label": lab, "detected": True, "features": _feat(img, f)}
                r["mask_worn"] = mask_worn(img, f).probability  # every set: fit compares both
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


def _pr_ci(pr: np.ndarray, y: np.ndarray, n: int = 1000) -> dict[str, list[float]]:
    """95 % bootstrap intervals (faces resampled) of precision and recall."""
    rng = np.random.default_rng(0)
    P, R = [], []
    for _ in range(n):
        i = rng.integers(0, len(y), len(y))
        a, b = pr[i], y[i]
        tp = float(((a == 1) & (b == 1)).sum())
        P.append(tp / a.sum() if a.sum() else np.nan)
        R.append(tp / b.sum() if b.sum() else np.nan)
    return {
        "precision_ci95": [float(np.nanpercentile(P, 2.5)), float(np.nanpercentile(P, 97.5))],
        "recall_ci95": [float(np.nanpercentile(R, 2.5)), float(np.nanpercentile(R, 97.5))],
    }


def fit(out: Path) -> None:
    data = {
        n: json.loads((out / f"{n}.json").read_text())
        for n in ("sun", "utk", "photos", "masked", "cm_train", "cm_val")
    }
    rep: dict = {}
    for n, rows in data.items():
        rep.setdefault("detected", {})[n] = [
            sum(r["detected"] for r in rows),
            len({r["path"] for r in rows}),
        ]
    det = {n: [r for r in rows if r["detected"]] for n, rows in data.items()}

    def half(rows, seed=23):
        idx = np.random.default_rng(seed).permutation(len(rows))
        h = len(rows) // 2
        return [rows[i] for i in sorted(idx[:h])], [rows[i] for i in sorted(idx[h:])]

    def X(rows, names):
        return np.array([[r["features"][k] for k in names] for r in rows], np.float64)

    coef = {}
    sun_fit, sun_test = half(det["sun"])
    utk_fit, utk_test = half(det["utk"])
    cm_glasses = [r for r in det["cm_train"] if r["label"]["glasses"]]

    def fit1(key, pos, neg):
        names = COEF[key][0]
        y = np.array([1.0] * len(pos) + [0.0] * len(neg))
        coef[key] = (names, logistic(X(pos + neg, names), y))

    # eyewear (clear or dark): CelebAMask-HQ eyeglasses masks + the sunglasses fit half, against
    # the other CelebAMask-HQ train faces and the UTKFace fit half
    fit1(
        "eyewear",
        cm_glasses + sun_fit,
        [r for r in det["cm_train"] if not r["label"]["glasses"]] + utk_fit,
    )
    # sunglasses: fitted by the `sunglasses` stage (lens features); its COEF is used as shipped
    coef["sunglasses"] = (COEF["sunglasses"][0], np.array(COEF["sunglasses"][1]))
    # hat: CelebAMask-HQ hat masks
    fit1(
        "hat",
        [r for r in det["cm_train"] if r["label"]["hat"]],
        [r for r in det["cm_train"] if not r["label"]["hat"]],
    )
    # eyes hidden: the sunglasses fit half against UTKFace fit half + CelebAMask-HQ train
    fit1("eyes_hidden", sun_fit, utk_fit + det["cm_train"])
    # mask, nose and mouth hidden: photos/masked halves
    m_fit, m_test = half(det["masked"])
    for key in ("mask", "mouth_hidden"):
        names = COEF[key][0]
        coef[key] = (
            names,
            logistic(X(m_fit, names), np.array([r["label"]["mask"] for r in m_fit], float)),
        )
    b1 = coef["mouth_hidden"][1][1]
    coef["nose_hidden"] = (
        ("log_nose",),
        np.array([-b1 * np.log(0.37), b1]),
    )  # rule, see attributes.py
    rep["coef"] = {k: [list(n), [round(float(v), 4) for v in b]] for k, (n, b) in coef.items()}

    def p(key, rows):
        names, b = coef[key]
        return predict(b, X(rows, names))

    # measurements on held-out parts. The sunglasses model is fitted by the `sunglasses` stage
    # on its own seeded halves: its figures use the faces outside ITS fit half (the stage's
    # report lists them; run `sunglasses` first), and the label counts the faces outside both
    # stages' fit halves.
    sg_report = out / "sunglasses_report.json"
    if not sg_report.exists():
        raise SystemExit(f"{sg_report} missing: run the `sunglasses` stage first")
    sg_fit = set(json.loads(sg_report.read_text())["fit_paths"])
    sun_held = [r for r in det["sun"] if r["path"] not in sg_fit]
    utk_held = [r for r in det["utk"] if r["path"] not in sg_fit]
    cm_val_held = [r for r in det["cm_val"] if r["path"] not in sg_fit]
    test_ids = {id(r) for r in sun_test + utk_test}
    sun_both = [r for r in sun_held if id(r) in test_ids]
    utk_both = [r for r in utk_held if id(r) in test_ids]
    rep["held_out_sizes"] = {
        "sun (outside the sunglasses fit half)": len(sun_held),
        "utk (outside the sunglasses fit half)": len(utk_held),
        "cm_val (outside the sunglasses fit half)": len(cm_val_held),
        "sun (outside both fit halves)": len(sun_both),
        "utk (outside both fit halves)": len(utk_both),
    }
    s_sun = p("sunglasses", sun_held)
    rec = (s_sun >= 0.5).astype(float)
    rep["sunglasses_recall"] = {
        "n": len(sun_held),
        "recall": float(rec.mean()),
        "ci95": _ci(rec, np.mean),
    }
    for n, rows in (
        ("utk_held", utk_held),
        ("photos", det["photos"]),
        ("cm_val_held (no dark eyewear)", [r for r in cm_val_held if _kind(r) != "dark"]),
        ("cm_val_clear_glasses", [r for r in det["cm_val"] if _kind(r) == "clear"]),
        ("cm_train_clear_glasses (fit data)", [r for r in det["cm_train"] if _kind(r) == "clear"]),
    ):
        fp = (p("sunglasses", rows) >= 0.5).astype(float)
        rep.setdefault("sunglasses_fpr", {})[n] = {
            "n": len(rows),
            "fpr": float(fp.mean()) if len(rows) else None,
            "ci95": _ci(fp, np.mean) if len(rows) else None,
            "called": [(r["path"], r["features"]["eye_distance"]) for r, v in zip(rows, fp) if v],
        }
    dv = [r for r in det["cm_val"] if _kind(r) == "dark"]
    rep["sunglasses_recall_cm_val_dark"] = {
        "n": len(dv),
        "detected_as_sunglasses": int((p("sunglasses", dv) >= 0.5).sum()),
    }
    # glasses (eyewear) and hat on cm_val
    for key, lab in (("eyewear", "glasses"), ("hat", "hat")):
        rows = det["cm_val"]
        y = np.array([r["label"][lab] for r in rows])
        pr = (p(key, rows) >= 0.5).astype(int)
        tp, fpn, fn = (
            int(((pr == 1) & (y == 1)).sum()),
            int(((pr == 1) & (y == 0)).sum()),
            int(((pr == 0) & (y == 1)).sum()),
        )
        rep[key + "_cm_val"] = {
            "positives": int(y.sum()),
            "n": len(y),
            "tp": tp,
            "fp": fpn,
            "fn": fn,
            "precision": tp / max(tp + fpn, 1),
            "recall": tp / max(tp + fn, 1),
            **_pr_ci(pr, y),
        }
    # mask: parsing vs mask_worn on the masked test half
    y = np.array([r["label"]["mask"] for r in m_test])
    mw_test = np.array([r["mask_worn"] for r in m_test])
    for name, score in (
        ("parsing", p("mask", m_test)),
        ("mask_worn", mw_test),
        ("mean of both", (p("mask", m_test) + mw_test) / 2),
        ("geometric mean (shipped)", np.sqrt(p("mask", m_test) * mw_test)),
    ):
        pr = (score >= 0.5).astype(int)
        tp, fpn, fn = (
            int(((pr == 1) & (y == 1)).sum()),
            int(((pr == 1) & (y == 0)).sum()),
            int(((pr == 0) & (y == 1)).sum()),
        )
        acc = (pr == y).astype(float)
        rep.setdefault("mask_test", {})[name] = {
            "n": len(y),
            "positives": int(y.sum()),
            "precision": tp / max(tp + fpn, 1),
            "recall": tp / max(tp + fn, 1),
            "accuracy": float(acc.mean()),
            "accuracy_ci95": _ci(acc, np.mean),
        }
    # mask: both on all 94 too (mask_worn was never fitted on them)
    ally = np.array([r["label"]["mask"] for r in det["masked"]])
    mw = (np.array([r["mask_worn"] for r in det["masked"]]) >= 0.5).astype(int)
    for n in ("sun", "utk", "photos", "cm_val"):
        rows = det[n]
        pp, pw = p("mask", rows), np.array([r["mask_worn"] for r in rows])
        rep.setdefault("mask_fpr_elsewhere", {})[n] = {
            "n": len(rows),
            "parsing": float((pp >= 0.5).mean()),
            "mask_worn": float((pw >= 0.5).mean()),
            "mean": float(((pp + pw) / 2 >= 0.5).mean()),
            "geometric": float((np.sqrt(pp * pw) >= 0.5).mean()),
            "geometric_ci95": _ci((np.sqrt(pp * pw) >= 0.5).astype(float), np.mean),
        }
    rep["mask_worn_all"] = {
        "n": len(ally),
        "accuracy": float((mw == ally).mean()),
        "recall": float(mw[ally == 1].mean()),
        "fpr": float(mw[ally == 0].mean()),
    }
    # the single label with facecore.attributes as shipped (its COEF), on the held-out parts
    from collections import Counter

    from facecore.attributes import from_features

    for n, rows in (
        ("sun_both_held", sun_both),
        ("utk_both_held", utk_both),
        ("photos", det["photos"]),
        ("masked_test_with", [r for r in m_test if r["label"]["mask"]]),
        ("masked_test_without", [r for r in m_test if not r["label"]["mask"]]),
        ("cm_val", det["cm_val"]),
    ):
        labs = Counter(
            from_features(r["features"], mask_worn=r.get("mask_worn")).label for r in rows
        )
        rep.setdefault("labels", {})[n] = dict(labs.most_common())
    print(json.dumps(rep, indent=1))
    (out / "report.json").write_text(json.dumps(rep, indent=1))


def sunglasses(out: Path) -> None:
    from facecore.attributes import lens_features

    cache = out / "sun_cache"
    cache.mkdir(parents=True, exist_ok=True)
    st = sets()
    items = [("cm", str(ROOT / "images" / f"{k}.jpg"), v) for k, v in EYEWEAR_BY_EYE.items()]
    items += [("sun", p, "dark") for p, _ in st["sun"]] + [("utk", p, "none") for p, _ in st["utk"]]
    cls = [fc.parsing.CLASSES.index(c) for c in ("skin", "l_eye", "r_eye", "eyeglasses")]
    fa = None
    rows = []
    for s_, path, kind in items:
        dst = cache / f"{s_}_{Path(path).stem}.npz"
        if not dst.exists():
            fa = fa or _analyzer()
            img = fc.read_image(path)
            f = _largest(fa.analyze(img))
            if f is None:
                np.savez(dst, detected=False)
            else:
                p = f.parsing
                chip = kernels.warp_crops(
                    cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), p.matrix[None], p.shape
                )[0]
                np.savez_compressed(
                    dst,
                    detected=True,
                    chip=chip,
                    probs=(p.probabilities[cls] * 255).round().astype(np.uint8),
                )
        z = np.load(dst)
        if not bool(z["detected"]):
            continue
        P = z["probs"].astype(np.float32) / 255
        if (
            P[0] > 0.5
        ).sum() < 100:  # no skin median: left out (10 of the 104 detected sunglasses photos)
            continue
        rows.append(
            {
                "set": s_,
                "kind": kind,
                "path": path,
                "features": lens_features(P[0], P[1] + P[2], P[3], z["chip"]),
            }
        )

    def half(rs, seed=23):
        idx = np.random.default_rng(seed).permutation(len(rs))
        h = len(rs) // 2
        return [rs[i] for i in sorted(idx[:h])], [rs[i] for i in sorted(idx[h:])]

    grp = {
        k: half([r for r in rows if (r["set"], r["kind"]) == k])
        for k in (("sun", "dark"), ("cm", "dark"), ("cm", "clear"), ("utk", "none"))
    }
    names = COEF["sunglasses"][0]
    pos = grp["sun", "dark"][0] + grp["cm", "dark"][0]
    neg = grp["cm", "clear"][0] * 2 + grp["utk", "none"][0]
    Xs = lambda rs: np.array([[r["features"][k] for k in names] for r in rs], np.float64)
    b = logistic(Xs(pos + neg), np.r_[np.ones(len(pos)), np.zeros(len(neg))])
    rep = {
        "coef": [list(names), [round(float(v), 4) for v in b]],
        "fit_paths": sorted(r["path"] for fit_half, _ in grp.values() for r in fit_half),
        "called_sunglasses": {},
    }
    for k, (fit_half, test_half) in grp.items():
        for part, rs in (("test", test_half), ("fit", fit_half)):
            c = (predict(b, Xs(rs)) >= 0.5).astype(float)
            rep["called_sunglasses"][f"{k[0]}_{k[1]}_{part}"] = {
                "n": len(rs),
                "rate": float(c.mean()),
                "ci95": _ci(c, np.mean),
                "paths": [r["path"] for r, v in zip(rs, c) if v != (k[1] == "dark")],
            }
    print(json.dumps(rep, indent=1))
    (out / "sunglasses_report.json").write_text(json.dumps(rep, indent=1))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("stage", choices=("extract", "fit", "sunglasses"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--sets", default="", help="extract: only these sets (comma-separated)")
    a = ap.parse_args()
    if a.stage == "extract":
        extract(Path(a.out), tuple(s for s in a.sets.split(",") if s))
    else:
        {"fit": fit, "sunglasses": sunglasses}[a.stage](Path(a.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
