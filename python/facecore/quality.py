"""Face quality for recognition, and picking the best face of a set.

Measured on the 112x112 ArcFace-aligned crop that the embedder sees (so blur and
exposure are judged at the resolution recognition works at), plus the face's size in
the source image and its pose:

* ``blur``: variance of the Laplacian (``cv2.Laplacian``, 3x3 aperture 1) of the grey
  crop; higher is sharper.
* ``size``: inter-ocular distance in source pixels (the 112 template has 35.2 px).
* ``brightness`` / ``contrast``: mean / standard deviation of the grey crop over 255,
  inside the central face region (rows 20..100, cols 20..92) so the black border of
  faces near the frame edge does not count.
* ``frontalness``: ``cos(yaw) cos(pitch)``.

``score`` is the geometric mean of five sub-scores in [0, 1]:
``sharp = blur / (blur + 100)``, ``big = min(1, size / 35.2)``,
``exposed = exp(-((brightness - 0.5) / 0.3) ** 2)``, ``contrasty = min(1, contrast / 0.15)``
and ``frontalness``. A face that is bad on any one of them scores low.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import cv2
import numpy as np

from .types import Face, Pose, Quality

__all__ = ["TEMPLATE_EYE_DISTANCE", "assess", "assess_tensor", "best_face"]

#: Inter-ocular distance of the ArcFace 112x112 template, pixels.
TEMPLATE_EYE_DISTANCE = 35.24
_BLUR_HALF = 100.0
_ROI = (slice(20, 100), slice(20, 92))
_GREY_RGB = np.array([0.299, 0.587, 0.114], np.float32)


def _score(
    blur: float, size: float, brightness: float, contrast: float, frontalness: float
) -> float:
    parts = (
        blur / (blur + _BLUR_HALF),
        min(1.0, size / TEMPLATE_EYE_DISTANCE),
        math.exp(-(((brightness - 0.5) / 0.3) ** 2)),
        min(1.0, contrast / 0.15),
        max(0.0, min(1.0, frontalness)),
    )
    if min(parts) <= 0.0:
        return 0.0
    return float(math.exp(sum(math.log(p) for p in parts) / len(parts)))


def assess_tensor(
    tensor: np.ndarray, eye_distances: Sequence[float], poses: Sequence[Pose | None]
) -> list[Quality]:
    """Quality of N faces from their aligned RGB crops as a float32 NCHW tensor (0..255).

    This is the tensor the embedder consumes, so quality costs no extra warp.

    Parameters
    ----------
    tensor : (N, 3, 112, 112) float32 ndarray
        RGB, raw 0..255 (SFace's input).
    eye_distances : sequence of N floats
        Inter-ocular distance of each face in its source image, pixels.
    poses : sequence of N Pose or None
        ``None`` counts as frontal.

    Returns
    -------
    list of Quality
    """
    t = np.asarray(tensor, np.float32)
    if t.ndim != 4 or t.shape[1] != 3:
        raise ValueError(f"tensor: expected float32 (N, 3, H, W); got {t.dtype} {t.shape}")
    n = t.shape[0]
    if len(eye_distances) != n or len(poses) != n:
        raise ValueError(
            f"eye_distances, poses: expected {n} values each; got {len(eye_distances)}, {len(poses)}"
        )
    grey = np.tensordot(_GREY_RGB, t, axes=([0], [1]))  # (N, H, W)
    out = []
    for i in range(n):
        g = np.ascontiguousarray(grey[i])
        blur = float(cv2.Laplacian(g, cv2.CV_32F).var())
        roi = g[_ROI]
        brightness = float(roi.mean() / 255.0)
        contrast = float(roi.std() / 255.0)
        pose = poses[i]
        front = 1.0 if pose is None else pose.frontalness
        size = float(eye_distances[i])
        out.append(
            Quality(
                blur=blur,
                size=size,
                brightness=brightness,
                contrast=contrast,
                frontalness=front,
                score=_score(blur, size, brightness, contrast, front),
            )
        )
    return out


def assess(chip: np.ndarray, *, eye_distance: float, pose: Pose | None = None) -> Quality:
    """Quality of one aligned 112x112 BGR uint8 chip (see the module docstring).

    Parameters
    ----------
    chip : (112, 112, 3) uint8 ndarray
        ArcFace-aligned face, BGR.
    eye_distance : float
        Inter-ocular distance in the source image, pixels.
    pose : Pose, optional

    Returns
    -------
    Quality

    Examples
    --------
    >>> import cv2, numpy as np
    >>> from facecore.quality import assess
    >>> sharp = np.random.default_rng(0).integers(0, 256, (112, 112, 3), dtype=np.uint8)
    >>> soft = cv2.GaussianBlur(sharp, (0, 0), 3)
    >>> assess(soft, eye_distance=40.0).blur < assess(sharp, eye_distance=40.0).blur
    True
    """
    if not isinstance(chip, np.ndarray) or chip.dtype != np.uint8:
        raise TypeError(
            f"chip: expected a uint8 (112, 112, 3) array; got {getattr(chip, 'dtype', type(chip).__name__)}"
        )
    if chip.shape != (112, 112, 3):
        raise ValueError(f"chip: expected shape (112, 112, 3); got {chip.shape}")
    ed = float(eye_distance)
    if not math.isfinite(ed) or ed < 0:
        raise ValueError(f"eye_distance: expected a finite value >= 0; got {eye_distance}")
    t = chip[..., ::-1].astype(np.float32).transpose(2, 0, 1)[None]
    return assess_tensor(t, [ed], [pose])[0]


def best_face(faces: Iterable[Face]) -> Face | None:
    """The face of a set (a track, a folder) best suited to recognition.

    Faces are ranked by ``quality.score``; faces without a quality rank below all that
    have one, among themselves by detector score times inter-ocular distance. Ties keep
    the earlier face. When a face has :class:`~facecore.types.Attributes` (``FaceAnalyzer(
    attributes=True)``), its score is multiplied by the probability that its eyes are not
    behind sunglasses and by that of each of eyes, nose and mouth being visible, so an
    occluded face loses to a clear one of similar quality.

    Parameters
    ----------
    faces : iterable of Face

    Returns
    -------
    Face or None
        ``None`` for an empty set.

    Examples
    --------
    >>> import facecore as fc
    >>> from importlib.resources import files
    >>> image = fc.read_image(files("facecore") / "data" / "astronaut.jpg")
    >>> faces = fc.FaceAnalyzer().analyze(image)  # doctest: +MODELS
    >>> fc.best_face(faces) is faces[0], fc.best_face([]) is None
    (True, True)
    """
    best, best_key = None, None
    for i, f in enumerate(faces):
        if not isinstance(f, Face):
            raise TypeError(f"faces: item {i} is {type(f).__name__}, not Face")
        key = (
            (1, f.quality.score)
            if f.quality is not None
            else (0, f.score * f.landmarks.eye_distance)
        )
        a = getattr(f, "attributes", None)
        if a is not None:
            visible = (1.0 - a.sunglasses) * math.prod(1.0 - v for v in a.occlusion.values())
            key = (key[0], key[1] * visible)
        if best_key is None or key > best_key:
            best, best_key = f, key
    return best
