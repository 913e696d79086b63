"""Argument checks shared by the modules of :mod:`facecore.occlusion` (internal)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["face_landmarks"]


def face_landmarks(face: Any, name: str = "face") -> np.ndarray:
    """The ``(5, 2)`` float64 landmarks of a :class:`~facecore.Face`, a ``Landmarks`` or an array.

    Raises
    ------
    TypeError
        If ``face`` is none of those or is not numeric.
    ValueError
        If the array is not ``(5, 2)``, not finite, or the points coincide.

    Examples
    --------
    >>> from facecore.align import ARCFACE_112
    >>> face_landmarks(ARCFACE_112).shape
    (5, 2)
    """
    lm = getattr(face, "landmarks", face)
    lm = getattr(lm, "points", lm)
    if isinstance(lm, (str, bytes)) or lm is None or isinstance(lm, (int, float)):
        raise TypeError(
            f"{name}: expected a Face, Landmarks or a (5, 2) array of (x, y); got {type(face).__name__}"
        )
    try:
        a = np.asarray(lm)
    except (TypeError, ValueError) as exc:  # pragma: no cover - exotic objects
        raise TypeError(
            f"{name}: expected a Face, Landmarks or a (5, 2) array; got {type(face).__name__}"
        ) from exc
    if a.dtype == np.bool_ or not (
        np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)
    ):
        raise TypeError(f"{name}: expected numeric (5, 2) landmarks; got {a.dtype}")
    if a.shape != (5, 2):
        raise ValueError(f"{name}: expected (5, 2) landmarks (x, y); got shape {a.shape}")
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise ValueError(f"{name}: landmarks must be finite")
    if np.ptp(a, axis=0).max() < 1e-6:
        raise ValueError(f"{name}: the landmarks coincide")
    return a


def as_bgr_image(image: Any, name: str = "image") -> np.ndarray:
    """facecore's input contract (grey, (H, W, 1), BGR, BGRA with the alpha ignored) -> BGR."""
    from .._validate import as_bgr

    return as_bgr(image, name)


def as_mask(mask: Any, shape: tuple[int, int], name: str = "mask") -> np.ndarray:
    if isinstance(mask, (str, bytes)) or mask is None or np.isscalar(mask):
        raise TypeError(f"{name}: expected a bool or uint8 (H, W) array; got {type(mask).__name__}")
    m = np.asarray(mask)
    if m.dtype != np.bool_ and m.dtype != np.uint8:
        raise TypeError(f"{name}: expected a bool or uint8 (H, W) array; got {m.dtype} {m.shape}")
    if m.ndim == 3 and m.shape[2] == 1:
        m = m[:, :, 0]
    if m.shape != tuple(shape):
        raise ValueError(
            f"{name}: expected shape {tuple(shape)} (the image's height, width); got {m.shape}"
        )
    return m != 0
