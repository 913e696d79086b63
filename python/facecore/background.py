"""Background replacement for photos and video calls: person alpha, refine, composite.

The pipeline per frame (one frame is one photo):

1. **alpha at low resolution** from a person-segmentation model: ``"fast"`` is MediaPipe's
   selfie segmentation converted to ONNX by facecore (144 x 256 landscape model for wide
   frames, 256 x 256 otherwise); ``"matting"`` is MODNet portrait matting (fetched, see
   docs/background.md);
2. **temporal smoothing** (video only, :class:`BackgroundReplacer`): an exponential moving
   average of the low-resolution alpha whose weight rises to 1 where the frame moved, so a
   still person does not flicker and a moving one leaves no ghost;
3. **edge-aware upsampling** to the frame's size, guided by the frame
   (:func:`facecore.kernels.guided_upsample`, the fast guided filter in the C++ core);
4. **composite** in one pass with :func:`facecore.kernels.blend`:
   ``out = (1 - alpha) * background + alpha * frame``, where the background is another
   image (resized and cropped to fill), a colour, or the frame itself blurred.

Examples
--------
>>> import numpy as np, facecore as fc
>>> from facecore import background
>>> img = fc.read_image(path)                                            # doctest: +SKIP
>>> out = background.replace(img, background="#00ff00")                 # doctest: +SKIP
>>> bgr = BackgroundReplacer(mode="blur", blur=25)                      # doctest: +SKIP
>>> for i, frame in fc.io.iter_frames("call.mp4"): out = bgr.apply(frame)   # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import kernels
from ._defaults import DET_THRESHOLD
from ._validate import as_choice, as_color, as_float, as_image, as_int
from .io import VideoOut, ffmpeg_exe

__all__ = [
    "BackgroundReplacer",
    "Matte",
    "NoPersonError",
    "VideoResult",
    "fast_blur",
    "person_alpha",
    "replace",
    "replace_video",
]

logger = logging.getLogger(__name__)

MODELS = ("fast", "matting")
MODES = ("replace", "blur", "color")


class NoPersonError(ValueError):
    """No person was found in the image (a ``ValueError``)."""


@dataclass(frozen=True, slots=True)
class Matte:
    """A person alpha and what it was computed from.

    Attributes
    ----------
    alpha : (H, W) float32 ndarray in [0, 1]
        Full-resolution person alpha (1 = person).
    low : (h, w) float32 ndarray
        The model's low-resolution alpha (after temporal smoothing for video).
    model : str
        ``"fast"`` or ``"matting"``.
    """

    alpha: np.ndarray
    low: np.ndarray
    model: str

    @property
    def person_fraction(self) -> float:
        """Share of the frame with alpha > 0.5."""
        return float((self.alpha > 0.5).mean())

    def to_dict(self) -> dict[str, Any]:
        return {
            "shape": list(self.alpha.shape),
            "model": self.model,
            "person_fraction": self.person_fraction,
        }


# ------------------------------------------------------------------------------ blur


def fast_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """A large Gaussian-like blur, fast: downscale, Gaussian blur, upscale.

    For ``sigma`` > 4 the image is shrunk by ``f = sigma / 3`` (``cv2.INTER_AREA``), blurred
    with ``sigma / f`` and enlarged back (``cv2.INTER_LINEAR``): a blur of about ``sigma``
    at a cost that does not grow with it. At 1280 x 720 and sigma 25: 5.5 ms of CPU against
    ``cv2.GaussianBlur``'s 97 ms and ``cv2.stackBlur``'s 6.2 ms (one thread; see
    docs/benchmarks.md).

    Parameters
    ----------
    image : (H, W, 3) uint8 ndarray
    sigma : float
        Gaussian standard deviation in pixels (> 0).

    Returns
    -------
    blurred : (H, W, 3) uint8 ndarray

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((64, 64, 3), np.uint8); img[:, 32:] = 255
    >>> out = fast_blur(img, 10)
    >>> out.shape, 60 < int(out[32, 32, 0]) < 200
    ((64, 64, 3), True)
    """
    import cv2

    image = as_image(image, "image", channels=(3,), gray=False)
    sigma = as_float(sigma, "sigma")
    if not sigma > 0:
        raise ValueError(f"sigma: must be > 0; got {sigma}")
    H, W = image.shape[:2]
    f = sigma / 3.0
    if f <= 1.34 or min(H, W) / f < 8:
        return cv2.GaussianBlur(image, (0, 0), sigma, borderType=cv2.BORDER_REFLECT_101)
    sw, sh = max(1, round(W / f)), max(1, round(H / f))
    small = cv2.resize(image, (sw, sh), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma * sw / W, borderType=cv2.BORDER_REFLECT_101)
    return cv2.resize(small, (W, H), interpolation=cv2.INTER_LINEAR)


def _fill(bg: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resize and centre-crop ``bg`` to cover ``shape`` (no distortion)."""
    import cv2

    H, W = shape
    h, w = bg.shape[:2]
    s = max(H / h, W / w)
    nh, nw = max(H, round(h * s)), max(W, round(w * s))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    r = cv2.resize(bg, (nw, nh), interpolation=interp) if (nh, nw) != (h, w) else bg
    y0, x0 = (nh - H) // 2, (nw - W) // 2
    return np.ascontiguousarray(r[y0 : y0 + H, x0 : x0 + W])


