"""Contact sheet: original | hair probability | recoloured, one row per image.

    python -m training.hair.sheet --out docs/images/hair_sheet.jpg          # the docs sheet (photos)
    python -m training.hair.sheet --val --out /tmp/hair_val_sheet.jpg        # val images, local only

The docs sheet uses the scene photos of ``../shared/data/photos`` (``PHOTOS``: five single
portraits and a pair, from MIT-licensed repositories and scikit-image's public-domain
astronaut; sources in ``photos/manifest.csv``). ``--val`` shows six val images of the hair
sets instead (``VAL_PICKS``: two each of celeba_hq val, lfw_parts val, figaro-holdout), for
judging the model against what it was measured on. That sheet is **not** for the repository:
CelebAMask-HQ's terms forbid redistributing any part of its images, and the other two sets
are treated the same way (``hair/README.md``).

Dense model by default, YuNet head crops (the whole image when no face is found), default
refinement, colour #8a2be2. The map column is the raw probability (unrefined).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2

from .data import data_root, read_pair, split_ids

PHOTOS = ["single_02.jpg", "single_03.jpg", "single_05.jpg", "single_06.jpg", "single_08.jpg", "pair_01.jpg"]
VAL_PICKS = [("celeba_hq", 3), ("celeba_hq", 40), ("lfw_parts", 7), ("lfw_parts", 60), ("figaro", 12), ("figaro", 30)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="docs/images/hair_sheet.jpg")
    ap.add_argument("--model", default="dense")
    ap.add_argument("--color", default="#8a2be2")
    ap.add_argument("--height", type=int, default=150)
    ap.add_argument("--quality", type=int, default=78)
    ap.add_argument("--val", action="store_true", help="val images of the hair sets (local only, see above)")
    ap.add_argument("--data", default=None)
    args = ap.parse_args(argv)

    from facecore.cli import contact_sheet
    from facecore.hair import HairRecolor

    root = data_root(args.data)
    hr = HairRecolor(args.model)
    if args.val:
        images = [read_pair(root, s, split_ids(root, s, "val")[k])[0] for s, k in VAL_PICKS]
    else:
        images = []
        for name in PHOTOS:
            img = cv2.imread(str(root.parent / "photos" / name))
            if img is None:
                raise SystemExit(f"{root.parent / 'photos' / name} not found")
            images.append(img)
    rows = []
    for img in images:
        p = hr.probability(img)
        rows.append((img, p, hr.apply(img, args.color, alpha=hr.refine(p))))
    sheet = contact_sheet(rows, height=args.height)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(args.out, sheet, [cv2.IMWRITE_JPEG_QUALITY, args.quality, cv2.IMWRITE_JPEG_OPTIMIZE, 1])
    print(args.out, sheet.shape, Path(args.out).stat().st_size, "bytes")


if __name__ == "__main__":
    main()
