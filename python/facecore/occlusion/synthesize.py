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
  lower face), measured on real photos (docs/occlusion.md).

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

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .._validate import as_color, as_float, as_int
from ..align import ARCFACE_112, estimate_similarity

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

logger = logging.getLogger(__name__)

#: Face-mask styles (the occluder the study measures).
MASK_STYLES = ("surgical_blue", "surgical_white", "cloth", "patterned")
#: Every style :func:`synthesize` draws.
STYLES = MASK_STYLES + ("sunglasses", "hand")
#: Restoration methods by name (any other string is read as the path of an ONNX file).
METHODS = ("telea", "ns", "learned")

#: Where the 5 landmarks fall in the learned restorer's square chip (unit coordinates): the
#: age model's dlib-style chip template (:data:`facecore.models.attributes.DLIB_CHIP_TEMPLATE`)
#: shrunk by 0.8 about its centre, so the chip holds the whole face down to below the chin
#: and every pixel of the age and gender chips.
RESTORE_CHIP_UNIT = 0.5 + 0.8 * (
    np.array([[0.289, 0.271], [0.685, 0.277], [0.470, 0.505], [0.314, 0.683], [0.658, 0.694]]) - 0.5
)
RESTORE_CHIP_UNIT.setflags(write=False)

# Canonical outlines, in ArcFace-112 template coordinates (eyes y~51.6, nose tip y~71.7,
# mouth corners y~92.3, chin about y~122, cheeks at x~12 / x~100).
_FACE_MASK = np.array(
    [  # closed loop, clockwise from the nose bridge
        [56.0, 58.5],
        [75.0, 61.0],
        [93.0, 64.5],
        [101.5, 72.0],
        [101.0, 86.0],
        [96.0, 101.0],
        [85.0, 114.0],
        [70.0, 122.5],
        [56.0, 125.0],
        [42.0, 122.5],
        [27.0, 114.0],
        [16.0, 101.0],
        [11.0, 86.0],
        [10.5, 72.0],
        [19.0, 64.5],
        [37.0, 61.0],
    ]
)
_MASK_CENTRE_X = 56.0
_PLEATS_Y = (75.0, 89.0, 103.0)
_EAR_LOOPS = (  # (mask anchor, ear point): top and bottom loop on each side
    ([10.5, 72.0], [1.0, 60.0]),
    ([16.0, 101.0], [2.0, 66.0]),
    ([101.5, 72.0], [111.0, 60.0]),
    ([96.0, 101.0], [110.0, 66.0]),
)
_LENS = np.array(  # one sunglasses lens around the origin (eye at 0, 0), clockwise
    [
        [-15.0, -8.0],
        [-5.0, -10.5],
        [8.0, -10.0],
        [15.0, -6.0],
        [15.5, 2.0],
        [11.0, 9.5],
        [0.0, 11.5],
        [-10.0, 9.0],
        [-15.5, 2.0],
    ]
)

_CLOTH_COLOURS = {
    "black": (38, 36, 36),
    "navy": (80, 45, 30),
    "grey": (120, 118, 115),
    "red": (40, 40, 170),
    "pink": (170, 150, 230),
    "beige": (150, 185, 210),
    "green": (60, 100, 50),
    "denim": (140, 100, 70),
}
_SURGICAL = {"surgical_blue": (222, 196, 150), "surgical_white": (236, 238, 238)}
_SKIN = ((140, 170, 220), (110, 140, 195), (80, 110, 160), (55, 80, 120), (160, 185, 225))


@dataclass(frozen=True, slots=True)
class Occluder:
    """What :func:`synthesize` drew: the style, its colours and the seed, for reproducibility.

    Attributes
    ----------
    style : str
        One of :data:`STYLES`.
    color : tuple of int
        Main colour, BGR.
    pattern : str
        ``"plain"``, ``"stripes"``, ``"dots"`` or ``"checks"`` (patterned style), or
        ``"pleats"`` (surgical).
    seed : int or None
        The seed given to :func:`synthesize`.
    """

    style: str
    color: tuple[int, int, int]
    pattern: str
    seed: int | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "style": self.style,
            "color": list(self.color),
            "pattern": self.pattern,
            "seed": self.seed,
        }


# -- argument checks -----------------------------------------------------------------------