def _as_background(background: object) -> tuple[str, Any]:
    """(mode inferred, value): None -> blur, str -> colour, array -> image."""
    if background is None:
        return "blur", None
    if isinstance(background, str):
        return "color", as_color(background, "background")
    if (
        isinstance(background, (tuple, list))
        and len(background) == 3
        and all(isinstance(v, (int, np.integer)) and 0 <= int(v) <= 255 for v in background)
    ):
        return "color", tuple(int(v) for v in background)
    if isinstance(background, np.ndarray):
        a = background
        if a.dtype != np.uint8:
            raise TypeError(
                f"background: expected a uint8 image (H, W, 3), (H, W, 4) or (H, W), "
                f"a colour or None; got {a.dtype} {a.shape}"
            )
        if a.ndim == 2:
            a = np.repeat(a[:, :, None], 3, axis=2)
        elif a.ndim == 3 and a.shape[2] == 4:
            a = a[:, :, :3]
        elif a.ndim == 3 and a.shape[2] == 1:
            a = np.repeat(a, 3, axis=2)
        if a.ndim != 3 or a.shape[2] != 3 or a.shape[0] < 1 or a.shape[1] < 1:
            raise ValueError(
                f"background: expected an image (H, W, 3); got shape {background.shape}"
            )
        return "replace", np.ascontiguousarray(a)
    raise TypeError(
        "background: expected None (blur), a colour ('#rrggbb' or a name), or a uint8 "
        f"BGR image; got {type(background).__name__}"
    )


# ---------------------------------------------------------------------------- models


class _SelfieModel:
    """MediaPipe selfie segmentation (converted): BGR frame -> low-res person probability."""

    def __init__(self, *, providers: Any, device: str, threads: int | None) -> None:
        from .models import zoo
        from .models.session import make_session

        self._sessions: dict[str, Any] = {}
        self._args = dict(providers=providers, device=device, threads=threads)
        self._zoo, self._make = zoo, make_session

    def _session(self, name: str):
        s = self._sessions.get(name)
        if s is None:
            s = self._make(self._zoo.find(name), **self._args)
            self._sessions[name] = s
        return s

    def shape_for(self, frame_shape: tuple[int, ...]) -> tuple[str, tuple[int, int]]:
        H, W = frame_shape[:2]
        if W >= 1.3 * H:
            return "selfie_segmentation_landscape", (144, 256)
        return "selfie_segmentation", (256, 256)

    def __call__(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import cv2

        name, (h, w) = self.shape_for(frame.shape)
        small = cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA)
        x = small[:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32) * np.float32(1 / 255)
        y = self._session(name).run(None, {"input": x})[0]
        return np.ascontiguousarray(y[0, 0], dtype=np.float32), small


