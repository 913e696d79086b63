"""Choose the default detector threshold by measurement (issue 21 item 5).

Runs the zoo YuNet (facecore's own adapter, the path the CLI uses) once at a low threshold
over ``photos/*.jpg`` (28 scene photos with counted faces) and ``photos/celebs13`` (178
photos, each of a named person), keeps every detection's score, and prints for each
candidate threshold:

- no-face photos: detections on the 4 photos with no human face (all false positives);
- counted photos (single/pair/partial/masked/group_01..06, 44 faces): recall proxy
  ``sum(min(det, count)) / sum(count)`` and excess ``sum(max(0, det - count))`` (a lower
  bound on false positives where more faces were found than counted);
- crowds and group_07 (counts approximate): detections found;
- celebs13: the share of photos with at least one face (its person is always in it).

Greedy NMS keeps a box at a high threshold iff it keeps it at a lower one, so filtering one
low-threshold run by score is exact. Usage: ``python scripts/measure_det_threshold.py [--json OUT]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
from pathlib import Path

import facecore as fc

THRESHOLDS = [0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.environ.get("FACECORE_DATA_DIR", "../shared/data"))
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    photos = Path(args.data) / "photos"
    det = fc.models.load("yunet", score_threshold=0.3, threads=1)
    counts = {}
    with open(photos / "manifest.csv", newline="") as f:
        for row in csv.DictReader(f):
            m = re.match(r"\D*(\d+)", row["approx_faces"])
            counts[row["file"]] = (row["category"], int(m.group(1)) if m else None)
    scores: dict[str, list[float]] = {}
    for p in sorted(photos.glob("*.jpg")) + sorted(photos.glob("celebs13/*/*.jpg")):
        key = os.fspath(p.relative_to(photos))
        scores[key] = [float(s) for s in det.detect(fc.read_image(p)).scores]
    counted = [
        k
        for k in scores
        if k in counts
        and counts[k][0] not in ("none", "crowd")
        and not k.startswith("group_07")
        and not k.startswith("noface")
    ]
    noface = [k for k in scores if k.startswith("noface")]
    celebs = [k for k in scores if k.startswith("celebs13")]
    rows = []
    for t in THRESHOLDS:
        n = {k: sum(s >= t for s in v) for k, v in scores.items()}
        truth = sum(counts[k][1] for k in counted)
        rows.append(
            {
                "threshold": t,
                "noface_detections": sum(n[k] for k in noface),
                "noface_photos_with_detection": sum(n[k] > 0 for k in noface),
                "counted_recall": sum(min(n[k], counts[k][1]) for k in counted) / truth,
                "counted_excess": sum(max(0, n[k] - counts[k][1]) for k in counted),
                "group_07": n.get("group_07.jpg"),
                "crowd_01": n.get("crowd_01.jpg"),
                "crowd_02": n.get("crowd_02.jpg"),
                "celebs13_found": sum(n[k] > 0 for k in celebs) / len(celebs),
            }
        )
    print(
        f"counted photos: {len(counted)} ({sum(counts[k][1] for k in counted)} faces); "
        f"no-face photos: {len(noface)}; celebs13: {len(celebs)}"
    )
    print(
        "| threshold | no-face detections (photos) | recall, counted faces | excess over count | group_07 (~50) | crowd_01 (~200) | crowd_02 | celebs13 with a face |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['threshold']:.2f} | {r['noface_detections']} ({r['noface_photos_with_detection']}/4) | "
            f"{r['counted_recall']:.3f} | {r['counted_excess']} | {r['group_07']} | {r['crowd_01']} | "
            f"{r['crowd_02']} | {r['celebs13_found']:.3f} |"
        )
    top_noface = sorted(((s, k) for k in noface for s in scores[k]), reverse=True)[:5]
    print("highest scores on no-face photos:", [(k, round(s, 3)) for s, k in top_noface])
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "scores": scores}, indent=1))


if __name__ == "__main__":
    main()
