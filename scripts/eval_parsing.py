"""Evaluate face parsing on data/parsing/celebamask (seeded val split) and time it.

Path: YuNet (score >= 0.5, the highest-scored face) -> FaceParser (aligned crop, BiSeNet) ->
paste back into the 256 x 256 image -> per-class confusion against the hand masks.

Split: ``numpy.random.default_rng(23).permutation(ids)``: the first 200 are val, the other
600 train (kept for a distilled parser). F1 per class is dataset-level (pixels summed over
the val images), left/right merged as the literature's face-parsing tables; the 95 %
intervals bootstrap the images (1000 resamples).

Usage::

    python scripts/eval_parsing.py --shape 512 --json out.json
    python scripts/eval_parsing.py --speed --threads 1   # per-face cost: 512/384/320/256, one
        # call for all faces vs one per face, graph optimisations on/off
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import facecore as fc
from facecore.models import load
from facecore.parsing import CLASSES, FaceParser

DATA = Path(
    os.environ.get("FACECORE_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data")
)
ROOT = DATA / "parsing" / "celebamask"

#: reported groups: the literature's face classes (left/right merged)
REPORT = {
    "skin": [1],
    "brows": [2, 3],
    "eyes": [4, 5],
    "nose": [10],
    "mouth": [11],
    "lips": [12, 13],
    "hair": [17],
}
EXTRA = {"eyeglasses": [6], "ears": [7, 8], "neck": [14], "cloth": [16], "hat": [18]}


#: The masks of data/parsing/celebamask use CelebAMask-HQ's own label order (its repository's
#: g_mask list), NOT the BiSeNet order its README states: measured on the val images (a
#: perfect-agreement permutation of the parser's labels). GT_TO_MODEL maps mask value ->
#: the parser's class index.
MASK_ORDER = (
    "background",
    "skin",
    "nose",
    "eyeglasses",
    "l_eye",
    "r_eye",
    "l_brow",
    "r_brow",
    "l_ear",
    "r_ear",
    "mouth",
    "u_lip",
    "l_lip",
    "hair",
    "hat",
    "earring",
    "necklace",
    "neck",
    "cloth",
)
GT_TO_MODEL = np.array([CLASSES.index(c) for c in MASK_ORDER], np.uint8)


def split(seed: int = 23) -> tuple[list[str], list[str]]:
    ids = (ROOT / "ids.txt").read_text().split()
    perm = np.random.default_rng(seed).permutation(len(ids))
    return [ids[i] for i in perm[200:]], [ids[i] for i in perm[:200]]


def f1_from(conf: np.ndarray, groups: dict[str, list[int]]) -> dict[str, float]:
    out = {}
    for name, cls in groups.items():
        pred = conf[:, cls].sum()  # predicted in group
        true = conf[cls, :].sum()  # truly in group
        tp = conf[np.ix_(cls, cls)].sum()
        out[name] = float(2 * tp / (pred + true)) if pred + true > 0 else float("nan")
    return out


def evaluate(shape: int, threads: int | None, limit: int | None) -> dict:
    _, val = split()
    if limit:
        val = val[:limit]
    det = load("yunet", score_threshold=0.5)
    parser = FaceParser(shape=shape, threads=threads)
    confs, missed = [], []
    t0 = time.perf_counter()
    for k, i in enumerate(val):
        img = fc.read_image(ROOT / "images" / f"{i}.jpg")
        gt = fc.read_image(ROOT / "masks" / f"{i}.png")
        gt = GT_TO_MODEL[gt if gt.ndim == 2 else gt[..., 0]]
        d = det.detect(img)
        if len(d) == 0:
            missed.append(i)
            pred = np.zeros(gt.shape, np.uint8)
        else:
            j = int(np.argmax(d.scores))
            pred = parser.parse(img, d.landmarks[j : j + 1])[0].paste(img.shape[:2])
        confs.append(
            np.bincount(gt.astype(np.int64).ravel() * 19 + pred.ravel(), minlength=361).reshape(
                19, 19
            )
        )
        if (k + 1) % 20 == 0:
            print(
                f"{k + 1}/{len(val)} {time.perf_counter() - t0:.0f}s", file=sys.stderr, flush=True
            )
    confs = np.stack(confs)
    total = confs.sum(0)
    f1 = f1_from(total, REPORT)
    extra = f1_from(total, EXTRA)
    rng = np.random.default_rng(0)
    boots = {n: [] for n in list(REPORT) + ["mean"]}
    for _ in range(1000):
        c = confs[rng.integers(0, len(confs), len(confs))].sum(0)
        f = f1_from(c, REPORT)
        for n, v in f.items():
            boots[n].append(v)
        boots["mean"].append(float(np.mean(list(f.values()))))
    ci = {
        n: [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))] for n, v in boots.items()
    }
    return {
        "shape": shape,
        "val_images": len(val),
        "missed": missed,
        "f1": f1,
        "mean_f1": float(np.mean(list(f1.values()))),
        "ci95": ci,
        "extra_f1": extra,
        "pixel_accuracy": float(np.trace(total) / total.sum()),
        "seconds": time.perf_counter() - t0,
    }


def _session_with(parser: FaceParser, level: str, threads: int) -> None:
    """Swap the parser's onnxruntime session for one with graph optimisation ``level``."""
    import onnxruntime as ort

    from facecore.models import zoo

    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
    parser.model.session = ort.InferenceSession(
        str(zoo.find("bisenet_parsing")), so, providers=["CPUExecutionProvider"]
    )


