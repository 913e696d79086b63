"""Check facecore's TFLite -> ONNX conversion of MediaPipe selfie segmentation against MediaPipe.

Two steps, two environments (MediaPipe is never a facecore dependency):

1. In a scratch venv with ``mediapipe==0.10.21`` (its graph runs the .tflite with its own
   TFLite interpreter and its custom op ``Convolution2DTransposeBias``)::

       /work/scratch/bg-venv/bin/python scripts/verify_selfie_conversion.py mediapipe \
           --photos $FACECORE_DATA_DIR/photos --out /tmp/selfie_ref.npz

   Every photo is centre-cropped to the model's aspect and resized (cv2.INTER_AREA) to
   exactly the model's input size, so MediaPipe's own resize is the identity and both sides
   see the same pixels. A fresh SelfieSegmentation per frame (no temporal state).

2. In facecore's venv::

       python scripts/verify_selfie_conversion.py compare --ref /tmp/selfie_ref.npz

   converts both .tflite files with facecore.models.convert_tflite, runs them with
   onnxruntime on the same frames, and prints the max / mean absolute difference.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys

import numpy as np

MODELS = {0: ("selfie_segmentation", (256, 256)), 1: ("selfie_segmentation_landscape", (144, 256))}


def _frames(photos: str, shape: tuple[int, int], limit: int):
    import cv2

    files = sorted(glob.glob(os.path.join(photos, "*.jpg")))
    files += sorted(glob.glob(os.path.join(photos, "celebs13", "*", "0.jpg")))
    out, names = [], []
    for f in files[:limit]:
        im = cv2.imread(f)
        if im is None:
            continue
        h, w = im.shape[:2]
        th, tw = shape
        s = min(h / th, w / tw)
        ch, cw = int(th * s), int(tw * s)
        y0, x0 = (h - ch) // 2, (w - cw) // 2
        crop = im[y0 : y0 + ch, x0 : x0 + cw]
        out.append(cv2.resize(crop, (tw, th), interpolation=cv2.INTER_AREA))
        names.append(os.path.relpath(f, photos))
    return np.stack(out), names


def run_mediapipe(args) -> None:
    import mediapipe as mp

    res = {}
    for sel, (name, shape) in MODELS.items():
        frames, names = _frames(args.photos, shape, args.limit)
        masks = []
        for fr in frames:
            with mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=sel) as seg:
                r = seg.process(np.ascontiguousarray(fr[:, :, ::-1]))  # RGB
            masks.append(r.segmentation_mask.astype(np.float32))
        res[name + "_frames"] = frames
        res[name + "_masks"] = np.stack(masks)
        res[name + "_names"] = np.array(names)
    res["mediapipe_version"] = np.array(mp.__version__)
    np.savez_compressed(args.out, **res)
    print(f"wrote {args.out} (mediapipe {mp.__version__})")


def compare(args) -> None:
    import onnxruntime as ort

    from facecore.models.convert_tflite import convert_tflite

    ref = np.load(args.ref)
    model_dir = args.model_dir or os.environ.get("FACECORE_MODEL_DIR", "")
    print(f"reference: mediapipe {ref['mediapipe_version']}")
    worst = 0.0
    for name, shape in MODELS.values():
        proto = convert_tflite(os.path.join(model_dir, name + ".tflite"))
        sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
        frames, masks = ref[name + "_frames"], ref[name + "_masks"]
        x = frames[:, :, :, ::-1].transpose(0, 3, 1, 2).astype(np.float32) / np.float32(255)
        diffs = []
        for i in range(len(frames)):
            y = sess.run(None, {"input": x[i : i + 1]})[0][0, 0]
            diffs.append(np.abs(y - masks[i]))
        d = np.stack(diffs)
        worst = max(worst, float(d.max()))
        print(
            f"{name} {shape}: {len(frames)} real frames, max |diff| {d.max():.2e}, "
            f"mean |diff| {d.mean():.2e}, 99.9th pct {np.percentile(d, 99.9):.2e}"
        )
    sys.exit(0 if worst <= args.tol else 1)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("mediapipe")
    m.add_argument(
        "--photos", default=os.path.join(os.environ.get("FACECORE_DATA_DIR", ""), "photos")
    )
    m.add_argument("--out", default="selfie_ref.npz")
    m.add_argument("--limit", type=int, default=40)
    c = sub.add_parser("compare")
    c.add_argument("--ref", default="selfie_ref.npz")
    c.add_argument("--model-dir", default=None)
    c.add_argument("--tol", type=float, default=1e-3)
    args = ap.parse_args()
    run_mediapipe(args) if args.cmd == "mediapipe" else compare(args)


if __name__ == "__main__":
    main()
