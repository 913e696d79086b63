"""facecore: face images at speed.

A compiled core (C++ on the CPU, CUDA on NVIDIA GPUs) does the pixel work: batched alignment
warps, sliding-window probability maps, map refinement, blending and recolouring. See
``facecore.kernels`` and docs/conventions.md.
"""

from __future__ import annotations

import logging

from . import _core, align, kernels, models, occlusion
from .analyzer import FaceAnalyzer
from .io import read_image, write_image
from .quality import best_face
from .types import Box, Face, Landmarks, Pose, Quality, Verification
from .verify import verify
from .errors import CudaUnavailableError, FacecoreError, ModelIntegrityError, ModelNotFoundError
from .kernels import probability_map
from . import attributes, parsing  # face parsing and the attributes built on it (issue 23)
from .types import Attributes

__version__: str = _core.__version__

logging.getLogger(__name__).addHandler(logging.NullHandler())

try:  # optional: built only where nvcc was found; a machine without a GPU still imports it
    from . import _cuda
except ImportError:  # pragma: no cover - depends on the build
    _cuda = None


def cuda_available() -> bool:
    """True when facecore._cuda was built and a CUDA device is usable.

    Examples
    --------
    >>> import facecore as fc
    >>> isinstance(fc.cuda_available(), bool)
    True
    """
    return _cuda is not None and _cuda.device_count() > 0


def num_threads() -> int:
    """Threads the kernels use (the caller's included)."""
    return _core.num_threads()


def set_num_threads(n: int) -> None:
    """Set the kernels' thread count; ``n <= 0`` restores the default.

    The default is ``$FACECORE_NUM_THREADS`` or the number of CPUs this process may use.

    Examples
    --------
    >>> import facecore as fc
    >>> fc.set_num_threads(1); fc.num_threads()
    1
    >>> fc.set_num_threads(0)
    """
    from ._validate import as_int

    _core.set_num_threads(as_int(n, "n"))


__all__ = [
    "__version__",
    "align",
    "kernels",
    "probability_map",
    "models",
    "occlusion",
    "FaceAnalyzer",
    "read_image",
    "write_image",
    "best_face",
    "verify",
    "Box",
    "Face",
    "Landmarks",
    "Pose",
    "Quality",
    "Verification",
    "cuda_available",
    "num_threads",
    "set_num_threads",
    "FacecoreError",
    "ModelNotFoundError",
    "ModelIntegrityError",
    "CudaUnavailableError",
    "parsing",
    "attributes",
    "Attributes",
]