def speed(
    shapes=(512, 384, 320, 256),
    threads=(1,),
    faces: int = 4,
    repeats: int = 3,
    levels=("ORT_ENABLE_ALL", "ORT_DISABLE_ALL"),
) -> list[dict]:
    """Per-face cost of the parser stage (one warp call + model + softmax) on a group photo's faces.

    For each crop side, thread count and onnxruntime graph-optimisation level: all ``faces``
    in ONE session call (``batch_size=faces``) and one call per face (``batch_size=1``).
    Wall time (median and best of ``repeats``) and CPU time of this process per face; with one
    intra-op thread the CPU time is the work itself, steadier than wall time on a loaded machine.
    """
    img = fc.read_image(DATA / "photos" / "group_01.jpg")
    d = load("yunet", score_threshold=0.6).detect(img)
    lm = np.repeat(d.landmarks, -(-faces // max(len(d), 1)), axis=0)[:faces]
    rows = []
    for s in shapes:
        for t in threads:
            for level in levels:
                for per_call in (len(lm), 1):
                    p = FaceParser(shape=s, threads=t, batch_size=per_call)
                    if level != "ORT_ENABLE_ALL":
                        _session_with(p, level, t)
                    p.parse(img, lm[:1])  # warm-up
                    wall, cpu = [], []
                    for _ in range(repeats):
                        t0, c0 = time.perf_counter(), time.process_time()
                        p.parse(img, lm)
                        wall.append((time.perf_counter() - t0) / len(lm))
                        cpu.append((time.process_time() - c0) / len(lm))
                    rows.append(
                        {
                            "shape": s,
                            "threads": t,
                            "graph_optimization": level,
                            "faces_per_call": per_call,
                            "ms_per_face_median": round(1000 * statistics.median(wall), 1),
                            "ms_per_face_min": round(1000 * min(wall), 1),
                            "cpu_ms_per_face_median": round(1000 * statistics.median(cpu), 1),
                            "load": round(os.getloadavg()[0], 1),
                        }
                    )
                    print(rows[-1], file=sys.stderr, flush=True)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", type=int, default=512)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--speed", action="store_true")
    ap.add_argument("--shapes", default="512,384,320,256", help="--speed: crop sides")
    ap.add_argument("--repeats", type=int, default=3, help="--speed: timed calls per setting")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    if a.speed:
        shapes = tuple(int(v) for v in a.shapes.split(","))
        res: dict = {"speed": speed(shapes, (a.threads or 1,), repeats=a.repeats)}
    else:
        res = evaluate(a.shape, a.threads, a.limit)
    res["load"] = os.getloadavg()
    text = json.dumps(res, indent=1)
    print(text)
    if a.json:
        Path(a.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
