"""GPU dispatch for :mod:`facecore.kernels`: GPU arrays in, GPU arrays out, through ``_cuda``.

Which path runs (``device=``, on every public kernel):

``"auto"`` (default)
    GPU when an array argument is a GPU array (``__cuda_array_interface__``, or DLPack with a
    CUDA device), CPU otherwise. GPU and host arrays are not mixed silently: a NumPy ``alpha``
    beside a CuPy ``image`` is a ``TypeError`` naming ``alpha``.
``"cpu"``
    Always ``_core``; a GPU array is a ``TypeError`` naming the argument.
``"cuda"``
    Always ``_cuda``; host arrays are copied to the device (and the result back: NumPy in,
    NumPy out, with the one synchronisation of that path in the copy back).

A GPU array given where ``_cuda`` cannot run (not built, or no device/driver) raises
:class:`facecore.errors.CudaUnavailableError` naming the argument.

Results are allocated like the input: ``cupy.empty`` for CuPy, ``torch.empty(device=...)``
for PyTorch, else a :class:`DeviceArray` (facecore's own minimal array exposing
``__cuda_array_interface__``, ``.get()``). Work is queued on ``stream`` (an int handle, a
CuPy or PyTorch stream, or anything with ``__cuda_stream__``); by default on the input
framework's current stream (CuPy/PyTorch), else the legacy default stream, and nothing
synchronises: read the result on that stream, or synchronise it, as with any CuPy/PyTorch
operation.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._validate import as_bool, as_choice, as_float, as_int, as_map, as_matrices, as_pair, as_shape
from .errors import CudaUnavailableError

__all__ = [
    "DEVICES",
    "DeviceArray",
    "available",
    "is_device_array",
    "unavailable_reason",
    "wants_gpu",
]

DEVICES = ("auto", "cpu", "cuda")
_KDL_CUDA = (2, 3, 13)  # DLPack device types: kDLCUDA, kDLCUDAHost, kDLCUDAManaged

try:  # built only where nvcc was found
    from . import _cuda  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - depends on the build
    _cuda = None


def available() -> bool:
    """True when ``facecore._cuda`` is built and sees at least one CUDA device."""
    return _cuda is not None and _cuda.device_count() > 0


def unavailable_reason() -> str:
    """Why the CUDA kernels cannot run here ("" when they can)."""
    if _cuda is None:
        return (
            "facecore._cuda was not built (no nvcc at build time; reinstall with FACECORE_CUDA=ON)"
        )
    if _cuda.device_count() == 0:
        return "facecore._cuda is built but finds no CUDA device or driver"
    return ""


def is_device_array(x: object) -> bool:
    """True for a GPU array: ``__cuda_array_interface__``, or DLPack on a CUDA device.

    A CPU PyTorch tensor has no ``__cuda_array_interface__`` (the attribute raises), and a
    NumPy array's DLPack device is the CPU, so both are host arrays.

    Examples
    --------
    >>> import numpy as np
    >>> from facecore._gpu import is_device_array
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


def check_device(device: object) -> str:
    """Validate ``device=``: one of :data:`DEVICES`."""
    return as_choice(device, "device", DEVICES)


def wants_gpu(device: object, **arrays: object) -> bool:
    """Whether a kernel call with these array arguments runs on the GPU (see module docs).

    Parameters
    ----------
    device : {"auto", "cpu", "cuda"}
    **arrays
        The call's array arguments by name (``None`` entries are ignored).

    Raises
    ------
    ValueError, TypeError
        A bad ``device``; a GPU array with ``device="cpu"``; host arrays mixed with GPU
        arrays under ``"auto"``.
    CudaUnavailableError
        GPU work asked for (a GPU array, or ``device="cuda"``) where ``_cuda`` cannot run.
    """
    mode = check_device(device)
    given = {k: v for k, v in arrays.items() if v is not None}
    on_gpu = [k for k, v in given.items() if is_device_array(v)]
    if mode == "cpu":
        if on_gpu:
            raise TypeError(
                f"{on_gpu[0]}: a GPU array was given with device='cpu'; copy it to the host "
                "first (.get() / .cpu()) or use device='auto'"
            )
        return False
    if mode == "auto" and not on_gpu:
        return False
    if not available():
        name = on_gpu[0] if on_gpu else next(iter(given), "device")
        what = "a GPU array was given" if on_gpu else "device='cuda' was asked for"
        raise CudaUnavailableError(f"{name}: {what} but {unavailable_reason()}")
    if mode == "auto":
        host = [k for k in given if k not in on_gpu]
        if host:
            raise TypeError(
                f"{host[0]}: a host array mixed with GPU arrays ({', '.join(on_gpu)}); put it on "
                "the GPU too, or pass device='cuda' to copy host arrays"
            )
    return True


