"""The hair-recolour effect: a hair probability map, refined, drives a texture-keeping recolour.

Pipeline for one image (every pixel step is a facecore kernel)::

    YuNet faces -> one person region per face (warp_crops): the head framed as the models
      were trained, widened to 2x the head crop's width and 2.5x its height so hair that
      falls past the shoulders is inside it
      -> hair model (dense: one pass per region; patch: probability_map over windows)
      -> times the person prior (hair belongs to that face: a soft head-and-hanging-hair
         zone in face units, zero at the region's border, so no crop edge can show)
      -> paste each region back (warp_affine(inverse=True)) -> merge faces by max
      -> times an optional person mask (``region=``: a person/portrait segmentation)
      -> refine_map (sharpen p -> 1-(1-p)^power, then the 3x3 "LBP" kernel)
      -> recolor (colour transfer / Lab / HSV, fused with the blend out = (1-a)*image + a*layer)

With no face found the map is zero (the image is returned unchanged); the whole image is
segmented only when asked for (``detect=False``), or when the face detector is not installed
(``detector_missing`` says so). Video (:meth:`HairRecolor.apply_video`) runs frame by frame
with the map and the hair's colour statistics smoothed over time (an exponential moving
average), so it does not flicker; audio is copied with ffmpeg when it is on PATH.

The shipped models (``hair_dense``, ``hair_patch``) were trained on non-commercial research
data (CelebAMask-HQ, LFW Part Labels, Figaro-1k); see ``docs/models/hair.md``.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from . import kernels
from ._defaults import DET_THRESHOLD, RECOLOR_COLOR, RECOLOR_STRENGTH
from ._validate import as_bgr, as_bool, as_choice, as_color, as_float, as_image, as_int, as_map

__all__ = ["HairRecolor", "head_matrix", "letterbox_matrix", "person_prior", "soften"]

logger = logging.getLogger(__name__)

_MODELS = {"dense": "hair_dense", "patch": "hair_patch", "default": "hair_dense"}

#: Head-crop side for ``model="parsing"`` (the BiSeNet face parser's hair class): its person
#: region is 2.5 x 2 of it (1120 x 896 at 448, eye-to-mouth distance 82 px, 0.63 of the
#: parser's training scale; the parser runs only on the part of it the image covers). Chosen on
#: val subsets (lfw_parts IoU: 320 0.678, 448 0.752, 576 0.739; docs/models/hair.md).
_PARSING_CROP = 448
#: ``model="parsing"``: the refined map is steepened about 0.5 by this softness (see ``refine``)
_PARSING_STRETCH = 0.5

#: Head-crop framing measured on the training images with YuNet: the eye-to-mouth distance is
#: about 0.25 (CelebA-HQ) and 0.18 (LFW) of the image side, the point halfway between the eye
#: centre and the mouth centre sits on the vertical midline at 0.60 / 0.55 of the height.
_EM_FRACTION = 0.21
_CENTRE_Y = 0.57

#: The person region around the head crop, in units of the head crop's side (x0, y0, x1, y1):
#: half a crop to each side, a quarter above and 1.25 below, so hair down to the chest is in it.
_REGION = (-0.5, -0.25, 1.5, 2.25)

#: The person prior in face units (eye-to-mouth distances from the face centre, y down): a head
#: ellipse (centre y, radii x and y) and a band for hanging hair (half width, lowest y), with a
#: soft edge this wide. Measured on the training framings: the crown is about 2.8 units above
#: the centre, the ears about 2.2 to the side, the shoulders 4 to 5 below.
_HEAD = (-0.8, 4.0, 4.2)
_BAND = (3.4, 8.0)
_FADE = 0.8
#: The seed zone (centre y, radii x and y in face units): the top and sides of the head, where
#: hair belongs to this face for sure; hair elsewhere in the region must be joined to it.
_SEED = (-1.8, 2.1, 2.2)
#: The crown (centre y, radii): right above the face, nearly always hair when there is hair;
#: its colour is the reference for the colour gate everywhere else.
_CROWN = (-2.4, 1.3, 0.9)


def head_matrix(
    landmarks: np.ndarray, shape: int | tuple[int, int], *, scale: float = 1.0
) -> np.ndarray:
    """Forward 2x3 matrix from the frame to a head crop framed like the training images.

    The crop is rotated upright (eye line horizontal); the eye-to-mouth distance becomes
    ``0.21 / scale`` of the crop width, and the face centre (halfway between the eye centre
    and the mouth centre) lands at ``x = (w - 1) / 2``, ``y = 0.57 h``.

    Parameters
    ----------
    landmarks : (5, 2) float ndarray
        YuNet order: right eye, left eye, nose, right and left mouth corner, ``(x, y)``.
    shape : int or (height, width)
        Crop size.
    scale : float
        > 1 takes in more around the head.

    Returns
    -------
    (2, 3) float64 ndarray
    """
    lm = np.asarray(landmarks, np.float64).reshape(5, 2)
    h, w = (shape, shape) if isinstance(shape, int) else shape
    eye = (lm[0] + lm[1]) / 2
    mouth = (lm[3] + lm[4]) / 2
    centre = (eye + mouth) / 2
    em = float(np.linalg.norm(mouth - eye))
    ev = lm[1] - lm[0]
    angle = math.atan2(ev[1], ev[0]) if np.linalg.norm(ev) > 0 else 0.0
    k = _EM_FRACTION * w / max(em, 1e-3) / scale
    c, s = math.cos(-angle) * k, math.sin(-angle) * k
    R = np.array([[c, -s], [s, c]])
    t = np.array([(w - 1) / 2, _CENTRE_Y * h]) - R @ centre
    return np.hstack([R, t[:, None]])


def letterbox_matrix(image_shape: tuple[int, ...], shape: int) -> np.ndarray:
    """Forward 2x3 matrix placing a whole ``(H, W)`` image centred in a ``shape`` square, aspect kept."""
    H, W = int(image_shape[0]), int(image_shape[1])
    s = shape / max(H, W)
    return np.array(
        [[s, 0, (shape - s * W) / 2 + 0.5 * s - 0.5], [0, s, (shape - s * H) / 2 + 0.5 * s - 0.5]]
    )


def _hex(bgr: tuple[int, int, int]) -> str:
    """``(b, g, r)`` -> ``"#rrggbb"`` (what the kernels take)."""
    return "#{2:02x}{1:02x}{0:02x}".format(*bgr)


def person_prior(
    shape: tuple[int, int], centre: tuple[float, float], unit: float, *, border: float = 8.0
) -> np.ndarray:
    """Where a face's hair can be, as a soft (H, W) float32 map in [0, 1] over an upright crop.

    1 inside a head ellipse (around and above the face, ``_HEAD``) and a band below it for
    hanging hair (``_BAND``), falling to 0 over ``_FADE`` face units outside them, and to 0
    over the last ``border`` pixels of the crop, so a map multiplied by it has no crop edge.

    Parameters
    ----------
    shape : (height, width)
        Crop size.
    centre : (x, y)
        The face centre in the crop (halfway between the eye centre and the mouth centre).
    unit : float
        The eye-to-mouth distance in crop pixels.
    border : float
        Width of the ramp to zero at the crop's border, in pixels.

    Returns
    -------
    (H, W) float32 ndarray
    """
    h, w = shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    u = (x - centre[0]) / unit
    v = (y - centre[1]) / unit
    cy, rx, ry = _HEAD
    d_head = (np.sqrt((u / rx) ** 2 + ((v - cy) / ry) ** 2) - 1.0) * min(rx, ry)
    half, low = _BAND
    d_band = np.maximum(np.maximum(np.abs(u) - half, v - low), cy - v)
    inside = np.clip(1.0 - np.minimum(d_head, d_band) / _FADE, 0.0, 1.0)
    edge = np.minimum(np.minimum(x, w - 1 - x), np.minimum(y, h - 1 - y))
    feather = np.clip(edge / max(border, 1e-6), 0.0, 1.0)
    return (inside * feather).astype(np.float32)


def _colour_gate(p: np.ndarray, crown: np.ndarray, crop: np.ndarray) -> np.ndarray:
    """Outside the crown, keep hair whose colour is like the hair on the crown.

    The crown's confident hair (``p >= 0.5``) gives a mean and covariance in 8-bit Lab
    (regularised); a pixel outside it keeps its probability up to a Mahalanobis distance of
    3, falling to 0 at 5. Curtains, paintings, fur collars and hedges next to a head are
    mostly a different colour from its hair. Fewer than 30 crown hair pixels (bald, hat): no gate.
    """
    import cv2

    sel = (crown >= 0.5) & (p >= 0.5)
    if np.count_nonzero(sel) < 30:
        return p
    lab = cv2.cvtColor(crop, cv2.COLOR_BGR2Lab).astype(np.float32)
    x = lab[sel]
    mu = x.mean(0)
    cov = np.cov(x, rowvar=False) + np.diag([40.0, 9.0, 9.0])
    d = lab.reshape(-1, 3) - mu
    m2 = np.einsum("ij,jk,ik->i", d, np.linalg.inv(cov), d).reshape(p.shape)
    w = np.clip(1.0 - (np.sqrt(np.maximum(m2, 0)) - 3.0) / 2.0, 0.0, 1.0)
    return (p * (crown + (1.0 - crown) * w)).astype(np.float32)


def _connected(p: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """Keep hair connected to the head: ``p`` inside ``seed``, and outside it only the parts of
    ``p >= 0.5`` (grown by a few pixels, softly) that touch the seed zone. Hanging hair is
    joined to the hair on the head; a shirt, a wall or a neighbour's head is not."""
    import cv2

    hard = (p >= 0.5).astype(np.uint8)
    n, labels = cv2.connectedComponents(hard, connectivity=8)
    if n <= 1:
        return (p * seed).astype(np.float32)
    touching = np.unique(labels[(seed >= 0.5) & (hard > 0)])
    keep = np.isin(labels, touching[touching > 0]).astype(np.uint8)
    grown = cv2.dilate(keep, np.ones((7, 7), np.uint8))
    soft = cv2.GaussianBlur(grown.astype(np.float32), (7, 7), 0)
    return (p * np.maximum(soft, seed)).astype(np.float32)


