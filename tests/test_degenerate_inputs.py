"""Issue 21 item 1, the audit: every OpenCV / onnxruntime call reachable from a public function,
fed degenerate geometry, empty or tiny inputs, answers with a result or a ValueError/TypeError
naming the argument -- never a third-party exception (cv2.error, onnxruntime errors)."""

from __future__ import annotations

import numpy as np
import pytest
from _env import models_dir
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import facecore as fc
from facecore import align, quality

finite = st.floats(-1e4, 1e4, allow_nan=False)


@given(arrays(np.float64, (5, 2), elements=finite), st.booleans())
def test_similarity_of_any_points(pts, collapse):
    if collapse:
        pts[:] = pts[0]
    try:
        m = align.arcface_matrices(pts[None])
    except ValueError as exc:
        assert str(exc).startswith(("src_pts", "dst_pts", "landmarks"))
    else:
        assert m.shape == (1, 2, 3) and np.isfinite(m).all()


@given(
    arrays(np.uint8, (112, 112, 3)),
    st.floats(0, 1e6),
    st.sampled_from([None, fc.Pose(0, 0, 0), fc.Pose(89, -89, 180)]),
)
def test_quality_of_any_chip(chip, ed, pose):
    q = quality.assess(chip, eye_distance=ed, pose=pose)
    assert 0.0 <= q.score <= 1.0 and np.isfinite([q.blur, q.contrast, q.brightness]).all()


@pytest.fixture(scope="module")
def analyzer():
    if models_dir() is None:
        pytest.skip("needs the real models (../shared/models or the [models] packages)")
    return fc.FaceAnalyzer(age=False, gender=False, threads=1)


@settings(max_examples=25, deadline=None)
@given(
    st.integers(1, 48),
    st.integers(1, 48),
    st.sampled_from(["zeros", "noise", "ones"]),
    st.sampled_from([1, 3, 4]),
)
def test_analyze_tiny_and_flat_images(analyzer, h, w, fill, channels):
    rng = np.random.default_rng(h * 100 + w)
    shape = (h, w) if channels == 1 else (h, w, channels)
    img = {
        "zeros": np.zeros(shape, np.uint8),
        "ones": np.full(shape, 255, np.uint8),
        "noise": rng.integers(0, 256, shape, np.uint8),
    }[fill]
    faces = analyzer.analyze(img)
    assert isinstance(faces, list)
    assert fc.draw(img, faces).shape == (h, w, 3)


def test_analyze_face_shrunk_to_a_few_pixels(analyzer, photo):
    """A real face shrunk until the detector barely sees it: whatever is found gets a pose or None."""
    import cv2

    img = photo("single_06.jpg")
    for side in (96, 64, 40, 24):
        small = cv2.resize(img, (side, side), interpolation=cv2.INTER_AREA)
        for f in analyzer.analyze(small):
            assert f.pose is None or np.isfinite([f.pose.yaw, f.pose.pitch, f.pose.roll]).all()