def face_landmarks(face: Any, name: str = "face") -> np.ndarray:
    """The ``(5, 2)`` float64 landmarks of a :class:`~facecore.Face`, a ``Landmarks`` or an array.

    Raises
    ------
    TypeError
        If ``face`` is none of those or is not numeric.
    ValueError
        If the array is not ``(5, 2)``, not finite, or the points coincide.

    Examples
    --------
    >>> from facecore.align import ARCFACE_112
    >>> face_landmarks(ARCFACE_112).shape
    (5, 2)
    """
    lm = getattr(face, "landmarks", face)
    lm = getattr(lm, "points", lm)
    if isinstance(lm, (str, bytes)) or lm is None or isinstance(lm, (int, float)):
        raise TypeError(
            f"{name}: expected a Face, Landmarks or a (5, 2) array of (x, y); got {type(face).__name__}"
        )
    try:
        a = np.asarray(lm)
    except (TypeError, ValueError) as exc:  # pragma: no cover - exotic objects
        raise TypeError(
            f"{name}: expected a Face, Landmarks or a (5, 2) array; got {type(face).__name__}"
        ) from exc
    if a.dtype == np.bool_ or not (
        np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)
    ):
        raise TypeError(f"{name}: expected numeric (5, 2) landmarks; got {a.dtype}")
    if a.shape != (5, 2):
        raise ValueError(f"{name}: expected (5, 2) landmarks (x, y); got shape {a.shape}")
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise ValueError(f"{name}: landmarks must be finite")
    if np.ptp(a, axis=0).max() < 1e-6:
        raise ValueError(f"{name}: the landmarks coincide")
    return a


def _bgr_image(image: Any, name: str = "image") -> np.ndarray:
    """facecore's input contract (grey, (H, W, 1), BGR, BGRA with the alpha ignored) -> BGR."""
    from .._validate import as_bgr

    return as_bgr(image, name)


def _as_mask(mask: Any, shape: tuple[int, int], name: str = "mask") -> np.ndarray:
    if isinstance(mask, (str, bytes)) or mask is None or np.isscalar(mask):
        raise TypeError(f"{name}: expected a bool or uint8 (H, W) array; got {type(mask).__name__}")
    m = np.asarray(mask)
    if m.dtype != np.bool_ and m.dtype != np.uint8:
        raise TypeError(f"{name}: expected a bool or uint8 (H, W) array; got {m.dtype} {m.shape}")
    if m.ndim == 3 and m.shape[2] == 1:
        m = m[:, :, 0]
    if m.shape != tuple(shape):
        raise ValueError(
            f"{name}: expected shape {tuple(shape)} (the image's height, width); got {m.shape}"
        )
    return m != 0


def _rng(seed: Any) -> np.random.Generator:
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(as_int(seed, "seed", minimum=0))


# -- geometry ------------------------------------------------------------------------------


def _catmull_rom(ctrl: np.ndarray, *, closed: bool = True, per_segment: int = 12) -> np.ndarray:
    """Dense points of a centripetal-free (uniform) Catmull-Rom spline through ``ctrl``."""
    p = np.asarray(ctrl, np.float64)
    n = len(p)
    idx = np.arange(n)
    if closed:
        p0, p1, p2, p3 = p[(idx - 1) % n], p, p[(idx + 1) % n], p[(idx + 2) % n]
    else:
        ext = np.concatenate([p[:1], p, p[-1:]])
        p0, p1, p2, p3 = ext[:-3], ext[1:-2], ext[2:-1], ext[3:]
    t = np.linspace(0.0, 1.0, per_segment, endpoint=False)[None, :, None]
    a, b, c, d = (x[:, None, :] for x in (p0, p1, p2, p3))
    pts = 0.5 * (
        (2 * b)
        + (-a + c) * t
        + (2 * a - 5 * b + 4 * c - d) * t**2
        + (-a + 3 * b - 3 * c + d) * t**3
    )
    pts = pts.reshape(-1, 2)
    if not closed:
        pts = np.concatenate([pts, p[-1:]])
    return pts


