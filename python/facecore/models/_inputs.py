"""Input checks shared by the model adapters (internal).

One definition of "an image an adapter takes" and "5-point landmarks", so every adapter
raises the same message naming the argument.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validate import as_image

__all__ = ["check_image", "check_landmarks"]


def check_image(image: Any, name: str) -> np.ndarray:
    """A BGR uint8 (H, W, 3) or grey (H, W) image (facecore's validator, 3 channels only)."""
    return as_image(image, name, channels=(3,))


def check_landmarks(landmarks: Any, name: str) -> np.ndarray:
    """``(N, 5, 2)`` finite float64 landmarks; a single ``(5, 2)`` set gets a batch axis."""
    a = np.asarray(landmarks)
    if a.dtype.kind not in "fiu":
        raise TypeError(f"{name}: expected a numeric array of shape (N, 5, 2); got {a.dtype}")
    if a.ndim == 2 and a.shape == (5, 2):
        a = a[None]
    if a.ndim != 3 or a.shape[1:] != (5, 2):
        raise ValueError(f"{name}: expected shape (N, 5, 2); got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name}: values must be finite")
    return a.astype(np.float64)