class _MattingModel:
    """MODNet portrait matting: BGR frame -> alpha at a size with sides multiple of 32."""

    def __init__(
        self, *, providers: Any, device: str, threads: int | None, ref_size: int = 512
    ) -> None:
        from .models import zoo
        from .models.session import make_session

        self.ref_size = ref_size
        self._sess = make_session(
            zoo.find("modnet"), providers=providers, device=device, threads=threads
        )
        self._input = self._sess.get_inputs()[0].name

    def shape_for(self, frame_shape: tuple[int, ...]) -> tuple[str, tuple[int, int]]:
        # the longer side at ref_size (MODNet's training scale), both sides multiples of 32;
        # a smaller frame is upsampled for the model and its alpha area-averaged back
        H, W = frame_shape[:2]
        s = self.ref_size / max(H, W)
        return "modnet", (max(32, round(H * s / 32) * 32), max(32, round(W * s / 32) * 32))

    def __call__(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import cv2

        _, (h, w) = self.shape_for(frame.shape)
        small = cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA)
        x = (
            small[:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32) - np.float32(127.5)
        ) / np.float32(127.5)
        y = self._sess.run(None, {self._input: x})[0]
        return np.ascontiguousarray(y[0, 0], dtype=np.float32), small


def _open_model(model: str, **kw):
    model = as_choice(model, "model", MODELS)
    if model == "fast":
        return _SelfieModel(**kw)
    return _MattingModel(**kw)


# ------------------------------------------------------------------------ the feature


