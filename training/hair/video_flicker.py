"""Flicker and lag of the video recolour's temporal smoothing.

    python -m training.hair.video_flicker [--photo single_03] [--frames 30] [--json out.json]

Still subject: a clip of one photo with fresh Gaussian noise (sigma 6 levels) per frame, as
a camera's sensor noise; figure = mean IoU of consecutive frames' masks (refined map >= 0.5),
for each smoothing weight (1 = none). Moving subject: the same photo shifted right by 4
px per frame (np.roll); figure = lag in frames = the mask centroid's shift behind the
unsmoothed mask's, divided by the speed, averaged over the last half of the clip. Both run
the maps through :meth:`HairRecolor.apply_video`'s own loop (``on_frame`` gives the alpha).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

import cv2
import numpy as np


def clip(photo, frames, moving, path):
    h, w = photo.shape[:2]
    wr = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (w, h))
    rng = np.random.default_rng(0)
    for k in range(frames):
        f = np.roll(photo, 4 * k, axis=1) if moving else photo
        f = np.clip(f.astype(np.float32) + rng.normal(0, 6, f.shape), 0, 255).astype(np.uint8)
        wr.write(f)
    wr.release()


def masks(path, smoothing):
    from facecore.hair import HairRecolor

    hr = HairRecolor("dense", smoothing=smoothing, threads=1)
    out = []
    with tempfile.TemporaryDirectory() as d:
        hr.apply_video(
            path,
            Path(d) / "o.avi",
            "blue",
            progress=False,
            audio=False,
            on_frame=lambda i, f, a: out.append(a >= 0.5),
        )
    return out


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--photo", default="single_03")
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    data = Path(os.environ.get("FACECORE_DATA_DIR", "../shared/data"))
    photo = cv2.imread(str(data / "photos" / f"{args.photo}.jpg"))
    photo = cv2.resize(photo, (photo.shape[1] // 2 * 2, photo.shape[0] // 2 * 2))
    res = {}
    with tempfile.TemporaryDirectory() as d:
        still, moving = Path(d) / "still.avi", Path(d) / "moving.avi"
        clip(photo, args.frames, False, still)
        clip(photo, args.frames, True, moving)
        ref = masks(moving, 1.0)
        for s in (1.0, 0.6, 0.4):
            m = masks(still, s)
            ious = [
                np.count_nonzero(a & b) / max(np.count_nonzero(a | b), 1) for a, b in zip(m, m[1:])
            ]
            mv = masks(moving, s) if s < 1 else ref
            lags = []
            for k in range(len(mv) // 2, len(mv)):
                xs, xr = np.nonzero(mv[k])[1], np.nonzero(ref[k])[1]
                if len(xs) and len(xr):
                    lags.append((xr.mean() - xs.mean()) / 4.0)
            res[str(s)] = {
                "still_iou_mean": float(np.mean(ious)),
                "still_iou_min": float(np.min(ious)),
                "moving_lag_frames": float(np.mean(lags)) if lags else None,
            }
            print(s, res[str(s)], flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