# ================================================================== arrays and streams

_TYPESTR = {np.dtype(np.uint8): "|u1", np.dtype(np.float32): "<f4"}


def _dtype_of(typestr: str) -> np.dtype:
    try:
        return np.dtype(typestr)
    except TypeError:
        return np.dtype("V1")


class DeviceArray:
    """A minimal C-contiguous CUDA array: what facecore returns for GPU inputs that are neither
    CuPy nor PyTorch (and what it uploads host arrays into with ``device="cuda"``).

    It exposes ``__cuda_array_interface__`` (version 3, with its stream), so CuPy
    (``cupy.asarray``), PyTorch (``torch.as_tensor(..., device="cuda")``), Numba and facecore
    itself read it without a copy; ``get()`` copies it to a NumPy array.

    Parameters
    ----------
    shape : tuple of int
    dtype : numpy dtype
        ``uint8`` or ``float32`` (what the kernels produce), or any fixed-size dtype.
    device : int
        CUDA device ordinal.
    stream : int
        Stream handle the memory is allocated and freed in, and the work on it is ordered by.
    """

    __slots__ = ("__weakref__", "_mem", "device", "dtype", "shape", "stream")

    def __init__(self, shape: tuple[int, ...], dtype: Any, *, device: int = 0, stream: int = 0):
        if _cuda is None:
            raise CudaUnavailableError(f"DeviceArray: {unavailable_reason()}")
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self.device = int(device)
        self.stream = int(stream)
        nbytes = int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize
        self._mem = _cuda.DeviceMemory(nbytes, self.device, self.stream)

    @classmethod
    def from_numpy(cls, a: np.ndarray, *, device: int = 0, stream: int = 0) -> DeviceArray:
        """Copy a host array to a new DeviceArray (queued on ``stream``)."""
        a = np.ascontiguousarray(a)
        d = cls(a.shape, a.dtype, device=device, stream=stream)
        _cuda.copy_htod(d.ptr, a, d.stream)
        return d

    @property
    def ptr(self) -> int:
        return int(self._mem.ptr)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    @property
    def __cuda_array_interface__(self) -> dict:
        # Stream 0 is not allowed in the interface (ambiguous); the legacy default stream is 1.
        return {
            "version": 3,
            "shape": self.shape,
            "typestr": self.dtype.str,
            "data": (self.ptr, False),
            "strides": None,
            "stream": self.stream if self.stream != 0 else 1,
        }

    def get(self) -> np.ndarray:
        """Copy to a new NumPy array (waits for the work queued on the array's stream)."""
        host = np.empty(self.shape, self.dtype)
        _cuda.copy_dtoh(host, self.ptr, self.stream)
        return host

    to_numpy = get

    def __array__(self, dtype=None, copy=None):
        a = self.get()
        return a if dtype is None else a.astype(dtype, copy=False)

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"DeviceArray(shape={self.shape}, dtype={self.dtype}, device={self.device})"


def _framework(x: object) -> str:
    mod = type(x).__module__.split(".")[0]
    if mod in ("cupy", "torch"):
        return mod
    if isinstance(x, DeviceArray):
        return "facecore"
    return "other"


