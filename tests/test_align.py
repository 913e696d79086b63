"""align: Umeyama similarity against OpenCV and scikit-image's definition, templates."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import facecore as fc
from facecore.align import ARCFACE_112, arcface_matrices, dlib_chip_template, estimate_similarity


@given(
    scale=st.floats(0.1, 5),
    angle=st.floats(-3.1, 3.1),
    tx=st.floats(-500, 500),
    ty=st.floats(-500, 500),
)
def test_recovers_an_exact_similarity(scale, angle, tx, ty):
    c, s = scale * np.cos(angle), scale * np.sin(angle)
    M = np.array([[c, -s, tx], [s, c, ty]])
    src = ARCFACE_112 * 3 + 17
    dst = src @ M[:, :2].T + M[:, 2]
    np.testing.assert_allclose(
        estimate_similarity(src, dst), M, atol=1e-6 * max(1, abs(tx), abs(ty))
    )


def test_matches_opencv_least_squares_on_noisy_points():
    rng = np.random.default_rng(0)
    for _ in range(20):
        src = ARCFACE_112 * rng.uniform(1, 4) + rng.uniform(0, 300, 2) + rng.normal(0, 2, (5, 2))
        M = estimate_similarity(src, ARCFACE_112)
        # cv2's estimateAffinePartial2D with LMEDS on 5 points is not plain least squares;
        # its refinement (Levenberg-Marquardt on all inliers) is: compare with that.
        ref, inliers = cv2.estimateAffinePartial2D(
            src, ARCFACE_112, method=cv2.LMEDS, refineIters=100
        )
        if inliers.all():
            np.testing.assert_allclose(M, ref, atol=1e-3)
        # and the least-squares optimality itself: no nearby similarity fits better
        res = lambda A, src=src: np.sum((src @ A[:, :2].T + A[:, 2] - ARCFACE_112) ** 2)
        for d in np.eye(4) * 1e-4:
            a, b, tx, ty = M[0, 0] + d[0], M[1, 0] + d[1], M[0, 2] + d[2], M[1, 2] + d[3]
            assert res(M) <= res(np.array([[a, -b, tx], [b, a, ty]])) + 1e-9


def test_batched_and_template_shapes():
    pts = np.stack([ARCFACE_112 * 2, ARCFACE_112 + 5])
    Ms = arcface_matrices(pts)
    assert Ms.shape == (2, 2, 3)
    np.testing.assert_allclose(Ms[0], [[0.5, 0, 0], [0, 0.5, 0]], atol=1e-9)
    chip = fc.kernels.warp_crops(np.zeros((300, 300, 3), np.uint8), Ms, 112)
    assert chip.shape == (2, 112, 112, 3)
    t = dlib_chip_template(64, padding=0.2)
    assert t.shape == (5, 2) and (t > 0).all() and (t < 64).all()
    assert np.allclose(dlib_chip_template(100, padding=0.0) / 100, fc.align.DLIB_CHIP_UNIT)


def test_bad_inputs():
    with pytest.raises(ValueError, match="src_pts"):
        estimate_similarity(np.zeros((5, 2)), ARCFACE_112)
    with pytest.raises(ValueError, match="dst_pts"):
        estimate_similarity(ARCFACE_112, ARCFACE_112[:4])
    with pytest.raises(ValueError, match="src_pts"):
        estimate_similarity(np.full((5, 2), np.nan), ARCFACE_112)
    with pytest.raises(TypeError, match="src_pts"):
        estimate_similarity(np.array([["a", "b"]] * 5), ARCFACE_112)
    with pytest.raises(ValueError, match="landmarks"):
        arcface_matrices(np.zeros((2, 4, 2)))
    with pytest.raises(ValueError, match="padding"):
        dlib_chip_template(64, padding=-1)
