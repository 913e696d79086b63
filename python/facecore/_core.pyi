# Type stubs of facecore._core (src/cpp/module.cpp): the C++ kernels' bindings. Call them
# through facecore.kernels, which validates and documents every argument; these checks are
# the second line (TypeError / ValueError naming the argument).
import enum

import numpy as np
from numpy.typing import NDArray

__version__: str
MAX_THREADS: int

def num_threads() -> int: ...
def set_num_threads(n: int) -> None: ...
def pool_threads() -> int: ...

class Border(enum.Enum):
    constant = 0
    replicate = 1

class Reduce(enum.Enum):
    mean = 0
    centre = 1

class ColourSpace(enum.Enum):
    lab = 0
    hsv = 1
    transfer = 2
    natural = 3

# ---------------------------------------------------------------------------------- warp
def warp_affine_u8(
    image: NDArray[np.uint8],
    matrices: NDArray[np.float64],
    out_h: int,
    out_w: int,
    inverse: bool,
    border: Border,
    fill: NDArray[np.int32],
    out: NDArray[np.uint8],
) -> None: ...
def warp_affine_to_nchw_f32(
    image: NDArray[np.uint8],
    matrices: NDArray[np.float64],
    out_h: int,
    out_w: int,
    inverse: bool,
    border: Border,
    fill: NDArray[np.int32],
    mean: NDArray[np.float32],
    std: NDArray[np.float32],
    swap_rb: bool,
    out: NDArray[np.float32],
) -> None: ...
def warp_affine_f32(
    src: NDArray[np.float32],
    matrices: NDArray[np.float64],
    out_h: int,
    out_w: int,
    inverse: bool,
    border: Border,
    fill: float,
    out: NDArray[np.float32],
) -> None: ...

# ------------------------------------------------------------------------------- windows
def extract_windows_nchw_f32(
    image: NDArray[np.uint8],
    window_h: int,
    window_w: int,
    stride_y: int,
    stride_x: int,
    first: int,
    count: int,
    mean: NDArray[np.float32],
    std: NDArray[np.float32],
    swap_rb: bool,
    out: NDArray[np.float32],
) -> None: ...
def accumulate_windows_f32(
    scores: NDArray[np.float32],
    image_h: int,
    image_w: int,
    window_h: int,
    window_w: int,
    stride_y: int,
    stride_x: int,
    reduce: Reduce,
    fill: float,
    out: NDArray[np.float32],
) -> None: ...

# -------------------------------------------------------------------------------- refine
def refine_map_f32(
    p: NDArray[np.float32],
    power: float,
    kernel: NDArray[np.float32],
    iterations: int,
    out: NDArray[np.float32],
) -> None: ...

# -------------------------------------------------------------------------------- guided
def guided_upsample_f32(
    guide: NDArray[np.uint8],
    alpha: NDArray[np.float32],
    radius: int,
    eps: float,
    out: NDArray[np.float32],
) -> None: ...

# --------------------------------------------------------------------------------- blend
def blend_u8(
    base: NDArray[np.uint8],
    effect: NDArray[np.uint8],
    alpha: NDArray[np.float32],
    out: NDArray[np.uint8],
) -> None: ...
def recolor_u8(
    image: NDArray[np.uint8],
    alpha: NDArray[np.float32],
    space: ColourSpace,
    color: NDArray[np.float32],
    strength: float,
    out: NDArray[np.uint8],
    source: NDArray[np.float32] | None = None,
) -> None: ...
def lab_stats_u8(
    image: NDArray[np.uint8], alpha: NDArray[np.float32], step: int
) -> tuple[float, float, float]: ...
