"""Synthetic occluders drawn from the 5 landmarks: face masks, sunglasses, a hand.

See the package docstring of :mod:`facecore.occlusion` for the geometry. :func:`synthesize`
returns the occluded image and the mask of every pixel it changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from .._validate import as_color, as_float, as_int
from ..align import ARCFACE_112, estimate_similarity
from ._common import as_bgr_image, face_landmarks

__all__ = ["MASK_STYLES", "STYLES", "Occluder", "occluder_outline", "synthesize"]

#: Face-mask styles (the occluder the study measures).
MASK_STYLES = ("surgical_blue", "surgical_white", "cloth", "patterned")
#: Every style :func:`synthesize` draws.
STYLES = MASK_STYLES + ("sunglasses", "hand")

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
    img = as_bgr_image(image)
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
    alpha = cov[..., None]
    out = out * (1.0 - alpha) + col * alpha
    changed = cov > 0
    if extra is not None:
        e = np.clip(extra - cov, 0.0, 1.0)[..., None]
        out = out * (1.0 - e) + (extra_col.astype(np.float32) * light[..., None]) * e
        changed |= extra > 0
    res = img.copy()
    res[changed] = np.clip(np.rint(out[changed]), 0, 255).astype(np.uint8)
    return res, changed