def _frame(landmarks: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Template -> image similarity, and the nose / mouth-centre x offsets in template units."""
    m = estimate_similarity(ARCFACE_112, landmarks)
    inv = cv2.invertAffineTransform(m)
    canon = landmarks @ inv[:, :2].T + inv[:, 2]
    dx_nose = float(canon[2, 0] - (ARCFACE_112[2, 0]))
    dx_mouth = float((canon[3, 0] + canon[4, 0]) / 2 - (ARCFACE_112[3, 0] + ARCFACE_112[4, 0]) / 2)
    return m, dx_nose, dx_mouth


def _yaw_shift(pts: np.ndarray, dx_nose: float, dx_mouth: float) -> np.ndarray:
    """Move the outline's centre line with the nose (top) and mouth (bottom); sides stay."""
    out = pts.copy()
    w = np.clip(1.0 - np.abs(pts[:, 0] - _MASK_CENTRE_X) / 48.0, 0.0, 1.0)
    t = np.clip((pts[:, 1] - 72.0) / 20.0, 0.0, 1.0)
    out[:, 0] += w * ((1 - t) * dx_nose + t * dx_mouth)
    return out


def _to_image(pts: np.ndarray, m: np.ndarray) -> np.ndarray:
    return pts @ m[:, :2].T + m[:, 2]


def _jittered_face_mask(rng: np.random.Generator | None, jitter: float) -> np.ndarray:
    ctrl = _FACE_MASK.copy()
    if rng is not None and jitter > 0:
        top = rng.normal(0.0, 2.5 * jitter)  # whole top edge up or down
        bottom = rng.normal(0.0, 3.0 * jitter)  # chin part lower or higher
        width = 1.0 + rng.normal(0.0, 0.04 * jitter)
        ctrl[:, 0] = _MASK_CENTRE_X + (ctrl[:, 0] - _MASK_CENTRE_X) * width
        upper = ctrl[:, 1] < 70
        ctrl[upper, 1] += top
        lower = ctrl[:, 1] > 105
        ctrl[lower, 1] += bottom
        ctrl += rng.normal(0.0, 1.2 * jitter, ctrl.shape)
    return ctrl


def occluder_outline(
    face: Any, *, style: str = "surgical_blue", seed: Any = None, jitter: float = 1.0
) -> list[np.ndarray]:
    """The outline polygons of an occluder in image coordinates (what :func:`synthesize` fills).

    Parameters
    ----------
    face : Face, Landmarks or (5, 2) array
        The face's 5 landmarks ``(x, y)``.
    style : str
        One of :data:`STYLES`; every face-mask style has the same outline.
    seed : int, optional
        Seed of the shape jitter (the same seed gives the same outline as :func:`synthesize`).
    jitter : float
        Shape-jitter strength, 0 (the template outline) to 3.

    Returns
    -------
    list of (K, 2) float64 ndarray
        Closed polygons ``(x, y)``.

    Examples
    --------
    >>> from facecore.align import ARCFACE_112
    >>> [p.shape[1] for p in occluder_outline(ARCFACE_112, jitter=0)]
    [2]
    """
    lm = face_landmarks(face)
    _check_style(style)
    jitter = as_float(jitter, "jitter", minimum=0.0, maximum=3.0)
    rng = _rng(seed)
    return [_to_image(p, m) for p, m in _outline_canon(lm, style, rng, jitter)]


def _outline_canon(lm: np.ndarray, style: str, rng: np.random.Generator, jitter: float):
    """[(canonical polygon, matrix)] with yaw shift applied."""
    m, dxn, dxm = _frame(lm)
    if style in MASK_STYLES:
        ctrl = _jittered_face_mask(rng, jitter)
        pts = _catmull_rom(ctrl)
        return [(_yaw_shift(pts, dxn, dxm), m)]
    if style == "sunglasses":
        polys = []
        size = 1.0 + rng.normal(0.0, 0.06 * jitter)
        dy = rng.normal(0.0, 1.0 * jitter)
        for eye in ARCFACE_112[:2]:
            lens = _LENS.copy()
            if eye[0] < _MASK_CENTRE_X:
                lens[:, 0] = -lens[:, 0]
                lens = lens[::-1]
            lens = lens * size + eye + [0.0, dy]
            polys.append(_yaw_shift(_catmull_rom(lens), dxn, dxn))
        return [(p, m) for p in polys]
    if style == "hand":
        side = 1.0 if rng.random() < 0.5 else -1.0
        ang = np.deg2rad(rng.uniform(-25.0, 25.0) * max(jitter, 0.0) + side * 20.0)
        cx = _MASK_CENTRE_X + side * rng.uniform(0.0, 8.0) * min(jitter, 1.0) + dxm
        cy = 101.0 + rng.uniform(-3.0, 3.0) * min(jitter, 1.0)
        palm = np.array(
            [
                [-20.0, -6.0],
                [0.0, -12.0],
                [20.0, -6.0],
                [24.0, 12.0],
                [12.0, 28.0],
                [-12.0, 28.0],
                [-24.0, 12.0],
            ]
        )
        # four fingers rising from the palm's top edge
        fingers = []
        for k, (fx, length) in enumerate(((-15.0, 26.0), (-5.0, 31.0), (5.0, 30.0), (15.0, 24.0))):
            length *= 1.0 + rng.normal(0.0, 0.05 * jitter)
            fingers.append(
                np.array(
                    [
                        [fx - 5.2, 0.0],
                        [fx - 4.6, -length + 3],
                        [fx, -length],
                        [fx + 4.6, -length + 3],
                        [fx + 5.2, 0.0],
                    ]
                )
                + [0.0, -6.0 + abs(k - 1.5) * 2]
            )
        c, s = np.cos(ang), np.sin(ang)
        rot = np.array([[c, -s], [s, c]])
        polys = [_catmull_rom(palm)] + [_catmull_rom(f) for f in fingers]
        return [(p @ rot.T + [cx, cy], m) for p in polys]
    raise AssertionError(style)  # pragma: no cover - checked by the caller


def _check_style(style: Any) -> str:
    if not isinstance(style, str):
        raise TypeError(f"style: expected one of {list(STYLES)}; got {type(style).__name__}")
    if style not in STYLES:
        raise ValueError(f"style: expected one of {list(STYLES)}; got {style!r}")
    return style


# -- rendering -----------------------------------------------------------------------------

_SHIFT = 4  # sub-pixel bits for cv2 drawing
_SS = 4  # supersampling factor of the coverage raster


def _coverage(polys: list[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """Float32 (H, W) area coverage in [0, 1] of the union of ``polys`` (4x supersampled)."""
    h, w = shape
    big = np.zeros((h * _SS, w * _SS), np.uint8)
    pts = [np.round(((p + 0.5) * _SS - 0.5) * (1 << _SHIFT)).astype(np.int32) for p in polys]
    for q in pts:  # one call per polygon: fillPoly's even-odd rule would cut overlaps out
        cv2.fillPoly(big, [q], 255, lineType=cv2.LINE_8, shift=_SHIFT)
    cov = cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    return cov


def _lines_coverage(
    lines: list[np.ndarray], shape: tuple[int, int], thickness: float
) -> np.ndarray:
    h, w = shape
    big = np.zeros((h * _SS, w * _SS), np.uint8)
    th = max(1, int(round(thickness * _SS)))
    for line in lines:
        pts = np.round(((line + 0.5) * _SS - 0.5) * (1 << _SHIFT)).astype(np.int32)
        cv2.polylines(big, [pts], False, 255, th, lineType=cv2.LINE_8, shift=_SHIFT)
    return cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


def _canon_grid(m: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Template coordinates (u, v) of every image pixel (for patterns that follow the face)."""
    h, w = shape
    inv = cv2.invertAffineTransform(m)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    u = inv[0, 0] * xs + inv[0, 1] * ys + inv[0, 2]
    v = inv[1, 0] * xs + inv[1, 1] * ys + inv[1, 2]
    return u, v


def _texture(
    style: str,
    base: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    rng: np.random.Generator,
    second: np.ndarray,
    pattern: str,
    scale: float,
) -> np.ndarray:
    """(H, W, 3) float32 colour field of the occluder (before shading)."""
    h, w = u.shape
    col = np.broadcast_to(base.astype(np.float32), (h, w, 3)).copy()
    if style in ("surgical_blue", "surgical_white"):
        # pleats: darker horizontal folds with a lighter edge above each
        for y0 in _PLEATS_Y:
            d = v - (y0 + 0.02 * (u - _MASK_CENTRE_X) ** 2 / 10.0)
            col *= (
                1.0 - 0.16 * np.exp(-((d / 1.3) ** 2)) + 0.06 * np.exp(-(((d + 2.2) / 1.3) ** 2))
            )[..., None]
    elif style == "patterned":
        if pattern == "stripes":
            sel = (np.floor((u + v * 0.6) / 7.0) % 2) == 0
        elif pattern == "dots":
            sel = ((np.mod(u, 9.0) - 4.5) ** 2 + (np.mod(v, 9.0) - 4.5) ** 2) < 6.0
        else:  # checks
            sel = ((np.floor(u / 8.0) + np.floor(v / 8.0)) % 2) == 0
        col[sel] = second.astype(np.float32)
        col = cv2.GaussianBlur(col, (0, 0), 0.6)
    elif style == "cloth":
        # a woven look: fine cross-hatch modulation
        col *= (1.0 + 0.05 * np.sin(u * 2.4) * np.sin(v * 2.4))[..., None]
    elif style == "hand":
        col *= (1.0 + 0.04 * np.sin(v * 0.7))[..., None]
    noise = rng.normal(0.0, 3.0 if style != "sunglasses" else 1.5, (h, w, 1)).astype(np.float32)
    return col + noise


def synthesize(
    image: Any,
    face: Any,
    *,
    style: str = "surgical_blue",
    seed: Any = None,
    color: str | None = None,
    jitter: float = 1.0,
    shading: float = 0.6,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw a realistic occluder on a face, placed from its 5 landmarks.

    A face mask covers the nose from the bridge down, the mouth and the jaw to below the
    chin, cheek to cheek, with ear loops; sunglasses cover both eyes; a hand covers the mouth
    and chin from one side. The outline is defined in the ArcFace template frame and carried
    into the image by the similarity fitted from the template to the landmarks, so it follows
    position, roll and scale exactly, and its centre line follows the nose and mouth under
    yaw (see the module notes). The occluder takes the image's lighting: its colour is
    multiplied by the blurred luminance under it relative to the face's mean (``shading``).

    Parameters
    ----------
    image : (H, W, 3) uint8 ndarray
        BGR image. Not modified.
    face : Face, Landmarks or (5, 2) array
        The face's landmarks ``(x, y)`` (right eye, left eye, nose tip, right and left mouth
        corner).
    style : str
        ``"surgical_blue"``, ``"surgical_white"``, ``"cloth"`` (a plain cloth colour),
        ``"patterned"`` (stripes, dots or checks), ``"sunglasses"`` or ``"hand"``.
    seed : int or numpy.random.Generator, optional
        Seeds the shape jitter, colour choice, pattern and noise; the same seed gives the
        same output. ``None`` draws fresh randomness.
    color : str, optional
        Main colour (name or ``#rrggbb``) instead of the style's default or random choice.
    jitter : float
        Random shape jitter strength, 0 (the template outline) to 3. Default 1.
    shading : float
        How much of the image's lighting shows on the occluder, 0 to 1. Default 0.6.

    Returns
    -------
    occluded : (H, W, 3) uint8 ndarray
        A new image; pixels outside ``mask`` equal ``image``'s.
    mask : (H, W) bool ndarray
        True at every pixel the occluder changed (anti-aliased edges and ear loops included).

    Raises
    ------
    TypeError
        If ``image`` is not a uint8 BGR image, ``face`` holds no landmarks, or an option has
        the wrong type.
    ValueError
        If ``style`` is unknown or an option is out of range.

    Examples
    --------
    >>> import numpy as np
    >>> from facecore.align import ARCFACE_112
    >>> img = np.full((224, 224, 3), 150, np.uint8)
    >>> out, mask = synthesize(img, ARCFACE_112 * 2, style="cloth", color="navy", seed=3)
    >>> round(float(mask.mean()), 2)
    0.32
    >>> a, _ = synthesize(img, ARCFACE_112 * 2, style="patterned", seed=7)
    >>> b, _ = synthesize(img, ARCFACE_112 * 2, style="patterned", seed=7)
    >>> bool((a == b).all())
    True
    """
    img = _bgr_image(image)
    lm = face_landmarks(face)
    _check_style(style)
    jitter = as_float(jitter, "jitter", minimum=0.0, maximum=3.0)
    shading = as_float(shading, "shading", minimum=0.0, maximum=1.0)
    main = as_color(color, "color") if color is not None else None
    rng = _rng(seed)
    shape = img.shape[:2]

    parts = _outline_canon(lm, style, rng, jitter)
    m = parts[0][1]
    polys = [_to_image(p, mm) for p, mm in parts]
    cov = _coverage(polys, shape)
    scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))  # image pixels per template unit

    pattern = "plain"
    second = np.zeros(3)
    if style in _SURGICAL:
        base = np.array(main or _SURGICAL[style], np.float64)
        base = base + rng.normal(0.0, 4.0, 3)
        pattern = "pleats"
    elif style == "cloth":
        names = list(_CLOTH_COLOURS)
        base = np.array(main or _CLOTH_COLOURS[names[int(rng.integers(len(names)))]], np.float64)
    elif style == "patterned":
        names = list(_CLOTH_COLOURS)
        i, j = rng.choice(len(names), 2, replace=False)
        base = np.array(main or _CLOTH_COLOURS[names[int(i)]], np.float64)
        second = (
            np.array(_CLOTH_COLOURS[names[int(j)]], np.float64) * 0.5
            + np.array([230.0, 230.0, 230.0]) * 0.5
        )
        pattern = ("stripes", "dots", "checks")[int(rng.integers(3))]
    elif style == "sunglasses":
        base = np.array(main or (22, 20, 20), np.float64) + rng.normal(0.0, 3.0, 3)
    else:  # hand
        base = np.array(main or _SKIN[int(rng.integers(len(_SKIN)))], np.float64) + rng.normal(
            0.0, 6.0, 3
        )
    base = np.clip(base, 0, 255)

    # thin extras: ear loops (masks) or the bridge and temples (sunglasses)
    extra = None
    if style in MASK_STYLES:
        loops = []
        _, dxn, dxm = _frame(lm)
        for a, b in _EAR_LOOPS:
            line = np.array([a, [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2 - 2.0], b], np.float64)
            loops.append(
                _to_image(_yaw_shift(_catmull_rom(line, closed=False, per_segment=6), dxn, dxm), m)
            )
        extra = _lines_coverage(loops, shape, max(1.0, 1.2 * scale))
        extra_col = np.clip(base * 0.92, 0, 255)
    elif style == "sunglasses":
        _, dxn, _ = _frame(lm)
        bridge = np.array(
            [[ARCFACE_112[0, 0] + 14, 47.0], [_MASK_CENTRE_X, 45.0], [ARCFACE_112[1, 0] - 14, 47.0]]
        )
        temples = [
            np.array([[ARCFACE_112[0, 0] - 15, 48.0], [0.0, 50.0]]),
            np.array([[ARCFACE_112[1, 0] + 15, 48.0], [112.0, 50.0]]),
        ]
        lines = [
            _to_image(_yaw_shift(_catmull_rom(x, closed=False, per_segment=6), dxn, dxn), m)
            for x in [bridge] + temples
        ]
        extra = _lines_coverage(lines, shape, max(1.0, 2.0 * scale))
        extra_col = base

    # lighting: low-pass luminance of the image under the face, relative to its mean there
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float32)
    sigma = max(1.0, 6.0 * scale)
    low = cv2.GaussianBlur(grey, (0, 0), sigma)
    inside = cov > 0.5
    ref = float(low[inside].mean()) if inside.any() else float(low.mean())
    light = np.clip(low / max(ref, 1.0), 0.55, 1.45)
    light = 1.0 + shading * (light - 1.0)

    u, v = _canon_grid(m, shape)
    col = _texture(style, base, u, v, rng, second, pattern, scale)
    if style in MASK_STYLES:
        # the mask bulges over the nose and chin: a soft highlight along the centre line
        bulge = np.exp(-(((u - _MASK_CENTRE_X) / 22.0) ** 2)) * np.exp(-(((v - 90.0) / 30.0) ** 2))
        col *= (0.93 + 0.1 * bulge)[..., None]
    elif style == "sunglasses":
        glint = np.exp(-(((u - 30) / 5.0) ** 2 + ((v - 46) / 2.5) ** 2)) + np.exp(
            -(((u - 66) / 5.0) ** 2 + ((v - 46) / 2.5) ** 2)
        )
        col += (90.0 * glint)[..., None]
    col *= light[..., None]

    out = img.astype(np.float32)
    a = cov[..., None]
    out = out * (1.0 - a) + col * a
    changed = cov > 0
    if extra is not None:
        e = np.clip(extra - cov, 0.0, 1.0)[..., None]
        out = out * (1.0 - e) + (extra_col.astype(np.float32) * light[..., None]) * e
        changed |= extra > 0
    res = img.copy()
    res[changed] = np.clip(np.rint(out[changed]), 0, 255).astype(np.uint8)
    return res, changed


# -- restoration ---------------------------------------------------------------------------


def restore_chip_matrix(face: Any, size: int = 128) -> np.ndarray:
    """Forward ``(2, 3)`` frame -> chip similarity of the learned restorer's aligned chip.

    The least-squares similarity from the landmarks to :data:`RESTORE_CHIP_UNIT` ``* size``.

    Examples
    --------
    >>> from facecore.align import ARCFACE_112
    >>> restore_chip_matrix(ARCFACE_112, 128).shape
    (2, 3)
    """
    lm = face_landmarks(face)
    size = as_int(size, "size", minimum=8)
    return estimate_similarity(lm, RESTORE_CHIP_UNIT * size)


_SESSIONS: dict[tuple[str, str], Any] = {}
_SESSIONS_LOCK = threading.Lock()
LEARNED_MODEL = "restore_unet"


def _session(path: Path, device: str):
    key = (str(path), device)
    with _SESSIONS_LOCK:
        s = _SESSIONS.get(key)
        if s is None:
            from ..models import zoo
            from ..models.session import make_session

            mi = zoo.info(LEARNED_MODEL) if path.name == zoo.info(LEARNED_MODEL).file else None
            s = make_session(
                zoo.read_verified(path, mi), device=device
            )  # the hashed bytes are the ones run
            names = [i.name for i in s.get_inputs()]
            if len(names) != 2 or len(s.get_outputs()) < 1:
                raise ValueError(
                    f"method: {path} is not a LaMa-style inpainting model: expected 2 inputs (image, mask) and an "
                    f"output; got inputs {names}"
                )
            _SESSIONS[key] = s
        return s


def _io_order(session) -> tuple[str, str, int | None]:
    """(image input name, mask input name, static square side or None) of a LaMa-style graph."""
    ins = session.get_inputs()
    by_c = {}
    for i in ins:
        c = i.shape[1] if len(i.shape) == 4 else None
        by_c[c if isinstance(c, int) else i.name] = i
    if 3 in by_c and 1 in by_c:
        img, msk = by_c[3], by_c[1]
    else:  # fall back on the names LaMa exports use
        named = {i.name.lower(): i for i in ins}
        img = named.get("image") or ins[0]
        msk = named.get("mask") or ins[1]
    h, w = img.shape[2], img.shape[3]
    side = h if isinstance(h, int) and isinstance(w, int) and h == w and h > 0 else None
    return img.name, msk.name, side


def _model_path(method: str | os.PathLike[str]) -> Path:
    if isinstance(method, str) and method == "learned":
        from ..models import zoo

        return zoo.find(LEARNED_MODEL, verify=False)  # verified on the bytes _session loads
    p = Path(method)
    if not p.is_file():
        raise ValueError(
            f"method: expected one of {list(METHODS)} or the path of an existing .onnx file; got {str(method)!r}"
        )
    return p


def _fallback_matrix(mask: np.ndarray, side: int) -> np.ndarray:
    """Without landmarks: an axis-aligned square around the hole, 1.5x its larger side."""
    ys, xs = np.nonzero(mask)
    cx, cy = (xs.min() + xs.max()) / 2.0, (ys.min() + ys.max()) / 2.0
    extent = 1.5 * max(xs.max() - xs.min() + 1, ys.max() - ys.min() + 1, 8)
    s = side / extent
    return np.array([[s, 0.0, side / 2.0 - 0.5 - s * cx], [0.0, s, side / 2.0 - 0.5 - s * cy]])


def _restore_learned(
    img: np.ndarray, hole: np.ndarray, method: Any, face: Any, chip: int | None, device: str
) -> np.ndarray:
    sess = _session(_model_path(method), device)
    in_img, in_mask, static = _io_order(sess)
    side = static or chip or 128
    m = restore_chip_matrix(face, side) if face is not None else _fallback_matrix(hole, side)
    c = cv2.warpAffine(
        img, m, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )
    ch = cv2.warpAffine(
        hole.astype(np.float32),
        m,
        (side, side),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    ch = cv2.dilate((ch > 0.01).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(np.float32)
    x = c[:, :, ::-1].astype(np.float32).transpose(2, 0, 1)[None] / 255.0
    y = sess.run(None, {in_img: np.ascontiguousarray(x), in_mask: ch[None, None]})[0]
    y = np.asarray(y, np.float32)
    if y.ndim == 4 and y.shape[1] != 3 and y.shape[3] == 3:  # NHWC exports
        y = y.transpose(0, 3, 1, 2)
    if y.shape[1:] != (3, side, side):
        raise ValueError(f"method: the model returned {y.shape}; expected (1, 3, {side}, {side})")
    if float(y.max()) > 1.5:  # LaMa's own exports return 0..255
        y = y / 255.0
    out_chip = np.clip(np.rint(y[0].transpose(1, 2, 0)[:, :, ::-1] * 255.0), 0, 255).astype(
        np.uint8
    )
    h, w = img.shape[:2]
    back = cv2.warpAffine(
        out_chip,
        m,
        (w, h),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    cover = (
        cv2.warpAffine(
            np.ones((side, side), np.float32),
            m,
            (w, h),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
        > 0.999
    )
    out = img.copy()
    inside = hole & cover
    out[inside] = back[inside]
    rest = hole & ~cover
    if rest.any():  # hole pixels outside the chip: classical inpainting from what is known now
        filled = cv2.inpaint(out, rest.astype(np.uint8), 3, cv2.INPAINT_TELEA)
        out[rest] = filled[rest]
    return out


def restore(
    image: Any,
    mask: Any,
    *,
    method: str | os.PathLike[str] = "telea",
    face: Any = None,
    radius: float = 3.0,
    chip: int | None = None,
    device: str = "cpu",
) -> np.ndarray:
    """Fill the masked pixels of an image back in; all other pixels are returned untouched.

    Methods:

    - ``"telea"``: OpenCV's fast-marching inpainting (Telea 2004), ``cv2.INPAINT_TELEA``;
    - ``"ns"``: OpenCV's Navier-Stokes inpainting (Bertalmio et al. 2001), ``cv2.INPAINT_NS``;
    - ``"learned"``: facecore's restorer (zoo model ``restore_unet``, a gated-conv U-Net
      trained on aligned UTKFace chips with synthetic masks, then fine-tuned so the restored
      face reads as the same age and gender through the pipeline's dlib models: it is tuned
      for age estimation, not for looks; docs/models/restore.md). It works on a 128 x 128 chip
      aligned from the face's landmarks (``face=``; without them, a square around the hole),
      and its output is warped back into the frame;
    - a path to an ONNX file with a LaMa-style interface: two inputs, the image ``(N, 3, H, W)``
      RGB float in ``[0, 1]`` and the mask ``(N, 1, H, W)`` with 1 = hole, and one output
      ``(N, 3, H, W)`` RGB in ``[0, 1]`` or ``[0, 255]`` (detected from its range). A static
      square input fixes the chip side, else ``chip`` (default 128) does.

    The result is ``out = where(mask, filled, image)``: the restoration only ever writes the
    masked pixels. Hole pixels the aligned chip does not reach are filled by ``telea``.

    Parameters
    ----------
    image : (H, W, 3) uint8 ndarray
        BGR image. Not modified.
    mask : (H, W) bool or uint8 ndarray
        Nonzero where the pixels are to be restored (what :func:`synthesize` returns).
    method : {"telea", "ns", "learned"} or path-like
        See above.
    face : Face, Landmarks or (5, 2) array, optional
        The face's landmarks, used by the learned and ONNX methods to align their chip.
    radius : float
        Neighbourhood radius of the OpenCV methods, in pixels (default 3).
    chip : int, optional
        Chip side for ONNX models with dynamic input size (default 128).
    device : {"cpu", "cuda", "auto"}
        Where the ONNX methods run.

    Returns
    -------
    (H, W, 3) uint8 ndarray
        A new image; equal to ``image`` wherever ``mask`` is 0.

    Raises
    ------
    TypeError
        If ``image`` or ``mask`` has the wrong type or dtype, or an option the wrong type.
    ValueError
        If the shapes disagree, ``method`` is neither a known name nor an existing file, or an
        option is out of range.
    ModelNotFoundError
        If ``method="learned"`` and the ``restore_unet`` model cannot be found.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((32, 32, 3), np.uint8); img[:, 16:] = 200
    >>> hole = np.zeros((32, 32), bool); hole[12:20, 12:20] = True
    >>> out = restore(img, hole, method="ns")
    >>> bool((out[~hole] == img[~hole]).all()), out[16, 13].tolist() != [0, 0, 0] or out[16, 18].tolist() != [0, 0, 0]
    (True, True)
    """
    img = _bgr_image(image)
    hole = _as_mask(mask, img.shape[:2])
    radius = as_float(radius, "radius", minimum=0.5, maximum=100.0)
    if chip is not None:
        chip = as_int(chip, "chip", minimum=16, maximum=4096)
    if device not in ("cpu", "cuda", "auto"):
        raise ValueError(f"device: expected 'cpu', 'cuda' or 'auto'; got {device!r}")
    if isinstance(method, str) and method in ("telea", "ns"):
        kind = method
    elif isinstance(method, (str, os.PathLike)) and not isinstance(method, bytes):
        kind = "onnx"
        if (
            isinstance(method, str)
            and method != "learned"
            and not method.lower().endswith(".onnx")
            and not Path(method).is_file()
        ):
            raise ValueError(
                f"method: expected one of {list(METHODS)} or the path of an .onnx file; got {method!r}"
            )
    else:
        raise TypeError(
            f"method: expected one of {list(METHODS)} or a path; got {type(method).__name__}"
        )
    if face is not None:
        face = face_landmarks(face, "face")
    if not hole.any():
        return img.copy()
    if kind in ("telea", "ns"):
        flag = cv2.INPAINT_TELEA if kind == "telea" else cv2.INPAINT_NS
        filled = cv2.inpaint(img, hole.astype(np.uint8), radius, flag)
        out = img.copy()
        out[hole] = filled[hole]
        return out
    return _restore_learned(img, hole, method, face, chip, device)


# -- detection -----------------------------------------------------------------------------


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


def _design(f: np.ndarray) -> np.ndarray:
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
    >>> masked, _ = synthesize(skin, ARCFACE_112, style="surgical_blue", seed=0)
    >>> mask_worn(masked, ARCFACE_112).worn
    True
    """
    img = _bgr_image(image)
    lm = face_landmarks(face)
    threshold = as_float(threshold, "threshold", minimum=0.0, maximum=1.0)
    f = mask_features(img, lm)
    z = float(_design(f)[0] @ MASK_WORN_COEF)
    p = float(1.0 / (1.0 + np.exp(-z)))
    return MaskScore(
        probability=p,
        worn=p >= threshold,
        skin_ratio=float(f[0]),
        color_distance=float(f[1]),
        texture_ratio=float(f[2]),
    )
