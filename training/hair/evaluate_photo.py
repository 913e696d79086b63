"""Hair segmentation and colour measured through the whole-photo path ``facecore recolor`` uses.

    python -m training.hair.evaluate_photo --json /tmp/hair_photo_eval.json [--limit N]

Segmentation: every image of ``lfw_parts/val`` (500, class 2 = hair) and of the
figaro-holdout (149: every 5th id of ``figaro/train.txt`` sorted, never trained on) goes
through :meth:`facecore.hair.HairRecolor.mask` exactly as the CLI runs it (YuNet, detection
on the whole image, per-person regions, prior and gates, refinement); prediction =
``mask >= 0.5`` at the image's own size. "before" is the previous release's path, rebuilt
here from the same pieces: one 128 px head crop per face (``head_matrix``, scale 1.15)
pasted back and merged by max, the whole image letterboxed when no face is found.
"whole_image" is the explicit whole-image mode (``detect=False``: the image letterboxed into
one 128 px crop); "*_face_found" restrict to the images where YuNet finds a face (with none,
the CLI path leaves the image unchanged, so it scores 0 on hair-only images such as
Figaro's back views). Figures: IoU summed over the split, mean per-image IoU (no hair in mask nor prediction
counts 1), 95 % bootstrap interval of the summed IoU (1000 resamples of images), and leak =
pixels recoloured (refined map >= 0.1, visibly changed) outside the true hair mask as a
fraction of the image (mean over images).

Photos: every ``photos/*.jpg`` (28): fraction of the photo recoloured (map >= 0.1) and
faces found; there is no hair ground truth for them.

Colour: for each image of photos/ (predicted map) and the figaro-holdout (true hair mask,
so the colour is measured apart from the segmentation), recoloured at strength 1 to blue,
red and brown; the recoloured hair's median colour (CIE Lab, OpenCV float) against the
target's, CIEDE2000 (tests/reference.py, checked against Sharma's published pairs). Hair
tone from the original hair's median Lab: black L < 25; grey chroma < 10 and L >= 45;
blond L >= 50 (and not grey); brown otherwise. "before" = the previous default ("lab": keep
L, take the target's a/b); "after" = "transfer" and "natural".
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from .data import data_root, read_pair, split_ids

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
from reference import ciede2000  # noqa: E402

TARGETS = {"blue": (255, 0, 0), "red": (0, 0, 255), "brown": (19, 69, 139)}


def legacy_probability(hr, image):
    """The previous release's map: 128 px head crops, pasted back, max; letterbox if no face."""
    from facecore import kernels
    from facecore.hair import head_matrix, letterbox_matrix

    det = hr._detector.detect(image)
    H, W = image.shape[:2]
    if len(det):
        order = np.argsort(-(det.boxes[:, 2] * det.boxes[:, 3]))[: hr.max_faces]
        mats = np.stack(
            [head_matrix(det.landmarks[i], hr.crop, scale=hr.head_scale) for i in order]
        )
    else:
        mats = letterbox_matrix(image.shape, hr.crop)[None]
    crops = hr.crop_probability(image, mats)
    out = np.zeros((H, W), np.float32)
    for M, p in zip(mats, crops):
        np.maximum(
            out, kernels.warp_affine(np.ascontiguousarray(p), M, (H, W), inverse=True), out=out
        )
    return out


def seg_metrics(pairs, rng):
    inter = np.array([np.count_nonzero(p & g) for p, g, _ in pairs], float)
    union = np.array([np.count_nonzero(p | g) for p, g, _ in pairs], float)
    per = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
    leak = np.array([lk for _, _, lk in pairs])
    boot = []
    for _ in range(1000):
        k = rng.integers(0, len(pairs), len(pairs))
        boot.append(inter[k].sum() / max(union[k].sum(), 1))
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return {
        "n": len(pairs),
        "iou": inter.sum() / max(union.sum(), 1),
        "iou_ci95": [lo, hi],
        "mean_iou": float(per.mean()),
        "leak": float(leak.mean()),
    }


def lab_median(bgr_pixels):
    lab = cv2.cvtColor(bgr_pixels.reshape(-1, 1, 3).astype(np.float32) / 255, cv2.COLOR_BGR2Lab)[
        :, 0
    ]
    return np.median(lab, axis=0)


def tone(lab):
    L, a, b = lab
    if L < 25:
        return "black"
    if np.hypot(a, b) < 10 and L >= 45:
        return "grey"
    if L >= 50:
        return "blond"
    return "brown"


def colour_rows(image, hairmask, alpha, kernels, modes):
    """{(mode, colour): dE} for one image; hairmask selects the pixels measured."""
    if np.count_nonzero(hairmask) < 50:
        return None, {}
    t = tone(lab_median(image[hairmask]))
    out = {}
    for name, bgr in TARGETS.items():
        target = lab_median(np.uint8([[bgr]]))
        for mode in modes:
            res = kernels.recolor(
                image, alpha, "#{:02x}{:02x}{:02x}".format(*bgr[::-1]), mode=mode, strength=1.0
            )
            out[(mode, name)] = float(ciede2000(lab_median(res[hairmask]), target))
    return t, out


