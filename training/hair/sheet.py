"""Contact sheet for the docs: original | hair probability | recoloured, for a few val images.

    python -m training.hair.sheet --out docs/images/hair_sheet.jpg

Rows: two celeba_hq val, one lfw_parts val and one figaro-holdout image (research data: a
small illustrative sheet in the docs only; never package data), and the public-domain
``single_06.jpg`` photo (NASA). Dense model, face crops, default refinement, colour #8a2be2.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2

from .data import data_root, read_pair, split_ids

PICKS = [("celeba_hq", 3), ("celeba_hq", 40), ("lfw_parts", 7), ("figaro", 12)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="docs/images/hair_sheet.jpg")
    ap.add_argument("--model", default="dense")
    ap.add_argument("--color", default="#8a2be2")
    ap.add_argument("--height", type=int, default=150)
    ap.add_argument("--quality", type=int, default=78)
    ap.add_argument("--data", default=None)
    args = ap.parse_args(argv)

    from facecore.cli import contact_sheet
    from facecore.hair import HairRecolor

    root = data_root(args.data)
    hr = HairRecolor(args.model)
    rows = []
    images = [read_pair(root, s, split_ids(root, s, "val")[k])[0] for s, k in PICKS]
    photo = root.parent / "photos" / "single_06.jpg"
    if photo.is_file():
        images.append(cv2.imread(str(photo)))
    for img in images:
        p = hr.probability(img)
        rows.append((img, p, hr.apply(img, args.color, alpha=hr.refine(p))))
    sheet = contact_sheet(rows, height=args.height)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(args.out, sheet, [cv2.IMWRITE_JPEG_QUALITY, args.quality, cv2.IMWRITE_JPEG_OPTIMIZE, 1])
    print(args.out, sheet.shape, Path(args.out).stat().st_size, "bytes")


if __name__ == "__main__":
    main()
