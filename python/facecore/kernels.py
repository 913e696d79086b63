"""Typed, validated wrappers around facecore's compiled kernels, one section per family.

The families::

    warp      N affine crops from one frame (uint8, or float32 NCHW normalised for a model);
              the same warp for one image or float map (paste a crop back into the frame).
    windows   every window at a stride as model-ready float32 NCHW batches, in bounded memory;
              window scores accumulated back into a map; ``probability_map`` chains the two.
    refine    sharpen ``p -> 1 - (1 - p)**power`` and a small correlation kernel, fused.
    guided    edge-aware upsampling of a low-resolution alpha guided by the full frame (fast
              guided filter).
    blend     ``(1 - a) * base + a * effect``; recolour (colour transfer, Lab or HSV) fused
              with that blend.

Conventions (docs/conventions.md): images are uint8 ``(H, W, 3)`` BGR or ``(H, W)`` grey,
maps float32 ``(H, W)`` in [0, 1], output sizes ``shape=(height, width)``, matrices forward
``(N, 2, 3)`` source -> destination as ``cv2.warpAffine`` takes them. Every function checks
its arguments first (``TypeError`` / ``ValueError`` naming the argument), then runs in C++
with the GIL released, on ``facecore.num_threads()`` threads. Inputs are never modified.

One stem names a family everywhere: ``src/cpp/<stem>.{hpp,cpp}``, ``src/cuda/<stem>.cu``,
``tests/test_kernels_<stem>.py`` and its case in ``benchmarks/``. Every kernel takes
``device="auto"|"cpu"|"cuda"`` and, on the GPU, ``stream=`` (see docs/cuda.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from . import _core, _gpu
from ._validate import (
    as_bool,
    as_choice,
    as_color,
    as_float,
    as_image,
    as_int,
    as_map,
    as_matrices,
    as_out,
    as_pair,
    as_shape,
)

__all__ = [
    "KERNELS",
    "WindowBatch",
    "accumulate_windows",
    "blend",
    "guided_upsample",
    "iter_windows",
    "lab_stats",
    "probability_map",
    "recolor",
    "refine_map",
    "warp_affine",
    "warp_crops",
    "window_grid",
]

_BORDERS = {"constant": 0, "replicate": 1}

#: Largest output a kernel allocates itself (4 GiB). A bigger request is almost always a
#: mistake (``warp_crops`` of 100 chips of 32767 x 32767, ``accumulate_windows`` into
#: 100000 x 100000) and would end in a MemoryError or the OOM killer; it gets a ValueError
#: with the size instead. Pass ``out=`` to use a buffer of your own of any size.
MAX_OUTPUT_BYTES = 1 << 32


def _alloc(dims: tuple[int, ...], dtype: type, name: str) -> np.ndarray:
    nbytes = int(np.prod(dims, dtype=object)) * np.dtype(dtype).itemsize
    if nbytes > MAX_OUTPUT_BYTES:
        raise ValueError(
            f"{name}: the output {tuple(int(d) for d in dims)} {np.dtype(dtype)} would take "
            f"{nbytes / 2**30:,.1f} GiB; facecore allocates at most {MAX_OUTPUT_BYTES / 2**30:.0f} GiB "
            "per call (pass out= to use your own buffer)"
        )
    return np.empty(dims, dtype)


def _same_view(a: np.ndarray, b: np.ndarray) -> bool:
    """The same elements in the same order (in-place use is then element-wise safe)."""
    return (
        a.shape == b.shape
        and a.strides == b.strides
        and a.dtype == b.dtype
        and a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
    )


def _inplace_out(
    out: object,
    shape: tuple[int, ...],
    inputs: tuple[np.ndarray, ...],
    aliases: tuple[np.ndarray, ...],
) -> np.ndarray:
    """``out=`` that may be exactly one of ``aliases`` (in place) but must not otherwise
    overlap any input: decided by memory overlap, not by identity, so a shifted view of
    the base passed as the effect with ``out=base`` is refused."""
    if isinstance(out, np.ndarray) and any(_same_view(out, a) for a in aliases):
        if out.shape != tuple(shape) or not out.flags.c_contiguous or not out.flags.writeable:
            raise ValueError(f"out: expected a C-contiguous writable {tuple(shape)} array")
        for a in inputs:
            if _same_view(out, a) or not np.may_share_memory(out, a):
                continue
            try:
                overlap = np.shares_memory(out, a, max_work=10**6)
            except Exception:
                overlap = True
            if overlap:
                raise ValueError(
                    "out: overlaps an input other than as the very same array (e.g. a shifted "
                    "view of it); pass a copy"
                )
        return out
    return as_out(out, "out", shape, np.uint8, *inputs)


def _per_channel(value: object, name: str, channels: int) -> np.ndarray:
    """A scalar or one finite number per channel -> float32 (channels,)."""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        arr = np.full(channels, float(value), dtype=np.float32)
    else:
        try:
            arr = np.asarray(value, dtype=np.float32).reshape(-1)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name}: expected a number or one number per channel") from exc
        if arr.size != channels:
            raise ValueError(f"{name}: expected 1 or {channels} values; got {arr.size}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: values must be finite")
    return np.ascontiguousarray(arr)


def _fill_u8(fill: object, channels: int) -> np.ndarray:
    arr = _per_channel(fill, "fill", channels)
    if (arr < 0).any() or (arr > 255).any() or (arr != np.round(arr)).any():
        raise ValueError("fill: uint8 images need integer fill values in [0, 255]")
    return arr.astype(np.int32)


# ============================================================================== warp


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
    device : {"auto", "cpu", "cuda"}
        Where to run: ``"auto"`` runs on the GPU when given GPU arrays (CuPy, PyTorch,
        anything with ``__cuda_array_interface__``) and returns GPU arrays; ``"cuda"`` also
        copies NumPy inputs to the GPU (and the result back); ``"cpu"`` never uses the GPU.
        See docs/cuda.md.
    stream : int or CuPy/PyTorch stream, optional
        GPU only: the CUDA stream to queue on (default: the input framework's current one).

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
    if _gpu.wants_gpu(device, image=image, out=out):
        return _gpu.warp_crops(
            image,
            matrices,
            shape,
            border=border,
            fill=fill,
            tensor=tensor,
            mean=mean,
            std=std,
            swap_rb=swap_rb,
            out=out,
            device=device,
            stream=stream,
        )
    image = as_image(image, "image")
    m = as_matrices(matrices, "matrices")
    h, w = as_shape(shape, "shape")
    b = _BORDERS[as_choice(border, "border", tuple(_BORDERS))]
    tensor = as_bool(tensor, "tensor")
    swap_rb = as_bool(swap_rb, "swap_rb")
    c = image.shape[2] if image.ndim == 3 else 1
    f = _fill_u8(fill, c)
    n = m.shape[0]
    if tensor:
        if swap_rb and c < 3:
            raise ValueError("swap_rb: needs an image with 3 or 4 channels")
        mu = _per_channel(mean, "mean", c)
        sd = _per_channel(std, "std", c)
        if (sd == 0).any():
            raise ValueError("std: must be non-zero")
        dims = (n, c, h, w)
        res = (
            _alloc(dims, np.float32, "shape")
            if out is None
            else as_out(out, "out", dims, np.float32, image)
        )
        _core.warp_affine_to_nchw_f32(image, m, h, w, False, b, f, mu, sd, swap_rb, res)
        return res
    if swap_rb:
        raise ValueError("swap_rb: only applies with tensor=True")
    dims = (n, h, w, c) if image.ndim == 3 else (n, h, w)
    res = (
        _alloc(dims, np.uint8, "shape")
        if out is None
        else as_out(out, "out", dims, np.uint8, image)
    )
    _core.warp_affine_u8(image, m, h, w, False, b, f, res)
    return res


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
    device : {"auto", "cpu", "cuda"}
        Where to run: ``"auto"`` runs on the GPU when given GPU arrays (CuPy, PyTorch,
        anything with ``__cuda_array_interface__``) and returns GPU arrays; ``"cuda"`` also
        copies NumPy inputs to the GPU (and the result back); ``"cpu"`` never uses the GPU.
        See docs/cuda.md.
    stream : int or CuPy/PyTorch stream, optional
        GPU only: the CUDA stream to queue on (default: the input framework's current one).

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
    if _gpu.wants_gpu(device, src=src, out=out):
        return _gpu.warp_affine(
            src,
            matrix,
            shape,
            border=border,
            fill=fill,
            inverse=inverse,
            out=out,
            device=device,
            stream=stream,
        )
    is_float = isinstance(src, np.ndarray) and src.dtype == np.float32
    m = as_matrices(matrix, "matrix", single=True)
    h, w = as_shape(shape, "shape")
    b = _BORDERS[as_choice(border, "border", tuple(_BORDERS))]
    inverse = as_bool(inverse, "inverse")
    if is_float:
        a = np.ascontiguousarray(src)
        if a.ndim not in (2, 3) or a.size == 0 or (a.ndim == 3 and a.shape[2] not in (1, 3, 4)):
            raise ValueError(f"src: expected float32 (H, W) or (H, W, C); got {a.shape}")
        fv = as_float(fill, "fill")
        dims = (1, h, w) + a.shape[2:]
        res = (
            _alloc(dims, np.float32, "shape")
            if out is None
            else as_out(out, "out", dims[1:], np.float32, a)[None]
        )
        _core.warp_affine_f32(a, m, h, w, inverse, b, fv, res)
        return res[0]
    a = as_image(src, "src")
    c = a.shape[2] if a.ndim == 3 else 1
    f = _fill_u8(fill, c)
    dims = (1, h, w) + a.shape[2:]
    res = (
        _alloc(dims, np.uint8, "shape")
        if out is None
        else as_out(out, "out", dims[1:], np.uint8, a)[None]
    )
    _core.warp_affine_u8(a, m, h, w, inverse, b, f, res)
    return res[0]


# =========================================================================== windows


@dataclass(frozen=True)
class WindowBatch:
    """A batch of windows from :func:`iter_windows`.

    Attributes
    ----------
    tensor : (B, C, window_h, window_w) float32 ndarray
        The windows, normalised, NCHW.
    first : int
        Index of the first window in the row-major window grid.
    origins : (B, 2) int64 ndarray
        Top-left corner ``(x, y)`` of each window in the image.
    """

    tensor: np.ndarray
    first: int
    origins: np.ndarray


def window_grid(
    image_shape: tuple[int, ...],
    window: int | tuple[int, int],
    *,
    stride: int | tuple[int, int] = 1,
) -> tuple[int, int]:
    """Rows and columns of the window grid: ``((H - wh) // sy + 1, (W - ww) // sx + 1)``.

    Examples
    --------
    >>> import facecore as fc
    >>> fc.kernels.window_grid((256, 256), 35, stride=1)
    (222, 222)
    """
    if not isinstance(image_shape, (tuple, list)) or len(image_shape) < 2:
        raise TypeError("image_shape: expected a tuple (H, W, ...)")
    H, W = (
        as_int(image_shape[0], "image_shape", minimum=1),
        as_int(image_shape[1], "image_shape", minimum=1),
    )
    wh, ww = as_pair(window, "window")
    sy, sx = as_pair(stride, "stride")
    if wh > H or ww > W:
        raise ValueError(f"window: {(wh, ww)} is larger than the image ({H}, {W})")
    return (H - wh) // sy + 1, (W - ww) // sx + 1


def iter_windows(
    image: np.ndarray,
    window: int | tuple[int, int],
    *,
    stride: int | tuple[int, int] = 1,
    batch_size: int | None = None,
    mean: float | tuple[float, ...] = 0.0,
    std: float | tuple[float, ...] = 1.0,
    swap_rb: bool = False,
    device: str = "auto",
    stream: object = None,
) -> Iterator[WindowBatch]:
    """Yield every ``window`` of ``image`` at ``stride`` as float32 NCHW batches.

    Window ``k`` of the row-major grid has its top-left corner at
    ``((k % grid_w) * sx, (k // grid_w) * sy)``; its values are
    ``(image[y + r, x + q, c] - mean[c]) / std[c]`` (channels reversed first when
    ``swap_rb``). Only one batch exists at a time, so stride 1 over a large image runs in
    ``batch_size * C * wh * ww * 4`` bytes. The default batch holds about 2 MiB of windows:
    it stays in the CPU cache, where the extraction (and usually the classifier reading it)
    runs about twice as fast as on batches that spill to memory.

    Parameters
    ----------
    image : (H, W, C) or (H, W) uint8 ndarray
    window : int or (height, width)
        Window size; at most the image's.
    stride : int or (sy, sx)
    batch_size : int, optional
        Windows per batch (>= 1); default: as many as fit in 2 MiB (at least 1).
    mean, std : float or sequence of float
        Per output channel normalisation.
    swap_rb : bool
        BGR -> RGB.
    device : {"auto", "cpu", "cuda"}
        Where to run: ``"auto"`` runs on the GPU when given GPU arrays (CuPy, PyTorch,
        anything with ``__cuda_array_interface__``) and returns GPU arrays; ``"cuda"`` also
        copies NumPy inputs to the GPU (and the result back); ``"cpu"`` never uses the GPU.
        See docs/cuda.md.
    stream : int or CuPy/PyTorch stream, optional
        GPU only: the CUDA stream to queue on (default: the input framework's current one).

    Yields
    ------
    batch : WindowBatch

    Examples
    --------
    >>> import numpy as np, facecore as fc
    >>> img = np.zeros((64, 64, 3), np.uint8)
    >>> sizes = [b.tensor.shape for b in fc.kernels.iter_windows(img, 35, batch_size=500)]
    >>> sizes[0], len(sizes)
    ((500, 3, 35, 35), 2)
    """
    if _gpu.wants_gpu(device, image=image):
        return _gpu.iter_windows(
            image,
            window,
            stride=stride,
            batch_size=batch_size,
            mean=mean,
            std=std,
            swap_rb=swap_rb,
            device=device,
            stream=stream,
        )
    image = as_image(image, "image")
    wh, ww = as_pair(window, "window")
    sy, sx = as_pair(stride, "stride")
    gh, gw = window_grid(image.shape, (wh, ww), stride=(sy, sx))
    c = image.shape[2] if image.ndim == 3 else 1
    if batch_size is None:
        batch_size = max(1, _CACHE_BATCH_BYTES // (c * wh * ww * 4))
    batch_size = as_int(batch_size, "batch_size", minimum=1)
    swap_rb = as_bool(swap_rb, "swap_rb")
    if swap_rb and c < 3:
        raise ValueError("swap_rb: needs an image with 3 or 4 channels")
    mu = _per_channel(mean, "mean", c)
    sd = _per_channel(std, "std", c)
    if (sd == 0).any():
        raise ValueError("std: must be non-zero")
    if min(batch_size, gh * gw) * c * wh * ww * 4 > MAX_OUTPUT_BYTES:
        raise ValueError(
            f"batch_size: {min(batch_size, gh * gw)} windows of {c} x {wh} x {ww} float32 would take "
            f"{min(batch_size, gh * gw) * c * wh * ww * 4 / 2**30:,.1f} GiB a batch; the limit is "
            f"{MAX_OUTPUT_BYTES / 2**30:.0f} GiB"
        )
    return _window_batches(image, wh, ww, sy, sx, gh * gw, gw, batch_size, mu, sd, swap_rb)


_CACHE_BATCH_BYTES = 2 << 20


def _window_batches(image, wh, ww, sy, sx, total, gw, batch_size, mu, sd, swap_rb):
    c = image.shape[2] if image.ndim == 3 else 1
    for first in range(0, total, batch_size):
        count = min(batch_size, total - first)
        out = np.empty((count, c, wh, ww), np.float32)
        _core.extract_windows_nchw_f32(image, wh, ww, sy, sx, first, count, mu, sd, swap_rb, out)
        k = np.arange(first, first + count, dtype=np.int64)
        origins = np.stack([(k % gw) * sx, (k // gw) * sy], axis=1)
        yield WindowBatch(tensor=out, first=first, origins=origins)


_REDUCE = {"mean": 0, "centre": 1, "center": 1}


def accumulate_windows(
    scores: np.ndarray,
    image_shape: tuple[int, ...],
    window: int | tuple[int, int],
    *,
    stride: int | tuple[int, int] = 1,
    reduce: str = "mean",
    fill: float = 0.0,
    out: np.ndarray | None = None,
    device: str = "auto",
    stream: object = None,
) -> np.ndarray:
    """Accumulate one score per window back into a float32 ``(H, W)`` map.

    ``reduce="mean"``: each pixel is the mean score of every window that covers it (``fill``
    where none does, i.e. in the gaps when the stride exceeds the window, or the right/bottom
    remainder). Computed from a prefix sum of the grid in float64: O(H*W), whatever the
    window size. ``reduce="centre"``: each score sits at its window's centre
    ``(x + (ww - 1) / 2, y + (wh - 1) / 2)`` and pixels are interpolated bilinearly between
    centres (edge values replicated outwards).

    Parameters
    ----------
    scores : (grid_h, grid_w) or (grid_h * grid_w,) float32 ndarray
        One score per window in the row-major grid order of :func:`iter_windows`.
    image_shape : tuple
        ``(H, W, ...)`` of the image the windows came from.
    window, stride : int or pair
        As given to :func:`iter_windows`.
    reduce : {"mean", "centre"}
    fill : float
        Value of pixels no window covers (``"mean"`` only).
    out : (H, W) float32 ndarray, optional
    device : {"auto", "cpu", "cuda"}
        Where to run: ``"auto"`` runs on the GPU when given GPU arrays (CuPy, PyTorch,
        anything with ``__cuda_array_interface__``) and returns GPU arrays; ``"cuda"`` also
        copies NumPy inputs to the GPU (and the result back); ``"cpu"`` never uses the GPU.
        See docs/cuda.md.
    stream : int or CuPy/PyTorch stream, optional
        GPU only: the CUDA stream to queue on (default: the input framework's current one).

    Returns
    -------
    map : (H, W) float32 ndarray

    Examples
    --------
    >>> import numpy as np, facecore as fc
    >>> grid = fc.kernels.window_grid((8, 8), 3)
    >>> m = fc.kernels.accumulate_windows(np.ones(grid, np.float32), (8, 8), 3)
    >>> float(m.min()), float(m.max())
    (1.0, 1.0)
    """
    if _gpu.wants_gpu(device, scores=scores, out=out):
        return _gpu.accumulate_windows(
            scores,
            image_shape,
            window,
            stride=stride,
            reduce=reduce,
            fill=fill,
            out=out,
            device=device,
            stream=stream,
        )
    gh, gw = window_grid(image_shape, window, stride=stride)
    H, W = int(image_shape[0]), int(image_shape[1])
    wh, ww = as_pair(window, "window")
    sy, sx = as_pair(stride, "stride")
    red = _REDUCE[as_choice(reduce, "reduce", tuple(_REDUCE))]
    fv = as_float(fill, "fill")
    s = scores if isinstance(scores, np.ndarray) else np.asarray(scores)
    if s.dtype != np.float32:
        raise TypeError(f"scores: expected float32 array; got {s.dtype}")
    if s.size != gh * gw or s.ndim not in (1, 2) or (s.ndim == 2 and s.shape != (gh, gw)):
        raise ValueError(
            f"scores: expected {(gh, gw)} or ({gh * gw},) for this grid; got {s.shape}"
        )
    s = np.ascontiguousarray(s.reshape(gh, gw))
    res = (
        _alloc((H, W), np.float32, "image_shape")
        if out is None
        else as_out(out, "out", (H, W), np.float32, s)
    )
    _core.accumulate_windows_f32(s, H, W, wh, ww, sy, sx, red, fv, res)
    return res


def probability_map(
    image: np.ndarray,
    classify: Callable[[np.ndarray], np.ndarray],
    window: int | tuple[int, int],
    *,
    stride: int | tuple[int, int] = 1,
    batch_size: int | None = None,
    reduce: str = "mean",
    mean: float | tuple[float, ...] = 0.0,
    std: float | tuple[float, ...] = 1.0,
    swap_rb: bool = False,
    device: str = "auto",
    stream: object = None,
) -> np.ndarray:
    """Classify every window of ``image`` and turn the scores into a per-pixel map.

    Chains :func:`iter_windows` -> ``classify`` (one call per batch; e.g. an onnxruntime
    session's ``run``) -> :func:`accumulate_windows`. Memory is one batch of windows plus one
    float per window, so stride 1 over a 512x512 image is fine.

    Parameters
    ----------
    image : (H, W, C) or (H, W) uint8 ndarray
    classify : callable
        Takes a float32 ``(B, C, wh, ww)`` batch, returns B scores (shape ``(B,)`` or
        ``(B, 1)``), typically probabilities in [0, 1].
    window, stride, batch_size, mean, std, swap_rb
        As :func:`iter_windows`.
    reduce : {"mean", "centre"}
        As :func:`accumulate_windows`.
    device : {"auto", "cpu", "cuda"}
        On the GPU, ``classify`` gets device batches and may return device or host scores.
        Where to run: ``"auto"`` runs on the GPU when given GPU arrays (CuPy, PyTorch,
        anything with ``__cuda_array_interface__``) and returns GPU arrays; ``"cuda"`` also
        copies NumPy inputs to the GPU (and the result back); ``"cpu"`` never uses the GPU.
        See docs/cuda.md.
    stream : int or CuPy/PyTorch stream, optional
        GPU only: the CUDA stream to queue on (default: the input framework's current one).

    Returns
    -------
    map : (H, W) float32 ndarray

    Examples
    --------
    >>> import numpy as np, facecore as fc
    >>> img = np.full((48, 48, 3), 200, np.uint8)
    >>> brightness = lambda batch: batch.mean(axis=(1, 2, 3)) / 255
    >>> p = fc.probability_map(img, brightness, 15, stride=2)
    >>> p.shape, round(float(p[24, 24]), 3)
    ((48, 48), 0.784)
    """
    if _gpu.wants_gpu(device, image=image):
        return _gpu.probability_map(
            image,
            classify,
            window,
            stride=stride,
            batch_size=batch_size,
            reduce=reduce,
            mean=mean,
            std=std,
            swap_rb=swap_rb,
            device=device,
            stream=stream,
        )
    if not callable(classify):
        raise TypeError(f"classify: expected a callable; got {type(classify).__name__}")
    image = as_image(image, "image")
    gh, gw = window_grid(image.shape, window, stride=stride)
    as_choice(reduce, "reduce", tuple(_REDUCE))
    scores = np.empty(gh * gw, np.float32)
    for batch in iter_windows(
        image, window, stride=stride, batch_size=batch_size, mean=mean, std=std, swap_rb=swap_rb
    ):
        n = batch.tensor.shape[0]
        got = np.asarray(classify(batch.tensor))
        if got.size != n or (got.ndim == 2 and got.shape[1] != 1) or got.ndim > 2:
            raise ValueError(
                f"classify: must return one score per window, shape ({n},) or ({n}, 1); got {got.shape}"
            )
        scores[batch.first : batch.first + n] = got.reshape(n)
    return accumulate_windows(scores, image.shape, window, stride=stride, reduce=reduce)


# ============================================================================ refine

#: Named refinement kernels (3x3, sums 1). ``"lbp3"`` is the seed's "LBP-conv": the pixel keeps
#: half its weight and its 8 neighbours share the other half, so isolated responses fade and
#: agreeing neighbourhoods reinforce each other. The others are the usual smoothing kernels.
KERNELS: dict[str, np.ndarray] = {
    "lbp3": np.array([[1, 1, 1], [1, 8, 1], [1, 1, 1]], np.float32) / np.float32(16),
    "box3": np.full((3, 3), 1, np.float32) / np.float32(9),
    "gauss3": np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], np.float32) / np.float32(16),
    "identity": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], np.float32),
}
for _k in KERNELS.values():
    _k.setflags(write=False)


def refine_map(
    p: np.ndarray,
    *,
    power: float = 2,
    kernel: str | np.ndarray = "lbp3",
    iterations: int = 1,
    out: np.ndarray | None = None,
    device: str = "auto",
    stream: object = None,
) -> np.ndarray:
    """Sharpen a probability map and smooth it with a small kernel, fused, iterated.

    One iteration computes, for every pixel, ``clip(sum_ij K[i, j] * s(p[y+i-r, x+j-r]), 0, 1)``
    with ``s(v) = 1 - (1 - clip(v, 0, 1))**power``: correlation as ``cv2.filter2D`` does,
    with **replicated** borders (``cv2.BORDER_REPLICATE``). NaN counts as 0.

    Parameters
    ----------
    p : (H, W) float32 ndarray
        Probabilities.
    power : float
        Sharpening exponent (> 0); 2 is the seed's ``1 - (1 - p)^2``.
    kernel : str or (k, k) float32 ndarray
        A name from :data:`KERNELS` or any small kernel with odd sides (<= 31).
    iterations : int
        Passes (>= 0; 0 returns a copy).
    out : (H, W) float32 ndarray, optional
        May be ``p`` itself.
    device : {"auto", "cpu", "cuda"}
        Where to run: ``"auto"`` runs on the GPU when given GPU arrays (CuPy, PyTorch,
        anything with ``__cuda_array_interface__``) and returns GPU arrays; ``"cuda"`` also
        copies NumPy inputs to the GPU (and the result back); ``"cpu"`` never uses the GPU.
        See docs/cuda.md.
    stream : int or CuPy/PyTorch stream, optional
        GPU only: the CUDA stream to queue on (default: the input framework's current one).

    Returns
    -------
    refined : (H, W) float32 ndarray in [0, 1]

    Examples
    --------
    >>> import numpy as np, facecore as fc
    >>> p = np.full((4, 4), 0.5, np.float32)
    >>> float(fc.kernels.refine_map(p)[0, 0])
    0.75
    """
    if _gpu.wants_gpu(device, p=p, out=out):
        return _gpu.refine_map(
            p,
            power=power,
            kernel=kernel,
            iterations=iterations,
            out=out,
            device=device,
            stream=stream,
        )
    p = as_map(p, "p")
    power = as_float(power, "power")
    if power <= 0:
        raise ValueError(f"power: must be > 0; got {power}")
    if isinstance(kernel, str):
        k = KERNELS[as_choice(kernel, "kernel", tuple(KERNELS))]
    else:
        k = kernel if isinstance(kernel, np.ndarray) else np.asarray(kernel)
        if not np.issubdtype(k.dtype, np.floating):
            raise TypeError(f"kernel: expected a name or a float array; got {k.dtype}")
        if k.ndim != 2 or k.shape[0] % 2 == 0 or k.shape[1] % 2 == 0 or max(k.shape) > 31:
            raise ValueError(f"kernel: expected odd sides <= 31; got shape {k.shape}")
        k = np.ascontiguousarray(k, dtype=np.float32)
        if not np.isfinite(k).all():
            raise ValueError("kernel: entries must be finite")
    iterations = as_int(iterations, "iterations", minimum=0)
    if out is None:
        res = np.empty_like(p)
    elif out is p:
        res = p
    else:
        res = as_out(out, "out", p.shape, np.float32, p)
    _core.refine_map_f32(p, power, k, iterations, res)
    return res


# ============================================================================ guided


def guided_upsample(
    guide: np.ndarray,
    alpha: np.ndarray,
    *,
    radius: int = 4,
    eps: float = 1e-3,
    out: np.ndarray | None = None,
    device: str = "auto",
    stream: object = None,
) -> np.ndarray:
    """Upsample a low-resolution alpha to the guide's size, following the guide's edges.

    The fast guided filter (He & Sun 2015) with a grey guide ``I`` (BT.601 luma of the
    BGR frame, in [0, 1]). At the alpha's resolution ``(h, w)``: ``I_low`` is the mean of
    ``I`` over each low pixel's block of frame pixels (rows ``y*H//h .. (y+1)*H//h - 1``);
    with ``mean`` the box mean over the ``(2 r + 1)^2`` window clipped to the map,

    ``a = (mean(I p) - mean(I) mean(p)) / (mean(I^2) - mean(I)^2 + eps)``,
    ``b = mean(p) - a mean(I)``;

    then ``A, B`` = ``mean(a), mean(b)`` resized to ``(H, W)`` as ``cv2.resize``
    INTER_LINEAR does, and ``q = clip(A * I + B, 0, 1)`` at every frame pixel. Box sums are
    running sums in float64 (O(1) per pixel); the full-resolution pass is one read of the
    frame. ``p`` is ``alpha`` clipped to [0, 1] (NaN as 0).

    Parameters
    ----------
    guide : (H, W, 3) or (H, W) uint8 ndarray
        The full-resolution frame, BGR (or grey).
    alpha : (h, w) float32 ndarray
        Low-resolution alpha, ``h <= H`` and ``w <= W`` (equal sizes: a plain guided filter).
    radius : int
        Box radius in low-resolution pixels, 1..255.
    eps : float
        Regulariser (> 0): larger is smoother, smaller follows the guide's edges more.
    out : (H, W) float32 ndarray, optional
    device : {"auto", "cpu", "cuda"}
        Where to run: ``"auto"`` runs on the GPU when given GPU arrays (CuPy, PyTorch,
        anything with ``__cuda_array_interface__``) and returns GPU arrays; ``"cuda"`` also
        copies NumPy inputs to the GPU (and the result back); ``"cpu"`` never uses the GPU.
        See docs/cuda.md.
    stream : int or CuPy/PyTorch stream, optional
        GPU only: the CUDA stream to queue on.

    Returns
    -------
    alpha_full : (H, W) float32 ndarray in [0, 1]

    Raises
    ------
    TypeError
        If ``guide`` is not uint8 or ``alpha`` not float32.
    ValueError
        If ``alpha`` is larger than ``guide``, ``radius`` or ``eps`` is out of range.

    Examples
    --------
    >>> import numpy as np, facecore as fc
    >>> frame = np.zeros((8, 8, 3), np.uint8); frame[:, 4:] = 255
    >>> low = np.zeros((2, 2), np.float32); low[:, 1] = 1
    >>> a = fc.kernels.guided_upsample(frame, low, radius=1)
    >>> a.shape, bool(a[0, 0] < 0.01), bool(a[0, 7] > 0.99)
    ((8, 8), True, True)
    """
    if _gpu.wants_gpu(device, guide=guide, alpha=alpha, out=out):
        return _gpu.guided_upsample(
            guide, alpha, radius=radius, eps=eps, out=out, device=device, stream=stream
        )
    guide = as_image(guide, "guide", channels=(3,))
    a = as_map(alpha, "alpha")
    if a.shape[0] > guide.shape[0] or a.shape[1] > guide.shape[1]:
        raise ValueError(
            f"alpha: expected a map no larger than the guide {guide.shape[:2]}; got {a.shape}"
        )
    radius = as_int(radius, "radius", minimum=1)
    if radius > 255:
        raise ValueError(f"radius: must be in 1..255; got {radius}")
    eps = as_float(eps, "eps")
    if not eps > 0:
        raise ValueError(f"eps: must be > 0; got {eps}")
    shape = guide.shape[:2]
    res = (
        np.empty(shape, np.float32)
        if out is None
        else as_out(out, "out", shape, np.float32, a, guide)
    )
    _core.guided_upsample_f32(guide, a, radius, eps, res)
    return res


# ============================================================================= blend


def _alpha(alpha: object, shape: tuple[int, int]) -> np.ndarray:
    a = alpha if isinstance(alpha, np.ndarray) else np.asarray(alpha)
    if a.dtype != np.float32:
        raise TypeError(f"alpha: expected float32 array of shape {shape}; got {a.dtype}")
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.shape != shape:
        raise ValueError(f"alpha: expected shape {shape} (the image's H, W); got {a.shape}")
    if not (a.strides[1] == 4 and a.strides[0] > 0):
        a = np.ascontiguousarray(a)
    return a


def blend(
    base: np.ndarray,
    effect: np.ndarray,
    alpha: np.ndarray,
    *,
    out: np.ndarray | None = None,
    device: str = "auto",
    stream: object = None,
) -> np.ndarray:
    """Mask-weighted blend ``out = (1 - a) * base + a * effect``, rounded half up.

    Evaluated in float32 in that order, per channel, with ``a = clip(alpha, 0, 1)`` (NaN as
    0), then ``floor(v + 0.5)``: the NumPy expression
    ``np.floor((1 - a)[..., None] * base + a[..., None] * effect + 0.5)`` in float32, exactly.

    Parameters
    ----------
    base, effect : (H, W, C) or (H, W) uint8 ndarray
        Same shape.
    alpha : (H, W) float32 ndarray
        Weight of ``effect``.
    out : uint8 ndarray, optional
        May be ``base`` or ``effect`` (element-wise).
    device : {"auto", "cpu", "cuda"}
        Where to run: ``"auto"`` runs on the GPU when given GPU arrays (CuPy, PyTorch,
        anything with ``__cuda_array_interface__``) and returns GPU arrays; ``"cuda"`` also
        copies NumPy inputs to the GPU (and the result back); ``"cpu"`` never uses the GPU.
        See docs/cuda.md.
    stream : int or CuPy/PyTorch stream, optional
        GPU only: the CUDA stream to queue on (default: the input framework's current one).

    Returns
    -------
    blended : uint8 ndarray of ``base``'s shape

    Examples
    --------
    >>> import numpy as np, facecore as fc
    >>> base = np.zeros((2, 2, 3), np.uint8); effect = np.full((2, 2, 3), 200, np.uint8)
    >>> fc.kernels.blend(base, effect, np.full((2, 2), 0.25, np.float32))[0, 0]
    array([50, 50, 50], dtype=uint8)
    """
    if _gpu.wants_gpu(device, base=base, effect=effect, alpha=alpha, out=out):
        return _gpu.blend(base, effect, alpha, out=out, device=device, stream=stream)
    base = as_image(base, "base")
    effect = as_image(effect, "effect")
    if effect.shape != base.shape:
        raise ValueError(f"effect: expected the shape of base {base.shape}; got {effect.shape}")
    a = _alpha(alpha, base.shape[:2])
    if out is None:
        res = np.empty_like(base)
    else:  # in place on base or effect is fine; any other overlap (a shifted view) is refused
        res = _inplace_out(out, base.shape, (base, effect, a), (base, effect))
    _core.blend_u8(base, effect, a, res)
    return res


_SPACES = {"lab": 0, "hsv": 1, "transfer": 2, "natural": 3}


def recolor(
    image: np.ndarray,
    alpha: np.ndarray,
    color: str,
    *,
    mode: str = "lab",
    strength: float = 1.0,
    source: tuple[float, float] | None = None,
    out: np.ndarray | None = None,
    device: str = "auto",
    stream: object = None,
) -> np.ndarray:
    """Recolour where ``alpha`` says, keeping the texture: the effect layer and its blend in one pass.

    ``mode="lab"`` keeps each pixel's L (lightness, hence the hair's texture) and moves its
    a/b toward the target colour's by ``strength``; ``mode="hsv"`` keeps V, moves the hue
    along the shorter arc and the saturation toward the target's by ``strength``. The layer
    is then blended: ``out = (1 - a) * image + a * layer`` (as :func:`blend`, with the layer
    unrounded). Colour maths follow OpenCV's float definitions (``cv2.cvtColor`` on float32
    images in [0, 1]: sRGB, D65; HSV with H in degrees), so those are the reference; pixels
    with ``alpha == 0`` are returned unchanged, and blocks of them are skipped, so the cost
    follows the recoloured area.

    ``mode="transfer"`` (a hair dye) moves the hair's colour distribution to the target's, in
    Oklab scaled by 100 (B. Ottosson 2020: hue stays constant where CIE Lab's blues turn
    purple): with ``mu, sd`` the hair's mean and spread of L (``source``, or measured with
    :func:`lab_stats` over ``alpha >= 0.5``, step 4), ``d = L - mu`` the pixel's detail and
    ``(Lt, at, bt)`` the target, the new lightness is ``L' = Lt + k d`` with
    ``k = clip((Lt + 10) / (mu + 10), 0.4, 2.5)`` (relative contrast kept: blond can become a
    dark blue, black a light one) and the chroma ``(at, bt) * clip(L' / Lt, 0, 1.25)``
    (shadows less saturated, hue kept); ``strength`` moves L, a, b that far. Out-of-gamut
    results are mixed with the grey of the same luminance (hue kept) instead of clipped.
    ``mode="natural"``: the same with the mean lightness moved halfway
    (``mu + (Lt - mu) / 2``), and highlights (``d > sd``) keeping part of their own
    lightness and less chroma.

    Parameters
    ----------
    image : (H, W, 3) uint8 ndarray
        BGR.
    alpha : (H, W) float32 ndarray
        Where, and how much, to recolour (e.g. a refined hair map).
    color : str
        A name (``facecore._validate.NAMED_COLORS``) or ``"#rrggbb"``.
    mode : {"lab", "hsv", "transfer", "natural"}
    strength : float
        0 (no change) .. 1 (the target's chroma).
    source : (mean L, std L), optional
        ``transfer``/``natural`` only: the hair's lightness statistics (Oklab L x 100, e.g.
        smoothed over the frames of a video); measured from ``image`` and ``alpha`` when omitted.
    out : (H, W, 3) uint8 ndarray, optional
    device : {"auto", "cpu", "cuda"}
        Where to run: ``"auto"`` runs on the GPU when given GPU arrays (CuPy, PyTorch,
        anything with ``__cuda_array_interface__``) and returns GPU arrays; ``"cuda"`` also
        copies NumPy inputs to the GPU (and the result back); ``"cpu"`` never uses the GPU.
        See docs/cuda.md.
    stream : int or CuPy/PyTorch stream, optional
        GPU only: the CUDA stream to queue on (default: the input framework's current one).

    Returns
    -------
    recoloured : (H, W, 3) uint8 ndarray

    Examples
    --------
    >>> import numpy as np, facecore as fc
    >>> img = np.full((4, 4, 3), 90, np.uint8)
    >>> out = fc.kernels.recolor(img, np.ones((4, 4), np.float32), "#8a2be2")
    >>> bool(out[0, 0, 0] > out[0, 0, 1])   # purple: more blue than green
    True
    """
    if _gpu.wants_gpu(device, image=image, alpha=alpha, out=out):
        return _gpu.recolor(
            image,
            alpha,
            color,
            mode=mode,
            strength=strength,
            out=out,
            device=device,
            stream=stream,
            source=_source(source),
        )
    image = as_image(image, "image", channels=(3,), gray=False)
    a = _alpha(alpha, image.shape[:2])
    bgr = np.asarray(as_color(color, "color"), np.float32)
    space = _SPACES[as_choice(mode, "mode", tuple(_SPACES))]
    strength = as_float(strength, "strength", minimum=0.0, maximum=1.0)
    src = _source(source)
    if out is None:
        res = np.empty_like(image)
    else:
        res = _inplace_out(out, image.shape, (image, a), (image,))
    _core.recolor_u8(image, a, space, bgr, strength, res, src)
    return res


def _source(source: object) -> np.ndarray | None:
    if source is None:
        return None
    try:
        v = np.asarray(source, np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise TypeError(
            f"source: expected (mean L, std L) numbers; got {type(source).__name__}"
        ) from None
    if v.shape != (2,) or not np.all(np.isfinite(v)):
        raise ValueError(f"source: expected two finite numbers (mean L, std L); got {source!r}")
    return v.astype(np.float32)


def lab_stats(image: np.ndarray, alpha: np.ndarray, *, step: int = 4) -> tuple[float, float, float]:
    """The hair's lightness statistics that ``recolor(mode="transfer")`` starts from.

    Over the pixels on a ``step`` grid (rows and columns ``0, step, 2 step, ...``) whose
    ``alpha >= 0.5`` (or, when there is none, every pixel with ``alpha > 0``), weighted by
    ``alpha``: the weight sum, the mean and the standard deviation of the lightness that
    :func:`recolor`'s transfer works in (Oklab L x 100, 0..100; sRGB input).

    Parameters
    ----------
    image : (H, W, 3) uint8 ndarray
        BGR.
    alpha : (H, W) float32 ndarray
    step : int
        Sampling step (>= 1; default 4, what recolor uses).

    Returns
    -------
    (weight, mean, std) : tuple of float
        ``weight == 0``: no pixel had ``alpha > 0``; then mean 50 and std 10.

    Examples
    --------
    >>> import numpy as np, facecore as fc
    >>> img = np.full((4, 4, 3), 255, np.uint8)
    >>> w, mean, std = fc.kernels.lab_stats(img, np.ones((4, 4), np.float32))
    >>> round(mean, 3), round(std, 3)
    (100.0, 0.0)
    """
    image = as_image(image, "image", channels=(3,), gray=False)
    a = _alpha(alpha, image.shape[:2])
    step = as_int(step, "step", minimum=1)
    w, m, sd = _core.lab_stats_u8(image, a, step)
    return float(w), float(m), float(sd)
