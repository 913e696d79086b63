"""Occluded faces (being split into a package; see synthesize.py)."""

from .synthesize import (
    LEARNED_MODEL as LEARNED_MODEL,
)
from .synthesize import (
    MASK_STYLES,
    MASK_WORN_COEF,
    METHODS,
    RESTORE_CHIP_UNIT,
    STYLES,
    MaskScore,
    Occluder,
    _design,
    face_landmarks,
    mask_features,
    mask_worn,
    occluder_outline,
    restore,
    restore_chip_matrix,
    synthesize,
)

__all__ = [
    "MASK_STYLES",
    "METHODS",
    "RESTORE_CHIP_UNIT",
    "STYLES",
    "MaskScore",
    "Occluder",
    "face_landmarks",
    "mask_worn",
    "occluder_outline",
    "restore",
    "restore_chip_matrix",
    "synthesize",
]
_ = (MASK_WORN_COEF, _design, mask_features)  # public-by-module-path names, kept importable
