"""Each kernel family's arguments, parsed and validated once into a small frozen spec.

The public functions (``warp.py``, ``windows.py``, ...) choose a backend (``_dispatch``), let it
take the array arguments (NumPy on the CPU, device arrays on the GPU: only the backend knows
how to read them), then parse everything else here, from the arrays' shapes, into a spec that
either backend (``_cpu``, ``_cuda``) runs. Enumerations become the ``facecore._core`` enum
values the C++ bindings take (one type each, shared by ``_core`` and ``_cuda``). Messages
name the argument (``TypeError`` for a type, ``ValueError`` for a value).
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from .. import _core
from .._validate import (
    as_bool,
    as_choice,
    as_color,
    as_float,
    as_int,
    as_matrices,
    as_pair,
    as_shape,
)

#: Largest output a kernel allocates itself (4 GiB). A bigger request is almost always a
#: mistake (``warp_crops`` of 100 chips of 32767 x 32767, ``accumulate_windows`` into
#: 100000 x 100000) and would end in a MemoryError or the OOM killer; it gets a ValueError
#: with the size instead. Pass ``out=`` to use a buffer of your own of any size.
MAX_OUTPUT_BYTES = 1 << 32

DEVICES = ("auto", "cpu", "cuda")
BORDERS = {"constant": _core.Border.constant, "replicate": _core.Border.replicate}
REDUCE = {"mean": _core.Reduce.mean, "centre": _core.Reduce.centre, "center": _core.Reduce.centre}
SPACES = {
    "lab": _core.ColourSpace.lab,
    "hsv": _core.ColourSpace.hsv,
    "transfer": _core.ColourSpace.transfer,
    "natural": _core.ColourSpace.natural,
}

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

# ====================================================================== the device= docs

#: The ``device=`` / ``stream=`` parameters of every kernel, written once: each docstring
#: has the marker line ``{device}`` where :func:`device_doc` puts this text.
DEVICE_DOC = """\
device : {"auto", "cpu", "cuda"}
    Where to run: ``"auto"`` runs on the GPU when given GPU arrays (CuPy, PyTorch,
    anything with ``__cuda_array_interface__``) and returns GPU arrays; ``"cuda"`` also
    copies NumPy inputs to the GPU (and the result back); ``"cpu"`` never uses the GPU.
    See docs/cuda.md.