class _Dev:
    """A device array argument, parsed once: the object, its interface dict, its framework."""

    __slots__ = (
        "cai",
        "contiguous",
        "dtype",
        "framework",
        "host",
        "obj",
        "ptr",
        "readonly",
        "shape",
    )

    def __init__(self, obj: object, framework: str, host: bool = False):
        self.obj = obj
        self.framework = framework
        self.host = host  # uploaded from NumPy by device="cuda": the result goes back to NumPy
        cai = obj.__cuda_array_interface__
        self.cai = cai
        self.shape = tuple(int(d) for d in cai["shape"])
        self.dtype = _dtype_of(cai["typestr"])
        self.ptr = int(cai["data"][0])
        self.readonly = bool(cai["data"][1])
        strides = cai.get("strides")
        self.contiguous = strides is None or tuple(strides) == _c_strides(
            self.shape, self.dtype.itemsize
        )

    @property
    def device(self) -> int:
        if self.framework == "facecore":
            return self.obj.device
        if self.framework == "torch":
            return int(self.obj.device.index or 0)
        if self.framework == "cupy":
            return int(self.obj.device.id)
        return int(_cuda.pointer_device(self.ptr)) if self.ptr else 0

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize

    def describe(self) -> str:
        return f"{self.dtype} {self.shape}"

    def view(self, shape: tuple[int, ...]) -> dict:
        """This (C-contiguous) array's interface dict with another shape of the same size."""
        d = dict(self.cai)
        d["shape"] = tuple(shape)
        d["strides"] = None
        return d


def _c_strides(shape: tuple[int, ...], item: int) -> tuple[int, ...]:
    out, s = [], item
    for d in reversed(shape):
        out.append(s)
        s *= d
    return tuple(reversed(out))


def _from_dlpack(x: object, name: str) -> object:
    """A CuPy (else PyTorch) view of a DLPack-only CUDA array."""
    try:
        import cupy

        return cupy.from_dlpack(x)
    except ImportError:
        pass
    try:
        import torch

        return torch.from_dlpack(x)
    except ImportError:
        raise TypeError(
            f"{name}: a DLPack-only GPU array needs CuPy or PyTorch to be read; install one, or "
            "pass an array with __cuda_array_interface__"
        ) from None


def _device_in(x: object, name: str) -> _Dev:
    """Wrap a GPU array argument (no copy)."""
    fw = _framework(x)
    if fw == "torch":
        x = x.detach()  # a tensor that requires grad refuses __cuda_array_interface__
    elif not hasattr(x, "__cuda_array_interface__"):
        x = _from_dlpack(x, name)
        fw = _framework(x)
    return _Dev(x, fw)


def _contiguous(d: _Dev, name: str) -> _Dev:
    """A C-contiguous version of ``d`` (a device copy for CuPy/PyTorch; else ValueError)."""
    if d.contiguous:
        return d
    if d.framework == "cupy":
        import cupy

        return _Dev(cupy.ascontiguousarray(d.obj), "cupy")
    if d.framework == "torch":
        return _Dev(d.obj.contiguous(), "torch")
    raise ValueError(f"{name}: must be C-contiguous on the GPU; got strides {d.cai.get('strides')}")


def _resolve_stream(stream: object, like: _Dev | None) -> int:
    """The stream handle to queue on (see module docs); ``like`` None: host input."""
    if stream is None:
        if like is None:
            return 0
        if like.framework == "cupy":
            import cupy

            return int(cupy.cuda.get_current_stream().ptr)
        if like.framework == "torch":
            import torch

            return int(torch.cuda.current_stream(like.obj.device).cuda_stream)
        if like.framework == "facecore":
            return like.obj.stream
        return 0
    if isinstance(stream, (bool, np.bool_)):
        raise TypeError("stream: expected a stream handle (int) or a CuPy/PyTorch stream; got bool")
    if isinstance(stream, (int, np.integer)):
        if stream < 0:
            raise ValueError(f"stream: a handle is >= 0; got {stream}")
        return int(stream)
    proto = getattr(stream, "__cuda_stream__", None)
    if callable(proto):
        return int(proto()[1])
    for attr in ("ptr", "cuda_stream", "handle"):
        v = getattr(stream, attr, None)
        if isinstance(v, (int, np.integer)):
            return int(v)
    raise TypeError(
        f"stream: expected a stream handle (int) or a CuPy/PyTorch stream; got {type(stream).__name__}"
    )


