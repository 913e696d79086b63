"""Draw docs/images/parsing_sheet.jpg: face parsing, attributes and lip colour on public photos.

Rows: scene photos of data/photos whose terms allow docs use (MIT-licensed repositories and
NASA's public-domain astronaut; see photos/manifest.csv): single_02, 03, 05, 06, 08 and pair_01.
Columns, around each photo's largest face: the photo | the 19-class parse pasted back into
the frame (colours over the photo) | lips recoloured (#b0203c, strength 0.6) | the attributes.
No CelebAMask-HQ image is drawn (its terms forbid redistribution).

Usage::

    python scripts/parsing_sheet.py --out docs/images/parsing_sheet.jpg
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import cv2
import numpy as np

import facecore as fc
from facecore.parsing import paste, recolor_lips

DATA = Path(
    os.environ.get("FACECORE_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data")
)
PHOTOS = [
    "single_02.jpg",
    "single_03.jpg",
    "single_05.jpg",
    "single_06.jpg",
    "single_08.jpg",
    "pair_01.jpg",
]

#: BGR colour per class (background transparent)
PALETTE = np.array(
    [
        [0, 0, 0],
        [128, 178, 230],
        [40, 70, 120],
        [40, 70, 120],
        [255, 200, 0],
        [255, 200, 0],
        [255, 0, 255],
        [0, 140, 255],
        [0, 140, 255],
        [0, 255, 255],
        [0, 200, 0],
        [60, 20, 160],
        [0, 0, 255],
        [80, 0, 200],
        [200, 160, 120],
        [255, 255, 0],
        [160, 60, 60],
        [30, 30, 200],
        [200, 0, 120],
    ],
    np.uint8,
)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="docs/images/parsing_sheet.jpg")
    ap.add_argument("--side", type=int, default=240)
    a = ap.parse_args()
    fa = fc.FaceAnalyzer(
        parsing=True, attributes=True, embedder=False, age=False, gender=False, device="cpu"
    )
    parser = fa.parser
    rows = []
    for name in PHOTOS:
        img = fc.read_image(DATA / "photos" / name)
        faces = fa.analyze(img)
        if not faces:
            print(f"{name}: no face", file=sys.stderr)
            continue
        f = max(faces, key=lambda x: x.box.area)
        lab = paste([x.parsing for x in faces], img.shape[:2])
        over = img.copy()
        m = lab > 0
        over[m] = (0.45 * img[m] + 0.55 * PALETTE[lab[m]]).astype(np.uint8)
        lips, _ = recolor_lips(
            img,
            "#b0203c",
            strength=0.6,
            parser=parser,
            landmarks=np.stack([np.asarray(x.landmarks) for x in faces]),
        )
        cx, cy = f.box.center
        half = 1.1 * max(f.box.width, f.box.height)
        x0, y0 = int(max(cx - half, 0)), int(max(cy - half * 1.1, 0))
        x1, y1 = int(min(cx + half, img.shape[1])), int(min(cy + half * 0.9, img.shape[0]))
        tiles = [
            cv2.resize(t[y0:y1, x0:x1], (a.side, a.side), interpolation=cv2.INTER_AREA)
            for t in (img, over, lips)
        ]
        txt = np.full((a.side, a.side, 3), 255, np.uint8)
        at = f.attributes
        lines = [
            f"{at.label} ({at.probabilities[at.label]:.2f})",
            f"glasses {at.glasses:.2f}",
            f"sunglasses {at.sunglasses:.2f}",
            f"hat {at.hat:.2f}",
            f"mask {at.mask:.2f}",
            "hidden: " + " ".join(f"{k} {v:.2f}" for k, v in at.occlusion.items()),
            f"blur {at.blur:.2f}",
            name,
        ]
        for k, line in enumerate(lines):
            cv2.putText(
                txt,
                line,
                (8, 26 + 26 * k),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.45 if k == 5 else 0.55,
                (0, 0, 0),
                1,
                cv2.LINE_AA,
            )
        rows.append(np.hstack(tiles + [txt]))
        print(name, at.to_dict(), file=sys.stderr)
    sheet = np.vstack(rows)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), sheet, [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
