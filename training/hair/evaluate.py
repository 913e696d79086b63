"""Hair IoU and F1 of the ONNX hair models on the val splits, before and after ``refine_map``.

    python -m training.hair.evaluate                      # the shipped models, whole-image path
    python -m training.hair.evaluate --dense /tmp/hair_dense/hair_dense.onnx --patch none
    python -m training.hair.evaluate --detect --json /tmp/hair_eval.json

Sets: celeba_hq/val (152), lfw_parts/val (500; class 2 = hair), figaro-holdout (149: every
5th id of figaro/train.txt sorted, see :mod:`training.hair.data`). Each image goes through
:class:`facecore.hair.HairRecolor` exactly as users run it: by default ``detect=False`` (the
whole image letterboxed into the model's crop: the val images are already framed like the
training images), with ``--detect`` through YuNet head crops and the inverse-warp paste-back.
The prediction is ``map >= 0.5`` at the mask's own resolution.

Metrics per set: IoU summed over the split (sum of intersections / sum of unions), the mean of
per-image IoU (an image with no hair in mask nor prediction counts 1), and F1 (= Dice) summed
over the split, for the raw map and for ``refine(map)`` with the HairRecolor defaults.
"""

from __future__ import annotations

import argparse
import json
import logging
import time

import numpy as np

from .data import SETS, data_root, read_pair, split_ids


def metrics(pairs):
    inter = union = tp_fp_fn = 0.0
    per = []
    for pred, gt in pairs:
        i = float(np.count_nonzero(pred & gt))
        u = float(np.count_nonzero(pred | gt))
        inter += i
        union += u
        tp_fp_fn += float(np.count_nonzero(pred)) + float(np.count_nonzero(gt))
        per.append(i / u if u else 1.0)
    return {
        "iou": inter / max(union, 1),
        "mean_iou": float(np.mean(per)),
        "f1": 2 * inter / max(tp_fp_fn, 1),
    }


def evaluate_model(model, root, *, detect=False, stride=4, limit=None, sets=SETS):
    from facecore.hair import HairRecolor

    hr = HairRecolor(model, detect=detect, stride=stride)
    out = {}
    for s in sets:
        ids = split_ids(root, s, "val")[:limit]
        raw, ref = [], []
        t0 = time.perf_counter()
        for i in ids:
            img, m = read_pair(root, s, i)
            gt = m.astype(bool)
            p = hr.probability(img)
            raw.append((p >= 0.5, gt))
            ref.append((hr.refine(p) >= 0.5, gt))
        dt = (time.perf_counter() - t0) / max(len(ids), 1)
        out[s] = {
            "n": len(ids),
            "raw": metrics(raw),
            "refined": metrics(ref),
            "ms_per_image": 1000 * dt,
        }
        logging.info("%s %s: %s", model, s, json.dumps(out[s]))
    return out


def table(results: dict) -> str:
    rows = [
        "| model | set | n | IoU (summed) | mean IoU | F1 | IoU refined | mean IoU refined | F1 refined |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, r in results.items():
        for s, v in r.items():
            a, b = v["raw"], v["refined"]
            label = "figaro-holdout" if s == "figaro" else f"{s}/val"
            rows.append(
                f"| {name} | {label} | {v['n']} | {a['iou']:.4f} | {a['mean_iou']:.4f} | {a['f1']:.4f} "
                f"| {b['iou']:.4f} | {b['mean_iou']:.4f} | {b['f1']:.4f} |"
            )
    return "\n".join(rows)


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--data", default=None)
    ap.add_argument("--dense", default="dense", help="'dense' (shipped), a path, or 'none'")
    ap.add_argument("--patch", default="patch", help="'patch' (shipped), a path, or 'none'")
    ap.add_argument("--stride", type=int, default=4, help="patch model stride (default 4)")
    ap.add_argument(
        "--detect", action="store_true", help="YuNet head crops instead of the whole image"
    )
    ap.add_argument("--limit", type=int, default=None, help="first N ids per set (quick look)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    root = data_root(args.data)
    results = {}
    for label, m in (("dense", args.dense), ("patch", args.patch)):
        if m != "none":
            results[label] = evaluate_model(
                m, root, detect=args.detect, stride=args.stride, limit=args.limit
            )
    print(table(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"detect": args.detect, "stride": args.stride, "results": results}, f, indent=2
            )


if __name__ == "__main__":
    main()
