"""windows: every window at a stride as model-ready float32 NCHW batches, in bounded memory;
window scores accumulated back into a map; ``probability_map`` chains the two.

C++: ``src/cpp/windows.{hpp,cpp}``; CUDA: ``src/cuda/windows.cu``; tests:
``tests/kernels/test_kernels_windows.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from . import _args
from ._dispatch import backend

__all__ = ["WindowBatch", "accumulate_windows", "iter_windows", "probability_map", "window_grid"]


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
    g = _args.grid(image_shape, window, stride)
    return g.rows, g.cols


@_args.device_doc
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
    {device}

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
    be = backend(device, stream, image=image)
    img = be.image(image, "image")
    spec = _args.windows(
        img.shape, window, stride=stride, batch_size=batch_size, mean=mean, std=std,
        swap_rb=swap_rb, batch_bytes=be.batch_bytes,
    )  # fmt: skip
    batches = be.windows(img, spec)  # type: ignore[arg-type]
    return (WindowBatch(tensor=t, first=f, origins=o) for t, f, o in batches)


@_args.device_doc
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
    {device}

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
    be = backend(device, stream, scores=scores, out=out)
    spec = _args.accumulate(image_shape, window, stride=stride, reduce=reduce, fill=fill)
    s = be.scores(scores, spec.grid)
    return be.accumulate(s, spec, out)  # type: ignore[arg-type,return-value]


@_args.device_doc
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
        ``(B, 1)``), typically probabilities in [0, 1]. On the GPU it gets device batches
        and may return device or host scores.
    window, stride, batch_size, mean, std, swap_rb
        As :func:`iter_windows`.
    reduce : {"mean", "centre"}
        As :func:`accumulate_windows`.
    {device}

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
    be = backend(device, stream, image=image)
    _args.check_classify(classify)
    img = be.image(image, "image")
    spec = _args.windows(
        img.shape, window, stride=stride, batch_size=batch_size, mean=mean, std=std,
        swap_rb=swap_rb, batch_bytes=be.batch_bytes,
    )  # fmt: skip
    acc = _args.accumulate(img.shape, window, stride=stride, reduce=reduce, fill=0.0)
    return be.probability_map(img, classify, spec, acc)  # type: ignore[arg-type,return-value]
