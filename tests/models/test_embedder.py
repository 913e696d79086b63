"""SFace adapter vs the reference embeddings (cv2.FaceRecognizerSF.alignCrop + RGB input)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facecore.models.embedder import ARCFACE_112, arcface_matrices, l2_normalize


def test_embeddings_match_reference(sface, ref_images):
    n = 0
    for entry, img, rows in ref_images:
        ref = np.array([f["sface_embedding"] for f in entry["faces"]], np.float32)
        raw = sface.embed(img, rows[:, 4:14].reshape(-1, 5, 2), normalize=False)
        # measured: max |diff| 0.0083 on raw values of norm 11..15 (bilinear rounding + DQ folding)
        np.testing.assert_allclose(raw, ref, atol=0.03, err_msg=entry["image"])
        cos = (l2_normalize(raw) * l2_normalize(ref)).sum(1)
        assert cos.min() > 0.99999
        n += len(ref)
    assert n >= 10


def test_one_batch_equals_per_face(sface, ref_images):
    _entry, img, rows = max(ref_images, key=lambda t: len(t[2]))
    lm = rows[:, 4:14].reshape(-1, 5, 2)
    batch = sface.embed(img, lm)
    single = np.concatenate([sface.embed(img, lm[i]) for i in range(len(lm))])
    np.testing.assert_allclose(batch, single, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)


def test_aligned_chips_path_agrees(sface, ref_images):
    _entry, img, rows = ref_images[0]
    lm = rows[:, 4:14].reshape(-1, 5, 2)
    m = arcface_matrices(lm)
    chips = np.stack([cv2.warpAffine(img, mi, (112, 112), flags=cv2.INTER_LINEAR) for mi in m])
    np.testing.assert_allclose(sface.embed_aligned(chips), sface.embed(img, lm), atol=2e-3)


def test_alignment_maps_landmarks_onto_template():
    rng = np.random.default_rng(0)
    ang, s = 0.3, 2.5
    r = s * np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    pts = (ARCFACE_112 - 56) @ np.linalg.inv(r).T + rng.uniform(100, 300, 2)
    m = arcface_matrices(pts[None])[0]
    np.testing.assert_allclose(pts @ m[:, :2].T + m[:, 2], ARCFACE_112, atol=1e-9)


def test_bad_inputs(sface):
    img = np.zeros((100, 100, 3), np.uint8)
    with pytest.raises(ValueError, match="landmarks"):
        sface.embed(img, np.zeros((2, 4, 2)))
    with pytest.raises(TypeError, match="landmarks"):
        sface.embed(img, np.array([["a"] * 2] * 5))
    with pytest.raises(ValueError, match="landmarks"):
        sface.embed(img, np.full((5, 2), np.nan))
    with pytest.raises(TypeError, match="image"):
        sface.embed(img.astype(np.float32), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="chips"):
        sface.embed_aligned(np.zeros((1, 100, 100, 3), np.uint8))
    assert sface.embed(img, np.zeros((0, 5, 2))).shape == (0, 128)
