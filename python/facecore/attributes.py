"""Face attributes from the face parse and the other stages: glasses, sunglasses, hat, mask,
per-part occlusion, blur, and the single label Normal / Glasses / Sunglasses / Mask /
Occlusion / Blur.

Features, measured in the parser's aligned 512 x 512 crop (:mod:`facecore.parsing`):

- ``eyes``, ``nose``, ``mouth``: the summed probability of the part (eyes: both; mouth: the
  inner mouth and both lips) over the crop, divided by its median on CelebAMask-HQ faces
  (``EXPECTED``); ``log(ratio + 0.02)`` enters the models. A part that the parser cannot see
  (behind sunglasses, a mask, a hand) has a ratio near 0.
- ``glasses``: mean eyeglasses probability in the eye band (the template's eye rows).
- ``lens_dark`` / ``lens_median``: how much darker than the face's skin the eyeglasses
  pixels are (median grey of the skin minus the mean / the median grey of the pixels labelled
  eyeglasses in the eye band, / 255; 0 without lenses). Through a clear lens the parser
  labels skin as eyeglasses, so the median stays near the skin's; a dark lens does not.
- ``hat``: mean hat probability over the crop.
- ``lens_lum``, ``lens_std``, ``lens_cover``, ``eyebox`` (:func:`lens_features`): in two
  boxes around the template's eye positions (where a lens sits; 0.12 x 0.07 of the crop each),
  the skin's median grey minus the boxes' mean grey (/ 255), the grey standard deviation in
  the boxes (/ 255: a dark lens is flat, an eye behind a clear lens is not), the mean
  eyeglasses probability and the mean eye-class (l_eye + r_eye) probability;
  ``log_eyebox = log(eyebox + 0.005)``. Without the grey crop, ``lens_lum`` is 0 and
  ``lens_std`` 0.14 (the clear-glasses median).

Each probability is a logistic model of these features, fitted by
``scripts/fit_attributes.py`` on seeded fit halves of the labelled sets and measured on the
other halves (docs/accuracy.md, "Attributes"):

- ``glasses`` (eyewear that is not sunglasses) and ``hat``: CelebAMask-HQ masks (classes
  eyeglasses, hat) of the parsing train split;
- ``sunglasses``: data/attributes/sunglasses and the dark-lens CelebAMask-HQ eyewear faces
  (positives) against the clear-glasses CelebAMask-HQ faces (weight 2) and UTKFace test crops
  (``scripts/fit_attributes.py sunglasses``); ``glasses`` is then ``eyewear * (1 - sunglasses)``;
- ``mask``, ``occlusion["mouth"]``: photos/masked (with / without); ``mask`` is then the
  geometric mean with :func:`facecore.occlusion.mask_worn` (the choice measured in
  docs/accuracy.md: fewer false masks than either alone);
  ``occlusion["nose"]``: the mouth model's slope, 0.5 at 37 % of the expected nose area (not
  fitted: the masked photos do not say whether a mask covers the nose);
- ``occlusion["eyes"]``: the sunglasses set against the negatives;
- ``blur``: from :class:`~facecore.types.Quality` ``blur`` (variance of the Laplacian of the
  112 px chip): ``15 / (blur + 15)``, i.e. 0.5 at the dataset builder's ``--min-blur``.
  Not fitted to labels.

The label is the most probable of the chain ``Mask``, eyewear (``1 - (1 - sunglasses)(1 -
glasses)``, shared between ``Sunglasses`` and ``Glasses`` in proportion to the two),
``Occlusion`` (any part hidden that a mask or sunglasses do not explain), ``Blur``,
``Normal``, whose probabilities multiply out in that priority order and sum to 1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from .parsing import CLASSES, PARSING_TEMPLATE, FaceParsing
from .types import Attributes, Quality

__all__ = [
    "COEF",
    "EXPECTED",
    "LABELS",
    "face_attributes",
    "features",
    "from_features",
    "lens_features",
]

#: Median fraction of a 512 crop covered by each part on CelebAMask-HQ (600 faces of the
#: parsing train split, hand masks warped into the crop).
EXPECTED = {"eyes": 0.00424, "nose": 0.0199, "mouth": 0.0124}

LABELS = ("Normal", "Glasses", "Sunglasses", "Mask", "Occlusion", "Blur")

#: Logistic models ``p = sigmoid(b0 + sum(b_k * feature_k))`` (scripts/fit_attributes.py).
COEF: dict[str, tuple[tuple[str, ...], tuple[float, ...]]] = {
    "eyewear": (("glasses",), (-1.9371, 12.4525)),
    "sunglasses": (
        ("lens_lum", "lens_std", "lens_cover", "log_eyebox"),
        (-8.1682, 6.1502, -11.2111, -5.8125, -3.1982),
    ),
    "hat": (("hat",), (-6.0284, 60.9009)),
    "eyes_hidden": (("log_eyes",), (-2.1471, -2.513)),
    "mask": (("log_nose", "log_mouth"), (-1.1888, 2.3006, -5.8739)),
    # not fitted (photos/masked do not say whether the nose is covered): the mouth model's
    # slope, 0.5 at 37 % of the expected nose area
    "nose_hidden": (("log_nose",), (-5.0649, -5.0942)),
    "mouth_hidden": (("log_mouth",), (-0.8896, -5.0942)),
}

_BLUR_HALF = 15.0
_I = {c: i for i, c in enumerate(CLASSES)}


def _eye_band(S: int) -> tuple[slice, slice]:
    t = PARSING_TEMPLATE * (S - 1)
    y = float(t[:2, 1].mean())
    x0, x1 = float(t[0, 0]), float(t[1, 0])
    return (
        slice(max(int(y - 0.09 * S), 0), min(int(y + 0.07 * S), S)),
        slice(max(int(x0 - 0.12 * S), 0), min(int(x1 + 0.12 * S), S)),
    )


def lens_features(
    skin: np.ndarray, eyes: np.ndarray, eyeglasses: np.ndarray, chip_gray: np.ndarray | None = None
) -> dict[str, float]:
    """The lens features in the eye boxes (see the module docstring).

    Parameters
    ----------
    skin, eyes, eyeglasses : (S, S) float ndarray
        Class probabilities of the parse (``eyes``: l_eye + r_eye).
    chip_gray : (S, S) uint8 ndarray, optional

    Returns
    -------
    dict of str to float
        ``lens_lum``, ``lens_std``, ``lens_cover``, ``eyebox``, ``log_eyebox``.

    Examples
    --------
    >>> import numpy as np
    >>> z = np.zeros((512, 512), np.float32)
    >>> lens_features(z + 1, z, z)["lens_std"]
    0.14
    """
    S = skin.shape[0]
    t = PARSING_TEMPLATE[:2] * (S - 1)
    hx, hy = int(0.06 * S), int(0.035 * S)
    boxes = [
        (slice(max(int(y) - hy, 0), int(y) + hy), slice(max(int(x) - hx, 0), int(x) + hx))
        for x, y in t
    ]
    cover = float(np.mean([eyeglasses[b].mean() for b in boxes]))
    eyebox = float(np.mean([eyes[b].mean() for b in boxes]))
    lum, std = 0.0, 0.14
    if chip_gray is not None:
        c = np.asarray(chip_gray, np.float32)
        sk = skin > 0.5
        if sk.sum() >= 100:
            lum = float((np.median(c[sk]) - np.mean([c[b].mean() for b in boxes])) / 255.0)
        std = float(np.mean([c[b].std() for b in boxes]) / 255.0)
    return {
        "lens_lum": lum,
        "lens_std": std,
        "lens_cover": cover,
        "eyebox": eyebox,
        "log_eyebox": math.log(eyebox + 0.005),
    }


def features(parsing: FaceParsing, chip_gray: np.ndarray | None = None) -> dict[str, float]:
    """The attribute features of one face parse (see the module docstring).

    Parameters
    ----------
    parsing : FaceParsing
    chip_gray : (S, S) uint8 ndarray, optional
        The grey crop the parse was made on (same matrix); without it ``lens_dark`` is 0.

    Returns
    -------
    dict of str to float
    """
    if not isinstance(parsing, FaceParsing):
        raise TypeError(f"parsing: expected FaceParsing; got {type(parsing).__name__}")
    P = parsing.probabilities
    S = P.shape[1]
    area = float(S * S)
    eyes = float(P[_I["l_eye"]].sum() + P[_I["r_eye"]].sum()) / area
    nose = float(P[_I["nose"]].sum()) / area
    mouth = float(P[_I["mouth"]].sum() + P[_I["u_lip"]].sum() + P[_I["l_lip"]].sum()) / area
    band = _eye_band(S)
    g = P[_I["eyeglasses"]][band]
    glasses = float(g.mean())
    hat = float(P[_I["hat"]].mean())
    dark = lens_median = 0.0
    if chip_gray is not None:
        c = np.asarray(chip_gray)
        if c.shape != (S, S) or c.dtype != np.uint8:
            raise ValueError(f"chip_gray: expected uint8 ({S}, {S}); got {c.dtype} {c.shape}")
        lens = g > 0.5
        skin = P[_I["skin"]] > 0.5
        if lens.sum() >= 20 and skin.sum() >= 100:
            sk = float(np.median(c[skin]))
            dark = (sk - float(c[band][lens].mean())) / 255.0
            # the median lens pixel: a clear lens shows skin (frames are thin), a dark one does not
            lens_median = (sk - float(np.median(c[band][lens]))) / 255.0
    f = {
        "eyes": eyes / EXPECTED["eyes"],
        "nose": nose / EXPECTED["nose"],
        "mouth": mouth / EXPECTED["mouth"],
        "glasses": glasses,
        "lens_dark": dark,
        "lens_median": lens_median,
        "hat": hat,
    }
    for k in ("eyes", "nose", "mouth"):
        f["log_" + k] = math.log(f[k] + 0.02)
    f.update(
        lens_features(
            P[_I["skin"]],
            P[_I["l_eye"]] + P[_I["r_eye"]],
            P[_I["eyeglasses"]],
            None if chip_gray is None else c,
        )
    )
    return f


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(z, 60.0), -60.0)))


def _predict(name: str, f: Mapping[str, float]) -> float:
    names, b = COEF[name]
    return _sigmoid(b[0] + sum(bk * f[n] for bk, n in zip(b[1:], names)))


def blur_probability(quality: Quality | None) -> float:
    """``15 / (blur + 15)`` of a Quality (0.5 at the dataset builder's default --min-blur); 0 without one."""
    if quality is None:
        return 0.0
    return _BLUR_HALF / (max(quality.blur, 0.0) + _BLUR_HALF)


def from_features(
    f: Mapping[str, float], *, quality: Quality | None = None, mask_worn: float | None = None
) -> Attributes:
    """Attributes from a feature dict (:func:`features`), the face's quality and ``mask_worn``.

    ``mask`` is the geometric mean of the parse's mask model and
    :func:`facecore.occlusion.mask_worn`'s probability when that is given (a mask needs both
    cues; fewer false masks than either alone, see docs/accuracy.md), else the parse's alone.
    """
    eyewear = _predict("eyewear", f)
    sun = _predict("sunglasses", f)
    glasses = eyewear * (1.0 - sun)
    hat = _predict("hat", f)
    mask = _predict("mask", f)
    if mask_worn is not None:
        mask = math.sqrt(mask * min(max(float(mask_worn), 0.0), 1.0))
    occl = {
        "eyes": _predict("eyes_hidden", f),
        "nose": _predict("nose_hidden", f),
        "mouth": _predict("mouth_hidden", f),
    }
    blur = blur_probability(quality)
    # occlusion not explained by a mask (nose, mouth) or sunglasses (eyes)
    other = 1.0 - (1.0 - occl["eyes"] * (1.0 - sun)) * (1.0 - occl["nose"] * (1.0 - mask)) * (
        1.0 - occl["mouth"] * (1.0 - mask)
    )
    chain = {}
    rest = 1.0
    # eyewear is one link of the chain, shared by Sunglasses and Glasses in proportion
    eye = 1.0 - (1.0 - sun) * (1.0 - glasses)
    for lab, p in (("Mask", mask), ("Eyewear", eye), ("Occlusion", other), ("Blur", blur)):
        if lab == "Eyewear":
            share = sun / (sun + glasses) if sun + glasses > 0 else 0.5
            chain["Sunglasses"], chain["Glasses"] = rest * p * share, rest * p * (1.0 - share)
        else:
            chain[lab] = rest * p
        rest *= 1.0 - p
    chain["Normal"] = rest
    label = max(chain, key=chain.__getitem__)
    return Attributes(
        glasses=glasses,
        sunglasses=sun,
        hat=hat,
        mask=mask,
        occlusion=occl,
        blur=blur,
        label=label,
        probabilities={k: chain[k] for k in LABELS},
    )


def face_attributes(
    parsing: FaceParsing,
    chip_gray: np.ndarray | None = None,
    *,
    quality: Quality | None = None,
    mask_worn: float | None = None,
) -> Attributes:
    """Attributes of one face from its parse (and grey crop and quality when given).

    Parameters
    ----------
    parsing : FaceParsing
    chip_gray : (S, S) uint8 ndarray, optional
        The grey crop under the parse (for the lens darkness).
    quality : Quality, optional
        For ``blur``.
    mask_worn : float, optional
        :func:`facecore.occlusion.mask_worn` probability, combined into ``mask`` (geometric mean).

    Returns
    -------
    Attributes

    Examples
    --------
    >>> import numpy as np
    >>> from facecore.parsing import FaceParsing
    >>> p = np.zeros((19, 512, 512), np.float32); p[1] = 1     # skin everywhere: no eyes, nose, mouth
    >>> a = face_attributes(FaceParsing(np.eye(2, 3), p))
    >>> a.occlusion["mouth"] > 0.5
    True
    """
    return from_features(features(parsing, chip_gray), quality=quality, mask_worn=mask_worn)
