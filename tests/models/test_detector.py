"""YuNet adapter vs cv2.FaceDetectorYN and reference_outputs.json; decode and NMS."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facecore.models.detector import Detections, decode_yunet, nms


def _opencv_rows(model_path, image, threshold=0.9):
    h, w = image.shape[:2]
    det = cv2.FaceDetectorYN.create(str(model_path), "", (w, h), threshold, 0.3, 5000)
    _, rows = det.detect(image)
    return np.zeros((0, 15), np.float32) if rows is None else rows


def _compare(ours: np.ndarray, ref: np.ndarray, name: str) -> None:
    assert ours.shape == ref.shape, f"{name}: {len(ours)} faces, OpenCV {len(ref)}"
    if len(ref):
        # measured: max |diff| 1.2e-4 px over all 28 photos (float rounding only)
        np.testing.assert_allclose(ours, ref, atol=1e-3, err_msg=name)


def _check_photos(yunet, model_dir, data_dir, names):
    for name in names:
        p = data_dir / "photos" / name
        if not p.is_file():
            pytest.skip(f"{p} absent")
        img = cv2.imread(str(p))
        _compare(
            yunet.detect(img).rows(),
            _opencv_rows(model_dir / "face_detection_yunet_2023mar_int8bq.onnx", img),
            name,
        )


def test_matches_opencv_on_all_photos(yunet, model_dir, data_dir):
    """Same faces, same numbers as cv2.FaceDetectorYN (score 0.9, NMS 0.3) on every photo (~3 s)."""
    names = sorted(p.name for p in (data_dir / "photos").glob("*.jpg"))
    if not names:
        pytest.skip("no photos in data/photos")
    _check_photos(yunet, model_dir, data_dir, names)


def test_matches_reference_rows(yunet, ref_images):
    for entry, img, rows in ref_images:
        ours = yunet.detect(img).rows()
        assert ours.shape == rows.shape, entry["image"]
        np.testing.assert_allclose(
            ours, rows, atol=2e-3, err_msg=entry["image"]
        )  # JSON keeps 3 decimals


def test_grey_and_max_side(yunet, data_dir):
    img = cv2.imread(str(data_dir / "photos" / "pair_02.jpg"))
    full = yunet.detect(img)
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    g = yunet.detect(grey)
    np.testing.assert_allclose(
        g.rows(), yunet.detect(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)).rows(), atol=1e-4
    )
    import facecore.models as fm

    small = fm.load("yunet", score_threshold=0.9, max_side=480, threads=1).detect(img)
    assert len(small) == len(full)
    # boxes come back in full-resolution coordinates
    assert np.abs(small.boxes - full.boxes).max() < 0.06 * full.boxes[:, 2:].max()


def test_bad_inputs(yunet):
    with pytest.raises(TypeError, match="image"):
        yunet.detect(np.zeros((64, 64, 3), np.float32))
    with pytest.raises(ValueError, match="image"):
        yunet.detect(np.zeros((64, 64, 4), np.uint8))
    with pytest.raises(ValueError, match="image"):
        yunet.detect(np.zeros((0, 64, 3), np.uint8))
    with pytest.raises(TypeError, match="image"):
        yunet.detect([[0, 1], [2, 3]])
    import facecore.models as fm

    with pytest.raises(ValueError, match="score_threshold"):
        fm.load("yunet", score_threshold=1.5)
    with pytest.raises(ValueError, match="top_k"):
        fm.load("yunet", top_k=0)


def test_empty_image_finds_nothing(yunet):
    det = yunet.detect(np.zeros((100, 130, 3), np.uint8))
    assert len(det) == 0 and det.rows().shape == (0, 15)


def test_decode_places_one_anchor():
    """One anchor at stride 16, row 2, col 3 with known offsets decodes to the formula's box."""
    ph, pw = 64, 96
    outs = {}
    for s in (8, 16, 32):
        n = (ph // s) * (pw // s)
        outs[f"cls_{s}"] = np.zeros((1, n, 1), np.float32)
        outs[f"obj_{s}"] = np.zeros((1, n, 1), np.float32)
        outs[f"bbox_{s}"] = np.zeros((1, n, 4), np.float32)
        outs[f"kps_{s}"] = np.zeros((1, n, 10), np.float32)
    i = 2 * (pw // 16) + 3
    outs["cls_16"][0, i] = 0.81
    outs["obj_16"][0, i] = 1.5  # clipped to 1
    outs["bbox_16"][0, i] = [0.5, 0.25, np.log(2.0), 0.0]
    outs["kps_16"][0, i] = np.arange(10) / 10
    boxes, lms, scores = decode_yunet(outs, (ph, pw), score_threshold=0.5)
    assert scores.tolist() == pytest.approx([0.9])
    cx, cy, w, h = (3 + 0.5) * 16, (2 + 0.25) * 16, 32.0, 16.0
    np.testing.assert_allclose(boxes[0], [cx - w / 2, cy - h / 2, w, h], rtol=1e-6)
    np.testing.assert_allclose(lms[0, 1], [(0.2 + 3) * 16, (0.3 + 2) * 16], rtol=1e-6)
    assert decode_yunet(outs, (ph, pw), score_threshold=0.95)[2].size == 0


def test_nms_matches_opencv():
    rng = np.random.default_rng(3)
    for _ in range(20):
        n = int(rng.integers(1, 60))
        xy = rng.uniform(0, 200, (n, 2))
        wh = rng.uniform(5, 80, (n, 2))
        boxes = np.trunc(np.concatenate([xy, wh], 1))
        scores = rng.uniform(0, 1, n).astype(np.float32)
        for thr in (0.3, 0.5):
            ref = cv2.dnn.NMSBoxes(boxes.astype(int).tolist(), scores.tolist(), 0.0, thr, top_k=0)
            ours = nms(boxes, scores, thr)
            assert ours.tolist() == np.asarray(ref).reshape(-1).tolist()
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.3).size == 0
    with pytest.raises(ValueError, match="boxes, scores"):
        nms(np.zeros((2, 4)), np.zeros(3), 0.3)


def test_detections_helpers():
    d = Detections.empty()
    assert len(d) == 0 and d.take(np.arange(0)).boxes.shape == (0, 4)
