"""FaceAnalyzer end to end on real photos, verify(), and the result types."""

from __future__ import annotations

import json
import os
from dataclasses import FrozenInstanceError
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def _dir(env: str, default: Path, probe: str) -> Path | None:
    for c in ([Path(os.environ[env])] if os.environ.get(env) else []) + [default]:
        if (c / probe).exists():
            return c
    return None


from _env import models_dir  # noqa: E402

MODELS = models_dir()  # ../shared/models, else the installed [models] packages' files
DATA = _dir("FACECORE_DATA_DIR", REPO.parent / "shared" / "data", "photos")
needs_models = pytest.mark.skipif(
    MODELS is None or DATA is None,
    reason="needs ../shared/models and ../shared/data (or $FACECORE_MODEL_DIR / $FACECORE_DATA_DIR)",
)


@pytest.fixture(scope="module")
def fa():
    if MODELS is None:
        pytest.skip("models absent")
    os.environ.setdefault("FACECORE_MODEL_DIR", str(MODELS))
    from facecore.analyzer import FaceAnalyzer

    return FaceAnalyzer(threads=2, device="cpu")


def _img(name):
    return cv2.imread(str(DATA / "photos" / name))


@needs_models
def test_analyze_pair(fa):
    faces = fa.analyze(_img("pair_03.jpg"))
    assert len(faces) >= 2
    for f in faces:
        assert f.embedding.shape == (128,) and abs(np.linalg.norm(f.embedding) - 1) < 1e-5
        assert 0 <= f.p_male <= 1 and 0 < f.age < 81
        assert f.pose is not None and f.quality is not None and 0 <= f.quality.score <= 1
    assert [f.score for f in faces] == sorted((f.score for f in faces), reverse=True)
    # Obama (face 0) and Biden (face 1), by MODELS.md: two men in their 50s-70s
    assert all(f.gender == "male" for f in faces[:2])


@needs_models
def test_batch_equals_single(fa):
    imgs = [_img("group_02.jpg"), _img("noface_01.jpg"), _img("pair_02.jpg")]
    batch = fa.analyze_batch(imgs, progress=False)
    assert [len(b) for b in batch] == [len(fa.analyze(i)) for i in imgs]
    for b, img in zip(batch, imgs):
        for x, y in zip(b, fa.analyze(img)):
            assert x.box == y.box and x.landmarks == y.landmarks
            np.testing.assert_allclose(x.embedding, y.embedding, atol=1e-5)
            assert x.age == pytest.approx(y.age, abs=1e-3) and x.p_male == pytest.approx(
                y.p_male, abs=1e-5
            )


@needs_models
def test_color_order_grey_and_max_faces(fa):
    img = _img("group_02.jpg")
    bgr = fa.analyze(img)
    rgb = fa.analyze(np.ascontiguousarray(img[:, :, ::-1]), color_order="rgb")
    assert [f.box for f in bgr] == [f.box for f in rgb]
    assert len(fa.analyze(img, max_faces=2)) == 2
    grey = fa.analyze(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY))
    assert len(grey) >= 3


@needs_models
def test_verify_same_and_different_people(fa):
    from facecore.verify import DEFAULT_THRESHOLD, verify

    biden = fa.analyze(_img("single_01.jpg"))[0]
    obama = fa.analyze(_img("single_04.jpg"))[0]
    pair = fa.analyze(_img("pair_03.jpg"))  # face 0 Obama, face 1 Biden (MODELS.md)
    assert verify(biden, pair[1]).is_same and verify(obama, pair[0]).is_same
    assert not verify(biden, obama).is_same and not verify(biden, pair[0])
    v = verify(biden, pair[1], threshold=0.99)
    assert not v.is_same and v.threshold == 0.99
    assert verify(biden.embedding, pair[1].embedding).similarity == pytest.approx(
        verify(biden, pair[1]).similarity
    )
    assert -1 < DEFAULT_THRESHOLD < 1


@needs_models
def test_stages_can_be_switched_off(fa):
    from facecore.analyzer import FaceAnalyzer

    lean = FaceAnalyzer(
        detector=fa.detector, embedder=False, age=False, gender=False, pose=False, quality=False
    )
    f = lean.analyze(_img("single_04.jpg"))[0]
    assert f.embedding is None and f.age is None and f.pose is None and f.quality is None
    assert (
        FaceAnalyzer(detector=fa.detector, embedder=False, age=False, gender=False)
        .analyze(_img("single_04.jpg"))[0]
        .quality
        is not None
    )


@needs_models
def test_to_dict_is_json(fa):
    faces = fa.analyze(_img("single_04.jpg"))
    d = json.loads(json.dumps([f.to_dict() for f in faces]))
    assert set(d[0]) >= {
        "box",
        "landmarks",
        "score",
        "age",
        "gender",
        "pose",
        "quality",
        "embedding",
    }
    assert len(d[0]["embedding"]) == 128
    assert "embedding" not in faces[0].to_dict(embedding=False)


@needs_models
def test_input_is_not_modified(fa):
    img = _img("pair_04.jpg")
    before = img.copy()
    fa.analyze(img)
    np.testing.assert_array_equal(img, before)


