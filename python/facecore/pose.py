"""Head pose (pitch, yaw, roll) from the 5 detector landmarks.

A perspective-n-point fit (``cv2.solvePnP``, SQPnP then Levenberg-Marquardt refinement)
of a generic 3D face to the 5 image points. The template's x and y are where YuNet
puts its 5 points on average (median over 599 faces of UTKFace ``train.txt``,
similarity-aligned; YuNet's nose tip sits lower and its mouth corners higher than the
ArcFace template's, which made frontal faces read as 25 degrees chin-down), scaled to a
63 mm inter-pupillary distance; the depths are a generic head's (pupils 25 mm and mouth
corners 22 mm behind the nose tip). The camera is a pinhole with focal length
``max(H, W)`` pixels and its principal point at the image centre (or, without an image
size, at the landmarks' centroid with ``f = 16 x`` the
eye-to-mouth span).

Conventions (degrees; see :class:`facecore.Pose`): ``yaw > 0`` the face turns toward
the image's right, ``pitch > 0`` the chin goes up, ``roll > 0`` the head tilts
clockwise in the image. The rotation is ``R = Ry(-yaw) Rx(-pitch) Rz(roll)`` in camera
axes (x right, y down, z forward), applied to the template, and it is measured relative
to the line of sight from the camera to the face (so a face anywhere in the frame that
looks into the lens reads 0, 0, 0), as crop-based head-pose models report it.

Five points pin yaw and roll well; pitch depends on the template's depths and on the
person, so read it as approximate (about +-10 degrees on real faces).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from .types import Pose

__all__ = ["FACE_3D", "estimate_pose", "estimate_poses", "project", "rotation_matrix"]

#: Generic 3D positions (mm) of right eye, left eye, nose tip, right and left mouth corner;
#: x to the image right, y down, z away from the camera, nose tip at the origin.
FACE_3D = np.array(
    [
        [-31.6, -36.8, 25.0],
        [31.6, -36.8, 25.0],
        [0.0, 0.0, 0.0],
        [-27.1, 25.8, 22.0],
        [27.1, 25.8, 22.0],
    ],
    dtype=np.float64,
)


def rotation_matrix(pitch: float, yaw: float, roll: float) -> np.ndarray:
    """Camera-frame rotation (3, 3) of a head at the given angles in degrees."""
    a, b, c = math.radians(-pitch), math.radians(-yaw), math.radians(roll)
    rx = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    ry = np.array([[math.cos(b), 0, math.sin(b)], [0, 1, 0], [-math.sin(b), 0, math.cos(b)]])
    rz = np.array([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
    return ry @ rx @ rz


def _angles(r: np.ndarray) -> tuple[float, float, float]:
    a = math.asin(max(-1.0, min(1.0, -r[1, 2])))
    b = math.atan2(r[0, 2], r[2, 2])
    c = math.atan2(r[1, 0], r[1, 1])
    return -math.degrees(a), -math.degrees(b), math.degrees(c)


def _camera(landmarks: np.ndarray, image_shape: tuple[int, ...] | None) -> np.ndarray:
    if image_shape is not None:
        h, w = int(image_shape[0]), int(image_shape[1])
        f, cx, cy = float(max(h, w)), (w - 1) / 2.0, (h - 1) / 2.0
    else:
        cx, cy = landmarks.mean(axis=0)
        span = np.linalg.norm(landmarks[[3, 4]].mean(0) - landmarks[[0, 1]].mean(0))
        f = 16.0 * max(float(span), 1.0)
    return np.array([[f, 0, cx], [0, f, cy], [0, 0, 1]], dtype=np.float64)


def project(
    pitch: float,
    yaw: float,
    roll: float,
    *,
    camera: np.ndarray,
    distance: float = 600.0,
    center=(0.0, 0.0),
) -> np.ndarray:
    """Image points (5, 2) of :data:`FACE_3D` at a pose (for tests and demos).

    Parameters
    ----------
    camera : (3, 3) ndarray
        Pinhole intrinsics.
    distance : float
        Distance of the nose tip from the camera (mm).
    center : (x, y)
        Lateral offset of the nose tip (mm).
    """
    r = rotation_matrix(pitch, yaw, roll)
    t = np.array([center[0], center[1], distance], np.float64)
    pts = (r @ FACE_3D.T).T + t
    uv = (camera @ pts.T).T
    return uv[:, :2] / uv[:, 2:3]


def estimate_pose(landmarks, *, image_shape: tuple[int, ...] | None = None) -> Pose | None:
    """Head pose of one face from its 5 landmarks, or ``None`` where no pose is defined.

    Tiny faces (a few pixels between the eyes, as in crowds) subtend too small an angle for
    SQPnP; they are fitted with EPnP instead. Points that no rigid pose fits (all on one
    spot, collinear, far outside any face shape) give ``None``, never an exception.

    Parameters
    ----------
    landmarks : (5, 2) float array_like
        Right eye, left eye, nose tip, right and left mouth corner, ``(x, y)`` pixels.
    image_shape : tuple, optional
        ``image.shape`` (its first two numbers are used) for the camera model.

    Returns
    -------
    Pose or None
        ``None`` when the points are degenerate (no finite pose fits them).

    Raises
    ------
    TypeError
        If ``landmarks`` is not numeric.
    ValueError
        If ``landmarks`` is not (5, 2) finite, or ``image_shape`` is not positive.

    Examples
    --------
    >>> import numpy as np
    >>> from facecore.pose import estimate_pose, project
    >>> K = np.array([[640.0, 0, 319.5], [0, 640.0, 239.5], [0, 0, 1]])  # what image_shape implies
    >>> p = estimate_pose(project(10, -20, 5, camera=K), image_shape=(480, 640))
    >>> round(p.pitch), round(p.yaw), round(p.roll)
    (10, -20, 5)
    """
    lm = np.asarray(landmarks)
    if lm.dtype.kind not in "fiu":
        raise TypeError(f"landmarks: expected a numeric (5, 2) array; got {lm.dtype}")
    if lm.shape != (5, 2):
        raise ValueError(f"landmarks: expected shape (5, 2); got {lm.shape}")
    lm = lm.astype(np.float64)
    if not np.all(np.isfinite(lm)):
        raise ValueError("landmarks: values must be finite")
    if image_shape is not None and (
        len(image_shape) < 2 or int(image_shape[0]) < 1 or int(image_shape[1]) < 1
    ):
        raise ValueError(f"image_shape: expected (H, W, ...) with H, W >= 1; got {image_shape}")
    k = _camera(lm, image_shape)
    try:
        r = _fit(lm, k)
    except cv2.error:  # degenerate geometry: OpenCV's asserts are not the caller's business
        r = None
    if r is None:
        return None
    pitch, yaw, roll = _angles(r)
    if not all(math.isfinite(v) for v in (pitch, yaw, roll)):
        return None
    return Pose(pitch=pitch, yaw=yaw, roll=roll)


def _fit(lm: np.ndarray, k: np.ndarray) -> np.ndarray | None:
    """Rotation (3, 3) relative to the line of sight, or None; may raise cv2.error."""
    pts = lm.reshape(5, 1, 2)
    spread = float(np.linalg.norm(lm - lm.mean(axis=0), axis=1).max())
    if spread < 1e-6 * max(float(k[0, 0]), 1.0):  # all five points on one spot
        return None
    try:
        ok, rvec, tvec = cv2.solvePnP(FACE_3D, pts, k, None, flags=cv2.SOLVEPNP_SQPNP)
    except cv2.error:  # SQPnP refuses points that subtend a tiny angle (faces of ~10 px)
        ok, rvec, tvec = cv2.solvePnP(FACE_3D, pts, k, None, flags=cv2.SOLVEPNP_EPNP)
    if not ok or not (np.all(np.isfinite(rvec)) and np.all(np.isfinite(tvec))):
        return None
    rvec, tvec = cv2.solvePnPRefineLM(FACE_3D, pts, k, None, rvec, tvec)
    if not (np.all(np.isfinite(rvec)) and np.all(np.isfinite(tvec))) or float(tvec[2, 0]) <= 0:
        return None
    r, _ = cv2.Rodrigues(rvec)
    # relative to the line of sight to the face, not to the optical axis: a face off
    # the image centre that looks into the lens has yaw = pitch = 0
    d = tvec.reshape(3) / max(float(np.linalg.norm(tvec)), 1e-12)
    axis = np.cross([0.0, 0.0, 1.0], d)
    s = float(np.linalg.norm(axis))
    if s > 1e-12:
        q, _ = cv2.Rodrigues(axis / s * math.atan2(s, float(d[2])))
        r = q.T @ r
    return r


def estimate_poses(landmarks, *, image_shape: tuple[int, ...] | None = None) -> list[Pose | None]:
    """:func:`estimate_pose` for each face of (N, 5, 2) landmarks."""
    lm = np.asarray(landmarks)
    if lm.ndim != 3 or lm.shape[1:] != (5, 2):
        raise ValueError(f"landmarks: expected shape (N, 5, 2); got {lm.shape}")
    return [estimate_pose(p, image_shape=image_shape) for p in lm]
