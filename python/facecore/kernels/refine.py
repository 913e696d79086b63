"""refine: sharpen ``p -> 1 - (1 - p)**power`` and a small correlation kernel, fused, iterated.

C++: ``src/cpp/refine.{hpp,cpp}``; CUDA: ``src/cuda/refine.cu``; tests:
``tests/kernels/test_kernels_refine.py``.
"""

from __future__ import annotations

import numpy as np

from . import _args
from ._args import KERNELS
from ._dispatch import backend

__all__ = ["KERNELS", "refine_map"]


@_args.device_doc
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
    {device}

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
    be = backend(device, stream, p=p, out=out)
    pm = be.map(p, "p")
    spec = _args.refine(power=power, kernel=kernel, iterations=iterations)
    return be.refine(pm, spec, out, in_place=out is p)  # type: ignore[arg-type,return-value]
