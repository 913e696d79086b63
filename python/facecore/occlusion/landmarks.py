"""Landmarks of masked faces: the detector's 5 points re-estimated where a mask hides half the face.

A detector that sees a face mask has to guess the nose tip and mouth corners, and its whole
layout shifts: on UTKFace faces with synthetic masks, YuNet's points are off by a median
0.14 inter-ocular distances against its points on the same face unmasked (eyes 0.10, nose
and mouth 0.15-0.16; docs/occlusion.md). Much of that is noise, not bias: the same detector
on the mirrored image or at another scale errs differently. :func:`refine_landmarks`
averages the detector over a few views of the face (mirrored, three scales; each view is a
crop normalised to the face's size, so the cost does not grow with the photo) and then
corrects the average by a linear model fitted on synthetic masks
(:data:`MASKED_LANDMARK_COEF`, ``training/restore/masked_landmarks.py``): in the frame of
the averaged eyes, the nose and mouth points, the box and the score predict where the unmasked
detection would have put the five points.
"""

from __future__ import annotations

import threading
from typing import Any

import cv2
import numpy as np

from .._validate import as_float
from ..align import estimate_similarity
from ._common import as_bgr_image, face_landmarks

__all__ = ["MASKED_LANDMARK_COEF", "REFINE_SCALES", "refine_landmarks"]

#: Face heights (pixels) of the normalised views the detector sees, each also mirrored.
REFINE_SCALES = (184.0, 245.0, 326.0)

#: Linear correction of the averaged points, ``(12, 10)``: rows are the features of
#: :func:`_features` (nose, right and left mouth corner x, y in the frame that puts the
#: averaged eyes at (0, 0) and (1, 0); the box centre x, y, width and height in that frame;
#: the mean detector score; 1), columns the x, y of the five corrected points in that frame.
#: Ridge regression (1e-3) on 466 masked faces of UTKFace ``train.txt`` (every 3rd face, one
#: random mask each) onto YuNet's points on the same faces unmasked:
#: ``python -m training.restore.masked_landmarks``.
MASKED_LANDMARK_COEF = np.array(
    [
        [-0.2250, -0.0241, -0.2128, 0.0904, -0.0493, 0.0297, -0.4187, -0.0923, -0.3355, 0.0136],
        [0.1022, 0.0753, -0.0547, -0.0085, 0.1006, -0.0265, 0.1522, -0.1026, 0.0560, -0.1679],
        [0.0022, -0.0629, 0.0692, 0.0824, -0.0350, 0.0812, -0.0986, -0.0180, -0.0625, 0.1073],
        [-0.0192, 0.0064, 0.0491, 0.0105, -0.0031, 0.0956, -0.0108, 0.2110, 0.0131, 0.2186],
        [0.1137, 0.0424, -0.0300, 0.1743, -0.0558, 0.0065, -0.0268, -0.1162, -0.1040, -0.0135],
        [-0.0365, -0.0261, 0.0600, -0.0059, -0.0075, 0.0822, -0.0325, 0.1840, 0.0230, 0.2048],
        [0.2921, 0.1234, 0.2547, -0.0235, -0.0721, 0.0700, 0.5251, 0.2039, 0.4063, 0.0698],
        [-0.0185, 0.2156, -0.0814, 0.1965, -0.0666, 0.0813, -0.0035, 0.0969, -0.0471, 0.0723],
        [-0.2584, -0.0732, 0.1596, -0.0883, -0.0616, 0.1154, -0.1977, 0.3072, 0.1539, 0.2926],
        [0.0432, -0.0456, -0.0266, -0.0318, -0.0037, -0.0509, 0.0261, -0.0238, -0.0555, -0.0117],
        [-0.2218, -0.6307, -0.0657, -0.6395, -0.2079, -0.5169, -0.1774, -0.4280, -0.0592, -0.4240],
        [0.5188, 0.6986, 0.6953, 0.6193, 0.8989, 0.6762, 0.5259, 0.3883, 0.8053, 0.3170],
    ]
)
MASKED_LANDMARK_COEF.setflags(write=False)

