"""Contact sheet for docs/images/background_sheet.jpg: original | alpha | blurred | replaced.

Public photos from data/photos (see its README for sources and terms): the astronaut
(single_06, public domain), a 16:9 frame (single_04), two people (pair_01), a close-up
(single_03). Each row runs the same path as the CLI: ``BackgroundReplacer`` (fast model;
the matting model's alpha in an extra column when MODNet is fetched).

    python scripts/background_sheet.py --out docs/images/background_sheet.jpg
"""

from __future__ import annotations

import argparse
import os

import cv2
import numpy as np

PHOTOS = ["single_06.jpg", "single_04.jpg", "pair_01.jpg", "single_03.jpg"]


def label(img, text):
    out = img.copy()
    cv2.putText(out, text, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(out, text, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="docs/images/background_sheet.jpg")
    ap.add_argument("--height", type=int, default=220)
    args = ap.parse_args()
    from facecore.background import BackgroundReplacer
    from facecore.errors import ModelNotFoundError

    root = os.path.join(os.environ.get("FACECORE_DATA_DIR", "../shared/data"), "photos")
    bg = cv2.imread(os.path.join(root, "noface_02.jpg"))
    blur = BackgroundReplacer(blur=12, temporal=False)
    repl = BackgroundReplacer(background=bg, temporal=False)
    try:
        mat = BackgroundReplacer("matting", background=bg, temporal=False)
    except ModelNotFoundError:
        mat = None
    rows = []
    for name in PHOTOS:
        img = cv2.imread(os.path.join(root, name))
        s = args.height / img.shape[0]
        img = cv2.resize(img, (round(img.shape[1] * s), args.height), interpolation=cv2.INTER_AREA)
        out_b, m = blur.apply(img, return_matte=True)
        out_r = repl.apply(img)
        a = cv2.cvtColor(np.round(m.alpha * 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
        cells = [
            label(img, name),
            label(a, "alpha (fast)"),
            label(out_b, "blurred"),
            label(out_r, "replaced"),
        ]
        if mat is not None:
            out_m, mm = mat.apply(img, return_matte=True)
            am = cv2.cvtColor(np.round(mm.alpha * 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
            cells += [label(am, "alpha (matting)"), label(out_m, "replaced (matting)")]
        rows.append(np.hstack(cells))
    width = max(r.shape[1] for r in rows)
    sheet = np.vstack(
        [np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    )
    cv2.imwrite(args.out, sheet, [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(args.out, sheet.shape)


if __name__ == "__main__":
    main()
