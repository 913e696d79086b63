"""Argument checks shared by the modules of :mod:`facecore.cluster` (internal)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def as_embeddings(x: Any, name: str = "embeddings") -> np.ndarray:
    if isinstance(x, (str, bytes)) or x is None:
        raise TypeError(f"{name}: expected a (N, D) float array; got {type(x).__name__}")
    try:
        a = np.asarray(x)
    except Exception:
        raise TypeError(f"{name}: expected a (N, D) float array; got {type(x).__name__}") from None
    if a.dtype.kind not in "fiu" or a.dtype == bool:
        raise TypeError(f"{name}: expected a (N, D) float array; got dtype {a.dtype}")
    if a.ndim != 2 or a.shape[1] < 1:
        raise ValueError(f"{name}: expected a (N, D) array with D >= 1; got shape {a.shape}")
    a = np.asarray(
        a, dtype=np.float64
    )  # float64: squares of 1e20 or 1e-30 neither overflow nor vanish
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name}: values must be finite")
    zero = ~np.any(a != 0, axis=1)
    if np.any(zero):
        raise ValueError(f"{name}: row {int(np.flatnonzero(zero)[0])} is a zero vector")
    a = a / np.max(
        np.abs(a), axis=1, keepdims=True
    )  # scale first (a new array: the input stays as given)
    return np.ascontiguousarray(a / np.linalg.norm(a, axis=1, keepdims=True), dtype=np.float32)


def as_int(x: Any, name: str, minimum: int) -> int:
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)):
        raise TypeError(f"{name}: expected an int; got {type(x).__name__}")
    if int(x) < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}; got {x}")
    return int(x)


def as_threshold(x: Any, name: str = "threshold") -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: expected a real number; got {type(x).__name__}")
    v = float(x)
    if not (math.isfinite(v) and -1.0 <= v <= 1.0):
        raise ValueError(f"{name}: expected a cosine similarity in [-1, 1]; got {x}")
    return v


def as_labels(x: Any, name: str) -> np.ndarray:
    if isinstance(x, (str, bytes)) or x is None:
        raise TypeError(f"{name}: expected a 1-d array of labels; got {type(x).__name__}")
    a = np.asarray(x)
    if a.ndim != 1:
        raise ValueError(f"{name}: expected a 1-d array of labels; got shape {a.shape}")
    if a.dtype.kind == "f":
        if not np.all(np.isfinite(a)) or np.any(a != np.round(a)):
            raise TypeError(f"{name}: float labels must be whole numbers")
        if a.size and float(np.max(np.abs(a.astype(np.float64)))) >= 2.0**53:
            raise ValueError(
                f"{name}: float labels must be below 2**53 in magnitude (exact integers)"
            )
        a = a.astype(np.int64)
    if a.dtype.kind in "iu":
        return a.astype(np.int64)
    if a.dtype.kind in "UO":
        # string labels: None / "" mean unlabelled (-1)
        keys = ["" if v is None else str(v) for v in a.tolist()]
        names = sorted({k for k in keys if k not in ("", "-1")})
        index = {k: i for i, k in enumerate(names)}
        return np.array([index.get(k, -1) for k in keys], dtype=np.int64)
    raise TypeError(f"{name}: expected integer or string labels; got dtype {a.dtype}")


def read_only(a: np.ndarray) -> np.ndarray:
    """A read-only copy (the arrays of the frozen results)."""
    a = np.array(a, copy=True)
    a.flags.writeable = False
    return a
