"""facecore: face images at speed.

A compiled core (C++ on the CPU, CUDA on NVIDIA GPUs) does the pixel work: batched alignment
warps, sliding-window probability maps, map refinement, blending and recolouring. See
``facecore.kernels`` and docs/conventions.md.

Submodules load on first use (``fc.cluster``, ``fc.hair``, ``fc.draw``...), so ``import
facecore`` stays fast and nothing needs an explicit ``import facecore.X``. The public
surface is pinned by ``tests/test_api_surface.py``.
"""

from __future__ import annotations

import importlib as _importlib
import logging as _logging

from . import _core, align, drawing, kernels, occlusion
from .drawing import draw
from .errors import CudaUnavailableError, FacecoreError, ModelIntegrityError, ModelNotFoundError
from .io import read_image, write_image
from .kernels import probability_map
from .quality import best_face
from .types import Attributes, Box, Expression, Face, Landmarks, Pose, Quality, Verification
from .verify import verify

__version__: str = _core.__version__

_logging.getLogger(__name__).addHandler(_logging.NullHandler())

try:  # optional: built only where nvcc was found; a machine without a GPU still imports it
    from . import _cuda
except ImportError:  # pragma: no cover - depends on the build
    _cuda = None  # type: ignore[assignment]


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
    Both are capped at ``facecore._core.MAX_THREADS`` (256): the kernels split their rows
    into at most 4 chunks a thread, so more threads only cost stacks and scheduling. If
    the system refuses to start a thread (``ulimit -u``, a container's pids limit), the
    kernels run on the threads that did start, down to the calling thread alone; they
    never abort the process.

    Examples
    --------
    >>> import facecore as fc
    >>> fc.set_num_threads(1); fc.num_threads()
    1
    >>> fc.set_num_threads(0)
    """
    from ._validate import as_int

    n = as_int(n, "n")
    _core.set_num_threads(max(-1, min(n, _core.MAX_THREADS)))


# submodules and classes loaded on first access (PEP 562)
_LAZY_MODULES = (
    "attributes",
    "cluster",
    "hair",
    "parsing",
    "io",
    "jobs",
    "pose",
    "quality",
    "types",
    "errors",
    "cli",
    "models",  # model-backed (onnx, onnxruntime): loaded on first use, not by import facecore
)
_LAZY_ATTRS = {
    "HairRecolor": ("hair", "HairRecolor"),
    "Clustering": ("cluster", "Clustering"),
    "FaceAnalyzer": ("analyzer", "FaceAnalyzer"),
}


def __getattr__(name: str):
    if name in _LAZY_MODULES:
        return _importlib.import_module(f".{name}", __name__)
    if name in _LAZY_ATTRS:
        mod, attr = _LAZY_ATTRS[name]
        value = getattr(_importlib.import_module(f".{mod}", __name__), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'facecore' has no attribute {name!r}")


__all__ = [
    "Attributes",
    "Box",
    "Clustering",
    "CudaUnavailableError",
    "Expression",
    "Face",
    "FaceAnalyzer",
    "FacecoreError",
    "HairRecolor",
    "Landmarks",
    "ModelIntegrityError",
    "ModelNotFoundError",
    "Pose",
    "Quality",
    "Verification",
    "__version__",
    "align",
    "attributes",
    "best_face",
    "cluster",
    "cuda_available",
    "draw",
    "drawing",
    "hair",
    "kernels",
    "models",
    "num_threads",
    "occlusion",
    "parsing",
    "probability_map",
    "read_image",
    "set_num_threads",
    "verify",
    "write_image",
]


def __dir__() -> list[str]:
    return sorted(set(__all__) | {"__version__"})