def markdown(res: dict) -> str:
    """The docs tables from a --json result."""
    out = [
        "| set | path | n | IoU [95 % CI] | mean IoU | leak |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    names = {"lfw_parts": "lfw_parts/val", "figaro": "figaro-holdout"}
    paths = [
        ("before", "previous release (128 px head crops; whole image if no face)"),
        ("after", "**this release** (`facecore recolor` path)"),
        ("before_face_found", "previous release, images with a face found"),
        ("after_face_found", "**this release**, images with a face found"),
        ("whole_image", "explicit whole image (`detect=False`)"),
    ]
    for s, r in res["segmentation"].items():
        for key, label in paths:
            if key not in r:
                continue
            m = r[key]
            out.append(
                f"| {names.get(s, s)} | {label} | {m['n']} | {m['iou']:.3f} [{m['iou_ci95'][0]:.3f}, "
                f"{m['iou_ci95'][1]:.3f}] | {m['mean_iou']:.3f} | {m['leak']:.3f} |"
            )
    out += [
        "",
        "| mode | target | black | brown | blond | grey |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for mode, by_c in res["colour"].items():
        for c, by_t in by_c.items():
            cells = [
                f"{by_t[t]['mean_de2000']:.1f} ({by_t[t]['n']})" if t in by_t else "-"
                for t in ("black", "brown", "blond", "grey")
            ]
            out.append(f"| {mode} | {c} | " + " | ".join(cells) + " |")
    out += [
        "",
        "| photo | faces | recoloured before | recoloured after |",
        "| --- | ---: | ---: | ---: |",
    ]
    for k, v in res["photos"].items():
        out.append(
            f"| {k} | {v['faces']} | {v['recoloured_before']:.3f} | {v['recoloured_after']:.3f} |"
        )
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", default=None)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument(
        "--model", default="dense", help="dense (default), parsing, patch or a path to an ONNX file"
    )
    ap.add_argument("--crop", type=int, default=None, help="HairRecolor(crop=...) (model default)")
    ap.add_argument(
        "--paths",
        default="before,after,whole_image",
        help="comma list of the segmentation paths to run (before, after, whole_image)",
    )
    ap.add_argument("--sets", default="lfw_parts,figaro", help="comma list of the val sets")
    ap.add_argument(
        "--every",
        default="1,1",
        help="per set of --sets: measure every n-th image (ids in list order; default all)",
    )
    ap.add_argument("--no-photos", action="store_true", help="skip the photos and colour parts")
    ap.add_argument(
        "--markdown", default=None, help="print the docs tables of this --json result and exit"
    )
    args = ap.parse_args(argv)
    if args.markdown:
        print(markdown(json.loads(Path(args.markdown).read_text())))
        return 0

    from facecore import kernels, read_image
    from facecore.hair import HairRecolor

    root = data_root()
    photos = sorted((root.parent / "photos").glob("*.jpg"))
    res: dict = {"segmentation": {}, "photos": {}, "colour": {}}
    hr = HairRecolor(args.model, crop=args.crop, threads=args.threads)
    hr_whole = HairRecolor(args.model, crop=args.crop, detect=False, threads=args.threads)
    # the previous release's path always used the shipped dense model at 128 px
    hr_old = HairRecolor("dense", threads=args.threads)
    want = set(args.paths.split(","))
    res["model"] = {"model": args.model, "crop": hr.crop, "paths": sorted(want)}
    rng = np.random.default_rng(0)
    modes = ("lab", "transfer", "natural")
    colour: dict = {}

    def add_colour(t, rows):
        for (mode, name), de in rows.items():
            colour.setdefault(mode, {}).setdefault(name, {}).setdefault(t, []).append(de)

    every = dict(zip(args.sets.split(","), (int(v) for v in args.every.split(","))))
    res["model"]["every"] = every
    for name in args.sets.split(","):
        ids = split_ids(root, name, "val")[:: every.get(name, 1)][: args.limit]
        before, after, whole, found = [], [], [], []
        t0 = time.perf_counter()
        for i in ids:
            img, m = read_pair(root, name, i)
            gt = m.astype(bool)
            found.append(len(hr.matrices(img)) > 0)
            paths = (
                ("before", before, lambda x: legacy_probability(hr_old, x)),
                ("after", after, hr.probability),
                ("whole_image", whole, hr_whole.probability),
            )
            for key, acc, path in paths:
                if key not in want:
                    continue
                a = hr.refine(path(img))
                acc.append((a >= 0.5, gt, float(np.count_nonzero((a >= 0.1) & ~gt)) / gt.size))
            if name == "figaro" and not args.no_photos:
                t, rows = colour_rows(img, gt, gt.astype(np.float32), kernels, modes)
                if t:
                    add_colour(t, rows)
        sub = lambda acc, found=found: [x for x, f in zip(acc, found) if f]
        r: dict = {"faces_found": int(sum(found))}
        for key, acc in (("before", before), ("after", after), ("whole_image", whole)):
            if acc:
                r[key] = seg_metrics(acc, rng)
                if key != "whole_image":
                    r[key + "_face_found"] = seg_metrics(sub(acc), rng)
        r["s_per_image"] = (time.perf_counter() - t0) / max(len(ids), 1) / max(len(want), 1)
        res["segmentation"][name] = r
        print(name, json.dumps(res["segmentation"][name]), flush=True)

    for p in [] if args.no_photos else photos[: args.limit]:
        img = read_image(p)
        if img.ndim == 2:
            img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
        a_new = hr.mask(img)
        a_old = hr_old.refine(legacy_probability(hr_old, img))
        res["photos"][p.stem] = {
            "faces": int(len(hr.matrices(img))),
            "recoloured_before": float(np.mean(a_old >= 0.1)),
            "recoloured_after": float(np.mean(a_new >= 0.1)),
        }
        t, rows = colour_rows(img, a_new >= 0.5, a_new, kernels, modes)
        if t:
            add_colour(t, rows)
    for mode, by_colour in colour.items():
        res["colour"][mode] = {
            c: {t: {"n": len(v), "mean_de2000": float(np.mean(v))} for t, v in by_tone.items()}
            for c, by_tone in by_colour.items()
        }
    print(json.dumps(res["colour"], indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
