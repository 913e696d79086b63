"""The one seam between the model adapters and the compiled warp kernel.

Adapters align faces only through these functions, which call the batch warp
(``facecore.kernels.warp_crops``: all faces of a frame in one pass, straight into the
normalised float32 NCHW tensor with the BGR->RGB swap fused) and ``facecore.align``
(Umeyama similarity).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from .. import align, kernels

__all__ = [
    "Pyramid",
    "paste_back",
    "similarity",
    "similarity_batch",
    "warp_chips",
    "warp_map",
    "warp_to_tensor",
]


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Forward (2, 3) float64 least-squares similarity mapping ``src`` points onto ``dst``."""
    return np.asarray(align.estimate_similarity(src, dst), dtype=np.float64)


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
    """N chips of ``image`` as float32 NCHW ``(pixel - mean[c]) / std[c]`` in one fused pass.

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
    if matrices.shape[0] == 0:
        c = 1 if image.ndim == 2 else image.shape[2]
        return np.zeros((0, c, h, w), np.float32)
    mean_t = float(mean) if isinstance(mean, (int, float, np.number)) else tuple(map(float, mean))
    std_t = float(std) if isinstance(std, (int, float, np.number)) else tuple(map(float, std))
    return kernels.warp_crops(
        image, matrices, (h, w), tensor=True, mean=mean_t, std=std_t, swap_rb=swap_rb
    )


def warp_chips(image: np.ndarray, matrices: np.ndarray, shape: int | Sequence[int]) -> np.ndarray:
    """N uint8 chips ``(N, h, w, C)`` of ``image`` (bilinear, constant 0 border), one pass."""
    h, w = _shape(shape)
    matrices = np.ascontiguousarray(matrices, dtype=np.float64).reshape(-1, 2, 3)
    if matrices.shape[0] == 0:
        return np.zeros((0, h, w) + image.shape[2:], np.uint8)
    return kernels.warp_crops(image, matrices, (h, w))


class Pyramid:
    """Lazily built ``cv2.pyrDown`` levels of one frame (level 0 is the frame itself).

    Shared by the dlib-chip adapters (age and gender read the same frame's levels).
    """

    def __init__(self, image: np.ndarray) -> None:
        self.levels = [image]

    def __getitem__(self, level: int) -> np.ndarray:
        while len(self.levels) <= level:
            prev = self.levels[-1]
            if min(prev.shape[:2]) < 2:
                return prev
            self.levels.append(cv2.pyrDown(prev))
        return self.levels[level]


def warp_map(src: np.ndarray, matrix: np.ndarray, shape: int | Sequence[int]) -> np.ndarray:
    """One image or float32 map warped forward by a ``(2, 3)`` matrix (bilinear, constant 0
    border): e.g. a frame-sized mask into a model's chip."""
    return kernels.warp_affine(src, np.asarray(matrix, np.float64), _shape(shape))


def paste_back(src: np.ndarray, matrix: np.ndarray, shape: int | Sequence[int]) -> np.ndarray:
    """A chip (uint8 image or float32 map) warped back into the frame: ``matrix`` is the
    chip's own forward frame -> chip matrix (``warp_affine(inverse=True)``, constant 0 border)."""
    return kernels.warp_affine(src, np.asarray(matrix, np.float64), _shape(shape), inverse=True)