def _empty(like: _Dev, shape: tuple[int, ...], dtype: Any, stream: int) -> _Dev:
    """A new C-contiguous device array from ``like``'s framework, on its device."""
    dtype = np.dtype(dtype)
    if like.framework == "cupy":
        import cupy

        with cupy.cuda.Device(like.device):
            return _Dev(cupy.empty(shape, dtype), "cupy")
    if like.framework == "torch":
        import torch

        tdt = {np.dtype(np.uint8): torch.uint8, np.dtype(np.float32): torch.float32}[dtype]
        return _Dev(torch.empty(shape, dtype=tdt, device=like.obj.device), "torch")
    return _Dev(
        DeviceArray(shape, dtype, device=like.device, stream=stream), "facecore", host=like.host
    )


def _overlaps(a: _Dev, b: _Dev) -> bool:
    return a.ptr < b.ptr + b.nbytes and b.ptr < a.ptr + a.nbytes and a.nbytes > 0 and b.nbytes > 0


class _Call:
    """One GPU kernel call: its inputs (uploaded when ``device="cuda"`` got host arrays), its
    output (allocated, or the caller's ``out=``), its stream, and the way back to the caller."""

    def __init__(self, stream: object, *, upload: bool):
        self.upload = upload
        self.stream_arg = stream
        self.stream = 0
        self.primary: _Dev | None = None
        self.host_out: np.ndarray | None = None
        self.inputs: list[_Dev] = []

    def array(self, x: object, name: str, host_check=None) -> _Dev:
        """Wrap a device argument, or validate (``host_check(x, name)``) and upload a host one."""
        if is_device_array(x):
            d = (
                _contiguous(_device_in(x, name), name)
                if host_check is None
                else _device_in(x, name)
            )
        else:
            a = host_check(x, name) if host_check is not None else np.asarray(x)
            if self.primary is None:
                self.stream = _resolve_stream(self.stream_arg, None)
            dev = self.primary.device if self.primary is not None else 0
            d = _Dev(
                DeviceArray.from_numpy(a, device=dev, stream=self.stream), "facecore", host=True
            )
        if self.primary is None:
            self.primary = d
            if not d.host:
                self.stream = _resolve_stream(self.stream_arg, d)
        self.inputs.append(d)
        return d

    def output(self, out: object, shape: tuple[int, ...], dtype: Any, *, alias: tuple = ()) -> _Dev:
        """The result array: ``out`` (checked) or a new one like the primary input."""
        dtype = np.dtype(dtype)
        like = self.primary
        if out is None:
            return _empty(like, shape, dtype, self.stream)
        if not is_device_array(out):
            if not like.host:
                raise TypeError(
                    f"out: expected a GPU array for GPU inputs; got {type(out).__name__}"
                )
            from ._validate import as_out

            self.host_out = as_out(out, "out", shape, dtype)
            return _empty(like, shape, dtype, self.stream)
        o = _device_in(out, "out")
        if o.dtype != dtype or o.shape != tuple(shape):
            raise ValueError(f"out: expected {dtype} {tuple(shape)}; got {o.describe()}")
        if not o.contiguous or o.readonly:
            raise ValueError("out: must be C-contiguous and writable")
        for d in self.inputs:
            if _overlaps(o, d) and not any(d is a for a in alias):
                raise ValueError("out: must not overlap an input array")
        return o

    def result(self, res: _Dev) -> object:
        """What the caller gets: the device array, or NumPy for host inputs (one sync here)."""
        if not self.primary.host:
            return res.obj
        host = self.host_out if self.host_out is not None else np.empty(res.shape, res.dtype)
        _cuda.copy_dtoh(host.reshape(res.shape), res.ptr, self.stream)
        return host


def _check_image(d: _Dev, name: str, channels=(1, 3, 4), gray: bool = True) -> None:
    """as_image's dtype/shape rules for a device array (row-strided views are accepted)."""
    allowed = " or ".join(f"(H, W, {c})" for c in channels) + (" or (H, W)" if gray else "")
    if d.dtype != np.uint8:
        raise TypeError(f"{name}: expected uint8 array of shape {allowed}; got {d.describe()}")
    n = len(d.shape)
    if not ((n == 3 and d.shape[2] in channels) or (gray and n == 2)):
        raise ValueError(f"{name}: expected uint8 array of shape {allowed}; got {d.describe()}")
    if d.shape[0] == 0 or d.shape[1] == 0:
        raise ValueError(f"{name}: image is empty; got {d.describe()}")