class BackgroundReplacer:
    """Replace, blur or colour the background of photos and video frames.

    Holds the model sessions and, for video, the temporal state of the alpha: call
    :meth:`apply` on consecutive frames; :meth:`reset` between clips.

    Parameters
    ----------
    model : {"fast", "matting"}
        ``"fast"``: MediaPipe selfie segmentation (ships with facecore, real time on a CPU).
        ``"matting"``: MODNet portrait matting (finer hair, slower; fetched once).
    background : None, str, (3,) tuple or (H, W, 3) uint8 ndarray
        None: blur the frame's own background; a colour name or ``"#rrggbb"`` (or a BGR
        tuple); or an image (resized and centre-cropped to fill each frame; grey and BGRA are
        accepted).
    mode : {"replace", "blur", "color"}, optional
        Defaults to what ``background`` implies; given explicitly, it must agree.
    blur : float
        Gaussian sigma of the background blur, in pixels of the frame (``mode="blur"``).
    radius, eps : int, float
        Guided-filter radius (low-resolution pixels) and regulariser for the upsampling.
    temporal : bool
        Smooth the alpha over consecutive frames (video). Off for single photos.
    smoothing : float
        EMA weight of the new alpha where the frame is still (0 < s <= 1; 1 = off).
    motion : float
        Frame difference (grey levels 0..255, at the model's resolution) at which the new
        alpha is taken whole: between 0 and ``motion`` the weight rises linearly.
    providers, device, threads
        onnxruntime settings (see :func:`facecore.models.session.make_session`); ``threads``
        defaults to ``facecore.num_threads()``.

    Examples
    --------
    >>> r = BackgroundReplacer(background="#00ff00")          # doctest: +SKIP
    >>> out = r.apply(frame)                                   # doctest: +SKIP
    """

    def __init__(
        self,
        model: str = "fast",
        *,
        background: object = None,
        mode: str | None = None,
        blur: float = 25.0,
        radius: int = 2,
        eps: float = 1e-3,
        temporal: bool = True,
        smoothing: float = 0.35,
        motion: float = 30.0,
        providers: Any = None,
        device: str = "cpu",
        threads: int | None = None,
    ) -> None:
        from . import _core

        self.model_name = as_choice(model, "model", MODELS)
        inferred, value = _as_background(background)
        if mode is not None:
            mode = as_choice(mode, "mode", MODES)
            if mode != inferred:
                raise ValueError(
                    f"mode: {mode!r} does not fit background {type(background).__name__} "
                    f"(which means {inferred!r}); for 'replace' pass an image, for "
                    "'color' a colour, for 'blur' background=None"
                )
        self.mode = inferred
        self._bg_value = value
        self.blur = as_float(blur, "blur")
        if not self.blur > 0:
            raise ValueError(f"blur: must be > 0; got {self.blur}")
        self.radius = as_int(radius, "radius", minimum=1, maximum=255)
        self.eps = as_float(eps, "eps")
        if not self.eps > 0:
            raise ValueError(f"eps: must be > 0; got {self.eps}")
        self.temporal = bool(temporal)
        self.smoothing = as_float(smoothing, "smoothing", minimum=0.0, maximum=1.0)
        if self.smoothing == 0:
            raise ValueError("smoothing: must be > 0 (1 = no smoothing)")
        self.motion = as_float(motion, "motion", minimum=0.0)
        if threads is None:
            threads = max(1, int(_core.num_threads()))
        self._model = _open_model(
            self.model_name, providers=providers, device=device, threads=threads
        )
        self._bg_cache: tuple[tuple[int, int], np.ndarray] | None = None
        self.reset()

    def __repr__(self) -> str:
        return f"BackgroundReplacer(model={self.model_name!r}, mode={self.mode!r})"

    def reset(self) -> None:
        """Forget the previous frames (start of a new clip)."""
        self._prev_low: np.ndarray | None = None
        self._prev_grey: np.ndarray | None = None

    # -- alpha ------------------------------------------------------------------------
    def _smooth(self, low: np.ndarray, small: np.ndarray) -> np.ndarray:
        """EMA of the low-res alpha gated by motion; ``small`` is the frame at the alpha's size."""
        import cv2

        grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY).astype(np.float32)
        prev, pg = self._prev_low, self._prev_grey
        self._prev_grey = grey
        if prev is None or prev.shape != low.shape or pg is None or pg.shape != grey.shape:
            self._prev_low = low
            return low
        diff = cv2.blur(np.abs(grey - pg), (3, 3))
        m = (
            np.clip(diff / max(self.motion, 1e-6), 0.0, 1.0)
            if self.motion > 0
            else np.ones_like(diff)
        )
        wgt = self.smoothing + (1.0 - self.smoothing) * m
        out = (wgt * low + (1.0 - wgt) * prev).astype(np.float32)
        self._prev_low = out
        return out

    def matte(self, frame: np.ndarray) -> Matte:
        """The person alpha of ``frame`` at full resolution (advances the temporal state).

        Parameters
        ----------
        frame : (H, W, 3) uint8 ndarray
            BGR.

        Returns
        -------
        Matte
        """
        frame = as_image(frame, "frame", channels=(3,), gray=False)
        low, small = self._model(frame)
        if self.temporal:
            low = self._smooth(low, small)
        if low.shape[0] > frame.shape[0] or low.shape[1] > frame.shape[1]:
            import cv2  # a frame smaller than the model's input: plain resize

            alpha = np.clip(
                cv2.resize(low, (frame.shape[1], frame.shape[0]), interpolation=cv2.INTER_AREA),
                0,
                1,
            ).astype(np.float32)
        else:
            alpha = kernels.guided_upsample(
                frame, low, radius=self.radius, eps=self.eps, device="cpu"
            )
        return Matte(alpha=alpha, low=low, model=self.model_name)

    # -- compositing -------------------------------------------------------------------
    def _background(self, frame: np.ndarray) -> np.ndarray:
        shape = frame.shape[:2]
        if self.mode == "blur":
            return fast_blur(frame, self.blur)
        if self._bg_cache is not None and self._bg_cache[0] == shape:
            return self._bg_cache[1]
        if self.mode == "color":
            bg = np.empty(frame.shape, np.uint8)
            bg[:] = np.asarray(self._bg_value, np.uint8)
        else:
            bg = _fill(self._bg_value, shape)
        self._bg_cache = (shape, bg)
        return bg

    def composite(self, frame: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        """``(1 - alpha) * background + alpha * frame`` in one pass (the blend kernel)."""
        frame = as_image(frame, "frame", channels=(3,), gray=False)
        return kernels.blend(self._background(frame), frame, alpha, device="cpu")

    def apply(self, frame: np.ndarray, *, return_matte: bool = False):
        """Replace the background of one frame (the next frame of a clip, for video).

        Parameters
        ----------
        frame : (H, W, 3) uint8 ndarray
            BGR.
        return_matte : bool
            Also return the :class:`Matte`.

        Returns
        -------
        out : (H, W, 3) uint8 ndarray, or (out, Matte)
        """
        m = self.matte(frame)
        out = self.composite(frame, m.alpha)
        return (out, m) if return_matte else out


def person_alpha(
    image: np.ndarray, *, model: str = "fast", radius: int = 2, eps: float = 1e-3, **options: Any
) -> np.ndarray:
    """The person alpha of one photo, full resolution, float32 ``(H, W)`` in [0, 1].

    Parameters
    ----------
    image : (H, W, 3) uint8 ndarray
        BGR.
    model : {"fast", "matting"}
    radius, eps
        Guided-filter upsampling (see :func:`facecore.kernels.guided_upsample`).
    **options
        ``providers``, ``device``, ``threads`` for onnxruntime.

    Returns
    -------
    alpha : (H, W) float32 ndarray
    """
    r = BackgroundReplacer(model, radius=radius, eps=eps, temporal=False, **options)
    return r.matte(image).alpha


def replace(
    image: np.ndarray,
    *,
    background: object = None,
    mode: str | None = None,
    model: str = "fast",
    blur: float = 25.0,
    radius: int = 2,
    eps: float = 1e-3,
    require_person: bool = True,
    min_person: float = 0.005,
    **options: Any,
) -> np.ndarray:
    """Replace, blur or colour the background of a photo.

    Parameters
    ----------
    image : (H, W, 3) uint8 ndarray
        BGR photo.
    background : None, str, (3,) tuple or (H, W, 3) uint8 ndarray
        None blurs the photo's own background; a colour (``"#00ff00"``, ``"white"``) fills
        it; an image of any size replaces it (resized and centre-cropped to fill).
    mode : {"replace", "blur", "color"}, optional
        Defaults to what ``background`` implies.
    model : {"fast", "matting"}
    blur : float
        Gaussian sigma in pixels for ``mode="blur"``.
    radius, eps
        Guided-filter upsampling of the model's alpha.
    require_person : bool
        Raise :class:`NoPersonError` when less than ``min_person`` of the image is person.
    min_person : float
        Fraction of pixels with alpha > 0.5 below which there is "no person".
    **options
        ``providers``, ``device``, ``threads`` for onnxruntime.

    Returns
    -------
    out : (H, W, 3) uint8 ndarray

    Raises
    ------
    TypeError, ValueError
        Bad arguments, naming them.
    NoPersonError
        No person in the photo (with ``require_person``).

    Examples
    --------
    >>> out = replace(photo, background="#00ff00")          # doctest: +SKIP
    >>> out = replace(photo, blur=15)                       # doctest: +SKIP
    """
    image = as_image(image, "image", channels=(3,), gray=False)
    min_person = as_float(min_person, "min_person", minimum=0.0, maximum=1.0)
    r = BackgroundReplacer(
        model,
        background=background,
        mode=mode,
        blur=blur,
        radius=radius,
        eps=eps,
        temporal=False,
        **options,
    )
    out, m = r.apply(image, return_matte=True)
    if require_person:
        if m.person_fraction < min_person:
            raise NoPersonError(
                f"image: no person found (person pixels {100 * m.person_fraction:.2f}% < "
                f"{100 * min_person:.1f}%); nothing to keep in front of the background"
            )
        if _faces(image, options) == 0:
            raise NoPersonError(
                "image: no person found (no face detected; the segmentation model also "
                "marks foreground objects); pass require_person=False to keep its mask"
            )
    return out


def _faces(image: np.ndarray, options: dict[str, Any]) -> int | None:
    """Faces YuNet finds (None when the detector is not installed: the check is skipped)."""
    from . import models
    from .errors import ModelNotFoundError

    try:
        det = models.load(
            "yunet",
            kind="detector",
            score_threshold=DET_THRESHOLD,
            max_side=640,
            threads=options.get("threads"),
        )
    except ModelNotFoundError:
        logger.info(
            "background: no face detector installed; the no-person check uses the mask only"
        )
        return None
    return len(det.detect(image).boxes)


# ------------------------------------------------------------------------------ video


@dataclass(frozen=True, slots=True)
class VideoResult:
    """What :func:`replace_video` wrote: frames, frame rate and what became of the audio."""

    frames: int
    fps: float
    audio: str  # "kept", "none in the input", or "dropped: <why>"

    def to_dict(self) -> dict[str, Any]:
        return {"frames": self.frames, "fps": self.fps, "audio": self.audio}


# the audio of written videos lives once, in facecore.io (the hair effect uses it too)
_ffmpeg = ffmpeg_exe


def replace_video(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    replacer: BackgroundReplacer | None = None,
    *,
    progress: bool = True,
    audio: bool = True,
    max_frames: int | None = None,
    on_frame=None,
) -> VideoResult:
    """Replace the background of every frame of a video file.

    Parameters
    ----------
    src, dst : path
        Input video (never modified) and output (``.mp4``/``.mov``/``.m4v`` with ``mp4v``,
        others with ``MJPG``). ``dst`` must not exist already as the input.
    replacer : BackgroundReplacer, optional
        Default: ``BackgroundReplacer()`` (fast model, blurred background). Its temporal state
        is reset first.
    progress : bool
        A tqdm progress bar.
    audio : bool
        Keep the input's audio track with ffmpeg (on PATH, or the ``imageio-ffmpeg``
        package); without ffmpeg it is dropped and :attr:`VideoResult.audio` says so.
    max_frames : int, optional
    on_frame : callable, optional
        ``on_frame(index, frame, out, matte)`` after each frame.

    Returns
    -------
    VideoResult

    Raises
    ------
    FileNotFoundError
        ``src`` does not exist.
    ValueError
        ``src`` cannot be decoded as a video, has no frames, or ``dst`` is ``src``.
    """
    from pathlib import Path

    import cv2

    from .io import iter_frames

    s, d = Path(os.fspath(src)), Path(os.fspath(dst))
    if not s.is_file():
        raise FileNotFoundError(f"src: no such file: {s}")
    if d.exists() and d.resolve() == s.resolve():
        raise ValueError("dst: must not be the input video (inputs are never overwritten)")
    if max_frames is not None:
        max_frames = as_int(max_frames, "max_frames", minimum=1)
    r = replacer if replacer is not None else BackgroundReplacer()
    r.reset()
    cap = cv2.VideoCapture(os.fspath(s))
    ok = cap.isOpened()
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0) if ok else 0.0
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0) if ok else 0
    cap.release()
    if not ok:
        raise ValueError(f"src: {s} cannot be opened as a video")
    fps = fps if 0 < fps < 1000 else 25.0
    if max_frames is not None and total:
        total = min(total, max_frames)
    bar = None
    if progress:
        try:
            from tqdm import tqdm

            bar = tqdm(total=total or None, unit="frame", desc=s.name)
        except ImportError:  # pragma: no cover
            bar = None
    try:
        with VideoOut(d, fps, audio_from=s if audio else None) as vo:
            for i, frame in iter_frames(s, max_frames=max_frames):
                out, m = r.apply(frame, return_matte=True)
                vo.write(out)
                if on_frame is not None:
                    on_frame(i, frame, out, m)
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    n = vo.frames
    if n == 0:
        raise ValueError(f"src: {s} has no decodable frames")
    # with audio_from set, close() always records what became of the track
    how = vo.audio if audio and vo.audio is not None else "dropped (audio=False)"
    return VideoResult(frames=n, fps=fps, audio=how)
