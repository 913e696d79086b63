"""facecore's own age/gender model (``agegender``): zoo entry, adapter vs recorded reference
outputs, the analyzer's default, the ONNX export vs PyTorch.

``agegender_reference.json`` was recorded once (``python tests/models/test_agegender.py
--record``) **without the adapter**: YuNet landmarks of ``photos/group_05.jpg`` (children)
and ``photos/pair_03.jpg``, chips cut with ``cv2.pyrDown`` + ``cv2.warpAffine`` from a NumPy least-squares
similarity to dlib's chip template, normalised in NumPy and run through onnxruntime directly.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
REFERENCE = HERE / "agegender_reference.json"
IMAGES = ("group_05.jpg", "pair_03.jpg")


def _reference_chips(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """Independent of facecore's warp kernel: dlib-style 64-px chips with OpenCV, normalised."""
    from facecore.models.attributes import DLIB_CHIP_TEMPLATE

    out = []
    for lm in landmarks:
        # frame -> chip similarity: least-squares fit chip template -> frame (the linear
        # system of a 4-parameter similarity, np.linalg.lstsq), then invert (as dlib does)
        src = DLIB_CHIP_TEMPLATE * 64
        rows = np.zeros((10, 4))
        rows[0::2] = np.c_[src[:, 0], -src[:, 1], np.ones(5), np.zeros(5)]
        rows[1::2] = np.c_[src[:, 1], src[:, 0], np.zeros(5), np.ones(5)]
        (ca, sb, tx, ty), *_ = np.linalg.lstsq(rows, lm.reshape(-1), rcond=None)
        a = np.array([[ca, -sb, tx], [sb, ca, ty], [0, 0, 1]])
        m = np.linalg.inv(a)[:2]
        scale = np.sqrt(abs(np.linalg.det(m[:, :2])))
        src, lv, ratio = image, 0, 1 / scale
        while ratio >= 2.0:
            src, lv, ratio = cv2.pyrDown(src), lv + 1, ratio / 2
        ml = m.copy()
        ml[:, :2] *= 2.0**lv
        chip = cv2.warpAffine(
            src, ml, (64, 64), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
        )
        x = (
            chip[:, :, ::-1].astype(np.float32)
            - np.array([122.781998, 117.000999, 104.297997], np.float32)
        ) / 256
        out.append(x.transpose(2, 0, 1))
    return np.ascontiguousarray(np.stack(out))


def record(data: Path) -> dict:
    import onnxruntime as ort

    import facecore.models as fm

    det = fm.load("yunet", score_threshold=0.6, threads=1)
    sess = ort.InferenceSession(str(fm.find("agegender")), providers=["CPUExecutionProvider"])
    out = {"model_sha256": fm.info("agegender").sha256, "images": {}}
    for name in IMAGES:
        img = cv2.imread(str(data / "photos" / name))
        lm = det.detect(img).landmarks.astype(np.float64)
        prob, pm = sess.run(None, {"images": _reference_chips(img, lm)})
        bins = np.arange(prob.shape[1])
        mean = prob @ bins
        std = np.sqrt(np.maximum(prob @ bins**2 - mean**2, 0))
        out["images"][name] = {
            "landmarks": lm.round(3).tolist(),
            "age": mean.round(3).tolist(),
            "age_std": std.round(3).tolist(),
            "p_male": pm.round(4).tolist(),
        }
    return out


@pytest.fixture(scope="module")
def ag_reference():
    return json.loads(REFERENCE.read_text())


@pytest.fixture(scope="module")
def agegender(model_dir):
    import facecore.models as fm

    return fm.load("agegender", threads=1)


def test_zoo_entry_and_package_data():
    import facecore.models as fm
    from facecore.models import zoo

    mi = fm.info("agegender")
    path = zoo._PACKAGE_DATA / mi.file
    assert path.is_file(), "agegender.onnx ships in facecore/models/data"
    assert zoo.sha256_of(path) == mi.sha256
    assert path.stat().st_size < 6_000_000
    assert mi.kind == "agegender" and "non-commercial" in mi.licence
    # dlib's pair stays available by name
    assert {"age", "gender"} <= set(fm.available())


