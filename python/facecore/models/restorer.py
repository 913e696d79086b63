"""Inpainting-model adapter: a LaMa-style ``(image, mask) -> image`` ONNX graph on an aligned chip.

The graph takes the image ``(N, 3, H, W)`` RGB float in ``[0, 1]`` and the mask
``(N, 1, H, W)`` (1 = hole) and returns ``(N, 3, H, W)`` RGB in ``[0, 1]`` or ``[0, 255]``
(NHWC outputs are accepted too). facecore's ``restore_unet`` and LaMa's ONNX exports have
this interface. The adapter owns the onnxruntime session and finds the two inputs **by
name** (``image`` and ``mask`` unless told otherwise), never by guessing from channel counts.

It works in arrays and matrices only (no faces): the caller gives the forward frame -> chip
matrix. Every warp goes through the compiled kernel (:mod:`facecore.models._warp`): the chip
straight into the normalised RGB tensor in one pass (``warp_crops(tensor=True,
swap_rb=True)``), the hole into the chip, and the restored chip and its coverage back into the
frame (``warp_affine(inverse=True)``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import onnx

from . import _warp
from .session import make_session

__all__ = ["Inpainting", "Restorer"]


@dataclass(frozen=True, slots=True)
class Inpainting:
    """Result of :meth:`Restorer.inpaint`.

    Attributes
    ----------
    image : (H, W, 3) uint8 ndarray
        The restored chip warped back into the frame (BGR); meaningful where ``cover``.
    cover : (H, W) bool ndarray
        Frame pixels the chip covers entirely (the rest of the hole needs another fill).
    """

    image: np.ndarray
    cover: np.ndarray


def _name(x: Any, what: str) -> str:
    if not isinstance(x, str) or not x:
        raise TypeError(f"{what}: expected the name of a graph input (str); got {x!r}")
    return x


class Restorer:
    """A LaMa-style inpainting graph run on a square chip aligned by a given matrix.

    Parameters
    ----------
    model : onnx.ModelProto, bytes or path
        The graph (bytes already verified by the zoo, for a zoo model).
    image_input, mask_input : str
        Names of the image and mask inputs (default ``"image"`` and ``"mask"``, what
        ``restore_unet`` and LaMa's exports use; matched case-insensitively).
    providers, device, threads
        As :func:`facecore.models.session.make_session`.

    Attributes
    ----------
    side : int or None
        The static square input side of the graph, or None when its input size is dynamic.

    Raises
    ------
    ValueError
        If the graph does not have exactly these two inputs and at least one output.

    Examples
    --------
    >>> from facecore.models import zoo
    >>> r = Restorer(zoo.find("restore_unet"))  # doctest: +SKIP
    >>> m = np.array([[0.5, 0, -20.0], [0, 0.5, -10.0]])  # frame -> 128 x 128 chip
    >>> res = r.inpaint(frame, hole, m, 128)  # doctest: +SKIP
    >>> res.image.shape == frame.shape, res.cover.dtype  # doctest: +SKIP
    (True, dtype('bool'))
    """

    kind = "restore"

    def __init__(
        self,
        model: onnx.ModelProto | bytes | str | os.PathLike[str],
        *,
        image_input: str = "image",
        mask_input: str = "mask",
        providers: Any = None,
        device: str = "cpu",
        threads: int | None = None,
    ) -> None:
        image_input = _name(image_input, "image_input")
        mask_input = _name(mask_input, "mask_input")
        self.session = make_session(model, providers=providers, device=device, threads=threads)
        ins = {i.name.lower(): i for i in self.session.get_inputs()}
        names = [i.name for i in self.session.get_inputs()]
        img, msk = ins.get(image_input.lower()), ins.get(mask_input.lower())
        if len(ins) != 2 or img is None or msk is None or not self.session.get_outputs():
            raise ValueError(
                f"model: not a LaMa-style inpainting graph: expected two inputs named "
                f"{image_input!r} (N, 3, H, W) and {mask_input!r} (N, 1, H, W) and an output; "
                f"got inputs {names}"
            )
        for vi, c in ((img, 3), (msk, 1)):
            if len(vi.shape) != 4 or (isinstance(vi.shape[1], int) and vi.shape[1] != c):
                raise ValueError(
                    f"model: input {vi.name!r} must be (N, {c}, H, W); got shape {vi.shape}"
                )
        self._image, self._mask = img.name, msk.name
        self._output = self.session.get_outputs()[0].name
        h, w = img.shape[2], img.shape[3]
        self.side: int | None = (
            int(h) if isinstance(h, int) and isinstance(w, int) and h == w and h > 0 else None
        )

    def tensors(
        self, image: np.ndarray, hole: np.ndarray, matrix: np.ndarray, side: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The model's inputs: the chip ``(1, 3, side, side)`` RGB in [0, 1] (one fused warp)
        and the hole ``(1, 1, side, side)`` (warped, > 0.01, dilated by one pixel)."""
        x = _warp.warp_to_tensor(image, matrix[None], side, mean=0.0, std=255.0, swap_rb=True)
        ch = _warp.warp_map(hole.astype(np.float32), matrix, side)
        ch = cv2.dilate((ch > 0.01).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(np.float32)
        return x, ch[None, None]

    def run(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The restored chip ``(side, side, 3)`` uint8 **BGR** from the two input tensors."""
        side = image.shape[2]
        y = self.session.run([self._output], {self._image: image, self._mask: mask})[0]
        y = np.asarray(y, np.float32)
        if y.ndim == 4 and y.shape[1] != 3 and y.shape[3] == 3:  # NHWC exports
            y = y.transpose(0, 3, 1, 2)
        if y.shape[1:] != (3, side, side):
            raise ValueError(
                f"model: the graph returned shape {y.shape}; expected (1, 3, {side}, {side})"
            )
        if float(y.max()) > 1.5:  # LaMa's own exports return 0..255
            y = y / 255.0
        return np.clip(np.rint(y[0].transpose(1, 2, 0)[:, :, ::-1] * 255.0), 0, 255).astype(
            np.uint8
        )

    def inpaint(
        self, image: np.ndarray, hole: np.ndarray, matrix: np.ndarray, side: int
    ) -> Inpainting:
        """Restore the chip ``matrix`` cuts from ``image`` and warp it back into the frame.

        Parameters
        ----------
        image : (H, W, 3) uint8 ndarray
            BGR frame (not modified).
        hole : (H, W) bool ndarray
            True where pixels are to be restored.
        matrix : (2, 3) float ndarray
            Forward frame -> chip similarity.
        side : int
            Chip side (the graph's static side when it has one).

        Returns
        -------
        Inpainting
        """
        x, m = self.tensors(image, hole, matrix, side)
        chip = self.run(x, m)
        h, w = image.shape[:2]
        back = _warp.paste_back(chip, matrix, (h, w))
        cover = _warp.paste_back(np.ones((side, side), np.float32), matrix, (h, w)) > 0.999
        return Inpainting(back, cover)
