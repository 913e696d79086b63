"""Sheet of the expression stage on public photos: each face's FER-framed chip (what the model
sees, 64x64 grey, cut from the 5 landmarks) with its top-3 calibrated probabilities.

    FACECORE_MODEL_DIR=../shared/models FACECORE_DATA_DIR=../shared/data \\
        python scripts/expression_sheet.py --out docs/images/expression_sheet.jpg [--model expression_fc]

Photos: ``data/photos`` single_02, single_03, single_06 (public domain, NASA), pair_01,
group_01 (MIT-licensed repositories; see ``data/photos/README.md``).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import cv2
import numpy as np

PHOTOS = ("single_02.jpg", "single_03.jpg", "single_06.jpg", "pair_01.jpg", "group_01.jpg")


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--out", required=True)
    ap.add_argument(
        "--model", default=None, help="expression model (zoo name or path; default: FaceAnalyzer's)"
    )
    ap.add_argument(
        "--data", type=Path, default=Path(os.environ.get("FACECORE_DATA_DIR", "../shared/data"))
    )
    args = ap.parse_args(argv)
    from facecore import FaceAnalyzer
    from facecore.models import _warp
    from facecore.models.expression import chip_matrices

    fa = FaceAnalyzer(
        embedder=False,
        age=False,
        gender=False,
        quality=False,
        threads=1,
        device="cpu",
        expression=args.model or True,
    )
    tiles = []
    for name in PHOTOS:
        img = cv2.imread(str(args.data / "photos" / name))
        for f in fa.analyze(img):
            chip = _warp.warp_chips(img, chip_matrices(f.landmarks.points[None], 96), 96)[0]
            chip = cv2.cvtColor(cv2.cvtColor(chip, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
            tile = np.full((96 + 54, 150, 3), 255, np.uint8)
            tile[:96, 27:123] = chip
            p = f.expression.probabilities
            for k, i in enumerate(np.argsort(-p)[:3]):
                txt = f"{fa.expression.classes[i]} {p[i]:.2f}"
                cv2.putText(
                    tile,
                    txt,
                    (4, 112 + 16 * k),
                    cv2.FONT_HERSHEY_SIMPLEX,
                    0.42,
                    (0, 0, 0) if k else (0, 0, 200),
                    1,
                    cv2.LINE_AA,
                )
            tiles.append(tile)
    cols = 6
    while len(tiles) % cols:
        tiles.append(np.full_like(tiles[0], 255))
    rows = [np.hstack(tiles[i : i + cols]) for i in range(0, len(tiles), cols)]
    cv2.imwrite(args.out, np.vstack(rows), [cv2.IMWRITE_JPEG_QUALITY, 88])
    print(args.out, len(tiles), "tiles")


if __name__ == "__main__":
    main()
