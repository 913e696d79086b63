"""Age and gender through the whole pipeline: facecore's ``agegender`` against dlib's pair.

UTKFace ``test.txt`` (or ``val.txt``) as ``scripts/eval_accuracy.py`` measures it: each 200x200
crop padded by half its side with black, YuNet (score 0.6), the detection nearest the centre,
its 5 landmarks -> each model's chip -> the model. Figures with 95 % bootstrap intervals
(2,000 resamples of the faces; the difference new - dlib is a paired bootstrap), MAE and bias
per decade, children (< 13) and over-60s apart, gender calibration (ECE over 10 equal-width
bins of P(male), a reliability diagram), the same
faces wearing a synthetic mask (:func:`facecore.occlusion.synthesize`, surgical/cloth styles,
seeded per face), and the speed of both models for the 52 faces of ``photos/group_07.jpg``
in one batched call (chips + model runs; median of interleaved rounds).

Usage::

    python scripts/eval_agegender.py [--split test] [--json out.json] [--diagram out.png]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
MASK_STYLES = ("surgical_blue", "surgical_white", "cloth", "patterned")


def boot(
    values: np.ndarray, stat=np.mean, n: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(values), (n, len(values)))
    s = np.array([stat(values[i]) for i in idx])
    return float(stat(values)), float(np.percentile(s, 2.5)), float(np.percentile(s, 97.5))


def ece(p_male: np.ndarray, male: np.ndarray, bins: int = 10) -> tuple[float, list[dict]]:
    """ECE over ``bins`` equal-width bins of P(male): sum_b n_b / N |mean P(male) - fraction male|."""
    rows, e = [], 0.0
    k = np.minimum((p_male * bins).astype(int), bins - 1)
    for b in range(bins):
        m = k == b
        if m.any():
            rows.append(
                {
                    "p_lo": b / bins,
                    "n": int(m.sum()),
                    "mean_p_male": float(p_male[m].mean()),
                    "frac_male": float(male[m].mean()),
                }
            )
            e += m.mean() * abs(p_male[m].mean() - male[m].mean())
    return float(e), rows


def faces_of(data: Path, split: str, detector, limit: int = 0):
    root = data / "age" / "utkface"
    lab = {}
    for ln in (root / "labels.csv").read_text().splitlines()[1:]:
        f, a, g, _ = ln.split(",")
        lab[f] = (int(a), g == "0")
    out, missed = [], 0
    names = (root / f"{split}.txt").read_text().split()[: limit or None]
    for n in names:
        img = cv2.imread(str(root / "images" / n))
        pad = img.shape[0] // 2
        big = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
        d = detector.detect(big)
        if len(d) == 0:
            out.append((n, big, None, *lab[n]))
            missed += 1
            continue
        c = np.array([big.shape[1] / 2, big.shape[0] / 2])
        i = int(np.argmin(np.linalg.norm(d.boxes[:, :2] + d.boxes[:, 2:] / 2 - c, axis=1)))
        out.append((n, big, d.landmarks[i].astype(np.float64), *lab[n]))
    mean_lm = np.mean([lm for _, _, lm, _, _ in out if lm is not None], axis=0)
    out = [(n, b, mean_lm if lm is None else lm, a, m) for n, b, lm, a, m in out]
    return out, missed


def predict_all(models: dict, faces) -> dict:
    res = {}
    for name, (age_m, gender_m) in models.items():
        ages, pm, std = [], [], []
        for _, big, lm, _, _ in faces:
            if age_m is gender_m:
                r = age_m.predict(big, lm[None])
                ages.append(float(r.age[0]))
                pm.append(float(r.p_male[0]))
                std.append(float(r.age_std[0]))
            else:
                ages.append(float(age_m.predict(big, lm[None])[0]))
                pm.append(float(gender_m.predict(big, lm[None])[0]))
        res[name] = {
            "age": np.array(ages),
            "p_male": np.array(pm),
            "age_std": np.array(std) if std else None,
        }
    return res


def summarise(pred: dict, age: np.ndarray, male: np.ndarray) -> dict:
    err = pred["age"] - age
    ae = np.abs(err)
    correct = ((pred["p_male"] > 0.5) == male).astype(np.float64)
    out = {
        "n": int(len(age)),
        "age_mae": boot(ae),
        "age_bias": float(err.mean()),
        "gender_accuracy": boot(correct),
    }
    for key, m in (("children_lt13", age < 13), ("over_60", age > 60)):
        out[key] = {
            "n": int(m.sum()),
            "age_mae": boot(ae[m]),
            "age_bias": float(err[m].mean()),
            "gender_accuracy": boot(correct[m]),
        }
    out["by_decade"] = {
        f"{lo}-{lo + 9}" if lo < 100 else "100+": {
            "n": int(m.sum()),
            "mae": float(ae[m].mean()),
            "bias": float(err[m].mean()),
            "gender_accuracy": float(correct[m].mean()),
        }
        for lo in range(0, 110, 10)
        if (m := ((age >= lo) & (age < lo + 10)) if lo < 100 else age >= 100).any()
    }
    e, rel = ece(pred["p_male"], male)
    out["gender_ece"] = e
    out["reliability"] = rel
    if pred.get("age_std") is not None:
        s = pred["age_std"]
        q = np.quantile(s, [1 / 3, 2 / 3])
        out["age_std_mean"] = float(s.mean())
        out["mae_by_uncertainty_tercile"] = [
            float(ae[s <= q[0]].mean()),
            float(ae[(s > q[0]) & (s <= q[1])].mean()),
            float(ae[s > q[1]].mean()),
        ]
        out["within_1_std"] = float((ae <= s).mean())
    return out


def paired_diff(
    a: np.ndarray, b: np.ndarray, n: int = 2000, seed: int = 1
) -> tuple[float, float, float]:
    rng = np.random.default_rng(seed)
    d = a - b
    idx = rng.integers(0, len(d), (n, len(d)))
    s = d[idx].mean(1)
    return float(d.mean()), float(np.percentile(s, 2.5)), float(np.percentile(s, 97.5))


def masked(faces, seed: int = 0):
    from facecore import occlusion

    out = []
    for k, (n, big, lm, a, m) in enumerate(faces):
        style = MASK_STYLES[k % len(MASK_STYLES)]
        occ, _ = occlusion.synthesize(big, lm, style=style, seed=seed + k)
        out.append((n, occ, lm, a, m))
    return out


def speed(models: dict, image: np.ndarray, detector, rounds: int = 15) -> dict:
    from facecore.models._warp import Pyramid
    from facecore.models.attributes import AgeGenderModel

    lm = detector.detect(image).landmarks.astype(np.float64)
    times = {k: [] for k in models}
    for _ in range(rounds):
        for name, (age_m, gender_m) in models.items():
            t = time.perf_counter()
            pyr = Pyramid(image)
            if isinstance(age_m, AgeGenderModel) and age_m is gender_m:
                age_m.run_all(age_m.tensor(image, lm, pyramid=pyr))
            else:
                age_m.ages(age_m.tensor(image, lm, pyramid=pyr))
                gender_m.p_male(gender_m.tensor(image, lm, pyramid=pyr))
            times[name].append((time.perf_counter() - t) * 1000)
    return {
        "faces": int(len(lm)),
        "rounds": rounds,
        **{
            k: {
                "median_ms": float(np.median(v)),
                "iqr_ms": float(np.subtract(*np.percentile(v, [75, 25]))),
            }
            for k, v in times.items()
        },
    }


def diagram(res: dict, path: Path) -> None:
    s = 360
    img = np.full((s + 60, s + 60, 3), 255, np.uint8)
    o = 40
    cv2.rectangle(img, (o, 10), (o + s, 10 + s), (0, 0, 0), 1)
    cv2.line(img, (o, 10 + s), (o + s, 10), (160, 160, 160), 1)
    for v in (0.0, 0.5, 1.0):
        cv2.putText(
            img,
            f"{v:g}",
            (o + int(v * s) - 6, s + 26),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4,
            (0, 0, 0),
            1,
            cv2.LINE_AA,
        )
        cv2.putText(
            img,
            f"{v:g}",
            (o - 26, 14 + s - int(v * s)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4,
            (0, 0, 0),
            1,
            cv2.LINE_AA,
        )
    colours = {"agegender_v2": (0, 150, 0), "agegender": (200, 80, 0), "dlib": (0, 0, 200)}
    for name, r in res.items():
        pts = [
            (int(o + row["mean_p_male"] * s), int(10 + s - row["frac_male"] * s))
            for row in r["reliability"]
        ]
        for p, q in zip(pts[:-1], pts[1:]):
            cv2.line(img, p, q, colours.get(name, (0, 0, 0)), 2, cv2.LINE_AA)
        for p in pts:
            cv2.circle(img, p, 4, colours.get(name, (0, 0, 0)), -1, cv2.LINE_AA)
    y = 30
    for name, r in res.items():
        cv2.putText(
            img,
            f"{name}: ECE {r['gender_ece']:.3f}",
            (o + 10, y),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.45,
            colours.get(name, (0, 0, 0)),
            1,
            cv2.LINE_AA,
        )
        y += 18
    cv2.putText(
        img,
        "predicted P(male)",
        (o + s // 2 - 60, s + 45),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.45,
        (0, 0, 0),
        1,
        cv2.LINE_AA,
    )
    cv2.putText(
        img,
        "fraction male",
        (o + 10, s - 4),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.4,
        (90, 90, 90),
        1,
        cv2.LINE_AA,
    )
    cv2.imwrite(str(path), img)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--data",
        default=os.environ.get("FACECORE_DATA_DIR") or str(REPO.parent / "shared" / "data"),
    )
    ap.add_argument("--split", default="test", choices=("test", "val"))
    ap.add_argument("--json")
    ap.add_argument("--diagram")
    ap.add_argument("--no-masked", action="store_true")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--limit", type=int, default=0, help="first N faces only (smoke runs)")
    ap.add_argument(
        "--new",
        default=None,
        help="the model measured as new: a zoo name or an .onnx path (default: "
        "FaceAnalyzer's default age model); when it is not 'agegender', agegender is measured "
        "beside it (e.g. an agegender_v2.onnx of training/agegender/head.py)",
    )
    args = ap.parse_args(argv)
    data = Path(args.data)
    if not (data / "age" / "utkface").is_dir():
        print(f"needs the data folder ({data})", file=sys.stderr)
        return 2
    import facecore.models as fm

    det = fm.load("yunet", score_threshold=0.6, threads=1)
    from facecore.analyzer import _DEFAULTS

    new_spec = args.new or _DEFAULTS["age"]
    new_name = Path(new_spec).stem if new_spec.endswith(".onnx") else new_spec
    new = fm.load(new_spec, threads=1)
    models = {new_name: (new, new)}
    if new_name != "agegender":
        old = fm.load("agegender", threads=1)
        models["agegender"] = (old, old)
    models["dlib"] = (fm.load("age", threads=1), fm.load("gender", threads=1))
    faces, missed = faces_of(data, args.split, det, args.limit)
    age = np.array([f[3] for f in faces], float)
    male = np.array([f[4] for f in faces])
    preds = predict_all(models, faces)
    res: dict = {
        "split": f"{args.split}.txt",
        "faces": len(faces),
        "missed_by_detector": missed,
        "load": os.getloadavg(),
    }
    res["models"] = {k: summarise(v, age, male) for k, v in preds.items()}
    for ref in [k for k in models if k != new_name]:
        key = "difference_new_minus_dlib" if ref == "dlib" else f"difference_new_minus_{ref}"
        res[key] = {
            "age_abs_error": paired_diff(
                np.abs(preds[new_name]["age"] - age), np.abs(preds[ref]["age"] - age)
            ),
            "gender_correct": paired_diff(
                ((preds[new_name]["p_male"] > 0.5) == male).astype(float),
                ((preds[ref]["p_male"] > 0.5) == male).astype(float),
            ),
        }
        d = res[key]
        print(
            f"{new_name} - {ref}: age abs error {d['age_abs_error'][0]:+.2f} "
            f"[{d['age_abs_error'][1]:+.2f}, {d['age_abs_error'][2]:+.2f}], gender correct "
            f"{100 * d['gender_correct'][0]:+.1f} [{100 * d['gender_correct'][1]:+.1f}, "
            f"{100 * d['gender_correct'][2]:+.1f}] points"
        )
    for k, r in res["models"].items():
        print(
            f"{k:10s} MAE {r['age_mae'][0]:.2f} [{r['age_mae'][1]:.2f}, {r['age_mae'][2]:.2f}]  bias {r['age_bias']:+.2f}  "
            f"gender {100 * r['gender_accuracy'][0]:.1f} % [{100 * r['gender_accuracy'][1]:.1f}, {100 * r['gender_accuracy'][2]:.1f}]  "
            f"ECE {r['gender_ece']:.3f}"
        )
        for g in ("children_lt13", "over_60"):
            c = r[g]
            print(
                f"    {g:14s} n {c['n']:3d}  MAE {c['age_mae'][0]:.2f} [{c['age_mae'][1]:.2f}, {c['age_mae'][2]:.2f}]  "
                f"bias {c['age_bias']:+.2f}  gender {100 * c['gender_accuracy'][0]:.1f} % "
                f"[{100 * c['gender_accuracy'][1]:.1f}, {100 * c['gender_accuracy'][2]:.1f}]"
            )
    print("decade   n   MAE new / dlib   bias new / dlib   gender new / dlib")
    for dec, a in res["models"][new_name]["by_decade"].items():
        b = res["models"]["dlib"]["by_decade"][dec]
        print(
            f"{dec:>7s} {a['n']:3d}  {a['mae']:6.2f} / {b['mae']:6.2f}  {a['bias']:+6.2f} / {b['bias']:+6.2f}  "
            f"{100 * a['gender_accuracy']:5.1f} / {100 * b['gender_accuracy']:5.1f}"
        )
    if not args.no_masked:
        mf = masked(faces)
        mp = predict_all(models, mf)
        res["masked"] = {
            k: {
                "age_mae": boot(np.abs(v["age"] - age)),
                "gender_accuracy": boot(((v["p_male"] > 0.5) == male).astype(float)),
            }
            for k, v in mp.items()
        }
        for k, v in res["masked"].items():
            print(
                f"masked {k:10s} MAE {v['age_mae'][0]:.2f} [{v['age_mae'][1]:.2f}, {v['age_mae'][2]:.2f}]  "
                f"gender {100 * v['gender_accuracy'][0]:.1f} %"
            )
    g7 = data / "photos" / "group_07.jpg"
    if g7.is_file():
        res["speed_group_07"] = sp = speed(models, cv2.imread(str(g7)), det, rounds=args.rounds)
        print(
            f"speed, {sp['faces']} faces of group_07.jpg, one batched call: "
            + ", ".join(
                f"{k} {sp[k]['median_ms']:.1f} ms (IQR {sp[k]['iqr_ms']:.1f})" for k in models
            )
        )
    if args.diagram:
        diagram(res["models"], Path(args.diagram))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
