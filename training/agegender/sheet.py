"""Before / after sheet: dlib's age/gender pair (left, or ``--before``) and facecore's default (right, or ``--after``),
drawn with ``facecore.cli.draw_faces`` (what ``facecore analyze --draw`` writes).

    python -m training.agegender.sheet --out docs/images/agegender_before_after.jpg
    python -m training.agegender.sheet --before agegender --after agegender_v2.onnx --out sheet.jpg

Photos: ``group_05.jpg`` (children), ``masked_01.jpg`` (two surgical masks), ``pair_03.jpg``
from ``../shared/data/photos`` (MIT-licensed repositories, see its manifest.csv).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import cv2
import numpy as np

PHOTOS = ("group_05.jpg", "masked_01.jpg", "pair_03.jpg")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--data",
        default=os.environ.get(
            "FACECORE_DATA_DIR", str(Path(__file__).resolve().parents[3] / "shared" / "data")
        ),
    )
    ap.add_argument("--out", required=True)
    ap.add_argument("--width", type=int, default=560, help="width of each half")
    ap.add_argument(
        "--before", default="dlib", help="'dlib' (the age + gender pair) or a joint model"
    )
    ap.add_argument(
        "--after", default=None, help="a joint model name or .onnx path (default: the default)"
    )
    args = ap.parse_args(argv)
    from facecore.analyzer import FaceAnalyzer
    from facecore.cli import draw_faces

    new = FaceAnalyzer(embedder=False, quality=False, pose=False, age=args.after, threads=1)
    pair = {"age": "age", "gender": "gender"} if args.before == "dlib" else {"age": args.before}
    old = FaceAnalyzer(
        detector=new.detector, embedder=False, quality=False, pose=False, threads=1, **pair
    )
    name_of = {"dlib": "dlib age + gender"}
    t_before = "before: " + name_of.get(args.before, Path(args.before).stem)
    t_after = "after: " + (Path(args.after).stem if args.after else "facecore agegender")
    rows = []
    font = cv2.FONT_HERSHEY_SIMPLEX
    for name in PHOTOS:
        img = cv2.imread(str(Path(args.data) / "photos" / name))
        halves = []
        for title, fa in ((t_before, old), (t_after, new)):
            faces = fa.analyze(img)
            d = draw_faces(img, faces)
            s = args.width / d.shape[1]
            d = cv2.resize(
                d, (args.width, int(round(d.shape[0] * s))), interpolation=cv2.INTER_AREA
            )
            cv2.rectangle(d, (0, 0), (args.width, 22), (255, 255, 255), -1)
            cv2.putText(d, f"{name}  {title}", (6, 16), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
            halves.append(d)
            print(
                name,
                title,
                [(round(f.age), f.gender[0].upper(), round(f.p_male, 2)) for f in faces],
            )
        rows.append(
            np.concatenate(
                [halves[0], np.full((halves[0].shape[0], 6, 3), 255, np.uint8), halves[1]], 1
            )
        )
    sheet = np.concatenate(
        [np.concatenate([r, np.full((6, r.shape[1], 3), 255, np.uint8)], 0) for r in rows], 0
    )
    cv2.imwrite(args.out, sheet, [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(args.out, Path(args.out).stat().st_size)


if __name__ == "__main__":
    main()