def _image(call: _Call, x: object, name: str, **kw) -> _Dev:
    from ._validate import as_image

    d = call.array(x, name, host_check=lambda v, n: np.ascontiguousarray(as_image(v, n, **kw)))
    _check_image(d, name, **kw)
    if not _pixels_ok(d):
        d = _contiguous(d, name)
    return d


def _pixels_ok(d: _Dev) -> bool:
    if d.contiguous:
        return True
    item = d.dtype.itemsize
    st = tuple(d.cai["strides"])
    h, w = d.shape[:2]
    c = d.shape[2] if len(d.shape) == 3 else 1
    if len(d.shape) == 3 and c > 1 and st[2] != item:
        return False
    if w > 1 and st[1] != c * item:
        return False
    return h == 1 or (st[0] > 0 and st[0] % item == 0 and st[0] >= w * c * item)


def _map(call: _Call, x: object, name: str) -> _Dev:
    d = call.array(x, name, host_check=lambda v, n: as_map(v, n))
    if d.dtype != np.float32:
        raise TypeError(f"{name}: expected float32 array of shape (H, W); got {d.describe()}")
    if len(d.shape) != 2 or 0 in d.shape:
        raise ValueError(f"{name}: expected float32 array of shape (H, W); got {d.describe()}")
    return _contiguous(d, name)


def _host_matrices(m: object, name: str, single: bool = False) -> np.ndarray:
    """Matrices live on the host (they are inverted there); a GPU array is copied back."""
    if is_device_array(m):
        d = _device_in(m, name)
        if d.framework == "cupy":
            m = d.obj.get()
        elif d.framework == "torch":
            m = d.obj.cpu().numpy()
        else:
            m = np.asarray(d.obj)
    return as_matrices(m, name, single=single)


# ============================================================================== warp


def warp_crops(
    image, matrices, shape, *, border, fill, tensor, mean, std, swap_rb, out, device, stream
):
    """GPU :func:`facecore.kernels.warp_crops` (same arguments and result, on the device)."""
    from . import kernels as K

    call = _Call(stream, upload=device == "cuda")
    img = _image(call, image, "image")
    m = _host_matrices(matrices, "matrices")
    h, w = as_shape(shape, "shape")
    b = K._BORDERS[as_choice(border, "border", tuple(K._BORDERS))]
    tensor = as_bool(tensor, "tensor")
    swap_rb = as_bool(swap_rb, "swap_rb")
    c = img.shape[2] if len(img.shape) == 3 else 1
    f = K._fill_u8(fill, c)
    n = m.shape[0]
    if tensor:
        if swap_rb and c < 3:
            raise ValueError("swap_rb: needs an image with 3 or 4 channels")
        mu = K._per_channel(mean, "mean", c)
        sd = K._per_channel(std, "std", c)
        if (sd == 0).any():
            raise ValueError("std: must be non-zero")
        res = call.output(out, (n, c, h, w), np.float32)
        _cuda.warp_affine_to_nchw_f32(
            img.cai, m, h, w, False, b, f, mu, sd, swap_rb, res.cai, call.stream
        )
        return call.result(res)
    if swap_rb:
        raise ValueError("swap_rb: only applies with tensor=True")
    dims = (n, h, w, c) if len(img.shape) == 3 else (n, h, w)
    res = call.output(out, dims, np.uint8)
    _cuda.warp_affine_u8(img.cai, m, h, w, False, b, f, res.cai, call.stream)
    return call.result(res)


