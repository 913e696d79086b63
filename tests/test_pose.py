"""Head pose from 5 landmarks: synthetic projections of the template at known angles."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from facecore.pose import FACE_3D, estimate_pose, estimate_poses, project, rotation_matrix
from facecore.types import Pose

H, W = 480, 640
K = np.array([[max(H, W), 0, (W - 1) / 2], [0, max(H, W), (H - 1) / 2], [0, 0, 1]], np.float64)


@pytest.mark.parametrize(
    "pitch,yaw,roll",
    list(itertools.product((-30, -10, 0, 15, 30), (-50, -20, 0, 25, 50), (-40, 0, 30))),
)
def test_recovers_known_angles(pitch, yaw, roll):
    lm = project(pitch, yaw, roll, camera=K, distance=500.0)
    p = estimate_pose(lm, image_shape=(H, W, 3))
    assert (p.pitch, p.yaw, p.roll) == pytest.approx((pitch, yaw, roll), abs=1e-3)


def test_noise_costs_little():
    rng = np.random.default_rng(0)
    errs = []
    for _ in range(50):
        a = rng.uniform([-20, -40, -30], [20, 40, 30])
        lm = project(*a, camera=K, distance=600.0) + rng.normal(
            0, 0.5, (5, 2)
        )  # eye distance ~67 px
        p = estimate_pose(lm, image_shape=(H, W))
        errs.append(np.abs(np.array([p.pitch, p.yaw, p.roll]) - a))
    errs = np.array(errs)
    assert errs[:, 2].mean() < 1.0 and errs[:, 1].mean() < 3.0 and errs[:, 0].mean() < 5.0


def test_signs():
    def nose_vs_eyes(lm):
        return lm[2] - lm[:2].mean(axis=0)

    base = nose_vs_eyes(project(0, 0, 0, camera=K))
    # yaw > 0: the face turns toward the image's right, so the nose moves right of the eyes
    assert nose_vs_eyes(project(0, 30, 0, camera=K))[0] > base[0] + 5
    # pitch > 0: chin up, so the nose tip comes closer to the eyes in the image
    assert nose_vs_eyes(project(20, 0, 0, camera=K))[1] < base[1] - 5
    # roll > 0: clockwise tilt, so the image-left eye rises above the other
    cw = project(0, 0, 20, camera=K)
    assert cw[0, 1] < cw[1, 1] - 5


def test_off_axis_face_looking_into_the_lens_is_frontal():
    """Pose is relative to the line of sight: a face at the frame's corner facing the camera reads ~0."""
    t = np.array([-150.0, -100.0, 600.0])
    d = t / np.linalg.norm(t)
    axis = np.cross([0, 0, 1.0], d)
    ang = np.arctan2(np.linalg.norm(axis), d[2])
    import cv2

    q, _ = cv2.Rodrigues(axis / np.linalg.norm(axis) * ang)
    pts = (q @ FACE_3D.T).T + t
    uv = (K @ pts.T).T
    p = estimate_pose(uv[:, :2] / uv[:, 2:], image_shape=(H, W))
    assert max(abs(p.pitch), abs(p.yaw), abs(p.roll)) < 1e-3


def test_without_image_shape_and_batch():
    lm = project(
        0, 20, 10, camera=np.array([[3000.0, 0, 300], [0, 3000.0, 300], [0, 0, 1]]), distance=3000.0
    )
    p = estimate_pose(lm)
    assert p.yaw == pytest.approx(20, abs=2) and p.roll == pytest.approx(10, abs=1)
    ps = estimate_poses(np.stack([lm, lm]))
    assert len(ps) == 2 and isinstance(ps[0], Pose)
    assert 0.0 <= ps[0].frontalness <= 1.0


def test_rotation_is_orthonormal():
    r = rotation_matrix(12, -34, 56)
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)


def test_bad_inputs():
    with pytest.raises(ValueError, match="landmarks"):
        estimate_pose(np.zeros((4, 2)))
    with pytest.raises(TypeError, match="landmarks"):
        estimate_pose(np.array([["a", "b"]] * 5))
    with pytest.raises(ValueError, match="landmarks"):
        estimate_pose(np.full((5, 2), np.inf))
    with pytest.raises(ValueError, match="image_shape"):
        estimate_pose(np.ones((5, 2)), image_shape=(0, 10))
    with pytest.raises(ValueError, match="landmarks"):
        estimate_poses(np.zeros((5, 2)))


# -- issue 21 item 1: crowd faces (11-16 px) crashed solvePnP (sqpnp point variance assert) ----


def test_crowd_face_from_issue_gets_a_pose_not_a_cv2_error():
    lm = [[152.1, 165.7], [157.8, 165.4], [154.7, 167.9], [152.8, 170.3], [157.3, 170.6]]
    p = estimate_pose(lm, image_shape=(675, 1024))
    # a near-frontal tiny face: EPnP + LM gives a pose; roll from the eye line is ~ -3 degrees
    assert p is not None
    assert abs(p.roll - np.degrees(np.arctan2(165.4 - 165.7, 157.8 - 152.1))) < 5


@pytest.mark.parametrize("yaw", [-30, 0, 30])
def test_tiny_faces_recover_yaw_and_roll(yaw):
    k = np.array([[1024.0, 0, 511.5], [0, 1024.0, 337.0], [0, 0, 1]])
    lm = project(5, yaw, 10, camera=k, distance=11000.0)  # eye distance ~6 px, as in crowd_01.jpg
    assert np.hypot(*(lm[1] - lm[0])) < 7
    p = estimate_pose(lm, image_shape=(675, 1024))
    assert p is not None and abs(p.yaw - yaw) < 2 and abs(p.roll - 10) < 2


def test_degenerate_points_give_none():
    same = np.full((5, 2), 100.0)
    assert estimate_pose(same, image_shape=(480, 640)) is None
    line = np.stack([np.linspace(0, 40, 5), np.full(5, 50.0)], axis=1)
    assert estimate_pose(line, image_shape=(480, 640)) is None or isinstance(
        estimate_pose(line), Pose
    )
    assert (
        estimate_poses(np.stack([same, project(0, 0, 0, camera=K)]), image_shape=(H, W))[0] is None
    )


@given(
    arrays(np.float64, (5, 2), elements=st.floats(-1e4, 1e4, allow_nan=False)),
    st.integers(1, 5000),
    st.integers(1, 5000),
    st.booleans(),
)
def test_any_finite_points_give_a_pose_or_none(lm, h, w, with_shape):
    p = estimate_pose(lm, image_shape=(h, w) if with_shape else None)
    assert p is None or (isinstance(p, Pose) and np.isfinite([p.pitch, p.yaw, p.roll]).all())
