"""Contact sheet: original | hair probability | recoloured, one row per image.

    python -m training.hair.sheet --out docs/images/hair_sheet.jpg          # the docs sheet (photos)
    python -m training.hair.sheet --val --out /tmp/hair_val_sheet.jpg        # val images, local only
    python -m training.hair.sheet --styles --out docs/images/hair_styles.jpg  # hair types x 3 colours

``--styles``: one row per hair type on the whole-photo path (``STYLES``: short, long, curly,
blond, grey, a group; crops of the public scene photos), columns original | refined map |
blue | red | brown (colour transfer, strength 1).

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

PHOTOS = [
    "single_02.jpg",
    "single_03.jpg",
    "single_05.jpg",
    "single_06.jpg",
    "single_08.jpg",
    "pair_01.jpg",
]
# (label, photo, crop as fractions (x0, y0, x1, y1) of the photo, or None): all MIT-licensed
# repositories' photos (photos/manifest.csv); the map is computed on the whole photo.
STYLES = [
    ("short", "single_04.jpg", (0.25, 0.0, 0.75, 1.0)),
    ("long", "group_03.jpg", (0.3, 0.05, 0.72, 0.8)),
    ("curly", "single_03.jpg", None),
    ("blond", "group_01.jpg", (0.0, 0.2, 0.3, 0.75)),
    ("grey", "pair_01.jpg", (0.5, 0.0, 1.0, 0.75)),
    ("group", "group_01.jpg", None),
]
STYLE_COLOURS = ("blue", "red", "brown")
VAL_PICKS = [
    ("celeba_hq", 3),
    ("celeba_hq", 40),
    ("lfw_parts", 7),
    ("lfw_parts", 60),
    ("figaro", 12),
    ("figaro", 30),
]


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--out", default="docs/images/hair_sheet.jpg")
    ap.add_argument("--model", default="dense")
    ap.add_argument("--color", default="#8a2be2")
    ap.add_argument("--height", type=int, default=150)
    ap.add_argument("--quality", type=int, default=78)
    ap.add_argument(
        "--val", action="store_true", help="val images of the hair sets (local only, see above)"
    )
    ap.add_argument("--data", default=None)
    ap.add_argument("--styles", action="store_true", help="hair types x three colours (see above)")
    args = ap.parse_args(argv)
    if args.styles:
        return styles(args)

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
    cv2.imwrite(
        args.out, sheet, [cv2.IMWRITE_JPEG_QUALITY, args.quality, cv2.IMWRITE_JPEG_OPTIMIZE, 1]
    )
    print(args.out, sheet.shape, Path(args.out).stat().st_size, "bytes")


def styles(args):
    import numpy as np

    from facecore.hair import HairRecolor

    root = data_root(args.data)
    hr = HairRecolor(args.model)
    rows = []
    h = args.height
    for label, name, box in STYLES:
        img = cv2.imread(str(root.parent / "photos" / name))
        if img is None:
            raise SystemExit(f"{root.parent / 'photos' / name} not found")
        a = hr.mask(img)
        tiles = [img, cv2.cvtColor((np.clip(a, 0, 1) * 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)]
        tiles += [hr.apply(img, c, alpha=a, strength=1.0) for c in STYLE_COLOURS]
        if box is not None:
            H, W = img.shape[:2]
            x0, y0, x1, y1 = int(box[0] * W), int(box[1] * H), int(box[2] * W), int(box[3] * H)
            tiles = [t[y0:y1, x0:x1] for t in tiles]
        cw = round(h * 1.2)  # every cell h x 1.2 h, the tile fitted and centred on white
        cells = []
        for t in tiles:
            s = min(h / t.shape[0], cw / t.shape[1])
            t = cv2.resize(
                t,
                (max(1, round(t.shape[1] * s)), max(1, round(t.shape[0] * s))),
                interpolation=cv2.INTER_AREA,
            )
            cell = np.full((h, cw, 3), 255, np.uint8)
            y0, x0 = (h - t.shape[0]) // 2, (cw - t.shape[1]) // 2
            cell[y0 : y0 + t.shape[0], x0 : x0 + t.shape[1]] = t
            cells.append(np.pad(cell, ((0, 4), (0, 4), (0, 0)), constant_values=255))
        row = np.hstack(cells)
        cv2.putText(row, label, (6, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(
            row, label, (6, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 1, cv2.LINE_AA
        )
        rows.append(row)
    width = rows[0].shape[1]
    head = np.full((28, width, 3), 255, np.uint8)
    for k, t in enumerate(["original", "refined map"] + list(STYLE_COLOURS)):
        cv2.putText(
            head,
            t,
            (8 + k * (cw + 4), 20),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.6,
            (0, 0, 0),
            1,
            cv2.LINE_AA,
        )
    sheet = np.vstack([head] + rows)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(
        args.out, sheet, [cv2.IMWRITE_JPEG_QUALITY, args.quality, cv2.IMWRITE_JPEG_OPTIMIZE, 1]
    )
    print(args.out, sheet.shape, Path(args.out).stat().st_size, "bytes")
    return 0


if __name__ == "__main__":
    main()
