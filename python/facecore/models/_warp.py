"""The one seam between the model adapters and the warp kernel.

Adapters call :func:`warp_to_tensor` / :func:`warp_chips` / :func:`similarity`; these
use the compiled batch warp (``facecore.kernels.warp_crops``: all faces of a frame in
one pass, normalised float32 NCHW with the colour swap fused) and
``facecore.align``. Only when the compiled core cannot be imported (a source tree
that is not built) do they fall back to ``cv2.warpAffine`` per face, with a warning
once, so that the model layer stays usable while developing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import cv2
import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["warp_to_tensor", "warp_chips", "similarity", "similarity_batch", "backend"]

_backend: str | None = None
_kernels = None
_align = None


def backend() -> str:
    """``"facecore"`` when the compiled warp kernel is used, else ``"opencv-fallback"``."""
    global _backend, _kernels, _align
    if _backend is None:
        try:
            from .. import kernels as k  # noqa: PLC0415

            if not hasattr(k, "warp_crops"):
                raise ImportError("facecore.kernels has no warp_crops yet")
            _kernels = k
            _backend = "facecore"
        except ImportError as exc:
            logger.warning("facecore warp kernel unavailable (%s); using cv2.warpAffine per face", exc)
            _backend = "opencv-fallback"
        try:
            from .. import align as a  # noqa: PLC0415

            if hasattr(a, "estimate_similarity"):
                _align = a
        except ImportError:
            _align = None
    return _backend


def _umeyama(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) src -> dst, (2, 3)."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    n = src.shape[0]
    ms, md = src.mean(0), dst.mean(0)
    sc, dc = src - ms, dst - md
    cov = dc.T @ sc / n
    u, d, vt = np.linalg.svd(cov)
    s = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        s[1, 1] = -1
    r = u @ s @ vt
    var = (sc**2).sum() / n
    scale = (d * np.diag(s)).sum() / var if var > 0 else 1.0
    m = np.empty((2, 3))
    m[:, :2] = scale * r
    m[:, 2] = md - scale * r @ ms
    return m


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Forward (2, 3) float64 similarity mapping ``src`` points onto ``dst`` (Umeyama)."""
    backend()
    if _align is not None:
        return np.asarray(_align.estimate_similarity(src, dst), dtype=np.float64)
    return _umeyama(src, dst)


def similarity_batch(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """(N, 2, 3) similarities from each ``src[i]`` (N, K, 2) onto one template ``dst`` (K, 2)."""
    src = np.asarray(src, np.float64)
    if src.shape[0] == 0:
        return np.zeros((0, 2, 3))
    return np.stack([similarity(p, dst) for p in src])


def _shape(shape: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(shape, (int, np.integer)):
        return int(shape), int(shape)
    h, w = shape
    return int(h), int(w)


def warp_to_tensor(
    image: np.ndarray,
    matrices: np.ndarray,
    shape: int | Sequence[int],
    *,
    mean: float | Sequence[float] = 0.0,
    std: float | Sequence[float] = 1.0,
    swap_rb: bool = False,
) -> np.ndarray:
    """N chips of ``image`` as float32 NCHW ``(pixel - mean[c]) / std[c]``, one fused pass.

    Parameters
    ----------
    image : (H, W, 3) uint8 ndarray, BGR
    matrices : (N, 2, 3) float ndarray, forward frame -> chip
    shape : int or (height, width)
    mean, std : float or 3 floats, in the *output* channel order
    swap_rb : bool
        Output RGB from the BGR image.

    Returns
    -------
    (N, 3, height, width) float32 ndarray
    """
    h, w = _shape(shape)
    matrices = np.ascontiguousarray(matrices, dtype=np.float64).reshape(-1, 2, 3)
    n = matrices.shape[0]
    c = 1 if image.ndim == 2 else image.shape[2]
    if n == 0:
        return np.zeros((0, c, h, w), np.float32)
    if backend() == "facecore":
        return _kernels.warp_crops(  # type: ignore[union-attr]
            image, matrices, (h, w), tensor=True, mean=mean, std=std, swap_rb=swap_rb
        )
    chips = warp_chips(image, matrices, (h, w))
    x = chips.astype(np.float32)
    if x.ndim == 3:
        x = x[..., None]
    if swap_rb and c == 3:
        x = x[..., ::-1]
    x = (x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def warp_chips(image: np.ndarray, matrices: np.ndarray, shape: int | Sequence[int]) -> np.ndarray:
    """N uint8 chips ``(N, h, w, C)`` of ``image`` (bilinear, constant 0 border)."""
    h, w = _shape(shape)
    matrices = np.ascontiguousarray(matrices, dtype=np.float64).reshape(-1, 2, 3)
    if matrices.shape[0] == 0:
        return np.zeros((0, h, w) + image.shape[2:], np.uint8)
    if backend() == "facecore":
        return _kernels.warp_crops(image, matrices, (h, w))  # type: ignore[union-attr]
    return np.stack(
        [cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0) for m in matrices]
    )
