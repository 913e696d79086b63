"""Typed, validated wrappers around facecore's compiled kernels, one module per family.

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

One stem names a family everywhere: ``facecore/kernels/<stem>.py``,
``src/cpp/<stem>.{hpp,cpp}``, ``src/cuda/<stem>.cu``, ``tests/kernels/test_kernels_<stem>.py``
and its case in ``benchmarks/``. Every kernel takes ``device="auto"|"cpu"|"cuda"`` and, on
the GPU, ``stream=`` (see docs/cuda.md).

Inside: each public function chooses one backend for the call (``_dispatch``: ``_cpu`` on
``facecore._core``, ``_cuda`` on ``facecore._cuda``), lets it read the array arguments, parses
the rest once into a frozen spec (``_args``) and has the backend run it.
"""

from __future__ import annotations

from ._args import MAX_OUTPUT_BYTES as MAX_OUTPUT_BYTES  # a documented limit (not in __all__)
from .blend import blend, lab_stats, recolor
from .guided import guided_upsample
from .refine import KERNELS, refine_map
from .warp import warp_affine, warp_crops
from .windows import WindowBatch, accumulate_windows, iter_windows, probability_map, window_grid

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

# The families' functions are documented as facecore.kernels.<name> (that is where users
# find them); their modules stay importable as facecore.kernels.<family>.
for _name in __all__:
    _obj = globals()[_name]
    if hasattr(_obj, "__module__") and not isinstance(_obj, dict):
        _obj.__module__ = __name__
del _name, _obj