_FLIP = np.array([1, 0, 2, 4, 3])  # mirrored image: right and left swap
_DETECTOR: dict[str, Any] = {}
_LOCK = threading.Lock()


def _default_detector() -> Any:
    with _LOCK:
        d = _DETECTOR.get("yunet")
        if d is None:
            from ..models import load

            # masked faces score lower than bare ones: 0.5 keeps the views that find them
            d = load("yunet", score_threshold=0.5, nms_threshold=0.3, threads=1)
            _DETECTOR["yunet"] = d
        return d


def _face_box(face: Any, lm: np.ndarray, box: Any) -> np.ndarray:
    """``(x, y, w, h)`` of the face: ``box``, else the Face's box, else from the landmarks."""
    b = box if box is not None else getattr(face, "box", None)
    if b is not None:
        if hasattr(b, "width"):
            b = (b.x, b.y, b.width, b.height)
        try:
            a = np.asarray(b, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise TypeError(
                f"box: expected (x, y, width, height); got {type(b).__name__}"
            ) from None
        if a.shape != (4,) or not np.isfinite(a).all() or a[2] <= 0 or a[3] <= 0:
            raise ValueError(
                f"box: expected finite (x, y, width, height) with width, height > 0; got {b!r}"
            )
        return a
    # YuNet's box around its landmarks, on average (UTKFace): 2.1 x 2.75 inter-ocular distances
    iod = float(np.hypot(*(lm[1] - lm[0])))
    c = lm.mean(axis=0) + np.array([0.0, -0.15 * iod])
    w, h = 2.1 * iod, 2.75 * iod
    return np.array([c[0] - w / 2, c[1] - h / 2, w, h])


def _views(
    image: np.ndarray, box: np.ndarray, detector: Any, scales
) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """The detector on each normalised (and mirrored) view: ``(landmarks, box, score)`` in the frame."""
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    size = max(box[2], box[3])
    out = []
    for h in scales:
        s = h / size
        side = int(round(2.0 * h))
        m = np.array([[s, 0.0, side / 2 - s * cx], [0.0, s, side / 2 - s * cy]])
        crop = cv2.warpAffine(
            image,
            m,
            (side, side),
            flags=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=(0, 0, 0),
        )
        for flip in (False, True):
            view = np.ascontiguousarray(crop[:, ::-1]) if flip else crop
            d = detector.detect(view)
            if len(d) == 0:
                continue
            centres = d.boxes[:, :2] + d.boxes[:, 2:] / 2
            j = int(np.argmin(np.linalg.norm(centres - side / 2, axis=1)))
            if np.linalg.norm(centres[j] - side / 2) > 0.35 * h:  # another face
                continue
            lm = d.landmarks[j].astype(np.float64)
            bx = d.boxes[j].astype(np.float64)
            if flip:
                lm = lm[_FLIP]
                lm[:, 0] = side - 1 - lm[:, 0]  # pixel-index coordinates
                bx = np.array([side - bx[0] - bx[2], bx[1], bx[2], bx[3]])
            lm = (lm - m[:, 2]) / s
            bx = np.array([(bx[0] - m[0, 2]) / s, (bx[1] - m[1, 2]) / s, bx[2] / s, bx[3] / s])
            out.append((lm, bx, float(d.scores[j])))
    return out


def _eye_frame(lm: np.ndarray) -> np.ndarray:
    """Forward ``(2, 3)`` similarity taking the two eyes to (0, 0) and (1, 0)."""
    return estimate_similarity(lm[:2], np.array([[0.0, 0.0], [1.0, 0.0]]))


def _features(lm: np.ndarray, box: np.ndarray, score: float) -> tuple[np.ndarray, np.ndarray]:
    """The correction's inputs (the five points, the box centre and size in the eye frame, the
    score, 1) and the eye-frame matrix."""
    m = _eye_frame(lm)
    p = lm @ m[:, :2].T + m[:, 2]
    scale = float(np.hypot(m[0, 0], m[0, 1]))
    c = np.array([box[0] + box[2] / 2, box[1] + box[3] / 2]) @ m[:, :2].T + m[:, 2]
    f = np.concatenate([p[2:].ravel(), c, [box[2] * scale, box[3] * scale, score, 1.0]])
    return f, m


def refine_landmarks(
    image: Any,
    face: Any,
    *,
    box: Any = None,
    detector: Any = None,
    scales: tuple[float, ...] = REFINE_SCALES,
    correct: bool = True,
) -> np.ndarray:
    """Re-estimate the 5 landmarks of a face that wears a mask.

    The detector runs on six views of the face (crops normalised to face heights of
    :data:`REFINE_SCALES` pixels, each also mirrored), its points are averaged, and the
    average is corrected by the linear model fitted on synthetic masks
    (:data:`MASKED_LANDMARK_COEF`). Use it for faces the mask attribute calls masked
    (``Face.attributes.mask`` or :func:`mask_worn`): on UTKFace test faces with synthetic
    masks it brings YuNet's points from a median 0.14 to 0.08 inter-ocular distances of where
    YuNet puts them on the unmasked face (docs/occlusion.md). On a bare face it is not needed
    (the correction is fitted for masked faces).

    Parameters
    ----------
    image : (H, W, 3) uint8 ndarray
        BGR image the face was detected in. Not modified.
    face : Face, Landmarks or (5, 2) array
        The detected face (its landmarks, and its box when a Face is given).
    box : (x, y, width, height), optional
        The face's detection box (default: ``face.box``, else a box around the landmarks).
    detector : detector adapter, optional
        Any object with ``detect(image) -> Detections`` (default: YuNet at score 0.5).
    scales : tuple of float
        Face heights of the views, in pixels.
    correct : bool
        Apply the linear correction after averaging (default True).

    Returns
    -------
    (5, 2) float64 ndarray
        Refined landmarks ``(x, y)`` in ``image``'s pixels; the input landmarks when no view
        finds the face.

    Raises
    ------
    TypeError, ValueError
        If ``image``, ``face``, ``box`` or ``scales`` is invalid.
    ModelNotFoundError
        If no ``detector`` is given and YuNet cannot be found.

    Examples
    --------
    >>> import numpy as np
    >>> from facecore import occlusion
    >>> from facecore.align import ARCFACE_112
    >>> blank = np.zeros((112, 112, 3), np.uint8)           # no face: the input comes back
    >>> lm = occlusion.refine_landmarks(blank, ARCFACE_112)  # doctest: +MODELS
    >>> bool(np.allclose(lm, ARCFACE_112))  # doctest: +MODELS
    True
    """
    img = as_bgr_image(image)
    lm0 = face_landmarks(face, "face")
    b = _face_box(face, lm0, box)
    if isinstance(scales, (int, float)) or not hasattr(scales, "__iter__"):
        raise TypeError(f"scales: expected a tuple of face heights; got {type(scales).__name__}")
    sc = tuple(as_float(s, "scales", minimum=16.0, maximum=1024.0) for s in scales)
    if not sc:
        raise ValueError("scales: expected at least one face height")
    if detector is None:
        detector = _default_detector()
    elif not callable(getattr(detector, "detect", None)):
        raise TypeError(
            f"detector: expected an object with detect(image); got {type(detector).__name__}"
        )
    views = _views(img, b, detector, sc)
    if not views:
        return lm0.copy()
    lm = np.mean([v[0] for v in views], axis=0)
    if not correct or np.hypot(*(lm[1] - lm[0])) < 1.0:
        return lm  # (eyes less than a pixel apart: no eye frame to correct in)
    bx = np.mean([v[1] for v in views], axis=0)
    f, m = _features(lm, bx, float(np.mean([v[2] for v in views])))
    p = (f @ MASKED_LANDMARK_COEF).reshape(5, 2)
    a = m[:, :2]
    return (p - m[:, 2]) @ np.linalg.inv(a).T
