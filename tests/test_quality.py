"""Quality measures and best_face."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facecore.quality import assess, assess_tensor, best_face
from facecore.types import Box, Face, Landmarks, Pose, Quality

LM = np.array([[38.3, 51.7], [73.5, 51.5], [56.0, 71.7], [41.5, 92.4], [70.7, 92.2]])


def _chip(seed=0):
    rng = np.random.default_rng(seed)
    base = cv2.resize(
        rng.integers(40, 220, (14, 14, 3), dtype=np.uint8),
        (112, 112),
        interpolation=cv2.INTER_CUBIC,
    )
    edges = (rng.random((112, 112, 1)) > 0.97) * 60
    return np.clip(base.astype(int) + edges, 0, 255).astype(np.uint8)


def test_blur_lowers_blur_and_score():
    sharp = _chip()
    soft = cv2.GaussianBlur(sharp, (0, 0), 2.0)
    qs, qb = assess(sharp, eye_distance=40), assess(soft, eye_distance=40)
    assert qs.blur > 3 * qb.blur and qs.score > qb.score


def test_size_exposure_pose_lower_the_score():
    chip = _chip()
    q = assess(chip, eye_distance=40)
    assert assess(chip, eye_distance=10).score < q.score
    assert assess(np.full_like(chip, 250), eye_distance=40).score < q.score
    assert assess(chip, eye_distance=40, pose=Pose(0, 60, 0)).score < q.score
    assert assess(chip, eye_distance=40, pose=Pose(0, 60, 0)).frontalness == pytest.approx(0.5)
    dark = (chip // 8).astype(np.uint8)
    assert assess(dark, eye_distance=40).brightness < 0.2


def test_tensor_path_equals_chip_path():
    chip = _chip(1)
    t = chip[..., ::-1].astype(np.float32).transpose(2, 0, 1)[None]
    assert assess_tensor(t, [30.0], [None])[0] == assess(chip, eye_distance=30.0)


def _face(score, q=None):
    return Face(box=Box(0, 0, 10, 10), landmarks=Landmarks(LM), score=score, quality=q)


def test_best_face():
    hi = Quality(blur=300, size=40, brightness=0.5, contrast=0.2, frontalness=1, score=0.9)
    lo = Quality(blur=30, size=20, brightness=0.5, contrast=0.2, frontalness=1, score=0.4)
    a, b, c = _face(0.99, lo), _face(0.7, hi), _face(0.999)
    assert best_face([a, b, c]) is b
    assert best_face([c, _face(0.5)]) is c
    assert best_face([]) is None
    with pytest.raises(TypeError, match="faces"):
        best_face([a, "face"])


def test_bad_inputs():
    with pytest.raises(TypeError, match="chip"):
        assess(np.zeros((112, 112, 3), np.float32), eye_distance=1)
    with pytest.raises(ValueError, match="chip"):
        assess(np.zeros((100, 112, 3), np.uint8), eye_distance=1)
    with pytest.raises(ValueError, match="eye_distance"):
        assess(np.zeros((112, 112, 3), np.uint8), eye_distance=-1)
    with pytest.raises(ValueError, match="eye_distances"):
        assess_tensor(np.zeros((2, 3, 112, 112), np.float32), [1.0], [None, None])
