"""FER2013 as in-memory arrays: ``$FACECORE_DATA_DIR/expression/fer2013_{train,test}/<class>/*.jpg``.

Classes in the FER2013 / ``fer`` order: angry, disgust, fear, happy, sad, surprise, neutral.
Images are 48x48 grey uint8. The validation split is seeded: 10 % of each class of
``fer2013_train`` (``np.random.default_rng(0)`` over the sorted file names), used for the
checkpoint choice and the temperature calibration; the rest trains.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def data_root() -> Path:
    env = os.environ.get("FACECORE_DATA_DIR")
    root = Path(env) if env else Path(__file__).resolve().parents[3] / "shared" / "data"
    return root / "expression"


def load_part(part: str, root: Path | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(N, 48, 48) uint8 grey, (N,) int64 labels, file names of ``fer2013_<part>``."""
    base = (root or data_root()) / f"fer2013_{part}"
    xs, ys, names = [], [], []
    for c, cls in enumerate(CLASSES):
        for p in sorted((base / cls).glob("*.jpg")):
            img = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)
            if img is None:
                continue
            if img.shape != (48, 48):
                img = cv2.resize(img, (48, 48), interpolation=cv2.INTER_AREA)
            xs.append(img)
            ys.append(c)
            names.append(f"{cls}/{p.name}")
    return np.stack(xs), np.asarray(ys, np.int64), names


def split_train_val(
    y: np.ndarray, frac: float = 0.1, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded per-class split of indices into (train, val)."""
    rng = np.random.default_rng(seed)
    tr, va = [], []
    for c in range(len(CLASSES)):
        idx = np.flatnonzero(y == c)
        idx = idx[rng.permutation(len(idx))]
        k = int(round(frac * len(idx)))
        va.append(idx[:k])
        tr.append(idx[k:])
    return np.sort(np.concatenate(tr)), np.sort(np.concatenate(va))
