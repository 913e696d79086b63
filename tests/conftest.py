"""Shared fixtures: where the real data and models are, hypothesis profiles, the device list."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# tests/reference.py is imported by name from the test modules (importlib import mode).
sys.path.insert(0, str(Path(__file__).parent))

settings.register_profile(
    "ci", max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=100, deadline=None)
# The fuzz campaign: examples per fuzz target (about 10 targets: 12,000 each is over 100k calls).
settings.register_profile(
    "fuzz",
    max_examples=int(os.environ.get("FACECORE_FUZZ_EXAMPLES", "12000")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def no_models(monkeypatch, tmp_path):
    """No model anywhere (empty $FACECORE_MODEL_DIR and cache, no installed [models] packages,
    no ../shared fallback), whatever this environment has installed; the env dict is returned
    for subprocesses."""
    from _env import no_models_env

    env = no_models_env(tmp_path)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


def _shared(sub: str, env: str) -> Path | None:
    if sub == "models":  # ../shared/models, or the files the installed [models] packages ship
        from _env import models_dir

        return models_dir()
    if os.environ.get(env):
        p = Path(os.environ[env])
        return p if p.is_dir() else None
    p = REPO.parent / "shared" / sub
    return p if p.is_dir() else None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """../shared/data beside the checkout, or $FACECORE_DATA_DIR; skip when absent."""
    p = _shared("data", "FACECORE_DATA_DIR")
    if p is None:
        pytest.skip("real data not found: set FACECORE_DATA_DIR or put shared/data beside the repo")
    return p


@pytest.fixture(autouse=True)
def _real_models_env(monkeypatch):
    """Point the zoo at ../shared/models: an installed (non-editable) facecore has no source-tree
    fallback, and the tests use the real models. Tests that need another search path set their own."""
    p = _shared("models", "FACECORE_MODEL_DIR")
    if p is not None:
        monkeypatch.setenv("FACECORE_MODEL_DIR", str(p))


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """../shared/models beside the checkout, or $FACECORE_MODEL_DIR; skip when absent."""
    p = _shared("models", "FACECORE_MODEL_DIR")
    if p is None:
        pytest.skip(
            "real models not found: set FACECORE_MODEL_DIR or put shared/models beside the repo"
        )
    return p


@pytest.fixture(scope="session")
def photo(data_dir):
    """A real photo (BGR uint8), read with OpenCV."""
    import cv2

    def read(name: str) -> np.ndarray:
        path = data_dir / "photos" / name
        if not path.exists():
            pytest.skip(f"{path} is missing")
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        assert img is not None, path
        return img

    return read


@pytest.fixture(scope="session")
def glint_subset(data_dir, models_dir):
    """SFace embeddings (N, 128) float32 of 8 glint24 identities x 20 aligned crops, and their
    identity labels (N,) int: real embeddings for the clustering tests, embedded once."""
    import facecore as fc

    root = data_dir / "identity" / "glint24"
    if not root.is_dir():
        pytest.skip("needs identity/glint24")
    names = sorted(p.name for p in root.iterdir() if p.is_dir())[:8]
    paths, y = [], []
    for i, n in enumerate(names):
        files = sorted((root / n).glob("*.jpg"), key=lambda p: int(p.stem))[:20]
        paths += files
        y += [i] * len(files)
    emb = fc.models.load(
        Path(models_dir) / "face_recognition_sface_2021dec_int8bq.onnx", kind="embedder"
    )
    return emb.embed_aligned(np.stack([fc.read_image(p) for p in paths])), np.array(y)