def warp_affine(src, matrix, shape, *, border, fill, inverse, out, device, stream):
    """GPU :func:`facecore.kernels.warp_affine`."""
    from . import kernels as K

    call = _Call(stream, upload=device == "cuda")
    probe = _device_in(src, "src") if is_device_array(src) else None
    is_float = (
        (probe.dtype == np.float32)
        if probe is not None
        else (isinstance(src, np.ndarray) and src.dtype == np.float32)
    )
    m = _host_matrices(matrix, "matrix", single=True)
    h, w = as_shape(shape, "shape")
    b = K._BORDERS[as_choice(border, "border", tuple(K._BORDERS))]
    inverse = as_bool(inverse, "inverse")
    if is_float:

        def check(v, n):
            a = np.ascontiguousarray(v)
            if a.ndim not in (2, 3) or a.size == 0 or (a.ndim == 3 and a.shape[2] not in (1, 3, 4)):
                raise ValueError(f"{n}: expected float32 (H, W) or (H, W, C); got {a.shape}")
            return a

        a = _contiguous(call.array(src, "src", host_check=check), "src")
        if (
            len(a.shape) not in (2, 3)
            or 0 in a.shape
            or (len(a.shape) == 3 and a.shape[2] not in (1, 3, 4))
        ):
            raise ValueError(f"src: expected float32 (H, W) or (H, W, C); got {a.shape}")
        fv = as_float(fill, "fill")
        dims = (h, w) + a.shape[2:]
        res = call.output(out, dims, np.float32)
        _cuda.warp_affine_f32(a.cai, m, h, w, inverse, b, fv, res.view((1,) + dims), call.stream)
        return call.result(res)
    a = _image(call, src, "src")
    c = a.shape[2] if len(a.shape) == 3 else 1
    f = K._fill_u8(fill, c)
    dims = (h, w) + a.shape[2:]
    res = call.output(out, dims, np.uint8)
    _cuda.warp_affine_u8(a.cai, m, h, w, inverse, b, f, res.view((1,) + dims), call.stream)
    return call.result(res)


# =========================================================================== windows


def iter_windows(image, window, *, stride, batch_size, mean, std, swap_rb, device, stream):
    """GPU :func:`facecore.kernels.iter_windows`: batches are device arrays (NumPy for host
    input with ``device="cuda"``); ``origins`` stay NumPy."""
    return _windows(image, window, stride, batch_size, mean, std, swap_rb, device, stream)[1]