stream : int or CuPy/PyTorch stream, optional
    GPU only: the CUDA stream to queue on (default: the input framework's current one)."""

_MARK = "{device}"
_F = TypeVar("_F", bound=Callable[..., object])


def device_doc(fn: _F) -> _F:
    """Put :data:`DEVICE_DOC` in ``fn``'s docstring at its ``{device}`` line (same indent)."""
    doc = fn.__doc__
    if doc is None:  # python -OO
        return fn
    lines = doc.split("\n")
    for i, line in enumerate(lines):
        if line.strip() == _MARK:
            indent = line[: len(line) - len(line.lstrip())]
            lines[i] = textwrap.indent(DEVICE_DOC, indent)
            fn.__doc__ = "\n".join(lines)
            return fn
    raise AssertionError(f"{fn.__name__}: docstring has no {_MARK} line")  # a facecore bug


# ======================================================================= shared parsers


def check_device(device: object) -> str:
    """``device=``: one of :data:`DEVICES`."""
    return as_choice(device, "device", DEVICES)


def per_channel(value: object, name: str, channels: int) -> np.ndarray:
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


def fill_u8(fill: object, channels: int) -> np.ndarray:
    """uint8 fill: integers in [0, 255], one for all channels or one per channel -> int32."""
    arr = per_channel(fill, "fill", channels)
    if (arr < 0).any() or (arr > 255).any() or (arr != np.round(arr)).any():
        raise ValueError("fill: uint8 images need integer fill values in [0, 255]")
    return arr.astype(np.int32)


def normalisation(
    mean: object, std: object, swap_rb: object, channels: int
) -> tuple[np.ndarray, np.ndarray, bool]:
    """``(value - mean[c]) / std[c]``, optionally B <-> R: float32 (C,) means and stds."""
    swap = as_bool(swap_rb, "swap_rb")
    if swap and channels < 3:
        raise ValueError("swap_rb: needs an image with 3 or 4 channels")
    mu = per_channel(mean, "mean", channels)
    sd = per_channel(std, "std", channels)
    if (sd == 0).any():
        raise ValueError("std: must be non-zero")
    return mu, sd, swap


def _channels(shape: tuple[int, ...]) -> int:
    return shape[2] if len(shape) == 3 else 1


_KDL_CUDA = (2, 3, 13)  # DLPack device types: kDLCUDA, kDLCUDAHost, kDLCUDAManaged


def is_device_array(x: object) -> bool:
    """True for a GPU array: ``__cuda_array_interface__``, or DLPack on a CUDA device.

    A CPU PyTorch tensor has no ``__cuda_array_interface__`` (the attribute raises), and a
    NumPy array's DLPack device is the CPU, so both are host arrays.

    Examples
    --------
    >>> import numpy as np
    >>> from facecore.kernels._args import is_device_array
    >>> is_device_array(np.zeros(3))
    False
    """
    if x is None or isinstance(x, (np.ndarray, np.generic, str, bytes, int, float)):
        return False
    try:
        if hasattr(x, "__cuda_array_interface__"):
            return True
    except Exception:
        return False
    dev = getattr(x, "__dlpack_device__", None)
    if callable(dev):
        try:
            return int(dev()[0]) in _KDL_CUDA
        except Exception:
            return False
    return False


def host_matrices(m: object, name: str, *, single: bool = False) -> np.ndarray:
    """Matrices live on the host (they are inverted there); the family module copies a GPU
    array back first (``_cuda.host_copy``), so this module never imports a backend."""
    return as_matrices(m, name, single=single)


def output_bytes(dims: tuple[int, ...], dtype: object, name: str) -> int:
    """Bytes of a result the kernel would allocate; ValueError above :data:`MAX_OUTPUT_BYTES`."""
    nbytes = int(np.prod(dims, dtype=object)) * np.dtype(dtype).itemsize  # type: ignore[call-overload]
    if nbytes > MAX_OUTPUT_BYTES:
        raise ValueError(
            f"{name}: the output {tuple(int(d) for d in dims)} {np.dtype(dtype)} would take "  # type: ignore[call-overload]
            f"{nbytes / 2**30:,.1f} GiB; facecore allocates at most {MAX_OUTPUT_BYTES / 2**30:.0f} GiB "
            "per call (pass out= to use your own buffer)"
        )
    return nbytes


# ================================================================================ warp

_NONE = np.zeros(0, np.float32)  # an unused per-channel parameter
_NO_FILL = np.zeros(0, np.int32)


@dataclass(frozen=True)
class Warp:
    """One warp call: forward (or, with ``inverse``, destination -> source) matrices, the
    output size, the border, and for a tensor output its normalisation."""

    matrices: np.ndarray  # (N, 2, 3) float64, C-contiguous
    height: int
    width: int
    border: _core.Border
    is_float: bool  # a float32 source (warp_affine of a map): fill_f32; else fill_u8
    fill_u8: np.ndarray  # int32 (C,) for uint8 sources (empty for float32 ones)
    fill_f32: float
    inverse: bool
    tensor: bool  # float32 NCHW output, (value - mean[c]) / std[c]
    mean: np.ndarray  # float32 (C,) with tensor, else empty
    std: np.ndarray
    swap_rb: bool

    @property
    def n(self) -> int:
        return int(self.matrices.shape[0])


def warp_crops(
    image_shape: tuple[int, ...],
    matrices: object,
    shape: object,
    *,
    border: object,
    fill: object,
    tensor: object,
    mean: object,
    std: object,
    swap_rb: object,
) -> Warp:
    m = host_matrices(matrices, "matrices")
    h, w = as_shape(shape, "shape")
    b = BORDERS[as_choice(border, "border", tuple(BORDERS))]
    tensor = as_bool(tensor, "tensor")
    swap = as_bool(swap_rb, "swap_rb")
    c = _channels(image_shape)
    f = fill_u8(fill, c)
    mu = sd = _NONE
    if tensor:
        mu, sd, swap = normalisation(mean, std, swap, c)
    elif swap:
        raise ValueError("swap_rb: only applies with tensor=True")
    return Warp(m, h, w, b, False, f, 0.0, False, bool(tensor), mu, sd, swap)


def warp_affine(
    src_shape: tuple[int, ...],
    is_float: bool,
    matrix: object,
    shape: object,
    *,
    border: object,
    fill: object,
    inverse: object,
) -> Warp:
    m = host_matrices(matrix, "matrix", single=True)
    h, w = as_shape(shape, "shape")
    b = BORDERS[as_choice(border, "border", tuple(BORDERS))]
    inv = as_bool(inverse, "inverse")
    if is_float:
        fv = as_float(fill, "fill")
        return Warp(m, h, w, b, True, _NO_FILL, fv, inv, False, _NONE, _NONE, False)
    f = fill_u8(fill, _channels(src_shape))
    return Warp(m, h, w, b, False, f, 0.0, inv, False, _NONE, _NONE, False)


def check_float_src(shape: tuple[int, ...], name: str = "src") -> None:
    """warp_affine's float32 source: ``(H, W)`` or ``(H, W, C)``, C in 1, 3, 4, non-empty."""
    if len(shape) not in (2, 3) or 0 in shape or (len(shape) == 3 and shape[2] not in (1, 3, 4)):
        raise ValueError(f"{name}: expected float32 (H, W) or (H, W, C); got {tuple(shape)}")


# ============================================================================= windows


@dataclass(frozen=True)
class Grid:
    """A window grid over an ``(H, W)`` image: windows ``(wh, ww)`` every ``(sy, sx)``."""

    image_h: int
    image_w: int
    window_h: int
    window_w: int
    stride_y: int
    stride_x: int

    @property
    def rows(self) -> int:
        return (self.image_h - self.window_h) // self.stride_y + 1

    @property
    def cols(self) -> int:
        return (self.image_w - self.window_w) // self.stride_x + 1

    @property
    def count(self) -> int:
        return self.rows * self.cols

    def origins(self, first: int, count: int) -> np.ndarray:
        """Top-left ``(x, y)`` of windows ``first .. first + count - 1``: (count, 2) int64."""
        k = np.arange(first, first + count, dtype=np.int64)
        return np.stack([(k % self.cols) * self.stride_x, (k // self.cols) * self.stride_y], axis=1)


def grid(image_shape: object, window: object, stride: object) -> Grid:
    """The window grid (window no larger than the image, sizes and strides >= 1)."""
    if not isinstance(image_shape, (tuple, list)) or len(image_shape) < 2:
        raise TypeError("image_shape: expected a tuple (H, W, ...)")
    H = as_int(image_shape[0], "image_shape", minimum=1)
    W = as_int(image_shape[1], "image_shape", minimum=1)
    wh, ww = as_pair(window, "window")
    sy, sx = as_pair(stride, "stride")
    if wh > H or ww > W:
        raise ValueError(f"window: {(wh, ww)} is larger than the image ({H}, {W})")
    return Grid(H, W, wh, ww, sy, sx)


@dataclass(frozen=True)
class Windows:
    """iter_windows: the grid, the batch size and the normalisation."""

    grid: Grid
    channels: int
    batch_size: int
    mean: np.ndarray
    std: np.ndarray
    swap_rb: bool


def windows(
    image_shape: tuple[int, ...],
    window: object,
    *,
    stride: object,
    batch_size: object,
    mean: object,
    std: object,
    swap_rb: object,
    batch_bytes: int,
) -> Windows:
    """``batch_bytes``: the backend's default batch (CPU: what fits its cache)."""
    g = grid(tuple(image_shape), window, stride)
    c = _channels(image_shape)
    window_bytes = c * g.window_h * g.window_w * 4
    if batch_size is None:
        batch_size = max(1, batch_bytes // window_bytes)
    bs = as_int(batch_size, "batch_size", minimum=1)
    mu, sd, swap = normalisation(mean, std, swap_rb, c)
    per_batch = min(bs, g.count)
    if per_batch * window_bytes > MAX_OUTPUT_BYTES:
        raise ValueError(
            f"batch_size: {per_batch} windows of {c} x {g.window_h} x {g.window_w} float32 would take "
            f"{per_batch * window_bytes / 2**30:,.1f} GiB a batch; the limit is "
            f"{MAX_OUTPUT_BYTES / 2**30:.0f} GiB"
        )
    return Windows(g, c, bs, mu, sd, swap)


@dataclass(frozen=True)
class Accumulate:
    """accumulate_windows: the grid, the reduction, the uncovered pixels' value."""

    grid: Grid
    reduce: _core.Reduce
    fill: float


def accumulate(
    image_shape: object, window: object, *, stride: object, reduce: object, fill: object
) -> Accumulate:
    g = grid(image_shape, window, stride)
    red = REDUCE[as_choice(reduce, "reduce", tuple(REDUCE))]
    return Accumulate(g, red, as_float(fill, "fill"))


def check_scores(shape: tuple[int, ...], dtype: object, g: Grid) -> None:
    """One float32 score per window: ``(rows, cols)`` or ``(rows * cols,)``."""
    if np.dtype(dtype) != np.float32:  # type: ignore[call-overload]
        raise TypeError(f"scores: expected float32 array; got {dtype}")
    size = int(np.prod(shape, dtype=np.int64))
    if (
        size != g.count
        or len(shape) not in (1, 2)
        or (len(shape) == 2 and tuple(shape) != (g.rows, g.cols))
    ):
        raise ValueError(
            f"scores: expected {(g.rows, g.cols)} or ({g.count},) for this grid; got {tuple(shape)}"
        )


def check_classify(classify: object) -> None:
    if not callable(classify):
        raise TypeError(f"classify: expected a callable; got {type(classify).__name__}")


# ============================================================================== refine


@dataclass(frozen=True)
class Refine:
    power: float
    kernel: np.ndarray  # (kh, kw) float32, odd sides <= 31, finite
    iterations: int


def refine(*, power: object, kernel: object, iterations: object) -> Refine:
    pw = as_float(power, "power")
    if pw <= 0:
        raise ValueError(f"power: must be > 0; got {pw}")
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
    return Refine(pw, k, as_int(iterations, "iterations", minimum=0))


# ============================================================================== guided


@dataclass(frozen=True)
class Guided:
    radius: int
    eps: float


def guided(
    guide_shape: tuple[int, ...], alpha_shape: tuple[int, ...], *, radius: object, eps: object
) -> Guided:
    if alpha_shape[0] > guide_shape[0] or alpha_shape[1] > guide_shape[1]:
        raise ValueError(
            f"alpha: expected a map no larger than the guide {tuple(guide_shape[:2])}; got {tuple(alpha_shape)}"
        )
    r = as_int(radius, "radius", minimum=1)
    if r > 255:
        raise ValueError(f"radius: must be in 1..255; got {r}")
    e = as_float(eps, "eps")
    if not e > 0:
        raise ValueError(f"eps: must be > 0; got {e}")
    return Guided(r, e)


# =============================================================================== blend


def check_same_shape(base_shape: tuple[int, ...], effect_shape: tuple[int, ...]) -> None:
    if tuple(effect_shape) != tuple(base_shape):
        raise ValueError(
            f"effect: expected the shape of base {tuple(base_shape)}; got {tuple(effect_shape)}"
        )


def check_alpha_dtype(dtype: object, shape: tuple[int, ...]) -> None:
    if np.dtype(dtype) != np.float32:  # type: ignore[call-overload]
        raise TypeError(f"alpha: expected float32 array of shape {shape}; got {dtype}")


def check_alpha_shape(alpha_shape: tuple[int, ...], shape: tuple[int, ...]) -> None:
    if tuple(alpha_shape) != tuple(shape):
        raise ValueError(
            f"alpha: expected shape {shape} (the image's H, W); got {tuple(alpha_shape)}"
        )


@dataclass(frozen=True)
class Recolor:
    color: np.ndarray  # float32 (3,) BGR, 0..255
    space: _core.ColourSpace
    strength: float
    source: np.ndarray | None  # float32 (2,): mean L, std L


def recolor(*, color: object, mode: object, strength: object, source: object) -> Recolor:
    bgr = np.asarray(as_color(color, "color"), np.float32)
    space = SPACES[as_choice(mode, "mode", tuple(SPACES))]
    s = as_float(strength, "strength", minimum=0.0, maximum=1.0)
    return Recolor(bgr, space, s, lab_source(source))


def lab_source(source: object) -> np.ndarray | None:
    """recolor's ``source=``: None or (mean L, std L), finite -> float32 (2,)."""
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
