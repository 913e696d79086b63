"""Mask-aware verify(): pair types and their thresholds (issue 16).

On real photos with a synthetic mask: the similarity is checked against OpenCV's own
detection and alignment (cv2.FaceDetectorYN + FaceRecognizerSF.alignCrop) and against
recorded outputs, the pair type against mask_worn's recorded probabilities.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from facecore.types import Verification
from facecore.verify import (
    DEFAULT_THRESHOLD,
    MASK_PROBABILITY,
    MASK_ROBUST_THRESHOLDS,
    MASKED_THRESHOLDS,
    PAIR_TYPES,
    verify,
)

REPO = Path(__file__).resolve().parents[1]

from _env import models_dir  # noqa: E402

MODELS = models_dir()
_data = Path(os.environ.get("FACECORE_DATA_DIR") or REPO.parent / "shared" / "data")
DATA = _data if (_data / "photos" / "single_01.jpg").is_file() else None
needs_models = pytest.mark.skipif(
    MODELS is None or DATA is None,
    reason="needs ../shared/models and ../shared/data (or $FACECORE_MODEL_DIR / $FACECORE_DATA_DIR)",
)


def test_pair_type_is_forced_and_chooses_the_threshold():
    a, b = [1.0, 0.0], [0.8, 0.6]
    v = verify(a, b)  # vectors: mask state unknown -> unmasked, the old behaviour
    assert (v.pair, v.threshold) == ("unmasked-unmasked", DEFAULT_THRESHOLD)
    for pt in PAIR_TYPES:
        v = verify(a, b, pair=pt)
        assert (
            v.pair == pt
            and v.threshold == MASKED_THRESHOLDS[pt]
            and v.similarity == pytest.approx(0.8)
        )
        assert v.is_same == (MASKED_THRESHOLDS[pt] <= 0.8)
    assert verify(a, b, pair="masked-masked", threshold=0.9).threshold == 0.9
    # measured on glint24: one mask lowers every similarity, two masks raise the impostors'
    assert (
        MASKED_THRESHOLDS["masked-unmasked"]
        < DEFAULT_THRESHOLD
        < MASKED_THRESHOLDS["masked-masked"]
    )
    assert 0.5 <= MASK_PROBABILITY < 1
    with pytest.raises(ValueError, match="^pair: expected one of"):
        verify(a, b, pair="masked")
    with pytest.raises(TypeError, match="^pair:"):
        verify(a, b, pair=1)


def test_verification_to_dict_keeps_the_old_keys():
    assert Verification(0.5, True, 0.4).to_dict() == {
        "similarity": 0.5,
        "is_same": True,
        "threshold": 0.4,
    }
    assert Verification(0.5, True, 0.4, pair="masked-masked").to_dict()["pair"] == "masked-masked"


@pytest.fixture(scope="module")
def fa():
    if MODELS is None or DATA is None:
        pytest.skip("needs ../shared/models and ../shared/data")
    os.environ.setdefault("FACECORE_MODEL_DIR", str(MODELS))
    from facecore.analyzer import FaceAnalyzer

    return FaceAnalyzer(age=False, gender=False, threads=1, device="cpu")


def _photos(fa):
    """Biden (single_01), Biden again (pair_03 face 1, cropped), Obama (single_04), and
    Biden with a synthetic surgical mask drawn from his detected landmarks."""
    from facecore.occlusion import synthesize

    biden = cv2.imread(str(DATA / "photos" / "single_01.jpg"))
    pair = cv2.imread(str(DATA / "photos" / "pair_03.jpg"))
    obama = cv2.imread(str(DATA / "photos" / "single_04.jpg"))
    f = fa.analyze(pair)[1]  # face 0 Obama, face 1 Biden (MODELS.md)
    x, y, w, h = (int(v) for v in (f.box.x, f.box.y, f.box.width, f.box.height))
    biden2 = np.ascontiguousarray(pair[max(0, y - h) : y + 2 * h, max(0, x - w) : x + 2 * w])
    face = max(fa.analyze(biden), key=lambda g: g.box.width * g.box.height)
    masked, _ = synthesize(biden, face, style="surgical_blue", seed=0)
    return biden, biden2, obama, masked


def _cv_similarity(fa, a: np.ndarray, b: np.ndarray, *, masked_a: bool = False) -> float:
    """Independent alignment: OpenCV's YuNet runner and FaceRecognizerSF.alignCrop (largest
    face), then SFace on the uint8 chips (OpenCV 5 cannot run this SFace file itself: its
    graph has unread inputs; the adapter is checked against reference embeddings in
    tests/models/test_embedder.py). ``masked_a``: ``a`` by the mask-robust embedding."""
    feats = []
    for img in (a, b):
        h, w = img.shape[:2]
        det = cv2.FaceDetectorYN.create(
            str(MODELS / "face_detection_yunet_2023mar_int8bq.onnx"), "", (w, h), 0.6, 0.3, 5000
        )
        _, rows = det.detect(img)
        row = max(rows, key=lambda r: r[2] * r[3])
        rec = cv2.FaceRecognizerSF.create(
            str(MODELS / "face_recognition_sface_2021dec_int8bq.onnx"), ""
        )
        m = masked_a and img is a
        feats.append(fa.embedder.embed_aligned(rec.alignCrop(img, row), masked=m)[0])
    return float(feats[0] @ feats[1])


@needs_models
def test_masked_images_get_the_masked_threshold(fa):
    from facecore.occlusion import mask_worn

    biden, biden2, obama, masked = _photos(fa)
    probs = [
        mask_worn(im, max(fa.analyze(im), key=lambda g: g.box.width * g.box.height)).probability
        for im in (biden, biden2, obama, masked)
    ]
    np.testing.assert_allclose(probs, RECORDED["mask_worn"], atol=2e-3)
    plain = verify(biden, biden2, analyzer=fa)
    assert (
        plain.pair == "unmasked-unmasked" and plain.threshold == DEFAULT_THRESHOLD and plain.is_same
    )
    same = verify(masked, biden2, analyzer=fa)
    other = verify(masked, obama, analyzer=fa)
    assert same.pair == other.pair == "masked-unmasked"  # mask_worn found the mask
    # the analyzer carries the shipped sface_mask tail: the masked side is compared by its
    # mask-robust embedding, at that embedding's threshold
    assert fa.embedder.has_mask_tail
    assert same.threshold == MASK_ROBUST_THRESHOLDS["masked-unmasked"]
    assert same.is_same and not other.is_same
    both = verify(masked, masked[:, ::-1].copy(), analyzer=fa)  # the mirror image: masked too
    assert (
        both.pair == "masked-masked" and both.threshold == MASK_ROBUST_THRESHOLDS["masked-masked"]
    )
    # independent alignment (OpenCV's; measured |diff| 2e-4)
    cv_same = _cv_similarity(fa, masked, biden2, masked_a=True)
    assert same.similarity == pytest.approx(cv_same, abs=0.03)
    assert other.similarity == pytest.approx(
        _cv_similarity(fa, masked, obama, masked_a=True), abs=0.03
    )
    # recorded outputs (this commit, CPU)
    assert same.similarity == pytest.approx(RECORDED["same"], abs=2e-3)
    assert other.similarity == pytest.approx(RECORDED["other"], abs=2e-3)
    # forcing the unmasked type: SFace on both sides (its recorded similarity before the tail)
    forced = verify(masked, biden2, analyzer=fa, pair="unmasked-unmasked")
    assert forced.threshold == DEFAULT_THRESHOLD
    assert forced.similarity == pytest.approx(RECORDED["same_sface"], abs=2e-3)
    assert forced.similarity == pytest.approx(_cv_similarity(fa, masked, biden2), abs=0.03)
    # the forced masked-unmasked type: the side that mask_worn found masked is compared robustly
    forced = verify(masked, biden2, analyzer=fa, pair="masked-unmasked")
    assert forced.threshold == 0.413 and forced.similarity == same.similarity


RECORDED = {
    "mask_worn": [0.0108, 0.0204, 0.0536, 0.8665],
    "same": 0.6227,  # mask-robust (masked side) against SFace; SFace alone: same_sface
    "other": 0.1467,  # SFace alone: 0.1266
    "same_sface": 0.5695,
}
