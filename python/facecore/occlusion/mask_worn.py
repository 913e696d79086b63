"""Whether a face wears a mask: lower-face colour and texture against the face's own skin."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from .._validate import as_float
from ..align import ARCFACE_112, estimate_similarity
from ._common import as_bgr_image, face_landmarks

__all__ = ["MASK_WORN_COEF", "MaskScore", "mask_features", "mask_worn"]


@dataclass(frozen=True, slots=True)
class MaskScore:
    """Result of :func:`mask_worn`.

    Attributes
    ----------
    probability : float
        P(lower face occluded / mask worn), from a logistic model of the features.
    worn : bool
        ``probability >= threshold``.
    skin_ratio : float
        Share of the lower-face region whose colour matches the face's own skin (upper face).
    color_distance : float
        CIE76 distance (Lab, 8-bit scale) between the median colours of the lower face and the
        upper-face skin.
    texture_ratio : float
        Gradient energy of the lower face over that of the upper face.
    """

    probability: float
    worn: bool
    skin_ratio: float
    color_distance: float
    texture_ratio: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "probability": round(self.probability, 4),
            "worn": self.worn,
            "skin_ratio": round(self.skin_ratio, 4),
            "color_distance": round(self.color_distance, 3),
            "texture_ratio": round(self.texture_ratio, 4),
        }


# Regions in ArcFace-template units (x0, y0, x1, y1): the lower face every face mask covers,
# and upper-face skin above any mask (nose bridge, and the forehead below the hairline).
_LOWER = ((30.0, 80.0, 82.0, 112.0), (18.0, 78.0, 30.0, 98.0), (82.0, 78.0, 94.0, 98.0))
_UPPER = ((48.0, 44.0, 64.0, 57.0), (36.0, 24.0, 76.0, 38.0))
#: Logistic model over (1, skin_ratio, color_distance / 50, log texture_ratio), fitted by
#: training/restore/fit_mask_worn.py on UTKFace train chips with and without synthetic masks.
MASK_WORN_COEF = np.array([1.0931, -8.4827, 0.5406, -0.2571])
_FEATURE_SIDE = 112


def _region_mask(boxes, side: int) -> np.ndarray:
    m = np.zeros((side, side), bool)
    f = side / 112.0
    for x0, y0, x1, y1 in boxes:
        m[int(y0 * f) : int(np.ceil(y1 * f)), int(x0 * f) : int(np.ceil(x1 * f))] = True
    return m


_LOWER_MASK = _region_mask(_LOWER, _FEATURE_SIDE)
_UPPER_MASK = _region_mask(_UPPER, _FEATURE_SIDE)


def mask_features(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """(skin_ratio, color_distance, texture_ratio) of one face (see :class:`MaskScore`).

    The face is aligned to the ArcFace 112 template; colours are compared in CIE Lab (OpenCV's
    8-bit scale) between the lower-face region and the upper-face skin reference.
    """
    m = estimate_similarity(landmarks, ARCFACE_112 * (_FEATURE_SIDE / 112.0))
    chip = cv2.warpAffine(
        image,
        m,
        (_FEATURE_SIDE, _FEATURE_SIDE),
        flags=cv2.INTER_AREA if abs(m[0, 0]) < 0.8 else cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    lab = cv2.cvtColor(cv2.GaussianBlur(chip, (3, 3), 0), cv2.COLOR_BGR2LAB).astype(np.float32)
    lo, up = lab[_LOWER_MASK], lab[_UPPER_MASK]
    ref = np.median(up, axis=0)
    dist = float(np.linalg.norm(np.median(lo, axis=0) - ref))
    dab = np.linalg.norm(lo[:, 1:] - ref[1:], axis=1)
    dl = np.abs(lo[:, 0] - ref[0])
    skin = float(np.mean((dab < 10.0) & (dl < 45.0)))
    g = cv2.cvtColor(chip, cv2.COLOR_BGR2GRAY).astype(np.float32)
    mag = np.abs(cv2.Laplacian(g, cv2.CV_32F, ksize=3))
    tex = float((mag[_LOWER_MASK].mean() + 1.0) / (mag[_UPPER_MASK].mean() + 1.0))
    return np.array([skin, dist, tex])


def design_matrix(f: np.ndarray) -> np.ndarray:
    f = np.atleast_2d(f)
    return np.column_stack(
        [np.ones(len(f)), f[:, 0], f[:, 1] / 50.0, np.log(np.maximum(f[:, 2], 1e-3))]
    )


def mask_worn(image: Any, face: Any, *, threshold: float = 0.5) -> MaskScore:
    """Score whether a face's lower half is hidden (a mask worn, a hand, a scarf).

    The face is aligned from its landmarks; the lower face (mouth, chin, lower cheeks) is
    compared with the face's own upper-face skin (nose bridge and forehead) in CIE Lab: how
    much of it has skin colour (``skin_ratio``), how far its median colour is
    (``color_distance``) and how its texture compares (``texture_ratio``). A logistic model of
    these, fitted on UTKFace faces with and without synthetic masks
    (training/restore/fit_mask_worn.py), gives the probability. Measured on the real photos of
    ``shared/data/photos/masked`` in docs/occlusion.md.

    Parameters
    ----------
    image : (H, W, 3) uint8 ndarray
        BGR image.
    face : Face, Landmarks or (5, 2) array
        The face's landmarks.
    threshold : float
        Decision threshold on the probability (default 0.5).

    Returns
    -------
    MaskScore

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type or value (the message names it).

    Examples
    --------
    >>> import numpy as np
    >>> from facecore.align import ARCFACE_112
    >>> skin = np.zeros((112, 112, 3), np.uint8); skin[:] = (120, 150, 200)
    >>> mask_worn(skin, ARCFACE_112).worn
    False
    >>> from facecore.occlusion import synthesize
    >>> masked, _ = synthesize(skin, ARCFACE_112, style="surgical_blue", seed=0)
    >>> mask_worn(masked, ARCFACE_112).worn
    True
    """
    img = as_bgr_image(image)
    lm = face_landmarks(face)
    threshold = as_float(threshold, "threshold", minimum=0.0, maximum=1.0)
    f = mask_features(img, lm)
    z = float(design_matrix(f)[0] @ MASK_WORN_COEF)
    p = float(1.0 / (1.0 + np.exp(-z)))
    return MaskScore(
        probability=p,
        worn=p >= threshold,
        skin_ratio=float(f[0]),
        color_distance=float(f[1]),
        texture_ratio=float(f[2]),
    )