def test_adapter_matches_recorded_reference(agegender, ag_reference, data_dir):
    import facecore.models as fm

    assert ag_reference["model_sha256"] == fm.info("agegender").sha256, (
        "re-record the reference for the new model"
    )
    n = 0
    for name, ref in ag_reference["images"].items():
        img = cv2.imread(str(data_dir / "photos" / name))
        lm = np.array(ref["landmarks"], np.float64)
        got = agegender.predict(img, lm)
        # chips differ from OpenCV's by bilinear rounding (< 1 grey level); measured
        # max |diff| well under these bounds
        np.testing.assert_allclose(got.age, ref["age"], atol=0.3)
        np.testing.assert_allclose(got.age_std, ref["age_std"], atol=0.3)
        np.testing.assert_allclose(got.p_male, ref["p_male"], atol=0.02)
        n += len(lm)
    assert n >= 9


def test_children_are_read_as_children(ag_reference):
    """group_05.jpg holds children: the recorded ages are young, and the dlib pair's
    "every child is female" is gone (both genders appear)."""
    ref = ag_reference["images"]["group_05.jpg"]
    assert np.median(ref["age"]) < 16
    pm = np.array(ref["p_male"])
    assert (pm > 0.5).any() and (pm < 0.5).any()


def test_analyzer_default_is_the_joint_model(model_dir, data_dir):
    from facecore.analyzer import FaceAnalyzer
    from facecore.models import AgeGenderModel, AgeModel, GenderModel

    fa = FaceAnalyzer(embedder=False, quality=False, pose=False, threads=1)
    assert isinstance(fa.age, AgeGenderModel) and fa.gender is fa.age
    img = cv2.imread(str(data_dir / "photos" / "pair_03.jpg"))
    faces = fa.analyze(img)
    direct = fa.age.predict(img, np.stack([f.landmarks.points for f in faces]))
    np.testing.assert_allclose([f.age for f in faces], direct.age, atol=1e-4)
    np.testing.assert_allclose([f.p_male for f in faces], direct.p_male, atol=1e-5)
    old = FaceAnalyzer(
        detector=fa.detector,
        embedder=False,
        quality=False,
        pose=False,
        age="age",
        gender="gender",
        threads=1,
    )
    assert isinstance(old.age, AgeModel) and isinstance(old.gender, GenderModel)
    # only one stage of the joint model: the other off
    only_age = FaceAnalyzer(
        detector=fa.detector, embedder=False, quality=False, pose=False, gender=False, threads=1
    )
    f0 = only_age.analyze(img)[0]
    assert f0.p_male is None and f0.age == pytest.approx(faces[0].age, abs=1e-4)


def test_bad_inputs(agegender):
    with pytest.raises(ValueError, match="tensor"):
        agegender.run_all(np.zeros((1, 3, 32, 32), np.float32))
    with pytest.raises(ValueError, match="landmarks"):
        agegender.predict(np.zeros((80, 80, 3), np.uint8), np.zeros((3, 2)))
    r = agegender.predict(np.zeros((80, 80, 3), np.uint8), np.zeros((0, 5, 2)))
    assert r.age.shape == r.age_std.shape == r.p_male.shape == (0,)


@pytest.mark.filterwarnings("ignore")  # the exporter's TorchScript deprecation and tracer notes
def test_onnx_export_matches_torch(model_dir, tmp_path):
    """training/agegender/export.py on the real network (dlib's weights, seeded heads):
    onnxruntime vs PyTorch (export() itself raises beyond 0.05 y / 1e-3)."""
    torch = pytest.importorskip("torch", reason="torch is a training extra")
    import onnx

    sys.path.insert(0, str(HERE.parents[1]))
    from training.agegender.export import export
    from training.agegender.models import AgeGenderNet, Tail

    torch.manual_seed(0)
    dlib = onnx.load(str(model_dir / "age-v1.onnx"))
    net = AgeGenderNet(dlib, Tail(dlib)).eval()
    res = export(net, tmp_path / "ag.onnx")
    assert res["max_age_diff"] < 0.05 and res["max_p_male_diff"] < 1e-3
    assert res["bytes"] < 6_000_000


if __name__ == "__main__" and "--record" in sys.argv:
    data = Path(os.environ.get("FACECORE_DATA_DIR", HERE.parents[2] / "shared" / "data"))
    REFERENCE.write_text(json.dumps(record(data), indent=1) + "\n")
    print(f"wrote {REFERENCE}")
