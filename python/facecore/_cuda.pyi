# Type stubs of facecore._cuda (src/cuda/module.cpp), built only where nvcc was found. GPU
# arrays are objects with __cuda_array_interface__ (or that dict itself); the small
# parameters (matrices, fill, mean, std, kernel, colour) are NumPy arrays on the host.
# Call them through facecore.kernels, which validates and dispatches.
from typing import Any

import numpy as np
from numpy.typing import NDArray

from facecore._core import Border as Border
from facecore._core import ColourSpace as ColourSpace
from facecore._core import Reduce as Reduce

CudaArrayLike = Any  # __cuda_array_interface__ object or dict

runtime_version: int

def device_count() -> int: ...
def device_properties(device: int = 0) -> dict[str, Any]: ...

# ---------------------------------------------------------------------------------- warp
def warp_affine_u8(
    image: CudaArrayLike,
    matrices: NDArray[np.float64],
    out_h: int,
    out_w: int,
    inverse: bool,
    border: Border,
    fill: NDArray[np.int32],
    out: CudaArrayLike,
    stream: int = 0,
) -> None: ...
def warp_affine_to_nchw_f32(
    image: CudaArrayLike,
    matrices: NDArray[np.float64],
    out_h: int,
    out_w: int,
    inverse: bool,
    border: Border,
    fill: NDArray[np.int32],
    mean: NDArray[np.float32],
    std: NDArray[np.float32],
    swap_rb: bool,
    out: CudaArrayLike,
    stream: int = 0,
) -> None: ...
def warp_affine_f32(
    src: CudaArrayLike,
    matrices: NDArray[np.float64],
    out_h: int,
    out_w: int,
    inverse: bool,
    border: Border,
    fill: float,
    out: CudaArrayLike,
    stream: int = 0,
) -> None: ...

# ------------------------------------------------------------------------------- windows
def extract_windows_nchw_f32(
    image: CudaArrayLike,
    window_h: int,
    window_w: int,
    stride_y: int,
    stride_x: int,
    first: int,
    count: int,
    mean: NDArray[np.float32],
    std: NDArray[np.float32],
    swap_rb: bool,
    out: CudaArrayLike,
    stream: int = 0,
) -> None: ...
def accumulate_windows_f32(
    scores: CudaArrayLike,
    image_h: int,
    image_w: int,
    window_h: int,
    window_w: int,
    stride_y: int,
    stride_x: int,
    reduce: Reduce,
    fill: float,
    out: CudaArrayLike,
    stream: int = 0,
) -> None: ...

# -------------------------------------------------------------------------------- refine
def refine_map_f32(
    p: CudaArrayLike,
    power: float,
    kernel: NDArray[np.float32],
    iterations: int,
    out: CudaArrayLike,
    stream: int = 0,
) -> None: ...

# -------------------------------------------------------------------------------- guided
def guided_upsample_f32(
    guide: CudaArrayLike,
    alpha: CudaArrayLike,
    radius: int,
    eps: float,
    out: CudaArrayLike,
    stream: int = 0,
) -> None: ...

# --------------------------------------------------------------------------------- blend
def blend_u8(
    base: CudaArrayLike,
    effect: CudaArrayLike,
    alpha: CudaArrayLike,
    out: CudaArrayLike,
    stream: int = 0,
) -> None: ...
def recolor_u8(
    image: CudaArrayLike,
    alpha: CudaArrayLike,
    space: ColourSpace,
    color: NDArray[np.float32],
    strength: float,
    out: CudaArrayLike,
    stream: int = 0,
    source: NDArray[np.float32] | None = None,
) -> None: ...

# ---------------------------------------------------------------------- memory and streams
class DeviceMemory:
    def __init__(self, nbytes: int, device: int = 0, stream: int = 0) -> None: ...
    @property
    def ptr(self) -> int: ...
    @property
    def nbytes(self) -> int: ...
    @property
    def device(self) -> int: ...
    @property
    def stream(self) -> int: ...

def pointer_device(ptr: int) -> int: ...
def copy_htod(dst: int, src: NDArray[Any], stream: int = 0) -> None: ...
def copy_dtoh(dst: NDArray[Any], src: int, stream: int = 0) -> None: ...
def copy_dtod(dst: int, src: int, nbytes: int, stream: int = 0) -> None: ...
def stream_synchronize(stream: int = 0) -> None: ...

class Event:
    def __init__(self) -> None: ...
    def record(self, stream: int = 0) -> None: ...
    def synchronize(self) -> None: ...
    def elapsed_ms(self, end: Event) -> float: ...
