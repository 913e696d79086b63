"""The hair-recolour effect: a hair probability map, refined, drives a texture-keeping recolour.

Pipeline for one image (every pixel step is a facecore kernel)::

    YuNet faces -> one head crop per face (warp_crops, widened to take in the hair)
      -> hair model (dense: one pass per crop; patch: probability_map over windows at a stride)
      -> paste each crop map back (warp_affine(inverse=True)) -> merge faces by max
      -> refine_map (sharpen p -> 1-(1-p)^power, then the 3x3 "LBP" kernel)
      -> recolor (Lab or HSV, fused with the blend out = (1-a)*image + a*recoloured)

With no face found (or ``detect=False``), the whole image is letterboxed into one crop.
Video (:meth:`HairRecolor.apply_video`) runs frame by frame with the map smoothed over
time (an exponential moving average), so it does not flicker; the audio track is not kept.

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
from ._validate import as_bool, as_choice, as_color, as_float, as_image, as_int, as_map

__all__ = ["HairRecolor", "head_matrix", "letterbox_matrix"]

logger = logging.getLogger(__name__)

_MODELS = {"dense": "hair_dense", "patch": "hair_patch", "default": "hair_dense"}

#: Head-crop framing measured on the training images with YuNet: the eye-to-mouth distance is
#: about 0.25 (CelebA-HQ) and 0.18 (LFW) of the image side, the point halfway between the eye
#: centre and the mouth centre sits on the vertical midline at 0.60 / 0.55 of the height.
_EM_FRACTION = 0.21
_CENTRE_Y = 0.57


def head_matrix(landmarks: np.ndarray, shape: int | tuple[int, int], *, scale: float = 1.0) -> np.ndarray:
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
    return np.array([[s, 0, (shape - s * W) / 2 + 0.5 * s - 0.5], [0, s, (shape - s * H) / 2 + 0.5 * s - 0.5]])


def _shift(M: np.ndarray, dx: float, dy: float) -> np.ndarray:
    out = M.copy()
    out[0, 2] += dx
    out[1, 2] += dy
    return out


class HairRecolor:
    """Hair probability maps and the hair-recolour effect.

    Parameters
    ----------
    model : {"dense", "patch", "default"} or path
        The shipped dense segmenter (``"dense"``, the default: faster and better), the shipped
        patch classifier (``"patch"``, the seeds' sliding-window method), or a path to an ONNX
        file with either's I/O (see :mod:`facecore.models.hair`).
    detect : bool
        Find faces and segment one head crop per face (default). False: whole image only.
    detector : str or path
        Detector model for the head crops (default the zoo's ``"yunet"``). If the default
        detector is not installed (it comes with ``facecore[models]``), the effect runs on the
        whole image and ``detector_missing`` says why; an explicitly named one must exist.
    det_threshold : float
        Detector score threshold in [0, 1] (default 0.6).
    det_max_side : int or None
        Detect on a copy whose longer side is at most this (default 640: head crops need no
        more; ``None`` detects at full resolution).
    max_faces : int
        Segment at most this many faces (largest first; default 8).
    head_scale : float
        Crop size relative to the training framing (> 1 takes in more hair; default 1.15).
    crop : int or None
        Model input side (default: the model's own, 128). Dense: a multiple of 32.
    stride : int
        Patch model only: window stride in pixels (1 = every pixel, as the seeds; default 4).
    batch_size : int or None
        Patch model only: windows per model call (default: the kernel's).
    power, kernel, iterations
        :func:`facecore.kernels.refine_map` settings used by :meth:`refine` and :meth:`apply`
        (defaults 2, ``"lbp3"``, 1: the seeds' refinement).
    smoothing : float
        Video only: weight of the new frame's map in the moving average, in (0, 1]
        (1 = no smoothing; default 0.6).
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
        det_threshold: float = 0.6,
        det_max_side: int | None = 640,
        max_faces: int = 8,
        head_scale: float = 1.15,
        crop: int | None = None,
        stride: int = 4,
        batch_size: int | None = None,
        power: float = 2.0,
        kernel: str | np.ndarray = "lbp3",
        iterations: int = 1,
        smoothing: float = 0.6,
        providers: Any = None,
        device: str = "cpu",
        threads: int | None = None,
    ) -> None:
        from .models.hair import HairPatchClassifier, open_hair_model  # noqa: PLC0415

        if not isinstance(model, (str, os.PathLike)):
            raise TypeError(f"model: expected 'dense', 'patch' or a path; got {type(model).__name__}")
        self.detect = as_bool(detect, "detect")
        self.det_threshold = as_float(det_threshold, "det_threshold", minimum=0.0, maximum=1.0)
        self.max_faces = as_int(max_faces, "max_faces", minimum=1)
        self.det_max_side = None if det_max_side is None else as_int(det_max_side, "det_max_side", minimum=32)
        self.head_scale = as_float(head_scale, "head_scale", minimum=0.25, maximum=4.0)
        self.stride = as_int(stride, "stride", minimum=1)
        self.batch_size = None if batch_size is None else as_int(batch_size, "batch_size", minimum=1)
        self.smoothing = as_float(smoothing, "smoothing", minimum=0.0, maximum=1.0)
        if self.smoothing == 0:
            raise ValueError("smoothing: must be > 0 (1 = no smoothing)")
        self.power = as_float(power, "power")
        if self.power <= 0:
            raise ValueError(f"power: must be > 0; got {self.power}")
        kernels.refine_map(np.zeros((3, 3), np.float32), kernel=kernel)  # validates kernel
        self.kernel = kernel
        self.iterations = as_int(iterations, "iterations", minimum=0)
        name = _MODELS.get(os.fspath(model), os.fspath(model)) if isinstance(model, str) else model
        self.model = open_hair_model(name, providers=providers, device=device, threads=threads)
        self.method = "patch" if isinstance(self.model, HairPatchClassifier) else "dense"
        default = self.model.shape[0] if self.method == "dense" else 128
        self.crop = default if crop is None else as_int(crop, "crop", minimum=32, maximum=1024)
        if self.method == "dense" and self.crop % 32:
            raise ValueError(f"crop: the dense model needs a multiple of 32; got {self.crop}")
        self._detector = None
        self.detector_missing: str | None = None
        if self.detect:
            from . import models as _models  # noqa: PLC0415
            from .errors import ModelNotFoundError  # noqa: PLC0415

            try:
                self._detector = _models.load(detector, kind="detector", providers=providers, device=device,
                                              threads=threads, score_threshold=self.det_threshold,
                                              max_side=self.det_max_side)
            except ModelNotFoundError as exc:
                # The hair models ship in the wheel, the detector does not (facecore[models]):
                # without it the effect still works, on the whole image. A detector the caller
                # named explicitly must exist.
                if detector != "yunet":
                    raise
                self.detector_missing = str(exc).splitlines()[0].removesuffix(" Searched:")
                logger.warning("hair: %s; segmenting whole images (pip install \"facecore[models]\" "
                               "for per-face head crops)", self.detector_missing)

    def __repr__(self) -> str:
        return (f"HairRecolor(model={self.method!r}, crop={self.crop}, detect={self.detect}, "
                f"stride={self.stride}, power={self.power}, kernel={self.kernel!r}, iterations={self.iterations})")

    # -- maps -----------------------------------------------------------------------------

    def matrices(self, image: np.ndarray) -> np.ndarray:
        """Forward ``(N, 2, 3)`` matrices of the crops :meth:`probability` segments.

        One head crop per detected face (largest first, at most ``max_faces``), or one
        letterbox of the whole image when no face is found or ``detect=False``.
        """
        image = as_image(image, "image", channels=(3,), gray=False)
        mats = []
        if self._detector is not None:
            det = self._detector.detect(image)
            if len(det):
                order = np.argsort(-(det.boxes[:, 2] * det.boxes[:, 3]))[: self.max_faces]
                mats = [head_matrix(det.landmarks[i], self.crop, scale=self.head_scale) for i in order]
        if not mats:
            mats = [letterbox_matrix(image.shape, self.crop)]
        return np.stack(mats)

    def crop_probability(self, image: np.ndarray, matrices: np.ndarray) -> np.ndarray:
        """Hair probability of each crop: ``(N, crop, crop)`` float32, crop ``i`` = ``warp(image, matrices[i])``."""
        spec = self.model.spec
        S = self.crop
        if self.method == "dense":
            x = kernels.warp_crops(image, matrices, S, tensor=True, mean=spec.mean, std=spec.std,
                                   swap_rb=spec.swap_rb)
            return self.model(x)
        w = self.model.window
        r = w // 2
        out = np.empty((len(matrices), S, S), np.float32)
        for i, M in enumerate(matrices):
            # a margin of r pixels so every crop pixel is a window centre (or between two)
            padded = kernels.warp_crops(image, _shift(M, r, r)[None], S + 2 * r)[0]
            p = self.patch_map(padded)
            out[i] = p[r : r + S, r : r + S]
        return out

    def patch_map(self, image: np.ndarray, *, stride: int | None = None) -> np.ndarray:
        """The patch classifier over every window of ``image`` at ``stride`` (default ``self.stride``).

        :func:`facecore.kernels.probability_map` with ``reduce="centre"`` (each score is its
        window's centre pixel's, interpolated between centres).

        Returns
        -------
        (H, W) float32 ndarray
        """
        from .models.hair import HairPatchClassifier  # noqa: PLC0415

        if not isinstance(self.model, HairPatchClassifier):
            raise ValueError("model: patch_map needs the patch model (HairRecolor('patch'))")
        s = self.stride if stride is None else as_int(stride, "stride", minimum=1)
        spec = self.model.spec
        return kernels.probability_map(image, self.model, self.model.window, stride=s, batch_size=self.batch_size,
                                       reduce="centre", mean=spec.mean, std=spec.std, swap_rb=spec.swap_rb)

    def probability(self, image: np.ndarray) -> np.ndarray:
        """Per-pixel hair probability of a BGR image (unrefined).

        Parameters
        ----------
        image : (H, W, 3) uint8 ndarray
            BGR.

        Returns
        -------
        (H, W) float32 ndarray in [0, 1]
            Each head crop's map pasted back with the inverse warp, merged by max; 0 outside
            every crop.

        Raises
        ------
        TypeError, ValueError
            If ``image`` is not a uint8 (H, W, 3) array.
        """
        image = as_image(image, "image", channels=(3,), gray=False)
        mats = self.matrices(image)
        crops = self.crop_probability(image, mats)
        H, W = image.shape[:2]
        out = np.zeros((H, W), np.float32)
        for M, p in zip(mats, crops):
            np.maximum(out, kernels.warp_affine(p, M, (H, W), inverse=True), out=out)
        return out

    def refine(self, p: np.ndarray, *, power: float | None = None, kernel: str | np.ndarray | None = None,
               iterations: int | None = None) -> np.ndarray:
        """Refine a map with :func:`facecore.kernels.refine_map` (the instance's settings by default).

        Parameters
        ----------
        p : (H, W) float32 ndarray
        power, kernel, iterations
            Override the instance's settings for this call.

        Returns
        -------
        (H, W) float32 ndarray in [0, 1]
        """
        p = as_map(p, "p")
        return kernels.refine_map(
            p,
            power=self.power if power is None else power,
            kernel=self.kernel if kernel is None else kernel,
            iterations=self.iterations if iterations is None else iterations,
        )

    def mask(self, image: np.ndarray) -> np.ndarray:
        """The refined hair map :meth:`apply` blends with: ``refine(probability(image))``."""
        return self.refine(self.probability(image))

    # -- the effect -----------------------------------------------------------------------

    def apply(self, image: np.ndarray, color: str = "#8a2be2", *, strength: float = 1.0, mode: str = "lab",
              alpha: np.ndarray | None = None) -> np.ndarray:
        """Recolour the hair of a BGR image, keeping its lightness texture.

        Parameters
        ----------
        image : (H, W, 3) uint8 ndarray
            BGR; not modified.
        color : str
            A colour name or ``"#rrggbb"``.
        strength : float
            0 .. 1: how far the hair's colour moves to ``color``.
        mode : {"lab", "hsv"}
            Keep L and move a/b (default), or keep V and move H/S.
        alpha : (H, W) float32 ndarray, optional
            A precomputed map (e.g. from :meth:`mask`); computed when omitted.

        Returns
        -------
        (H, W, 3) uint8 ndarray
            ``(1 - a) * image + a * recoloured``; pixels where ``a == 0`` are unchanged.

        Raises
        ------
        TypeError, ValueError
            Naming the bad argument (``image``, ``color``, ``strength``, ``mode``, ``alpha``).
        """
        image = as_image(image, "image", channels=(3,), gray=False)
        as_color(color, "color")
        strength = as_float(strength, "strength", minimum=0.0, maximum=1.0)
        as_choice(mode, "mode", ("lab", "hsv"))
        a = self.mask(image) if alpha is None else alpha
        return kernels.recolor(image, a, color, mode=mode, strength=strength)

    def apply_video(self, src: str | os.PathLike[str], dst: str | os.PathLike[str], color: str, *,
                    strength: float = 1.0, mode: str = "lab", progress: bool = True,
                    on_frame: Callable[[int, np.ndarray, np.ndarray], None] | None = None) -> int:
        """Recolour every frame of a video; the map is an EMA over frames (no flicker). No audio.

        Parameters
        ----------
        src, dst : path
            Input video and output video (``.mp4`` written with the ``mp4v`` codec, others with
            ``MJPG``); ``dst`` must differ from ``src``.
        color, strength, mode
            As :meth:`apply`.
        progress : bool
            Show a tqdm progress bar.
        on_frame : callable, optional
            Called as ``on_frame(index, frame, alpha)`` for each frame.

        Returns
        -------
        int
            Frames written.
        """
        import cv2  # noqa: PLC0415

        from .io import iter_frames  # noqa: PLC0415

        s, d = Path(os.fspath(src)), Path(os.fspath(dst))
        if s.resolve() == d.resolve():
            raise ValueError("dst: must not be the input video (inputs are never overwritten)")
        as_color(color, "color")
        strength = as_float(strength, "strength", minimum=0.0, maximum=1.0)
        as_choice(mode, "mode", ("lab", "hsv"))
        cap = cv2.VideoCapture(os.fspath(s))
        fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
        total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None
        cap.release()
        bar = None
        if progress:
            try:
                from tqdm import tqdm  # noqa: PLC0415

                bar = tqdm(total=total, unit="frame", desc=s.name)
            except ImportError:  # pragma: no cover
                bar = None
        writer = None
        ema: np.ndarray | None = None
        n = 0
        try:
            for i, frame in iter_frames(s):
                p = self.probability(frame)
                ema = p if ema is None or ema.shape != p.shape else self.smoothing * p + (1 - self.smoothing) * ema
                a = self.refine(np.ascontiguousarray(ema, np.float32))
                out = kernels.recolor(frame, a, color, mode=mode, strength=strength)
                if writer is None:
                    d.parent.mkdir(parents=True, exist_ok=True)
                    fourcc = cv2.VideoWriter_fourcc(*("mp4v" if d.suffix.lower() in (".mp4", ".m4v", ".mov") else "MJPG"))
                    writer = cv2.VideoWriter(os.fspath(d), fourcc, fps, (frame.shape[1], frame.shape[0]))
                    if not writer.isOpened():
                        raise ValueError(f"dst: cannot write a video to {d}")
                writer.write(out)
                if on_frame is not None:
                    on_frame(i, frame, a)
                n += 1
                if bar is not None:
                    bar.update(1)
        finally:
            if writer is not None:
                writer.release()
            if bar is not None:
                bar.close()
        return n
