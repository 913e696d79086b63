"""The shipped mask-robust SFace tail (``sface_mask``, docs/models/sface_mask.md).

Real faces: four photos of ``photos/masked/with_mask`` and three of ``without_mask``, each
aligned by OpenCV (``cv2.FaceDetectorYN`` + ``FaceRecognizerSF.alignCrop``, largest face).
The reference is an independent path: onnxruntime on SFace's original file, cut at the
graft tensor ``conv_13_relu`` (and its fully connected weight read as an output of that same
graph), then onnxruntime on the tail file as shipped; facecore's in-memory graft must agree
with it. Its embeddings are also recorded (``tests/data/sface_mask_ref.npz``, written by
``python tests/models/test_sface_mask.py``) so a change of the file or of onnxruntime shows.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from _env import data_dir, models_dir  # noqa: E402

REF = HERE.parent / "data" / "sface_mask_ref.npz"
SFACE = "face_recognition_sface_2021dec_int8bq.onnx"
YUNET = "face_detection_yunet_2023mar_int8bq.onnx"
PHOTOS = [("with_mask", i) for i in (1, 2, 3, 6)] + [("without_mask", i) for i in (0, 2, 7)]
MODELS = models_dir()
DATA = data_dir()
HAVE = (
    MODELS is not None
    and DATA is not None
    and (DATA / "photos" / "masked" / "with_mask" / "1.jpg").is_file()
)
pytestmark = pytest.mark.skipif(
    not HAVE, reason="needs ../shared/models and ../shared/data/photos/masked"
)


def _tail_file() -> Path:
    from facecore.models import zoo

    return zoo._PACKAGE_DATA / zoo.info("sface_mask").file


def _image(sub: str, i: int) -> np.ndarray:
    img = cv2.imread(str(DATA / "photos" / "masked" / sub / f"{i}.jpg"))
    assert img is not None
    return img


def _chips() -> np.ndarray:
    """OpenCV-aligned 112x112 BGR chips (N, 112, 112, 3) uint8 of PHOTOS."""
    rec = cv2.FaceRecognizerSF.create(str(MODELS / SFACE), "")
    out = []
    for sub, i in PHOTOS:
        img = _image(sub, i)
        h, w = img.shape[:2]
        det = cv2.FaceDetectorYN.create(str(MODELS / YUNET), "", (w, h), 0.6, 0.3, 5000)
        _, rows = det.detect(img)
        out.append(rec.alignCrop(img, max(rows, key=lambda r: r[2] * r[3])))
    return np.stack(out)


def _reference(chips: np.ndarray) -> np.ndarray:
    """Independent path: SFace's original graph up to ``conv_13_relu`` (plus its fc weight,
    dequantised by onnxruntime) and the shipped tail file, both on onnxruntime. Raw (N, 128)."""
    import onnxruntime as ort

    m = onnx.load(str(MODELS / SFACE))
    gemm = next(n for n in m.graph.node if n.op_type == "Gemm")
    del m.graph.output[:]
    m.graph.output.extend(
        [
            onnx.helper.make_tensor_value_info("conv_13_relu", onnx.TensorProto.FLOAT, None),
            onnx.helper.make_tensor_value_info(gemm.input[1], onnx.TensorProto.FLOAT, None),
        ]
    )
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    s = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    x = np.ascontiguousarray(chips[..., ::-1].transpose(0, 3, 1, 2), dtype=np.float32)
    inits = {i.name for i in m.graph.initializer}
    feed = {}
    for inp in s.get_inputs()[1:]:  # the file also lists weight inputs that no node reads
        if inp.name not in inits:  # (initialisers listed as inputs keep their values)
            feed[inp.name] = np.zeros(
                [d if isinstance(d, int) else 1 for d in inp.shape], np.float32
            )
    feats, w = [], None
    for k in range(len(x)):  # the original graph's batch is fixed at 1
        feed[s.get_inputs()[0].name] = x[k : k + 1]
        f, w = s.run(None, feed)
        feats.append(f)
    t = ort.InferenceSession(str(_tail_file()), so, providers=["CPUExecutionProvider"])
    return t.run(["fc1"], {"conv_13_relu": np.concatenate(feats), "sface_pre_fc1_weight": w})[0]


@pytest.fixture(scope="module")
def chips():
    return _chips()


@pytest.fixture(scope="module")
def embedders():
    from facecore.models import load

    return load(str(MODELS / SFACE), threads=1), load(
        str(MODELS / SFACE), threads=1, mask_tail=None
    )


def test_graft_matches_the_separate_tail_and_the_record(chips, embedders):
    grafted, _ = embedders
    assert grafted.has_mask_tail  # the zoo's sface_mask is attached by default
    got = grafted.embed_aligned(chips, normalize=False, masked=True)
    ref = _reference(chips)
    # measured: max |diff| 3e-6 on raw values of norm 9..13 (the same kernels, other fusions)
    np.testing.assert_allclose(got, ref, atol=1e-4)
    rec = np.load(REF)
    assert rec["photos"].tolist() == [f"{s}/{i}" for s, i in PHOTOS]
    np.testing.assert_allclose(ref, rec["raw"], atol=1e-3)
    np.testing.assert_allclose(got, rec["raw"], atol=1e-3)
    # not SFace's embedding: the tail is trained (measured cosine to SFace's 0.976..0.998)
    plain = grafted.embed_aligned(chips)
    cos = (plain * grafted.embed_aligned(chips, masked=True)).sum(1)
    assert cos.min() > 0.5 and cos.max() < 0.999


def test_sface_embedding_unchanged_by_the_graft(chips, embedders):
    grafted, plain = embedders
    assert not plain.has_mask_tail
    a = grafted.embed_aligned(chips, normalize=False)
    b = plain.embed_aligned(chips, normalize=False)
    assert np.abs(a - b).max() == 0.0
    both = grafted.run_both(
        np.ascontiguousarray(chips[..., ::-1].transpose(0, 3, 1, 2), np.float32)
    )
    assert np.abs(both[0] - b).max() == 0.0
    with pytest.raises(ValueError, match="^masked"):
        plain.embed_aligned(chips, masked=True)


def test_analyzer_faces_carry_the_masked_embedding_and_verify_uses_it():
    from facecore.analyzer import FaceAnalyzer
    from facecore.verify import DEFAULT_THRESHOLD, MASK_ROBUST_THRESHOLDS, verify

    os.environ.setdefault("FACECORE_MODEL_DIR", str(MODELS))
    fa = FaceAnalyzer(age=False, gender=False, threads=1, device="cpu")
    m1, m2 = _image("with_mask", 1), _image("with_mask", 3)
    u1, u2 = _image("without_mask", 2), _image("without_mask", 7)
    f = max(fa.analyze(m1), key=lambda g: g.box.width * g.box.height)
    assert f.embedding_masked is not None and f.embedding_masked.shape == (128,)
    lm = np.asarray(f.landmarks.points, np.float32)[None]
    np.testing.assert_allclose(
        f.embedding_masked, fa.embedder.embed(m1, lm, masked=True)[0], atol=1e-5
    )
    mu = verify(m1, u1, analyzer=fa)
    assert (mu.pair, mu.threshold) == ("masked-unmasked", MASK_ROBUST_THRESHOLDS["masked-unmasked"])
    assert mu.is_same == (mu.similarity >= mu.threshold)
    # the similarity is the mask-robust embedding of the masked face against SFace's
    fu = max(fa.analyze(u1), key=lambda g: g.box.width * g.box.height)
    assert mu.similarity == pytest.approx(float(f.embedding_masked @ fu.embedding), abs=1e-5)
    mm = verify(m1, m2, analyzer=fa)
    assert (mm.pair, mm.threshold) == ("masked-masked", MASK_ROBUST_THRESHOLDS["masked-masked"])
    uu = verify(u1, u2, analyzer=fa)
    assert (uu.pair, uu.threshold) == ("unmasked-unmasked", DEFAULT_THRESHOLD)


if __name__ == "__main__":  # record the independent path's embeddings
    c = _chips()
    r = _reference(c)
    np.savez(REF, photos=np.array([f"{s}/{i}" for s, i in PHOTOS]), raw=r.astype(np.float32))
    print(REF, r.shape, np.linalg.norm(r, axis=1))
