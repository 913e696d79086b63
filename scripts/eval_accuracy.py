"""Measure facecore's model layer on the labelled data in ../shared/data.

1. Detector agreement with ``cv2.FaceDetectorYN`` on ``photos/*.jpg`` (same model file,
   score 0.9, NMS 0.3, full resolution): faces found by each, matched at IoU >= 0.5, and
   the largest coordinate difference.
2. Age MAE and gender accuracy on ``age/utkface`` ``test.txt`` (501 faces): the full
   pipeline (YuNet -> 5 landmarks -> dlib-style chips -> age/gender models; facecore's own
   ``agegender`` by default, ``--attributes dlib`` for dlib's pair; the bootstrap intervals,
   calibration and speed comparison are in ``scripts/eval_agegender.py``). UTKFace
   images are already aligned 200x200 crops whose face fills the frame, so each is padded
   by 50 % of its size on every side (black, ``cv2.BORDER_CONSTANT``) before detection, and
   the detection nearest the centre is used. For comparison, the "raw model" figure feeds
   the same models the whole 200x200 crop resized to 64x64 / 32x32 (no detection, no
   alignment), on the same images. Faces the detector misses are counted, and for
   them the chips are cut from the mean landmark layout of the detected test faces
   (stated separately).
3. SFace verification on ``identity/glint24`` (1,827 ArcFace-aligned 112x112 crops of 24
   people): embedded directly, no detection; every genuine pair and every impostor pair;
   TAR at FAR 1e-3 and 1e-4, and the threshold at FAR 1e-3.

Usage::

    python scripts/eval_accuracy.py [--data ../shared/data] [--json out.json] [--quick]
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


def _iou(a, b):
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def eval_detector(data: Path, model_path: Path, threads: int) -> dict:
    import facecore.models as fm

    det = fm.load(model_path, score_threshold=0.9, nms_threshold=0.3, threads=threads)
    photos = sorted((data / "photos").glob("*.jpg"))
    n_ours = n_cv = matched = 0
    max_diff = 0.0
    per_image = {}
    for p in photos:
        img = cv2.imread(str(p))
        h, w = img.shape[:2]
        cvd = cv2.FaceDetectorYN.create(str(model_path), "", (w, h), 0.9, 0.3, 5000)
        _, ref = cvd.detect(img)
        ref = np.zeros((0, 15), np.float32) if ref is None else ref
        ours = det.detect(img).rows()
        n_ours += len(ours)
        n_cv += len(ref)
        used = set()
        for r in ref:
            best, bi = 0.0, -1
            for i, o in enumerate(ours):
                if i not in used and (v := _iou(r[:4], o[:4])) > best:
                    best, bi = v, i
            if best >= 0.5:
                used.add(bi)
                matched += 1
                max_diff = max(max_diff, float(np.abs(ours[bi] - r).max()))
        per_image[p.name] = [len(ours), len(ref)]
    return {
        "images": len(photos),
        "faces_facecore": n_ours,
        "faces_opencv": n_cv,
        "matched_iou_0.5": matched,
        "max_abs_diff_px": max_diff,
        "per_image": per_image,
    }


def eval_age_gender(data: Path, fa, *, step: int = 1) -> dict:
    root = data / "age" / "utkface"
    names = (root / "test.txt").read_text().split()
    names = names[::step]
    labels = {}
    for line in (root / "labels.csv").read_text().splitlines()[1:]:
        f, a, g, _ = line.split(",")
        labels[f] = (int(a), int(g))
    found = []  # (name, landmarks in padded image, padded image)
    missed = []
    for n in names:
        img = cv2.imread(str(root / "images" / n))
        pad = img.shape[0] // 2
        big = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
        det = fa.detector.detect(big)
        if len(det) == 0:
            missed.append((n, big, pad))
            continue
        c = np.array([big.shape[1] / 2, big.shape[0] / 2])
        i = int(np.argmin(np.linalg.norm(det.boxes[:, :2] + det.boxes[:, 2:] / 2 - c, axis=1)))
        found.append((n, det.landmarks[i].astype(np.float64), big, pad))
    mean_lm = np.mean([lm - pad for _, lm, _, pad in found], axis=0) if found else None
    rows = []
    for n, lm, big, _ in found:
        rows.append((n, big, lm, True))
    for n, big, pad in missed:
        rows.append((n, big, mean_lm + pad, False))
    ages, pm, detected = [], [], []
    for _n, big, lm, ok in rows:
        ages.append(float(fa.age.predict_age(big, lm[None])[0]))
        pm.append(float(fa.gender.predict_gender(big, lm[None])[0]))
        detected.append(ok)
    # the raw model on the whole crop, same images, same order
    raw_a, raw_g = [], []
    for n, *_ in rows:
        img = cv2.imread(str(root / "images" / n))
        for model, acc in ((fa.age, raw_a), (fa.gender, raw_g)):
            size = model.spec.shape[0]
            x = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)[:, :, ::-1].astype(
                np.float32
            )
            x = (
                (x - np.asarray(model.spec.mean, np.float32))
                / np.asarray(model.spec.std, np.float32)
            ).transpose(2, 0, 1)
            acc.append(np.ascontiguousarray(x))
    raw_age = fa.age.ages(np.stack(raw_a))
    raw_male = fa.gender.p_male(np.stack(raw_g)) > 0.5
    true_age = np.array([labels[n][0] for n, *_ in rows], float)
    true_male = np.array([labels[n][1] == 0 for n, *_ in rows])
    ages, pm, detected = np.array(ages), np.array(pm), np.array(detected)
    err = np.abs(ages - true_age)
    correct = (pm > 0.5) == true_male
    le80 = true_age <= 80
    return {
        "split": "test.txt" + (f" (every {step}th)" if step > 1 else ""),
        "faces": len(rows),
        "detected": int(detected.sum()),
        "age_mae": float(err.mean()),
        "age_mae_detected_only": float(err[detected].mean()) if detected.any() else None,
        "age_mae_labels_le_80": float(err[le80].mean()),
        "gender_accuracy": float(correct.mean()),
        "gender_accuracy_detected_only": float(correct[detected].mean())
        if detected.any()
        else None,
        "raw_model_age_mae": float(np.abs(raw_age - true_age).mean()),
        "raw_model_gender_accuracy": float((raw_male == true_male).mean()),
        "age_bias": float((ages - true_age).mean()),
        "by_decade": {
            f"{lo}-{lo + 9}": {
                "n": int(m.sum()),
                "mae": float(err[m].mean()),
                "bias": float((ages - true_age)[m].mean()),
                "raw_model_mae": float(np.abs(raw_age - true_age)[m].mean()),
            }
            for lo in range(0, 120, 10)
            if (m := (true_age >= lo) & (true_age < lo + 10)).any()
        },
    }


def eval_verification(data: Path, embedder) -> dict:
    root = data / "identity" / "glint24"
    ids, chips = [], []
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        for f in sorted(d.glob("*.jpg"), key=lambda p: int(p.stem)):
            chips.append(cv2.imread(str(f)))
            ids.append(d.name)
    chips = np.stack(chips)
    t0 = time.perf_counter()
    emb = np.concatenate(
        [embedder.embed_aligned(chips[i : i + 64]) for i in range(0, len(chips), 64)]
    )
    t_embed = time.perf_counter() - t0
    ids = np.array(ids)
    sim = emb @ emb.T
    iu = np.triu_indices(len(ids), 1)
    s = sim[iu]
    same = ids[iu[0]] == ids[iu[1]]
    gen, imp = np.sort(s[same]), np.sort(s[~same])
    out = {
        "images": len(ids),
        "identities": int(len(set(ids))),
        "genuine_pairs": int(gen.size),
        "impostor_pairs": int(imp.size),
        "embed_seconds": t_embed,
    }
    for far in (1e-3, 1e-4):
        k = int(np.floor(far * imp.size))  # at most k impostors may pass
        thr = float(imp[imp.size - k - 1]) if k < imp.size else float(imp[0])
        # accept s > thr: exactly k impostors at or above the next value
        tar = float((gen > thr).mean())
        out[f"far_{far:g}"] = {
            "threshold": thr,
            "tar": tar,
            "far_measured": float((imp > thr).mean()),
        }
    for t in (0.30, 0.363, 0.40, 0.48):
        out[f"at_threshold_{t}"] = {
            "tar": float((gen >= t).mean()),
            "far": float((imp >= t).mean()),
        }
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--data",
        default=os.environ.get("FACECORE_DATA_DIR") or str(REPO.parent / "shared" / "data"),
    )
    ap.add_argument(
        "--models",
        default=os.environ.get("FACECORE_MODEL_DIR") or str(REPO.parent / "shared" / "models"),
    )
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument(
        "--quick", action="store_true", help="UTKFace test.txt every 8th image only (63 faces)"
    )
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--only", choices=("detector", "age", "verification"), action="append")
    ap.add_argument(
        "--attributes",
        default="agegender",
        choices=("agegender", "dlib"),
        help="age/gender models: facecore's own (default) or dlib's pair",
    )
    args = ap.parse_args(argv)
    data, models = Path(args.data), Path(args.models)
    if not data.is_dir() or not models.is_dir():
        print(f"needs the data ({data}) and models ({models}) folders", file=sys.stderr)
        return 2
    os.environ["FACECORE_MODEL_DIR"] = str(models)
    from facecore.analyzer import FaceAnalyzer

    pair = {"age": "age", "gender": "gender"} if args.attributes == "dlib" else {}
    fa = FaceAnalyzer(threads=args.threads, device="cpu", det_threshold=0.6, **pair)
    only = set(args.only or ("detector", "age", "verification"))
    res: dict = {"machine": {"cpus": os.cpu_count()}}
    if "detector" in only:
        t = time.perf_counter()
        res["detector"] = eval_detector(
            data, models / "face_detection_yunet_2023mar_int8bq.onnx", args.threads or 2
        )
        d = res["detector"]
        print(
            f"detector: {d['images']} photos, facecore {d['faces_facecore']} faces, OpenCV {d['faces_opencv']}, "
            f"matched {d['matched_iou_0.5']}, max |diff| {d['max_abs_diff_px']:.2g} px ({time.perf_counter() - t:.1f} s)"
        )
    if "age" in only:
        t = time.perf_counter()
        res["age_gender"] = a = eval_age_gender(data, fa, step=8 if args.quick else 1)
        print(
            f"age/gender on UTKFace {a['split']}: {a['faces']} faces ({a['detected']} detected), "
            f"age MAE {a['age_mae']:.2f} (detected only {a['age_mae_detected_only']:.2f}, labels <= 80: "
            f"{a['age_mae_labels_le_80']:.2f}), gender accuracy {a['gender_accuracy']:.3f} "
            f"({time.perf_counter() - t:.1f} s)"
        )
        print(
            f"  raw model on the whole crop, same images: age MAE {a['raw_model_age_mae']:.2f}, "
            f"gender accuracy {a['raw_model_gender_accuracy']:.3f}"
        )
        for k, v in a["by_decade"].items():
            print(
                f"  {k:>7s}: n {v['n']:3d}  MAE {v['mae']:5.2f}  bias {v['bias']:+6.2f}  raw model MAE {v['raw_model_mae']:5.2f}"
            )
    if "verification" in only:
        res["verification"] = v = eval_verification(data, fa.embedder)
        print(
            f"verification on glint24: {v['images']} images, {v['genuine_pairs']} genuine / "
            f"{v['impostor_pairs']} impostor pairs"
        )
        for far in ("1e-03", "0.0001"):
            key = f"far_{float(far):g}"
            r = v[key]
            print(
                f"  FAR {float(far):g}: threshold {r['threshold']:.4f}, TAR {r['tar']:.4f} (measured FAR {r['far_measured']:.2e})"
            )
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