@needs_models
def test_bad_inputs(fa):
    from facecore.analyzer import FaceAnalyzer
    from facecore.verify import verify

    with pytest.raises(TypeError, match="image"):
        fa.analyze(np.zeros((50, 50, 3), np.float64))
    with pytest.raises(ValueError, match="image"):
        fa.analyze(np.zeros((50, 50, 2), np.uint8))
    with pytest.raises(ValueError, match="color_order"):
        fa.analyze(np.zeros((50, 50, 3), np.uint8), color_order="hsv")
    with pytest.raises(ValueError, match="max_faces"):
        fa.analyze(np.zeros((50, 50, 3), np.uint8), max_faces=0)
    with pytest.raises(TypeError, match=r"images\[1\]"):
        fa.analyze_batch([np.zeros((50, 50, 3), np.uint8), 3.5], progress=False)
    with pytest.raises(
        FileNotFoundError, match=r"images\[1\]: no such file"
    ):  # paths are read (issue 21)
        fa.analyze_batch([np.zeros((50, 50, 3), np.uint8), "x.jpg"], progress=False)
    with pytest.raises(ValueError, match="detector"):
        FaceAnalyzer(detector=False)
    with pytest.raises(TypeError, match="embedder"):
        FaceAnalyzer(detector=fa.detector, embedder=3.5)
    with pytest.raises(ValueError, match="device"):
        FaceAnalyzer(device="gpu")
    with pytest.raises(ValueError, match="threshold"):
        verify([1.0, 0.0], [0.0, 1.0], threshold=2.0)
    with pytest.raises(ValueError, match="face_a, face_b"):
        verify([1.0, 0.0], [0.0, 1.0, 0.0])
    faces = fa.analyze(_img("single_04.jpg"))
    with pytest.raises(ValueError, match="face_b"):
        verify(faces[0], faces[0].with_(embedding=None))


def test_types_are_frozen_and_validated():
    from facecore.types import Box, Face, Landmarks, Pose, Verification

    b = Box(1, 2, 3, 4)
    with pytest.raises(FrozenInstanceError):
        b.x = 5
    assert b.iou(Box(1, 2, 3, 4)) == 1.0 and b.iou(Box(100, 100, 1, 1)) == 0.0
    with pytest.raises(ValueError, match="width"):
        Box(0, 0, -1, 1)
    with pytest.raises(TypeError, match="x"):
        Box("a", 0, 1, 1)
    lm = Landmarks(np.arange(10.0).reshape(5, 2))
    with pytest.raises(ValueError):
        lm.points[0, 0] = 3  # read-only
    with pytest.raises(ValueError, match="points"):
        Landmarks(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="p_male"):
        Face(box=b, landmarks=lm, score=0.9, p_male=1.5)
    with pytest.raises(TypeError, match="box"):
        Face(box=(1, 2, 3, 4), landmarks=lm, score=0.9)
    f = Face(box=b, landmarks=lm, score=0.9, p_male=0.2, pose=Pose(0, 0, 0), embedding=np.ones(4))
    assert f.gender == "female" and not f.embedding.flags.writeable
    assert Verification(0.5, True, 0.4).to_dict() == {
        "similarity": 0.5,
        "is_same": True,
        "threshold": 0.4,
    }


def _similarity_lstsq(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity by a linear solve (x' = a x - b y + tx, y' = b x + a y + ty):
    independent of facecore.align's Umeyama closed form."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(src, dst):
        rows += [[x, -y, 1, 0], [y, x, 0, 1]]
        rhs += [u, v]
    a, b, tx, ty = np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=None)[0]
    return np.array([[a, -b, tx], [b, a, ty]])


@needs_models
@pytest.mark.parametrize("shape", [112, (128, 96)])
def test_crops_match_a_least_squares_fit_and_cv2_warpaffine(fa, shape):
    """FaceAnalyzer.crops against an independent reference: the similarity fitted by a linear
    least-squares solve onto the published ArcFace template, warped by cv2.warpAffine
    (bilinear, constant 0). OpenCV's uint8 warp uses fixed-point weights: measured on this
    photo, mean |diff| < 0.05 and max <= 2 grey levels; bounds 0.3 and 4."""
    image = _img("pair_03.jpg")
    faces = fa.analyze(image)
    chips = fa.crops(image, faces, shape=shape)
    h, w = (shape, shape) if isinstance(shape, int) else shape
    assert chips.shape == (len(faces), h, w, 3) and chips.dtype == np.uint8
    arcface = np.array(  # insightface's norm_crop arcface_dst, 112 x 112
        [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655]]
        + [[70.7299, 92.2041]]
    ) * [w / 112, h / 112]
    for f, chip in zip(faces, chips):
        m = _similarity_lstsq(np.asarray(f.landmarks.points), arcface)
        ref = cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
        d = np.abs(chip.astype(np.int16) - ref.astype(np.int16))
        assert d.mean() < 0.3 and d.max() <= 4, (d.mean(), d.max())


@needs_models
def test_crops_are_what_the_embedder_reads(fa):
    """The 112 chips embedded again (uint8 chips vs the float tensor of analyze: rounding
    only) give the faces' embeddings: cosine > 0.995 each."""
    image = _img("pair_03.jpg")
    faces = fa.analyze(image)
    again = fa.embedder.embed_aligned(fa.crops(image, faces))
    cos = np.sum(again * np.stack([f.embedding for f in faces]), axis=1)
    assert len(faces) >= 2 and (cos > 0.995).all(), cos


@needs_models
def test_crops_bad_arguments_are_named(fa):
    image = _img("pair_03.jpg")
    faces = fa.analyze(image)
    assert fa.crops(image, [], shape=(64, 48)).shape == (0, 64, 48, 3)
    with pytest.raises(TypeError, match="faces"):
        fa.crops(image, faces[0])
    with pytest.raises(TypeError, match=r"faces\[0\]"):
        fa.crops(image, [faces[0].box])
    with pytest.raises(ValueError, match="shape"):
        fa.crops(image, faces, shape=0)
    with pytest.raises(TypeError, match="image"):
        fa.crops(image.astype(np.float32), faces)
