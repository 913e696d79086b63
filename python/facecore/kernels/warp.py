"""warp: N affine crops from one frame (uint8, or float32 NCHW normalised for a model), and the
same warp for one image or float map (paste a crop back into the frame).

C++: ``src/cpp/warp.{hpp,cpp}``; CUDA: ``src/cuda/warp.cu``; tests: ``tests/kernels/test_kernels_warp.py``.
"""

from __future__ import annotations

import numpy as np

from . import _args, _cuda
from ._dispatch import backend

__all__ = ["warp_affine", "warp_crops"]


@_args.device_doc
def warp_crops(
    image: np.ndarray,
    matrices: np.ndarray,
    shape: int | tuple[int, int],
    *,
    border: str = "constant",
    fill: float | tuple[float, ...] = 0,
    tensor: bool = False,
    mean: float | tuple[float, ...] = 0.0,
    std: float | tuple[float, ...] = 1.0,
    swap_rb: bool = False,
    out: np.ndarray | None = None,
    device: str = "auto",
    stream: object = None,
) -> np.ndarray:
    """Warp N crops out of one frame in a single pass.

    Output pixel ``(x, y)`` of crop ``i`` samples ``image`` at ``M_i^{-1} [x, y, 1]^T``,
    bilinearly, in float32 as OpenCV >= 4.11 does, so the uint8 result equals
    ``cv2.warpAffine(image, M_i, (w, h))`` (pixel centres at integer
    coordinates). With ``tensor=True`` the same warped values are written, in the same pass,
    as float32 NCHW ``(value - mean[c]) / std[c]``, optionally with B and R swapped: what a
    model's input wants, with no intermediate uint8 crops.

    Parameters
    ----------
    image : (H, W, C) or (H, W) uint8 ndarray
        Source frame, BGR (C in 1, 3, 4). Row-strided views are used without a copy.
    matrices : (N, 2, 3) float ndarray
        Forward maps from frame pixels to crop pixels (what ``cv2.estimateAffinePartial2D``
        and :func:`facecore.align.estimate_similarity` return). Finite and invertible.
    shape : int or (height, width)
        Size of every crop. NumPy order, not OpenCV's ``dsize=(w, h)``.
    border : {"constant", "replicate"}
        Samples outside the frame take ``fill`` or the nearest edge pixel.
    fill : int or sequence of int
        Border value, one for all channels or one per channel (0..255).
    tensor : bool
        False: uint8 ``(N, h, w, C)``. True: float32 ``(N, C, h, w)`` normalised.
    mean, std : float or sequence of float
        Per output channel (after ``swap_rb``); only with ``tensor=True``.
    swap_rb : bool
        Reverse B and R in the tensor output (BGR frame -> RGB model input).
    out : ndarray, optional
        Preallocated result of the exact shape and dtype.
    {device}

    Returns
    -------
    crops : (N, h, w, C) uint8 or (N, C, h, w) float32 ndarray
        ``(N, h, w)`` for a grey image without ``tensor``.

    Raises
    ------
    TypeError
        If ``image`` is not uint8 or ``matrices`` is not numeric.
    ValueError
        If a shape is wrong, ``N == 0``, a matrix is singular or non-finite, ``shape`` is
        not positive, or a side of ``image`` or ``shape`` is 32768 or more (the coordinate
        arithmetic is exact below that; split a larger image into tiles).

    Examples
    --------
    >>> import numpy as np, facecore as fc
    >>> frame = np.zeros((480, 640, 3), np.uint8)
    >>> M = np.array([[[1.0, 0, -100], [0, 1.0, -50]]] * 4)   # crops at (100, 50)
    >>> fc.kernels.warp_crops(frame, M, 112).shape
    (4, 112, 112, 3)
    >>> fc.kernels.warp_crops(frame, M, (64, 48), tensor=True, mean=127.5, std=128,
    ...                       swap_rb=True).shape
    (4, 3, 64, 48)
    """
    be = backend(device, stream, image=image, out=out)
    img = be.image(image, "image")
    spec = _args.warp_crops(
        img.shape, _cuda.host_copy(matrices, "matrices"), shape, border=border, fill=fill, tensor=tensor, mean=mean, std=std,
        swap_rb=swap_rb,
    )  # fmt: skip
    return be.warp(img, spec, out, batch=True)  # type: ignore[arg-type,return-value]


@_args.device_doc
def warp_affine(
    src: np.ndarray,
    matrix: np.ndarray,
    shape: int | tuple[int, int],
    *,
    border: str = "constant",
    fill: float | tuple[float, ...] = 0,
    inverse: bool = False,
    out: np.ndarray | None = None,
    device: str = "auto",
    stream: object = None,
) -> np.ndarray:
    """Warp one image or float map, e.g. to paste a crop-space map back into the frame.

    Same sampling as :func:`warp_crops`. ``matrix`` is forward (source -> destination) as
    ``cv2.warpAffine`` takes it; with ``inverse=True`` it maps destination -> source
    (``cv2.WARP_INVERSE_MAP``), so passing a crop's own matrix pastes the crop back:
    ``warp_affine(crop_map, M, frame.shape[:2], inverse=True)``.

    Parameters
    ----------
    src : (H, W), (H, W, C) uint8 or (H, W), (H, W, C) float32 ndarray
        Image (C in 1, 3, 4) or map.
    matrix : (2, 3) float ndarray
        Finite, invertible affine matrix.
    shape : int or (height, width)
        Output size (NumPy order).
    border : {"constant", "replicate"}
    fill : number or sequence
        Border value (uint8: integers 0..255; float32: one number).
    inverse : bool
        ``matrix`` maps destination -> source.
    out : ndarray, optional
    {device}

    Returns
    -------
    warped : ndarray of ``src``'s dtype, shape ``(height, width) + src.shape[2:]``

    Examples
    --------
    >>> import numpy as np, facecore as fc
    >>> frame = np.zeros((480, 640, 3), np.uint8)
    >>> M = np.array([[0.5, 0, -20], [0, 0.5, -10]])
    >>> chip = fc.kernels.warp_crops(frame, M[None], 112)[0]
    >>> prob = np.ones((112, 112), np.float32)
    >>> back = fc.kernels.warp_affine(prob, M, frame.shape[:2], inverse=True)
    >>> back.shape, back.dtype
    ((480, 640), dtype('float32'))
    """
    be = backend(device, stream, src=src, out=out)
    is_float = be.is_float(src)
    a = be.float_image(src, "src") if is_float else be.image(src, "src")
    spec = _args.warp_affine(
        a.shape,
        is_float,
        _cuda.host_copy(matrix, "matrix"),
        shape,
        border=border,
        fill=fill,
        inverse=inverse,
    )
    return be.warp(a, spec, out, batch=False)  # type: ignore[arg-type,return-value]
