"""Flicker and lag of BackgroundReplacer's temporal smoothing, on clips made from a photo.

* still clip: data/photos/pair_01.jpg at 640x360, each frame jittered by N(0, 0.7 px) and
  given N(0, 4) grey-level noise (a still person, a shaky camera, sensor noise);
* noisy clip: the photo still, with N(0, 4) noise only;
* moving clip: the same photo translated by 60 px * sin(2 pi t / 50 frames) (up to 7.5 px
  per frame), no noise.

flicker = mean over frames of mean |alpha_t - alpha_{t-1}| on the still clip (lower is
better); lag = mean |alpha_t - alpha_t(no smoothing)| on the moving clip (the ghost the
smoothing leaves behind a moving person; lower is better). Full-resolution alphas.

    python scripts/measure_temporal.py [--frames 40]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os

import cv2
import numpy as np


def clips(n: int):
    img = cv2.imread(
        os.path.join(os.environ.get("FACECORE_DATA_DIR", "../shared/data"), "photos", "pair_01.jpg")
    )
    H, W = img.shape[:2]
    h = int(W * 9 / 16)
    y0 = max(0, (H - h) // 2)
    base = cv2.resize(img[y0 : y0 + h], (640, 360), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(0)
    still, moving, noisy = [], [], []
    for i in range(n):
        noisy.append(
            np.clip(
                base.astype(np.int16) + rng.normal(0, 4, base.shape).astype(np.int16), 0, 255
            ).astype(np.uint8)
        )
        dx, dy = rng.normal(0, 0.7, 2)
        f = cv2.warpAffine(
            base, np.float32([[1, 0, dx], [0, 1, dy]]), (640, 360), borderMode=cv2.BORDER_REFLECT
        )
        still.append(
            np.clip(f.astype(np.int16) + rng.normal(0, 4, f.shape).astype(np.int16), 0, 255).astype(
                np.uint8
            )
        )
        dx = 60 * np.sin(i / 50 * 2 * np.pi)
        moving.append(
            cv2.warpAffine(
                base, np.float32([[1, 0, dx], [0, 1, 0]]), (640, 360), borderMode=cv2.BORDER_REFLECT
            )
        )
    return still, moving, noisy


def run(frames, **kw):
    from facecore.background import BackgroundReplacer

    r = BackgroundReplacer(threads=2, **kw)
    return [r.matte(f).alpha for f in frames]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=40)
    ap.add_argument("--sweep", action="store_true")
    args = ap.parse_args()
    still, moving, noisy = clips(args.frames)
    raw_m = run(moving, temporal=False)
    settings = [dict(temporal=False), dict()]  # off, and the defaults
    if args.sweep:
        settings += [
            dict(smoothing=s, motion=m)
            for s, m in itertools.product((0.2, 0.35), (12.0, 30.0, 60.0))
        ]
    rows = []
    for kw in settings:
        a_s = run(still, **kw)
        flick = float(np.mean([np.abs(a - b).mean() for a, b in zip(a_s[1:], a_s[:-1])]))
        a_n = run(noisy, **kw)
        flick_n = float(np.mean([np.abs(a - b).mean() for a, b in zip(a_n[1:], a_n[:-1])]))
        a_m = run(moving, **kw)
        lag = float(np.mean([np.abs(a - b).mean() for a, b in zip(a_m, raw_m)]))
        rows.append(
            {
                "settings": kw or "defaults",
                "flicker_jitter_noise": flick,
                "flicker_noise": flick_n,
                "lag": lag,
            }
        )
        print(json.dumps(rows[-1]))


if __name__ == "__main__":
    main()
