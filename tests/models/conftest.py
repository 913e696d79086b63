"""Fixtures for the model-layer tests: real models and photos from ../shared.

Models: $FACECORE_MODEL_DIR, else ``<repo>/../shared/models``; data: $FACECORE_DATA_DIR,
else ``<repo>/../shared/data``. A test that needs what is absent skips, saying so.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
MODEL_FILES = {
    "yunet": "face_detection_yunet_2023mar_int8bq.onnx",
    "sface": "face_recognition_sface_2021dec_int8bq.onnx",
    "age": "age-v1.onnx",
    "gender": "gender-v1.onnx",
}


def _model_dir() -> Path | None:
    from _env import models_dir  # ../shared/models, else the installed [models] packages' files

    return models_dir()


def _data_dir() -> Path | None:
    env = os.environ.get("FACECORE_DATA_DIR")
    c = Path(env) if env else REPO.parent / "shared" / "data"
    return c if c.is_dir() else None


@pytest.fixture(scope="session")
def model_dir() -> Path:
    d = _model_dir()
    if d is None:
        pytest.skip("real models absent: set $FACECORE_MODEL_DIR or provide ../shared/models")
    return d


@pytest.fixture(autouse=True)
def _models_env(monkeypatch):
    d = _model_dir()
    if d is not None:
        monkeypatch.setenv("FACECORE_MODEL_DIR", str(d))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    d = _data_dir()
    if d is None:
        pytest.skip("data absent: set $FACECORE_DATA_DIR or provide ../shared/data")
    return d


@pytest.fixture(scope="session")
def reference(model_dir) -> dict:
    p = model_dir / "reference_outputs.json"
    if not p.is_file():
        pytest.skip(f"{p} absent")
    return json.loads(p.read_text())


def _load(kind: str, model_dir: Path, **kw):
    import facecore.models as fm

    return fm.load(model_dir / MODEL_FILES[kind], threads=2, **kw)


@pytest.fixture(scope="session")
def yunet(model_dir):
    return _load("yunet", model_dir, score_threshold=0.9)


@pytest.fixture(scope="session")
def sface(model_dir):
    return _load("sface", model_dir)


@pytest.fixture(scope="session")
def age_model(model_dir):
    return _load("age", model_dir)


@pytest.fixture(scope="session")
def gender_model(model_dir):
    return _load("gender", model_dir)


def reference_images(reference: dict, data_dir: Path):
    """(entry, BGR image, (N, 15) YuNet rows) for each reference image whose file is present and unchanged."""
    import hashlib

    out = []
    for e in reference["images"]:
        if e["image"].startswith("data/"):
            p = data_dir / e["image"][len("data/") :]
        else:  # scikit-image's astronaut.png: the packaged JPEG is not the same bytes
            continue
        if not p.is_file() or hashlib.sha256(p.read_bytes()).hexdigest() != e["sha256"]:
            continue
        rows = np.array([f["yunet"] for f in e["faces"]], dtype=np.float64)
        out.append((e, cv2.imread(str(p)), rows))
    return out


@pytest.fixture(scope="session")
def ref_images(reference, data_dir):
    items = reference_images(reference, data_dir)
    if not items:
        pytest.skip("no reference image present with the recorded sha256")
    return items
