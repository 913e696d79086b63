"""guided: edge-aware upsampling of a low-resolution alpha guided by the full frame (fast
guided filter).

C++: ``src/cpp/guided.{hpp,cpp}``; CUDA: ``src/cuda/guided.cu``; tests:
``tests/kernels/test_kernels_guided.py``.
"""

from __future__ import annotations

import numpy as np

from . import _args
from ._dispatch import backend

__all__ = ["guided_upsample"]


@_args.device_doc
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
    {device}

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
    be = backend(device, stream, guide=guide, alpha=alpha, out=out)
    g = be.image(guide, "guide", channels=(3,))
    a = be.map(alpha, "alpha")
    spec = _args.guided(g.shape, a.shape, radius=radius, eps=eps)
    return be.guided(g, a, spec, out)  # type: ignore[arg-type,return-value]