def _shift(M: np.ndarray, dx: float, dy: float) -> np.ndarray:
    out = M.copy()
    out[0, 2] += dx
    out[1, 2] += dy
    return out


class HairRecolor:
    """Hair probability maps and the hair-recolour effect.

    Parameters
    ----------
    model : {"dense", "parsing", "patch", "default"} or path
        The shipped dense segmenter (``"dense"``, the default: fast), the BiSeNet face parser's
        hair class (``"parsing"``: more accurate on portraits and fewer leaks, not on long-hair
        close-ups: docs/accuracy.md; the zoo's ``"bisenet_parsing"``, fetched once with ``facecore models fetch
        bisenet_parsing``, non-commercial research terms; about 0.8 s of one CPU core per face
        against the dense model's 10 ms), the shipped patch classifier
        (``"patch"``, the seeds' sliding-window method), or a path to an ONNX file with the
        dense or patch model's I/O (see :mod:`facecore.models.hair`). Every model goes
        through the same person regions, prior and gates.
    detect : bool
        Find faces and segment one head crop per face (default); a photo with no face is left
        unchanged. False: whole-image mode (one letterboxed crop of the whole image).
    detector : str or path
        Detector model for the head crops (default the zoo's ``"yunet"``). If the default
        detector is not installed (it comes with ``facecore[models]``), the effect runs on the
        whole image and ``detector_missing`` says why; an explicitly named one must exist.
    det_threshold : float
        Detector score threshold in [0, 1] (default 0.7, as :class:`facecore.FaceAnalyzer`).
    det_max_side : int or None
        Detect on a copy whose longer side is at most this (default 640: head crops need no
        more; ``None`` detects at full resolution).
    max_faces : int
        Segment at most this many faces (largest first; default 8).
    head_scale : float
        Crop size relative to the training framing (> 1 takes in more hair; default 1.15).
    crop : int or None
        Head-crop side at the model's pixel scale; the person region is 2.5 x 2 of it (default:
        128 for the shipped models, 448 for ``"parsing"``). Dense: a multiple of 32; parsing: of 64.
    stride : int
        Patch model only: window stride in pixels (1 = every pixel, as the seeds; default 4).
    batch_size : int or None
        Patch model only: windows per model call (default: the kernel's).
    power, kernel, iterations
        :func:`facecore.kernels.refine_map` settings used by :meth:`refine` and :meth:`apply`
        (defaults 2, ``"lbp3"``, 1: the seeds' refinement; ``power`` defaults to 1, no
        sharpening, for ``"parsing"``, whose soft edges the sharpening turns into a halo:
        measured on val, see docs/accuracy.md).
    smoothing : float
        Video only: weight of the new frame's map in the moving average, in (0, 1]
        (1 = no smoothing; default 0.6).
    region : callable, optional
        ``region(image) -> (H, W) float32`` in [0, 1]: where people are (a person or portrait
        segmentation, face parsing...). The hair map is multiplied by it, so nothing outside it
        is recoloured. Default: the face-geometry prior alone.
    providers, device, threads
        onnxruntime settings for both models (see :func:`facecore.models.session.make_session`).

    Examples
    --------
    >>> import facecore as fc
    >>> from importlib.resources import files
    >>> from facecore.hair import HairRecolor
    >>> image = fc.read_image(files("facecore") / "data" / "astronaut.jpg")
    >>> hr = HairRecolor("dense")  # doctest: +MODELS
    >>> out = hr.apply(image, "#7b3f00", strength=0.8)
    >>> out.shape == image.shape, bool((out != image).any())
    (True, True)
    """

    def __init__(
        self,
        model: str | os.PathLike[str] = "dense",
        *,
        detect: bool = True,
        detector: str | os.PathLike[str] = "yunet",
        det_threshold: float = DET_THRESHOLD,
        det_max_side: int | None = 640,
        max_faces: int = 8,
        head_scale: float = 1.15,
        crop: int | None = None,
        stride: int = 4,
        batch_size: int | None = None,
        power: float | None = None,
        kernel: str | np.ndarray = "lbp3",
        iterations: int = 1,
        smoothing: float = 0.6,
        region: Callable[[np.ndarray], np.ndarray] | None = None,
        providers: Any = None,
        device: str = "cpu",
        threads: int | None = None,
    ) -> None:
        from .models.hair import (
            HairPatchClassifier,
            HairSegmenter,
            ParsingHairSegmenter,
            open_hair_model,
        )

        if not isinstance(model, (str, os.PathLike)):
            raise TypeError(
                f"model: expected 'dense', 'patch' or a path; got {type(model).__name__}"
            )
        self.detect = as_bool(detect, "detect")
        self.det_threshold = as_float(det_threshold, "det_threshold", minimum=0.0, maximum=1.0)
        self.max_faces = as_int(max_faces, "max_faces", minimum=1)
        self.det_max_side = (
            None if det_max_side is None else as_int(det_max_side, "det_max_side", minimum=32)
        )
        self.head_scale = as_float(head_scale, "head_scale", minimum=0.25, maximum=4.0)
        self.stride = as_int(stride, "stride", minimum=1)
        self.batch_size = (
            None if batch_size is None else as_int(batch_size, "batch_size", minimum=1)
        )
        self.smoothing = as_float(smoothing, "smoothing", minimum=0.0, maximum=1.0)
        if self.smoothing == 0:
            raise ValueError("smoothing: must be > 0 (1 = no smoothing)")
        if region is not None and not callable(region):
            raise TypeError(
                f"region: expected a callable image -> (H, W) map or None; got {type(region).__name__}"
            )
        self.region = region
        if power is not None:
            power = as_float(power, "power")
            if power <= 0:
                raise ValueError(f"power: must be > 0; got {power}")
        kernels.refine_map(np.zeros((3, 3), np.float32), kernel=kernel)  # validates kernel
        self.kernel = kernel
        self.iterations = as_int(iterations, "iterations", minimum=0)
        self.model: HairSegmenter | HairPatchClassifier | ParsingHairSegmenter
        if isinstance(model, str) and model in ("parsing", "bisenet_parsing"):
            self.model = ParsingHairSegmenter(providers=providers, device=device, threads=threads)
            self.method = "parsing"
            default = _PARSING_CROP
        else:
            name = _MODELS.get(model, model) if isinstance(model, str) else model
            self.model = open_hair_model(name, providers=providers, device=device, threads=threads)
            self.method = "patch" if isinstance(self.model, HairPatchClassifier) else "dense"
            default = 128 if isinstance(self.model, HairPatchClassifier) else self.model.shape[0]
        self.crop = default if crop is None else as_int(crop, "crop", minimum=32, maximum=1024)
        if self.method == "dense" and self.crop % 32:
            raise ValueError(f"crop: the dense model needs a multiple of 32; got {self.crop}")
        if self.method == "parsing" and self.crop % 64:
            raise ValueError(f"crop: the parsing model needs a multiple of 64; got {self.crop}")
        # the parser's softmax is already a calibrated, soft map: sharpening it grows a halo
        self.power = (1.0 if self.method == "parsing" else 2.0) if power is None else power
        self._detector = None
        self._prior: np.ndarray | None = None
        self._seed: np.ndarray | None = None
        self._crown: np.ndarray | None = None
        self.last_video_note: str | None = None
        self.detector_missing: str | None = None
        if self.detect:
            from . import models as _models
            from .errors import ModelNotFoundError

            try:
                self._detector = _models.load(
                    detector,
                    kind="detector",
                    providers=providers,
                    device=device,
                    threads=threads,
                    score_threshold=self.det_threshold,
                    max_side=self.det_max_side,
                )
            except ModelNotFoundError as exc:
                # The hair models ship in the wheel, the detector does not (facecore[models]):
                # without it the effect still works, on the whole image. A detector the caller
                # named explicitly must exist.
                if detector != "yunet":
                    raise
                self.detector_missing = str(exc).splitlines()[0].removesuffix(" Searched:")
                # info, not warning: the CLI prints its own note (said once), and Python callers
                # have ``detector_missing``
                logger.info(
                    "hair: %s; segmenting whole images (%s for per-face head crops)",
                    self.detector_missing,
                    _models.zoo.install_hint(),
                )

    def __repr__(self) -> str:
        return (
            f"HairRecolor(model={self.method!r}, crop={self.crop}, detect={self.detect}, "
            f"stride={self.stride}, power={self.power}, kernel={self.kernel!r}, iterations={self.iterations})"
        )

    # -- maps -----------------------------------------------------------------------------

    @property
    def region_shape(self) -> tuple[int, int]:
        """(height, width) of the per-face person region the model sees (2 x 2.5 head crops)."""
        x0, y0, x1, y1 = _REGION
        return round((y1 - y0) * self.crop), round((x1 - x0) * self.crop)

    def matrices(self, image: np.ndarray) -> np.ndarray:
        """Forward ``(N, 2, 3)`` matrices of the crops :meth:`probability` segments.

        One person region per detected face (largest first, at most ``max_faces``; shape
        :attr:`region_shape`), none when no face is found, or one ``crop``-square letterbox of
        the whole image when ``detect=False`` (or the detector is missing).
        """
        image = as_bgr(image, "image")
        if self._detector is None:
            return letterbox_matrix(image.shape, self.crop)[None]
        det = self._detector.detect(image)
        if not len(det):
            return np.zeros((0, 2, 3))
        order = np.argsort(-(det.boxes[:, 2] * det.boxes[:, 3]))[: self.max_faces]
        x0, y0 = -_REGION[0] * self.crop, -_REGION[1] * self.crop
        return np.stack(
            [
                _shift(head_matrix(det.landmarks[i], self.crop, scale=self.head_scale), x0, y0)
                for i in order
            ]
        )

    def prior(self) -> np.ndarray:
        """The person prior over one region (:func:`person_prior` at this framing), cached."""
        if self._prior is None:
            x0, y0 = -_REGION[0] * self.crop, -_REGION[1] * self.crop
            centre = ((self.crop - 1) / 2 + x0, _CENTRE_Y * self.crop + y0)
            unit = _EM_FRACTION * self.crop / self.head_scale
            self._prior = person_prior(
                self.region_shape, centre, unit, border=max(4.0, self.crop / 16)
            )
        return self._prior

    def crown_zone(self) -> np.ndarray:
        """Region pixels on the crown, right above the face (``_CROWN``): the hair colour sample."""
        if self._crown is None:
            self._crown = self._ellipse(_CROWN, 0.3)
        return self._crown

    def _ellipse(self, spec: tuple[float, float, float], fade: float) -> np.ndarray:
        x0, y0 = -_REGION[0] * self.crop, -_REGION[1] * self.crop
        cx, cy = (self.crop - 1) / 2 + x0, _CENTRE_Y * self.crop + y0
        unit = _EM_FRACTION * self.crop / self.head_scale
        h, w = self.region_shape
        y, x = np.mgrid[0:h, 0:w]
        u, v = (x - cx) / unit, (y - cy) / unit
        ecy, rx, ry = spec
        # 1 inside, falling to 0 over `fade` face units outside (no edge of its own)
        d = (np.sqrt((u / rx) ** 2 + ((v - ecy) / ry) ** 2) - 1.0) * min(rx, ry)
        return np.clip(1.0 - d / fade, 0.0, 1.0).astype(np.float32)

    def seed_zone(self) -> np.ndarray:
        """Region pixels where hair certainly belongs to the face (``_SEED``: the top and sides of the head)."""
        if self._seed is None:
            self._seed = self._ellipse(_SEED, 0.5)
        return self._seed

    def region_maps(self, image: np.ndarray, matrices: np.ndarray) -> np.ndarray:
        """Each face's hair map over its person region, before the paste-back: ``(N, h, w)``.

        The model's map times :meth:`prior`, gated by colour (like the hair on the crown)
        and by connection (joined to the hair in the seed zone); 0 on the region's border.
        """
        crops = self.crop_probability(image, matrices, self.region_shape) * self.prior()
        seed, crown = self.seed_zone(), self.crown_zone()
        pix = kernels.warp_crops(image, matrices, self.region_shape)
        return np.stack([_connected(_colour_gate(c, crown, px), seed) for c, px in zip(crops, pix)])

    def crop_probability(
        self, image: np.ndarray, matrices: np.ndarray, shape: int | tuple[int, int] | None = None
    ) -> np.ndarray:
        """Hair probability of each crop: ``(N, h, w)`` float32, crop ``i`` = ``warp(image, matrices[i], shape)``.

        ``shape`` defaults to ``crop`` (square); :meth:`probability` passes :attr:`region_shape`.
        """
        from .models.hair import HairPatchClassifier

        spec = self.model.spec
        if shape is None:
            S = (self.crop, self.crop)
        elif isinstance(shape, int):
            S = (shape, shape)
        else:
            S = (int(shape[0]), int(shape[1]))
        if self.method == "parsing":  # per face: only the part of the region the image covers
            return np.stack([self._parse_region(image, M, S) for M in matrices])
        if not isinstance(self.model, HairPatchClassifier):  # the dense segmenter
            x = kernels.warp_crops(
                image, matrices, S, tensor=True, mean=spec.mean, std=spec.std, swap_rb=spec.swap_rb
            )
            return self.model(x)
        w = self.model.window
        r = w // 2
        out = np.empty((len(matrices), *S), np.float32)
        for i, M in enumerate(matrices):
            # a margin of r pixels so every crop pixel is a window centre (or between two)
            padded = kernels.warp_crops(image, _shift(M, r, r)[None], (S[0] + 2 * r, S[1] + 2 * r))[
                0
            ]
            p = self.patch_map(padded)
            out[i] = p[r : r + S[0], r : r + S[1]]
        return out

    def _parse_region(self, image: np.ndarray, M: np.ndarray, S: tuple[int, int]) -> np.ndarray:
        """The parser's hair probability over one ``S`` crop, run only on the rectangle (sides
        multiples of 32) that covers the image's footprint in it; 0 elsewhere (outside the
        image the crop is the warp's black border, never hair). A person region is mostly
        outside a small photo such as LFW's, so this saves most of the parser's cost there."""
        H, W = image.shape[:2]
        corners = np.array(
            [[-0.5, -0.5, 1], [W - 0.5, -0.5, 1], [-0.5, H - 0.5, 1], [W - 0.5, H - 0.5, 1]]
        )
        pts = corners @ np.asarray(M, np.float64).T
        h, w = S
        x0 = int(np.clip(np.floor(pts[:, 0].min()), 0, w))
        y0 = int(np.clip(np.floor(pts[:, 1].min()), 0, h))
        x1 = int(np.clip(np.ceil(pts[:, 0].max()) + 1, 0, w))
        y1 = int(np.clip(np.ceil(pts[:, 1].max()) + 1, 0, h))
        out = np.zeros(S, np.float32)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return out
        cw, ch = min(w, -(-(x1 - x0) // 32) * 32), min(h, -(-(y1 - y0) // 32) * 32)
        x0, y0 = min(x0, w - cw), min(y0, h - ch)
        spec = self.model.spec
        x = kernels.warp_crops(
            image,
            _shift(M, -x0, -y0)[None],
            (ch, cw),
            tensor=True,
            mean=spec.mean,
            std=spec.std,
            swap_rb=spec.swap_rb,
        )
        out[y0 : y0 + ch, x0 : x0 + cw] = self.model(x)[0]
        return out

    def patch_map(self, image: np.ndarray, *, stride: int | None = None) -> np.ndarray:
        """The patch classifier over every window of ``image`` at ``stride`` (default ``self.stride``).

        :func:`facecore.kernels.probability_map` with ``reduce="centre"`` (each score is its
        window's centre pixel's, interpolated between centres).

        Returns
        -------
        (H, W) float32 ndarray
        """
        from .models.hair import HairPatchClassifier

        if not isinstance(self.model, HairPatchClassifier):
            raise ValueError("model: patch_map needs the patch model (HairRecolor('patch'))")
        s = self.stride if stride is None else as_int(stride, "stride", minimum=1)
        spec = self.model.spec
        return kernels.probability_map(
            image,
            self.model,
            self.model.window,
            stride=s,
            batch_size=self.batch_size,
            reduce="centre",
            mean=spec.mean,
            std=spec.std,
            swap_rb=spec.swap_rb,
        )

    def probability(self, image: np.ndarray, *, region: np.ndarray | None = None) -> np.ndarray:
        """Per-pixel hair probability of a BGR image (unrefined).

        Parameters
        ----------
        image : (H, W, 3) uint8 ndarray
            BGR.
        region : (H, W) float32 ndarray, optional
            Where people are, in [0, 1] (overrides the instance's ``region`` callable); the map
            is multiplied by it.

        Returns
        -------
        (H, W) float32 ndarray in [0, 1]
            Each face's person region, times the person prior, pasted back with the inverse
            warp and merged by max: 0 far from every face, and 0 everywhere when no face is
            found. With ``detect=False``: the whole image, letterboxed into one crop.

        Raises
        ------
        TypeError, ValueError
            If ``image`` is not a uint8 (H, W, 3) array, or ``region`` not a matching map.
        """
        image = as_bgr(image, "image")
        H, W = image.shape[:2]
        if region is not None:
            region = as_map(region, "region")
            if region.shape != (H, W):
                raise ValueError(f"region: expected shape {(H, W)}; got {region.shape}")
        mats = self.matrices(image)
        out = np.zeros((H, W), np.float32)
        if len(mats):
            if self._detector is None:  # the whole image, asked for
                crops = self.crop_probability(image, mats)
            else:
                crops = self.region_maps(image, mats)
            for M, p in zip(mats, crops):
                np.maximum(
                    out,
                    kernels.warp_affine(np.ascontiguousarray(p), M, (H, W), inverse=True),
                    out=out,
                )
        if region is None and self.region is not None and len(mats):
            region = as_map(np.asarray(self.region(image), np.float32), "region")
            if region.shape != (H, W):
                raise ValueError(
                    f"region: the callable returned shape {region.shape}; expected {(H, W)}"
                )
        if region is not None:
            np.multiply(out, np.clip(region, 0.0, 1.0), out=out)
        return out

    def refine(
        self,
        p: np.ndarray,
        *,
        power: float | None = None,
        kernel: str | np.ndarray | None = None,
        iterations: int | None = None,
    ) -> np.ndarray:
        """Refine a map with :func:`facecore.kernels.refine_map` (the instance's settings by default).

        Parameters
        ----------
        p : (H, W) float32 ndarray
        power, kernel, iterations
            Override the instance's settings for this call.

        Returns
        -------
        (H, W) float32 ndarray in [0, 1]
            For ``model="parsing"`` the refined map is then stretched about 0.5,
            ``clip(2 a - 0.5, 0, 1)``: the parser's hair probability sits near 0.7 inside
            the hair at the region's scale, which would blend only 70 % of the colour, and
            its soft edge would tint the background; the 0.5 level (the hard mask) is kept.
        """
        p = as_map(p, "p")
        a = kernels.refine_map(
            p,
            power=self.power if power is None else power,
            kernel=self.kernel if kernel is None else kernel,
            iterations=self.iterations if iterations is None else iterations,
        )
        if self.method == "parsing":
            a = soften(a, _PARSING_STRETCH)
        return a

    def mask(self, image: np.ndarray, *, region: np.ndarray | None = None) -> np.ndarray:
        """The refined hair map :meth:`apply` blends with: ``refine(probability(image, region=region))``."""
        return self.refine(self.probability(image, region=region))

    # -- the effect -----------------------------------------------------------------------

    def apply(
        self,
        image: np.ndarray,
        color: Any = RECOLOR_COLOR,
        *,
        strength: float = RECOLOR_STRENGTH,
        mode: str = "transfer",
        softness: float = 1.0,
        alpha: np.ndarray | None = None,
        region: np.ndarray | None = None,
        source: tuple[float, float] | None = None,
    ) -> np.ndarray:
        """Recolour the hair of a BGR image, keeping its texture.

        Parameters
        ----------
        image : uint8 ndarray (H, W), (H, W, 1), (H, W, 3) or (H, W, 4)
            BGR (grey becomes BGR; BGRA keeps its alpha channel in the result); not modified.
        color : str or (b, g, r)
            Anything :func:`facecore._validate.as_color` takes: a name, ``"#rrggbb"``,
            ``"#rgb"``, ``"rgb(r, g, b)"`` or a BGR tuple.
        strength : float
            0 .. 1: how far the hair's colour moves to ``color`` (default 1, as the CLI).
        mode : {"transfer", "natural", "lab", "hsv"}
            ``"transfer"`` (default): the hair takes the target's colour, lighter or darker as
            needed, its texture from the luminance detail; ``"natural"``: lightness moved
            halfway and highlights kept; ``"lab"``: keep L and move a/b; ``"hsv"``: keep V and
            move H/S. See :func:`facecore.kernels.recolor`.
        softness : float
            0 .. 1: the edge of the effect. 1 (default) blends by the refined map as it is;
            smaller values steepen it around 0.5 (``a' = clip((a - 0.5) / softness + 0.5)``),
            0.05 is nearly a hard mask.
        alpha : (H, W) float32 ndarray, optional
            A precomputed map (e.g. from :meth:`mask`); computed when omitted.
        region : (H, W) float32 ndarray, optional
            Where people are (see :meth:`probability`); only used when ``alpha`` is omitted.
        source : (mean L, std L), optional
            The hair's lightness statistics for ``transfer``/``natural`` (measured when omitted).

        Returns
        -------
        (H, W, 3) uint8 ndarray, or (H, W, 4) for BGRA input
            ``(1 - a) * image + a * recoloured``; pixels where ``a == 0`` are unchanged, and
            so is a photo in which the detector finds no face.

        Raises
        ------
        TypeError, ValueError
            Naming the bad argument (``image``, ``color``, ``strength``, ``mode``, ``softness``,
            ``alpha``, ``region``).

        Examples
        --------
        >>> import numpy as np, facecore as fc  # doctest: +SKIP
        >>> hr = fc.HairRecolor()  # doctest: +SKIP
        >>> out = hr.apply(fc.read_image("me.jpg"), "blue", strength=0.9)  # doctest: +SKIP
        """
        raw = as_image(image, "image", channels=(1, 3, 4), gray=True)
        image = as_bgr(raw, "image")
        color = as_color(color, "color")
        strength = as_float(strength, "strength", minimum=0.0, maximum=1.0)
        as_choice(mode, "mode", _MODES)
        softness = as_float(softness, "softness", minimum=0.0, maximum=1.0)
        a = self.mask(image, region=region) if alpha is None else alpha
        a = soften(a, softness)
        out = kernels.recolor(image, a, color, mode=mode, strength=strength, source=source)
        if raw.ndim == 3 and raw.shape[2] == 4:  # BGRA in, BGRA out: the alpha channel is kept
            out = np.concatenate([out, raw[:, :, 3:]], axis=2)
        return out

    def apply_video(
        self,
        src: str | os.PathLike[str],
        dst: str | os.PathLike[str],
        color: Any = RECOLOR_COLOR,
        *,
        strength: float = RECOLOR_STRENGTH,
        mode: str = "transfer",
        softness: float = 1.0,
        progress: bool = True,
        audio: bool = True,
        on_frame: Callable[[int, np.ndarray, np.ndarray], None] | None = None,
    ) -> int:
        """Recolour every frame of a video, smoothed over time so the hair does not flicker.

        Each frame is segmented as :meth:`probability` does; the map and the hair's colour
        statistics are exponential moving averages over frames (weight ``smoothing`` for the
        new frame), so a still subject gives a steady mask and a moving one lags by about
        ``1 / smoothing - 1`` frames at an edge.

        Parameters
        ----------
        src, dst : path
            Input video and output video (``.mp4`` written with the ``mp4v`` codec, others with
            ``MJPG``); ``dst`` must differ from ``src``.
        color, strength, mode, softness
            As :meth:`apply`.
        progress : bool
            Show a tqdm progress bar.
        audio : bool
            Copy the input's audio track into ``dst`` with ``ffmpeg`` when it is on PATH (the
            video stream is copied as written, not re-encoded). Without ffmpeg the audio is
            dropped and ``self.last_video_note`` says so (the CLI prints it).
        on_frame : callable, optional
            Called as ``on_frame(index, frame, alpha)`` for each frame.

        Returns
        -------
        int
            Frames written.
        """
        import cv2

        from .io import VideoOut, iter_frames

        s, d = Path(os.fspath(src)), Path(os.fspath(dst))
        if s.resolve() == d.resolve():
            raise ValueError("dst: must not be the input video (inputs are never overwritten)")
        color = _hex(as_color(color, "color"))
        strength = as_float(strength, "strength", minimum=0.0, maximum=1.0)
        as_choice(mode, "mode", _MODES)
        softness = as_float(softness, "softness", minimum=0.0, maximum=1.0)
        cap = cv2.VideoCapture(os.fspath(s))
        fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
        total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None
        cap.release()
        bar = None
        if progress:
            try:
                from tqdm import tqdm

                bar = tqdm(total=total, unit="frame", desc=s.name)
            except ImportError:  # pragma: no cover
                bar = None
        ema: np.ndarray | None = None
        stats: np.ndarray | None = None
        try:
            with VideoOut(d, fps, audio_from=s if audio else None) as vo:
                for i, frame in iter_frames(s):
                    p = self.probability(frame)
                    ema = (
                        p
                        if ema is None or ema.shape != p.shape
                        else self.smoothing * p + (1 - self.smoothing) * ema
                    )
                    a = soften(self.refine(np.ascontiguousarray(ema, np.float32)), softness)
                    source = None
                    if mode in ("transfer", "natural"):
                        w, m, sd = kernels.lab_stats(frame, a)
                        if w > 0:
                            cur = np.array([m, sd])
                            stats = (
                                cur
                                if stats is None
                                else self.smoothing * cur + (1 - self.smoothing) * stats
                            )
                        source = None if stats is None else (float(stats[0]), float(stats[1]))
                    vo.write(
                        kernels.recolor(
                            frame, a, color, mode=mode, strength=strength, source=source
                        )
                    )
                    if on_frame is not None:
                        on_frame(i, frame, a)
                    if bar is not None:
                        bar.update(1)
        finally:
            if bar is not None:
                bar.close()
        n = vo.frames
        if n:
            self.last_video_note = (
                f"audio {vo.audio}" if audio else "audio not copied (audio=False)"
            )
        return n


_MODES = ("transfer", "natural", "lab", "hsv")


def soften(alpha: np.ndarray, softness: float) -> np.ndarray:
    """Steepen a map around 0.5: ``clip((a - 0.5) / softness + 0.5, 0, 1)`` (1: the map as it is)."""
    if softness >= 1.0:
        return alpha
    a = np.asarray(alpha, np.float32)
    return np.clip((a - 0.5) / max(softness, 1e-3) + 0.5, 0.0, 1.0).astype(np.float32)
