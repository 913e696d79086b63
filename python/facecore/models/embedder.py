"""SFace identity embedder adapter (OpenCV Zoo ``face_recognition_sface_2021dec``).

All faces of a frame are aligned to the 112x112 ArcFace template by one call of the
batch warp kernel, straight into the float32 NCHW RGB tensor (raw 0..255: the graph
normalises itself with ``(x - 127.5) * 0.0078125``), and embedded by one onnxruntime
call (the batch dimension is made symbolic in memory).
"""

from __future__ import annotations

import logging

import numpy as np
import onnx

from ..align import ARCFACE_112, arcface_matrices
from . import _warp, repair
from ._inputs import check_image, check_landmarks
from .session import make_session, nchw_input

__all__ = ["ARCFACE_112", "SFace", "arcface_matrices", "l2_normalize"]

logger = logging.getLogger(__name__)


def l2_normalize(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """``x / ||x||`` along ``axis`` (zero vectors stay zero), float32."""
    x = np.asarray(x, np.float32)
    n = np.linalg.norm(x, axis=axis, keepdims=True)
    return x / np.where(n > 0, n, 1.0)


def repair_sface(model: onnx.ModelProto) -> onnx.ModelProto:
    """SFace's in-memory repairs: drop the 29 unread (and the initializer) graph inputs,
    fold the constant DequantizeLinear nodes, make the batch dimension symbolic."""
    m = repair.drop_unread_inputs(model)
    m = repair.fold_dequantize(m)
    inp = m.graph.input[0].name
    return repair.make_dims_symbolic(m, {inp: {0: "batch"}}, all_outputs={0: "batch"})


class SFace:
    """SFace 128-d face embedder on onnxruntime.

    Parameters
    ----------
    model : onnx.ModelProto
        The original graph (repaired in memory here).
    batch_size : int, optional
        Most faces per onnxruntime call (default 64; bounds memory on crowds).
    providers, device, threads
        Passed to :func:`facecore.models.session.make_session`.

    Examples
    --------
    >>> import cv2, numpy as np
    >>> import facecore as fc
    >>> from importlib.resources import files
    >>> image = fc.read_image(files("facecore") / "data" / "astronaut.jpg")
    >>> lm = fc.models.load("yunet").detect(image).landmarks  # doctest: +MODELS
    >>> sface = fc.models.load("sface")
    >>> e = sface.embed(image, lm)
    >>> e.shape, round(float(np.linalg.norm(e[0])), 3)
    ((1, 128), 1.0)
    >>> # the mirrored photo (landmarks mirrored, eyes and mouth corners swapped): the same person
    >>> lm_m = lm[:, [1, 0, 2, 4, 3]] * [-1, 1] + [image.shape[1] - 1, 0]
    >>> float(e[0] @ sface.embed(cv2.flip(image, 1), lm_m)[0]) > 0.8
    True
    """

    kind = "embedder"
    shape = (112, 112)
    dim = 128

    def __init__(
        self,
        model: onnx.ModelProto,
        *,
        batch_size: int = 64,
        providers=None,
        device: str = "cpu",
        threads: int | None = None,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size: expected a positive int; got {batch_size!r}")
        self.batch_size = batch_size
        self.session = make_session(
            repair_sface(model), providers=providers, device=device, threads=threads
        )
        self._input = self.session.get_inputs()[0].name
        self._output = self.session.get_outputs()[0].name

    def tensor(self, image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """Aligned RGB float32 (N, 3, 112, 112) input, raw 0..255, from one warp call."""
        m = arcface_matrices(landmarks)
        return _warp.warp_to_tensor(image, m, self.shape, mean=0.0, std=1.0, swap_rb=True)

    def run(self, tensor: np.ndarray) -> np.ndarray:
        """Raw (not normalised) embeddings (N, 128) float32 of an RGB NCHW 0..255 tensor."""
        tensor = nchw_input(tensor, 112)
        n = tensor.shape[0]
        if n == 0:
            return np.zeros((0, self.dim), np.float32)
        outs = [
            self.session.run([self._output], {self._input: tensor[i : i + self.batch_size]})[0]
            for i in range(0, n, self.batch_size)
        ]
        return np.concatenate(outs).astype(np.float32, copy=False)

    def embed(
        self, image: np.ndarray, landmarks: np.ndarray, *, normalize: bool = True
    ) -> np.ndarray:
        """Embed the faces of one frame.

        Parameters
        ----------
        image : (H, W, 3) uint8 ndarray, BGR
        landmarks : (N, 5, 2) float ndarray
            YuNet-order landmarks ``(x, y)`` in ``image`` pixels.
        normalize : bool, optional
            L2-normalise (default True); False returns SFace's raw ``fc1`` output.

        Returns
        -------
        (N, 128) float32 ndarray
        """
        image = check_image(image, "image")
        if image.ndim == 2:
            image = np.repeat(image[:, :, None], 3, axis=2)
        landmarks = check_landmarks(landmarks, "landmarks")
        e = self.run(self.tensor(image, landmarks))
        return l2_normalize(e) if normalize else e

    def embed_aligned(self, chips: np.ndarray, *, normalize: bool = True) -> np.ndarray:
        """Embed already aligned 112x112 BGR chips ``(N, 112, 112, 3)`` uint8."""
        chips = np.asarray(chips)
        if chips.ndim == 3:
            chips = chips[None]
        if chips.dtype != np.uint8 or chips.ndim != 4 or chips.shape[1:] != (112, 112, 3):
            raise ValueError(
                f"chips: expected uint8 (N, 112, 112, 3); got {chips.dtype} {chips.shape}"
            )
        x = np.ascontiguousarray(chips[..., ::-1].transpose(0, 3, 1, 2), dtype=np.float32)
        e = self.run(x)
        return l2_normalize(e) if normalize else e
