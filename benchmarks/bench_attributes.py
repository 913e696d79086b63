"""The new pipeline stages (parsing, attributes, expression) vs the per-face loop a user writes.

    FACECORE_MODEL_DIR=../shared/models FACECORE_DATA_DIR=../shared/data \\
        python benchmarks/bench_attributes.py [--quick] [--json OUT] [--shape 512]

Both sides detect (the same YuNet) and return, for every face of the photo, the 19-class
parse, the attributes (glasses, sunglasses, hat, mask, occlusion, label) and the expression:

* ``facecore``: ``FaceAnalyzer(attributes=True, expression=True)`` -- one warp call cuts all
  parser crops of the frame straight into the normalised tensor, the parser runs on all faces
  in one session call (``FaceParser.batch_size`` faces per call), one warp + one call for all
  expression chips;
* ``loop``: per face, ``cv2.warpAffine`` of the same similarity to the parser crop, colour
  swap and normalisation in NumPy, one parser call for that face, softmax, the same
  :func:`facecore.attributes.face_attributes` and :func:`facecore.occlusion.mask_worn`, then
  ``cv2.warpAffine`` + grey + one expression call for that face. Same sessions, same models.

Agreement is checked before anything is timed (attribute label equal on >= 90 % of the faces,
expression argmax equal on >= 90 %). Repeats of the two sides are interleaved
(``common.compare``); one thread. ``--quick`` (CI): one photo (2 faces), the parser at 256 x 256
so it stays fast; the figures in docs/benchmarks.md are from the full run at 512. Skips (exit 0,
a message) when the parser model has not been fetched (``facecore models fetch bisenet_parsing``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import compare, format_header, format_ms, run_metadata, save_json

PHOTOS = ("pair_01.jpg", "group_01.jpg", "group_03.jpg")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="one photo, parser at 256, few repeats")
    ap.add_argument("--json")
    ap.add_argument("--shape", type=int, default=None, help="parser crop side (default: 512)")
    ap.add_argument("--photos", default=None, help="comma-separated photos/ names")
    args = ap.parse_args(argv)
    import facecore as fc
    from facecore.attributes import face_attributes
    from facecore.errors import ModelNotFoundError
    from facecore.models.expression import chip_matrices
    from facecore.occlusion import mask_worn
    from facecore.parsing import FaceParser, FaceParsing, parsing_matrices

    data = Path(
        os.environ.get("FACECORE_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data")
    )
    shape = args.shape or (256 if args.quick else 512)
    try:
        parser = FaceParser(shape=shape, threads=1)
        fa = fc.FaceAnalyzer(
            parsing=parser,
            attributes=True,
            expression=True,
            embedder=False,
            age=False,
            gender=False,
            quality=False,
            pose=False,
            threads=1,
            device="cpu",
        )
    except ModelNotFoundError as exc:
        print(f"bench_attributes: skipped ({exc})")
        return 0
    det, expr = fa.detector, fa.expression
    assert expr is not None
    spec = parser.model.spec
    mean = np.asarray(spec.mean, np.float32)
    std = np.asarray(spec.std, np.float32)
    es = expr.size

    meta = run_metadata()
    meta["parser_shape"] = shape
    print(format_header(meta))
    print(f"parser crop {shape} x {shape}, {parser.batch_size} faces per parser call")
    print(f"{'image':14s} {'faces':>5s} {'facecore ms':>16s} {'loop ms':>16s} {'ratio':>6s}")
    names = args.photos.split(",") if args.photos else (PHOTOS[:1] if args.quick else PHOTOS)
    results = []
    failed = False
    for name in names:
        img = cv2.imread(str(data / "photos" / name))
        if img is None:
            print(f"{name}: not found, skipped")
            continue

        def loop(img=img):
            d = det.detect(img)
            lm = d.landmarks.astype(np.float64)
            out = []
            for i in range(len(lm)):
                M = parsing_matrices(lm[i], shape)[0]
                crop = cv2.warpAffine(img, M, (shape, shape), flags=cv2.INTER_LINEAR)
                rgb = crop[:, :, ::-1] if spec.swap_rb else crop
                x = ((rgb.astype(np.float32) - mean) / std).transpose(2, 0, 1)[None]
                z = parser.model(np.ascontiguousarray(x))[0]
                z = np.exp(z - z.max(0, keepdims=True))
                fp = FaceParsing(M, (z / z.sum(0, keepdims=True)).astype(np.float32))
                a = face_attributes(
                    fp,
                    cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY),
                    mask_worn=mask_worn(img, lm[i]).probability,
                )
                E = chip_matrices(lm[i : i + 1], es)[0]
                chip = cv2.cvtColor(
                    cv2.warpAffine(img, E, (es, es), flags=cv2.INTER_LINEAR), cv2.COLOR_BGR2GRAY
                )
                t = ((chip.astype(np.float32) - expr.spec.mean[0]) / expr.spec.std[0])[None, None]
                out.append((a, expr.run(t)[0]))
            return out

        faces = fa.analyze(img)
        ref = loop()
        if len(faces) != len(ref) or not faces:
            print(f"{name}: {len(faces)} faces vs {len(ref)} in the loop, skipped")
            continue
        same_label = np.mean(
            [f.attributes.label == a.label for f, (a, _) in zip(faces, ref)]  # type: ignore[union-attr]
        )
        same_expr = np.mean(
            [
                int(np.argmax(f.expression.probabilities)) == int(np.argmax(e))  # type: ignore[union-attr]
                for f, (_, e) in zip(faces, ref)
            ]
        )
        if same_label < 0.9 or same_expr < 0.9:
            print(
                f"{name}: CHECK FAILED: facecore and the loop disagree (label {same_label:.2f}, "
                f"expression {same_expr:.2f}); not timed"
            )
            failed = True
            continue
        rep, warm = (3, 0) if args.quick else (5, 1)  # the agreement check warmed both
        t = compare(
            {"facecore": lambda img=img: fa.analyze(img), "loop": loop},
            repeat=rep,
            warmup=warm,
            budget_s=15 if args.quick else 240,
            min_repeat=3 if args.quick else 5,
        )
        r = t["loop"]["median_ms"] / t["facecore"]["median_ms"]
        # CPU time of this process per call (median of 3; one thread, so the work itself):
        # steadier than wall time when the machine is shared
        cpu = {}
        for side, fn in (("facecore", lambda img=img: fa.analyze(img)), ("loop", loop)):
            c = []
            for _ in range(1 if args.quick else 3):
                c0 = time.process_time()
                fn()
                c.append(1000 * (time.process_time() - c0))
            cpu[side] = float(np.median(c))
        print(
            f"{name:14s} {len(faces):5d} {format_ms(t['facecore']):>16s} "
            f"{format_ms(t['loop']):>16s} {r:5.2f}x   CPU ms {cpu['facecore']:.0f} vs "
            f"{cpu['loop']:.0f} ({cpu['loop'] / cpu['facecore']:.2f}x)"
        )
        results.append(
            {
                "image": name,
                "faces": len(faces),
                "parser_shape": shape,
                "facecore": t["facecore"],
                "loop": t["loop"],
                "speedup": r,
                "cpu_ms": cpu,
                "cpu_speedup": cpu["loop"] / cpu["facecore"],
                "label_agreement": float(same_label),
                "expression_agreement": float(same_expr),
            }
        )
    print("\nratio = loop median / facecore median (higher: facecore faster)")
    if args.json:
        save_json(args.json, meta, results)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