def _windows(image, window, stride, batch_size, mean, std, swap_rb, device, stream):
    """Validate once; return the call (stream, framework) and the batch generator."""
    from . import kernels as K

    call = _Call(stream, upload=device == "cuda")
    img = _image(call, image, "image")
    wh, ww = as_pair(window, "window")
    sy, sx = as_pair(stride, "stride")
    gh, gw = K.window_grid(img.shape, (wh, ww), stride=(sy, sx))
    c = img.shape[2] if len(img.shape) == 3 else 1
    if batch_size is None:
        # No cache to fit on the GPU: batches of about 64 MiB keep launches large.
        batch_size = max(1, (64 << 20) // (c * wh * ww * 4))
    batch_size = as_int(batch_size, "batch_size", minimum=1)
    swap_rb = as_bool(swap_rb, "swap_rb")
    if swap_rb and c < 3:
        raise ValueError("swap_rb: needs an image with 3 or 4 channels")
    mu = K._per_channel(mean, "mean", c)
    sd = K._per_channel(std, "std", c)
    if (sd == 0).any():
        raise ValueError("std: must be non-zero")
    return call, _gpu_batches(call, img, wh, ww, sy, sx, gh * gw, gw, batch_size, mu, sd, swap_rb)


def _gpu_batches(call, img, wh, ww, sy, sx, total, gw, batch_size, mu, sd, swap_rb):
    from .kernels import WindowBatch

    c = img.shape[2] if len(img.shape) == 3 else 1
    for first in range(0, total, batch_size):
        count = min(batch_size, total - first)
        res = call.output(None, (count, c, wh, ww), np.float32)
        _cuda.extract_windows_nchw_f32(
            img.cai, wh, ww, sy, sx, first, count, mu, sd, swap_rb, res.cai, call.stream
        )
        k = np.arange(first, first + count, dtype=np.int64)
        origins = np.stack([(k % gw) * sx, (k // gw) * sy], axis=1)
        yield WindowBatch(tensor=call.result(res), first=first, origins=origins)


def accumulate_windows(scores, image_shape, window, *, stride, reduce, fill, out, device, stream):
    """GPU :func:`facecore.kernels.accumulate_windows`."""
    from . import kernels as K

    gh, gw = K.window_grid(image_shape, window, stride=stride)
    H, W = int(image_shape[0]), int(image_shape[1])
    wh, ww = as_pair(window, "window")
    sy, sx = as_pair(stride, "stride")
    red = K._REDUCE[as_choice(reduce, "reduce", tuple(K._REDUCE))]
    fv = as_float(fill, "fill")
    call = _Call(stream, upload=device == "cuda")

    def check(v, n):
        s = v if isinstance(v, np.ndarray) else np.asarray(v)
        if s.dtype != np.float32:
            raise TypeError(f"{n}: expected float32 array; got {s.dtype}")
        return np.ascontiguousarray(s)

    s = _contiguous(call.array(scores, "scores", host_check=check), "scores")
    if s.dtype != np.float32:
        raise TypeError(f"scores: expected float32 array; got {s.dtype}")
    size = int(np.prod(s.shape, dtype=np.int64))
    if size != gh * gw or len(s.shape) not in (1, 2) or (len(s.shape) == 2 and s.shape != (gh, gw)):
        raise ValueError(
            f"scores: expected {(gh, gw)} or ({gh * gw},) for this grid; got {s.shape}"
        )
    res = call.output(out, (H, W), np.float32)
    _cuda.accumulate_windows_f32(
        s.view((gh, gw)), H, W, wh, ww, sy, sx, red, fv, res.cai, call.stream
    )
    return call.result(res)


def probability_map(
    image, classify, window, *, stride, batch_size, reduce, mean, std, swap_rb, device, stream
):
    """GPU :func:`facecore.kernels.probability_map`: windows, scores and map stay on the
    device (``classify`` gets device batches and may return device or host scores)."""
    from . import kernels as K

    if not callable(classify):
        raise TypeError(f"classify: expected a callable; got {type(classify).__name__}")
    as_choice(reduce, "reduce", tuple(K._REDUCE))
    call, batches = _windows(image, window, stride, batch_size, mean, std, swap_rb, device, stream)
    img = call.primary
    gh, gw = K.window_grid(img.shape, window, stride=stride)
    scores = call.output(None, (gh * gw,), np.float32)
    for batch in batches:
        n = batch.tensor.shape[0]
        got = classify(batch.tensor)
        if is_device_array(got):
            g = _contiguous(_device_in(got, "classify"), "classify")
            if g.dtype != np.float32 and g.framework == "cupy":
                g = _Dev(g.obj.astype("float32"), "cupy")
            elif g.dtype != np.float32 and g.framework == "torch":
                import torch

                g = _Dev(g.obj.to(torch.float32).contiguous(), "torch")
            shape_ok = g.dtype == np.float32 and int(np.prod(g.shape)) == n and len(g.shape) <= 2
            if not shape_ok or (len(g.shape) == 2 and g.shape[1] != 1):
                raise ValueError(
                    f"classify: must return one float32 score per window, shape ({n},) or ({n}, 1); "
                    f"got {g.describe()}"
                )
            _cuda.copy_dtod(scores.ptr + 4 * batch.first, g.ptr, 4 * n, call.stream)
        else:
            h = np.asarray(got)
            if h.size != n or (h.ndim == 2 and h.shape[1] != 1) or h.ndim > 2:
                raise ValueError(
                    f"classify: must return one score per window, shape ({n},) or ({n}, 1); got {h.shape}"
                )
            _cuda.copy_htod(
                scores.ptr + 4 * batch.first,
                np.ascontiguousarray(h, np.float32).reshape(n),
                call.stream,
            )
    res = call.output(None, img.shape[:2], np.float32)
    red = K._REDUCE[reduce]
    wh, ww = as_pair(window, "window")
    sy, sx = as_pair(stride, "stride")
    _cuda.accumulate_windows_f32(
        scores.view((gh, gw)),
        img.shape[0],
        img.shape[1],
        wh,
        ww,
        sy,
        sx,
        red,
        0.0,
        res.cai,
        call.stream,
    )
    return call.result(res)


# ============================================================================ refine


def refine_map(p, *, power, kernel, iterations, out, device, stream):
    """GPU :func:`facecore.kernels.refine_map` (``out`` may be ``p``)."""
    from . import kernels as K

    call = _Call(stream, upload=device == "cuda")
    pd = _map(call, p, "p")
    power = as_float(power, "power")
    if power <= 0:
        raise ValueError(f"power: must be > 0; got {power}")
    if isinstance(kernel, str):
        k = K.KERNELS[as_choice(kernel, "kernel", tuple(K.KERNELS))]
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
    if out is not None and out is p and not pd.host:
        res = pd
    else:
        res = call.output(out, pd.shape, np.float32, alias=(pd,))
    _cuda.refine_map_f32(pd.cai, power, k, iterations, res.cai, call.stream)
    return call.result(res)


# ============================================================================ guided


def guided_upsample(guide, alpha, *, radius, eps, out, device, stream):
    """GPU :func:`facecore.kernels.guided_upsample`."""
    call = _Call(stream, upload=device == "cuda")
    g = _image(call, guide, "guide", channels=(3,))
    a = _map(call, alpha, "alpha")
    if a.shape[0] > g.shape[0] or a.shape[1] > g.shape[1]:
        raise ValueError(
            f"alpha: expected a map no larger than the guide {g.shape[:2]}; got {a.shape}"
        )
    radius = as_int(radius, "radius", minimum=1)
    if radius > 255:
        raise ValueError(f"radius: must be in 1..255; got {radius}")
    eps = as_float(eps, "eps")
    if not eps > 0:
        raise ValueError(f"eps: must be > 0; got {eps}")
    res = call.output(out, g.shape[:2], np.float32)
    _cuda.guided_upsample_f32(g.cai, a.cai, radius, eps, res.cai, call.stream)
    return call.result(res)


# ============================================================================= blend


def _alpha(call: _Call, alpha: object, shape: tuple[int, int]) -> _Dev:
    def check(v, n):
        a = v if isinstance(v, np.ndarray) else np.asarray(v)
        if a.dtype != np.float32:
            raise TypeError(f"{n}: expected float32 array of shape {shape}; got {a.dtype}")
        return np.ascontiguousarray(a)

    a = call.array(alpha, "alpha", host_check=check)
    if a.dtype != np.float32:
        raise TypeError(f"alpha: expected float32 array of shape {shape}; got {a.dtype}")
    a = _contiguous(a, "alpha")
    if len(a.shape) == 3 and a.shape[2] == 1:
        a = _reshaped(a, a.shape[:2])
    if a.shape != shape:
        raise ValueError(f"alpha: expected shape {shape} (the image's H, W); got {a.shape}")
    return a


def _reshaped(d: _Dev, shape: tuple[int, ...]) -> _Dev:
    """``d`` (C-contiguous) under another shape: a DeviceArray-like view over the same memory."""
    v = _Dev.__new__(_Dev)
    v.obj, v.framework, v.host = d.obj, d.framework, d.host
    v.cai = d.view(shape)
    v.shape, v.dtype, v.ptr, v.readonly, v.contiguous = (
        tuple(shape),
        d.dtype,
        d.ptr,
        d.readonly,
        True,
    )
    return v


def blend(base, effect, alpha, *, out, device, stream):
    """GPU :func:`facecore.kernels.blend` (``out`` may be ``base`` or ``effect``)."""
    call = _Call(stream, upload=device == "cuda")
    b = _image(call, base, "base")
    e = _image(call, effect, "effect")
    if e.shape != b.shape:
        raise ValueError(f"effect: expected the shape of base {b.shape}; got {e.shape}")
    a = _alpha(call, alpha, b.shape[:2])
    if out is not None and (out is base or out is effect) and not b.host:
        res = b if out is base else e
    else:
        res = call.output(out, b.shape, np.uint8)
    _cuda.blend_u8(b.cai, e.cai, a.cai, res.cai, call.stream)
    return call.result(res)


def recolor(image, alpha, color, *, mode, strength, out, device, stream, source=None):
    """GPU :func:`facecore.kernels.recolor` (``out`` may be ``image``)."""
    from . import kernels as K
    from ._validate import as_color

    call = _Call(stream, upload=device == "cuda")
    img = _image(call, image, "image", channels=(3,), gray=False)
    a = _alpha(call, alpha, img.shape[:2])
    bgr = np.asarray(as_color(color, "color"), np.float32)
    space = K._SPACES[as_choice(mode, "mode", tuple(K._SPACES))]
    strength = as_float(strength, "strength", minimum=0.0, maximum=1.0)
    if out is not None and out is image and not img.host:
        res = img
    else:
        res = call.output(out, img.shape, np.uint8)
    _cuda.recolor_u8(img.cai, a.cai, space, bgr, strength, res.cai, call.stream, source)
    return call.result(res)
