"""facecore's TFLite reader and the selfie-segmentation converter, checked against MediaPipe.

The reference masks in tests/data/selfie_mediapipe_ref.npz are MediaPipe 0.10.21's own
outputs (its TFLite interpreter with the custom op) on data/photos/single_01.jpg, made by
``scripts/verify_selfie_conversion.py mediapipe``; the frame is rebuilt here the same way.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from facecore.models import zoo
from facecore.models.convert_tflite import convert_tflite
from facecore.models.tflite import read_tflite

REF = Path(__file__).resolve().parent.parent / "data" / "selfie_mediapipe_ref.npz"
NAMES = {"selfie_segmentation": (256, 256), "selfie_segmentation_landscape": (144, 256)}


def _tflite(models_dir: Path, name: str) -> Path:
    p = models_dir / f"{name}.tflite"
    if not p.is_file():
        pytest.skip(f"{p} absent (see shared/models/MODELS.md)")
    return p


def test_reader_reads_the_graph(models_dir):
    m = read_tflite(_tflite(models_dir, "selfie_segmentation"))
    assert m.tensors[m.inputs[0]].shape == (1, 256, 256, 3)
    assert m.tensors[m.outputs[0]].shape == (1, 256, 256, 1)
    ops = [o.opcode for o in m.operators]
    assert ops.count("Convolution2DTransposeBias") == 1 and ops.count("CONV_2D") == 43
    fp16 = [t for t in m.tensors if t.data is not None and t.dtype == np.float16]
    assert len(fp16) == ops.count("DEQUANTIZE") == 110
    # a weight read by hand: the first conv's kernel, OHWI (16, 3, 3, 3), finite, not all zero
    k = next(t for t in m.tensors if t.name == "conv2d/Kernel").data
    assert k.shape == (16, 3, 3, 3) and np.isfinite(k).all() and np.abs(k).max() > 0.1


def test_reader_refuses_garbage(tmp_path):
    with pytest.raises(ValueError, match="TFLite"):
        read_tflite(b"not a flatbuffer at all")
    with pytest.raises(ValueError, match="corrupt"):
        read_tflite(b"\xf0\xff\xff\x0fTFL3" + b"\x00" * 16)


@pytest.mark.parametrize("name", list(NAMES))
def test_conversion_is_reproducible(models_dir, name):
    """Converting the .tflite again gives the shipped ONNX file, byte for byte."""
    proto = convert_tflite(_tflite(models_dir, name))
    digest = hashlib.sha256(proto.SerializeToString()).hexdigest()
    assert digest == zoo.info(name).sha256


@pytest.mark.parametrize("name", list(NAMES))
def test_shipped_model_matches_mediapipe(data_dir, name):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
    from verify_selfie_conversion import _frames  # the crop the reference was made with

    img = cv2.imread(str(data_dir / "photos" / "single_01.jpg"))
    if img is None:
        pytest.skip("data/photos/single_01.jpg absent")
    frames, names = _frames(str(data_dir / "photos"), NAMES[name], 100)
    frame = frames[names.index("single_01.jpg")]
    x = frame[:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32) / np.float32(255)
    sess = ort.InferenceSession(str(zoo.find(name)), providers=["CPUExecutionProvider"])
    y = sess.run(None, {"input": x})[0][0, 0]
    ref = np.load(REF)[name]
    d = np.abs(y - ref)
    # measured: max 1.4e-4 (square) / 2.4e-4 (landscape) over 40 real frames, mean ~2e-7
    assert d.max() < 1e-3 and d.mean() < 1e-5, (d.max(), d.mean())
    assert 0.2 < (ref > 0.5).mean() < 0.9  # the reference really contains a person
