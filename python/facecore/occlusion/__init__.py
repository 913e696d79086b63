"""Occluded faces: synthetic occluders drawn from the 5 landmarks, restoration, mask detection.

Three parts, one per verb:

- :func:`synthesize` draws a realistic occluder (a face mask over nose tip, mouth and jaw in
  surgical, cloth or patterned styles; a sunglasses band; a hand-like blob) onto a face, placed
  from its 5 landmarks, and returns the occluded image with the binary mask of every pixel it
  changed;
- :func:`restore` fills the masked pixels back in: OpenCV's ``telea`` and ``ns`` inpainting
  (baselines), the ``learned`` restorer trained by facecore (``restore_unet``, shipped in the
  package, see docs/models/restore.md), or any external inpainting ONNX file with a LaMa-style
  ``(image, mask)`` interface; pixels outside the mask are returned untouched, bit for bit;
- :func:`mask_worn` scores whether a face wears a mask (or is otherwise occluded in the
  lower face), measured on real photos (docs/occlusion.md);
- :func:`refine_landmarks` re-estimates the 5 landmarks of a masked face (the detector's
  nose and mouth points are guesses under a mask, and its whole layout shifts), for the
  age / gender chips and the restorer's chip.

Geometry
--------
Every occluder is defined once in a canonical face frame: the ArcFace 112 x 112 template
(:data:`facecore.align.ARCFACE_112`). The least-squares similarity from the template to the
face's 5 landmarks (Umeyama, :func:`facecore.align.estimate_similarity`) carries the outline
into the image, so it follows the face's position, in-plane rotation (roll) and scale exactly;
yaw is followed by shifting the outline's centre line with the nose tip (upper part) and the
mouth centre (lower part) as they move off the face's midline. Outlines are Catmull-Rom
splines through control points, drawn with sub-pixel precision and anti-aliased edges; the
returned mask is every pixel whose colour changed (edge pixels included).

Conventions: images are BGR ``uint8`` ``(H, W, 3)``; landmarks ``(5, 2)`` ``(x, y)`` in the
order right eye, left eye, nose tip, right mouth corner, left mouth corner (subject's right
= image left); masks are ``bool`` ``(H, W)``, True where the face is hidden.

Layout: :mod:`~facecore.occlusion.synthesize` (occluders), :mod:`~facecore.occlusion.restore`
(restoration; the learned and ONNX methods through the model adapter
:class:`facecore.models.restorer.Restorer`) and :mod:`~facecore.occlusion.mask_worn`
(detection); every public name is importable from ``facecore.occlusion`` itself.

Examples
--------
>>> import numpy as np
>>> from facecore import occlusion
>>> from facecore.align import ARCFACE_112
>>> image = np.full((112, 112, 3), 128, np.uint8)
>>> occluded, mask = occlusion.synthesize(image, ARCFACE_112, style="surgical_blue", seed=0)
>>> occluded.shape, mask.dtype
((112, 112, 3), dtype('bool'))
>>> bool(mask[72, 56]), bool(mask[40, 56])   # nose tip hidden, forehead not
(True, False)
>>> restored = occlusion.restore(occluded, mask, method="telea")
>>> bool((restored[~mask] == occluded[~mask]).all())
True
"""

from __future__ import annotations

from ._common import face_landmarks
from .landmarks import MASKED_LANDMARK_COEF as MASKED_LANDMARK_COEF
from .landmarks import REFINE_SCALES, refine_landmarks
from .mask_worn import MASK_WORN_COEF as MASK_WORN_COEF
from .mask_worn import MaskScore, mask_worn
from .mask_worn import mask_features as mask_features
from .restore import LEARNED_MODEL as LEARNED_MODEL
from .restore import METHODS, RESTORE_CHIP_UNIT, restore, restore_chip_matrix
from .synthesize import MASK_STYLES, STYLES, Occluder, occluder_outline, synthesize

__all__ = [
    "MASK_STYLES",
    "METHODS",
    "REFINE_SCALES",
    "RESTORE_CHIP_UNIT",
    "STYLES",
    "MaskScore",
    "Occluder",
    "face_landmarks",
    "mask_worn",
    "occluder_outline",
    "refine_landmarks",
    "restore",
    "restore_chip_matrix",
    "synthesize",
]
