"""blend: ``(1 - a) * base + a * effect``; recolour (colour transfer, Lab or HSV) fused with that
blend; the hair's lightness statistics the transfer starts from.

C++: ``src/cpp/blend.{hpp,cpp}`` (+ ``blend_avx2.cpp``); CUDA: ``src/cuda/blend.cu``; tests:
``tests/kernels/test_kernels_blend.py``.
"""

from __future__ import annotations

import numpy as np

from .. import _core
from .._validate import as_int
from . import _args
from ._cpu import BACKEND as _CPU
from ._dispatch import backend

__all__ = ["blend", "lab_stats", "recolor"]


@_args.device_doc
def blend(
    base: np.ndarray,
    effect: np.ndarray,
    alpha: np.ndarray,
    *,
    out: np.ndarray | None = None,
    device: str = "auto",
    stream: object = None,
) -> np.ndarray:
    """Mask-weighted blend ``out = (1 - a) * base + a * effect``, rounded half up.

    Evaluated in float32 in that order, per channel, with ``a = clip(alpha, 0, 1)`` (NaN as
    0), then ``floor(v + 0.5)``: the NumPy expression
    ``np.floor((1 - a)[..., None] * base + a[..., None] * effect + 0.5)`` in float32, exactly.

    Parameters
    ----------
    base, effect : (H, W, C) or (H, W) uint8 ndarray
        Same shape.
    alpha : (H, W) float32 ndarray
        Weight of ``effect``.
    out : uint8 ndarray, optional
        May be ``base`` or ``effect`` (element-wise).
    {device}

    Returns
    -------
    blended : uint8 ndarray of ``base``'s shape

    Examples
    --------
    >>> import numpy as np, facecore as fc
    >>> base = np.zeros((2, 2, 3), np.uint8); effect = np.full((2, 2, 3), 200, np.uint8)
    >>> fc.kernels.blend(base, effect, np.full((2, 2), 0.25, np.float32))[0, 0]
    array([50, 50, 50], dtype=uint8)
    """
    be = backend(device, stream, base=base, effect=effect, alpha=alpha, out=out)
    b = be.image(base, "base")
    e = be.image(effect, "effect")
    _args.check_same_shape(b.shape, e.shape)
    a = be.alpha(alpha, b.shape[:2])
    return be.blend(b, e, a, out, base_arg=base, effect_arg=effect)  # type: ignore[arg-type,return-value]


