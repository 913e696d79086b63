"""Restoration of occluded pixels: OpenCV inpainting, the learned restorer, any LaMa-style ONNX.

:func:`restore` only ever writes the masked pixels. The learned and ONNX methods run through
the model adapter :class:`facecore.models.restorer.Restorer` (it owns the onnxruntime session,
finds the image and mask inputs by name and warps through the kernels) on a square chip
aligned from the face's landmarks (:func:`restore_chip_matrix`).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from .._validate import as_float, as_int
from ..align import estimate_similarity
from ._common import as_bgr_image, as_mask, face_landmarks
from .landmarks import refine_landmarks

if TYPE_CHECKING:
    from ..models.restorer import Restorer

__all__ = ["LEARNED_MODEL", "METHODS", "RESTORE_CHIP_UNIT", "restore", "restore_chip_matrix"]

#: Restoration methods by name (any other string is read as the path of an ONNX file).
METHODS = ("telea", "ns", "learned")

#: Where the 5 landmarks fall in the learned restorer's square chip (unit coordinates): the
#: age model's dlib-style chip template (:data:`facecore.models.attributes.DLIB_CHIP_TEMPLATE`)
#: shrunk by 0.8 about its centre, so the chip holds the whole face down to below the chin
#: and every pixel of the age and gender chips.
RESTORE_CHIP_UNIT = 0.5 + 0.8 * (
    np.array([[0.289, 0.271], [0.685, 0.277], [0.470, 0.505], [0.314, 0.683], [0.658, 0.694]]) - 0.5
)
RESTORE_CHIP_UNIT.setflags(write=False)


def restore_chip_matrix(face: Any, size: int = 128) -> np.ndarray:
    """Forward ``(2, 3)`` frame -> chip similarity of the learned restorer's aligned chip.

    The least-squares similarity from the landmarks to :data:`RESTORE_CHIP_UNIT` ``* size``.

    Examples
    --------
    >>> from facecore.align import ARCFACE_112
    >>> restore_chip_matrix(ARCFACE_112, 128).shape
    (2, 3)
    """
    lm = face_landmarks(face)
    size = as_int(size, "size", minimum=8)
    return estimate_similarity(lm, RESTORE_CHIP_UNIT * size)


LEARNED_MODEL = "restore_unet"
_MODELS: dict[tuple[str, str], Any] = {}
_MODELS_LOCK = threading.Lock()


def _restorer(path: Path, device: str) -> Restorer:
    """The :class:`~facecore.models.restorer.Restorer` of a model file, built once per
    ``(path, device)`` from the bytes the zoo verified (a zoo file is checked by sha256)."""
    key = (str(path), device)
    with _MODELS_LOCK:
        r = _MODELS.get(key)
        if r is None:
            from ..models import zoo
            from ..models.restorer import Restorer

            mi = zoo.info(LEARNED_MODEL) if path.name == zoo.info(LEARNED_MODEL).file else None
            try:
                r = Restorer(zoo.read_verified(path, mi), device=device)
            except ValueError as exc:  # the graph is not a LaMa-style inpainting model
                raise ValueError(f"method: {path}: {exc}") from None
            _MODELS[key] = r
        return r


def _model_path(method: str | os.PathLike[str]) -> Path:
    if isinstance(method, str) and method == "learned":
        from ..models import zoo

        return zoo.find(LEARNED_MODEL, verify=False)  # verified on the bytes _session loads
    p = Path(method)
    if not p.is_file():
        raise ValueError(
            f"method: expected one of {list(METHODS)} or the path of an existing .onnx file; got {str(method)!r}"
        )
    return p


def _fallback_matrix(mask: np.ndarray, side: int) -> np.ndarray:
    """Without landmarks: an axis-aligned square around the hole, 1.5x its larger side."""
    ys, xs = np.nonzero(mask)
    cx, cy = (xs.min() + xs.max()) / 2.0, (ys.min() + ys.max()) / 2.0
    extent = 1.5 * max(xs.max() - xs.min() + 1, ys.max() - ys.min() + 1, 8)
    s = side / extent
    return np.array([[s, 0.0, side / 2.0 - 0.5 - s * cx], [0.0, s, side / 2.0 - 0.5 - s * cy]])


def _restore_learned(
    img: np.ndarray, hole: np.ndarray, method: Any, face: Any, chip: int | None, device: str
) -> np.ndarray:
    model = _restorer(_model_path(method), device)
    side = model.side or chip or 128
    m = restore_chip_matrix(face, side) if face is not None else _fallback_matrix(hole, side)
    try:
        res = model.inpaint(img, hole, m, side)
    except ValueError as exc:  # the graph returned an unexpected shape
        raise ValueError(f"method: {exc}") from None
    out = img.copy()
    inside = hole & res.cover
    out[inside] = res.image[inside]
    rest = hole & ~res.cover
    if rest.any():  # hole pixels outside the chip: classical inpainting from what is known now
        filled = cv2.inpaint(out, rest.astype(np.uint8), 3, cv2.INPAINT_TELEA)
        out[rest] = filled[rest]
    return out


def restore(
    image: Any,
    mask: Any,
    *,
    method: str | os.PathLike[str] = "telea",
    face: Any = None,
    radius: float = 3.0,
    chip: int | None = None,
    device: str = "cpu",
    refine: bool = False,
) -> np.ndarray:
    """Fill the masked pixels of an image back in; all other pixels are returned untouched.

    Methods:

    - ``"telea"``: OpenCV's fast-marching inpainting (Telea 2004), ``cv2.INPAINT_TELEA``;
    - ``"ns"``: OpenCV's Navier-Stokes inpainting (Bertalmio et al. 2001), ``cv2.INPAINT_NS``;
    - ``"learned"``: facecore's restorer (zoo model ``restore_unet``, a gated-conv U-Net
      trained on aligned UTKFace chips with synthetic masks, then fine-tuned so the restored
      face reads as the same age and gender through the pipeline's dlib models: it is tuned
      for age estimation, not for looks; docs/models/restore.md). It works on a 128 x 128 chip
      aligned from the face's landmarks (``face=``; without them, a square around the hole),
      and its output is warped back into the frame;
    - a path to an ONNX file with a LaMa-style interface: two inputs, the image ``(N, 3, H, W)``
      RGB float in ``[0, 1]`` and the mask ``(N, 1, H, W)`` with 1 = hole, and one output
      ``(N, 3, H, W)`` RGB in ``[0, 1]`` or ``[0, 255]`` (detected from its range). A static
      square input fixes the chip side, else ``chip`` (default 128) does.

    The result is ``out = where(mask, filled, image)``: the restoration only ever writes the
    masked pixels. Hole pixels the aligned chip does not reach are filled by ``telea``.

    Parameters
    ----------
    image : (H, W, 3) uint8 ndarray
        BGR image. Not modified.
    mask : (H, W) bool or uint8 ndarray
        Nonzero where the pixels are to be restored (what :func:`synthesize` returns).
    method : {"telea", "ns", "learned"} or path-like
        See above.
    face : Face, Landmarks or (5, 2) array, optional
        The face's landmarks, used by the learned and ONNX methods to align their chip.
    radius : float
        Neighbourhood radius of the OpenCV methods, in pixels (default 3).
    chip : int, optional
        Chip side for ONNX models with dynamic input size (default 128).
    device : {"cpu", "cuda", "auto"}
        Where the ONNX methods run.
    refine : bool
        ``face`` was detected on the occluded image (a user's pipeline): re-estimate its
        landmarks with :func:`~facecore.occlusion.refine_landmarks` before the learned and ONNX
        methods place their chip (default False: ``face`` is taken as exact, e.g. the
        landmarks a synthetic mask was drawn from). docs/occlusion.md measures what it gives.

    Returns
    -------
    (H, W, 3) uint8 ndarray
        A new image; equal to ``image`` wherever ``mask`` is 0.

    Raises
    ------
    TypeError
        If ``image`` or ``mask`` has the wrong type or dtype, or an option the wrong type.
    ValueError
        If the shapes disagree, ``method`` is neither a known name nor an existing file, or an
        option is out of range.
    ModelNotFoundError
        If ``method="learned"`` and the ``restore_unet`` model cannot be found.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((32, 32, 3), np.uint8); img[:, 16:] = 200
    >>> hole = np.zeros((32, 32), bool); hole[12:20, 12:20] = True
    >>> out = restore(img, hole, method="ns")
    >>> bool((out[~hole] == img[~hole]).all()), out[16, 13].tolist() != [0, 0, 0] or out[16, 18].tolist() != [0, 0, 0]
    (True, True)
    """
    img = as_bgr_image(image)
    hole = as_mask(mask, img.shape[:2])
    radius = as_float(radius, "radius", minimum=0.5, maximum=100.0)
    if chip is not None:
        chip = as_int(chip, "chip", minimum=16, maximum=4096)
    if device not in ("cpu", "cuda", "auto"):
        raise ValueError(f"device: expected 'cpu', 'cuda' or 'auto'; got {device!r}")
    if isinstance(method, str) and method in ("telea", "ns"):
        kind = method
    elif isinstance(method, (str, os.PathLike)) and not isinstance(method, bytes):
        kind = "onnx"
        if (
            isinstance(method, str)
            and method != "learned"
            and not method.lower().endswith(".onnx")
            and not Path(method).is_file()
        ):
            raise ValueError(
                f"method: expected one of {list(METHODS)} or the path of an .onnx file; got {method!r}"
            )
    else:
        raise TypeError(
            f"method: expected one of {list(METHODS)} or a path; got {type(method).__name__}"
        )
    if not isinstance(refine, bool):
        raise TypeError(f"refine: expected bool; got {type(refine).__name__}")
    face_in = face
    if face is not None:
        face = face_landmarks(face, "face")
    if not hole.any():
        return img.copy()
    if kind in ("telea", "ns"):
        flag = cv2.INPAINT_TELEA if kind == "telea" else cv2.INPAINT_NS
        filled = cv2.inpaint(img, hole.astype(np.uint8), radius, flag)
        out = img.copy()
        out[hole] = filled[hole]
        return out
    if refine and face is not None:
        face = refine_landmarks(img, face_in)
    return _restore_learned(img, hole, method, face, chip, device)