@_args.device_doc
def recolor(
    image: np.ndarray,
    alpha: np.ndarray,
    color: str,
    *,
    mode: str = "lab",
    strength: float = 1.0,
    source: tuple[float, float] | None = None,
    out: np.ndarray | None = None,
    device: str = "auto",
    stream: object = None,
) -> np.ndarray:
    """Recolour where ``alpha`` says, keeping the texture: the effect layer and its blend in one pass.

    ``mode="lab"`` keeps each pixel's L (lightness, hence the hair's texture) and moves its
    a/b toward the target colour's by ``strength``; ``mode="hsv"`` keeps V, moves the hue
    along the shorter arc and the saturation toward the target's by ``strength``. The layer
    is then blended: ``out = (1 - a) * image + a * layer`` (as :func:`blend`, with the layer
    unrounded). Colour maths follow OpenCV's float definitions (``cv2.cvtColor`` on float32
    images in [0, 1]: sRGB, D65; HSV with H in degrees), so those are the reference; pixels
    with ``alpha == 0`` are returned unchanged, and blocks of them are skipped, so the cost
    follows the recoloured area.

    ``mode="transfer"`` (a hair dye) moves the hair's colour distribution to the target's, in
    Oklab scaled by 100 (B. Ottosson 2020: hue stays constant where CIE Lab's blues turn
    purple): with ``mu, sd`` the hair's mean and spread of L (``source``, or measured with
    :func:`lab_stats` over ``alpha >= 0.5``, step 4), ``d = L - mu`` the pixel's detail and
    ``(Lt, at, bt)`` the target, the new lightness is ``L' = Lt + k d`` with
    ``k = clip((Lt + 10) / (mu + 10), 0.4, 2.5)`` (relative contrast kept: blond can become a
    dark blue, black a light one) and the chroma ``(at, bt) * clip(L' / Lt, 0, 1.25)``
    (shadows less saturated, hue kept); ``strength`` moves L, a, b that far. Out-of-gamut
    results are mixed with the grey of the same luminance (hue kept) instead of clipped.
    ``mode="natural"``: the same with the mean lightness moved halfway
    (``mu + (Lt - mu) / 2``), and highlights (``d > sd``) keeping part of their own
    lightness and less chroma.

    Parameters
    ----------
    image : (H, W, 3) uint8 ndarray
        BGR.
    alpha : (H, W) float32 ndarray
        Where, and how much, to recolour (e.g. a refined hair map).
    color : str
        A name (``facecore._validate.NAMED_COLORS``) or ``"#rrggbb"``.
    mode : {"lab", "hsv", "transfer", "natural"}
    strength : float
        0 (no change) .. 1 (the target's chroma).
    source : (mean L, std L), optional
        ``transfer``/``natural`` only: the hair's lightness statistics (Oklab L x 100, e.g.
        smoothed over the frames of a video); measured from ``image`` and ``alpha`` when omitted.
    out : (H, W, 3) uint8 ndarray, optional
    {device}

    Returns
    -------
    recoloured : (H, W, 3) uint8 ndarray

    Examples
    --------
    >>> import numpy as np, facecore as fc
    >>> img = np.full((4, 4, 3), 90, np.uint8)
    >>> out = fc.kernels.recolor(img, np.ones((4, 4), np.float32), "#8a2be2")
    >>> bool(out[0, 0, 0] > out[0, 0, 1])   # purple: more blue than green
    True
    """
    be = backend(device, stream, image=image, alpha=alpha, out=out)
    img = be.image(image, "image", channels=(3,), gray=False)
    a = be.alpha(alpha, img.shape[:2])
    spec = _args.recolor(color=color, mode=mode, strength=strength, source=source)
    return be.recolor(img, a, spec, out, image_arg=image)  # type: ignore[arg-type,return-value]


def lab_stats(image: np.ndarray, alpha: np.ndarray, *, step: int = 4) -> tuple[float, float, float]:
    """The hair's lightness statistics that ``recolor(mode="transfer")`` starts from.

    Over the pixels on a ``step`` grid (rows and columns ``0, step, 2 step, ...``) whose
    ``alpha >= 0.5`` (or, when there is none, every pixel with ``alpha > 0``), weighted by
    ``alpha``: the weight sum, the mean and the standard deviation of the lightness that
    :func:`recolor`'s transfer works in (Oklab L x 100, 0..100; sRGB input).

    Parameters
    ----------
    image : (H, W, 3) uint8 ndarray
        BGR.
    alpha : (H, W) float32 ndarray
    step : int
        Sampling step (>= 1; default 4, what recolor uses).

    Returns
    -------
    (weight, mean, std) : tuple of float
        ``weight == 0``: no pixel had ``alpha > 0``; then mean 50 and std 10.

    Examples
    --------
    >>> import numpy as np, facecore as fc
    >>> img = np.full((4, 4, 3), 255, np.uint8)
    >>> w, mean, std = fc.kernels.lab_stats(img, np.ones((4, 4), np.float32))
    >>> round(mean, 3), round(std, 3)
    (100.0, 0.0)
    """
    img = _CPU.image(image, "image", channels=(3,), gray=False)
    a = _CPU.alpha(alpha, img.shape[:2])
    step = as_int(step, "step", minimum=1)
    w, m, sd = _core.lab_stats_u8(img, a, step)
    return float(w), float(m), float(sd)
