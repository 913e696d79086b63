"""The CUDA backend of :mod:`facecore.kernels`: GPU arrays in, GPU arrays out, a spec from
``_args`` run on ``facecore._cuda``.

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

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .._validate import as_image, as_map, as_out
from ..errors import CudaUnavailableError
from . import _args
from ._args import check_device, is_device_array

__all__ = ["DeviceArray", "available", "unavailable_reason", "wants_gpu"]

try:  # built only where nvcc was found; typed by python/facecore/_cuda.pyi
    from .. import _cuda as _ext
except ImportError:  # pragma: no cover - depends on the build
    _ext = None  # type: ignore[assignment]


def available() -> bool:
    """True when ``facecore._cuda`` is built and sees at least one CUDA device."""
    return _ext is not None and _ext.device_count() > 0


def unavailable_reason() -> str:
    """Why the CUDA kernels cannot run here ("" when they can)."""
    if _ext is None:
        return (
            "facecore._cuda was not built (no nvcc at build time; reinstall with FACECORE_CUDA=ON)"
        )
    if _ext.device_count() == 0:
        return "facecore._cuda is built but finds no CUDA device or driver"
    return ""


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
        if _ext is None:
            raise CudaUnavailableError(f"DeviceArray: {unavailable_reason()}")
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self.device = int(device)
        self.stream = int(stream)
        nbytes = int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize
        self._mem = _ext.DeviceMemory(nbytes, self.device, self.stream)

    @classmethod
    def from_numpy(cls, a: np.ndarray, *, device: int = 0, stream: int = 0) -> DeviceArray:
        """Copy a host array to a new DeviceArray (queued on ``stream``)."""
        a = np.ascontiguousarray(a)
        d = cls(a.shape, a.dtype, device=device, stream=stream)
        _ext.copy_htod(d.ptr, a, d.stream)
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
        _ext.copy_dtoh(host, self.ptr, self.stream)
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

    def __init__(self, obj: Any, framework: str, host: bool = False):
        self.obj: Any = obj
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
        return int(_ext.pointer_device(self.ptr)) if self.ptr else 0

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


def _device_in(x: Any, name: str) -> _Dev:
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


class GPU:
    """The CUDA backend for one kernel call: its inputs (uploaded when ``device="cuda"`` got host
    arrays), its output (allocated, or the caller's ``out=``), its stream, and the way back to
    the caller. The family methods take the arrays read by :meth:`image`, :meth:`map`, ...
    and a spec from ``_args``, as the CPU backend's do."""

    name = "cuda"
    #: Default window batch: no cache to fit on the GPU; about 64 MiB keeps launches large.
    batch_bytes = 64 << 20

    def __init__(self, stream: object, *, upload: bool):
        self.upload = upload
        self.stream_arg = stream
        self.stream = 0
        self.primary: _Dev | None = None
        self.host_out: np.ndarray | None = None
        self.inputs: list[_Dev] = []

    def array(
        self, x: object, name: str, host_check: Callable[[Any, str], Any] | None = None
    ) -> _Dev:
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
        assert like is not None  # an input is always read first
        if out is None:
            return _empty(like, shape, dtype, self.stream)
        if not is_device_array(out):
            if not like.host:
                raise TypeError(
                    f"out: expected a GPU array for GPU inputs; got {type(out).__name__}"
                )
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
        assert self.primary is not None
        if not self.primary.host:
            return res.obj
        host = self.host_out if self.host_out is not None else np.empty(res.shape, res.dtype)
        _ext.copy_dtoh(host.reshape(res.shape), res.ptr, self.stream)
        return host

    # ------------------------------------------------------------------ array arguments
    def image(self, x: object, name: str, **kw: Any) -> _Dev:
        d = self.array(x, name, host_check=lambda v, n: np.ascontiguousarray(as_image(v, n, **kw)))
        _check_image(d, name, **kw)
        if not _pixels_ok(d):
            d = _contiguous(d, name)
        return d

    def map(self, x: object, name: str) -> _Dev:
        d = self.array(x, name, host_check=lambda v, n: as_map(v, n))
        if d.dtype != np.float32:
            raise TypeError(f"{name}: expected float32 array of shape (H, W); got {d.describe()}")
        if len(d.shape) != 2 or 0 in d.shape:
            raise ValueError(f"{name}: expected float32 array of shape (H, W); got {d.describe()}")
        return _contiguous(d, name)

    def is_float(self, x: object) -> bool:
        if is_device_array(x):
            return _device_in(x, "src").dtype == np.float32
        return isinstance(x, np.ndarray) and x.dtype == np.float32

    def float_image(self, x: object, name: str) -> _Dev:
        def check(v: Any, n: str) -> np.ndarray:
            a = np.ascontiguousarray(v)
            _args.check_float_src(a.shape, n)
            return a

        a = _contiguous(self.array(x, name, host_check=check), name)
        _args.check_float_src(a.shape, name)
        return a

    def alpha(self, x: object, shape: tuple[int, ...]) -> _Dev:
        def check(v: Any, n: str) -> np.ndarray:
            a = v if isinstance(v, np.ndarray) else np.asarray(v)
            _args.check_alpha_dtype(a.dtype, shape)
            return np.ascontiguousarray(a)

        a = self.array(x, "alpha", host_check=check)
        _args.check_alpha_dtype(a.dtype, shape)
        a = _contiguous(a, "alpha")
        if len(a.shape) == 3 and a.shape[2] == 1:
            a = _reshaped(a, a.shape[:2])
        _args.check_alpha_shape(a.shape, shape)
        return a

    def scores(self, x: object, g: _args.Grid) -> _Dev:
        def check(v: Any, n: str) -> np.ndarray:
            s = v if isinstance(v, np.ndarray) else np.asarray(v)
            if s.dtype != np.float32:
                raise TypeError(f"{n}: expected float32 array; got {s.dtype}")
            return np.ascontiguousarray(s)

        s = _contiguous(self.array(x, "scores", host_check=check), "scores")
        _args.check_scores(s.shape, s.dtype, g)
        return _reshaped(s, (g.rows, g.cols))

    # -------------------------------------------------------------------------- warp
    def warp(self, src: _Dev, spec: _args.Warp, out: object, *, batch: bool) -> object:
        """``batch``: N crops (warp_crops); else one output (warp_affine, N == 1)."""
        h, w, n = spec.height, spec.width, spec.n
        if spec.tensor:
            c = src.shape[2] if len(src.shape) == 3 else 1
            res = self.output(out, (n, c, h, w), np.float32)
            _ext.warp_affine_to_nchw_f32(
                src.cai, spec.matrices, h, w, spec.inverse, spec.border, spec.fill_u8,
                spec.mean, spec.std, spec.swap_rb, res.cai, self.stream,
            )  # fmt: skip
            return self.result(res)
        dtype = np.float32 if spec.is_float else np.uint8
        dims = (n, h, w) + src.shape[2:]
        res = self.output(out, dims if batch else dims[1:], dtype)
        cai = res.cai if batch else res.view(dims)
        if spec.is_float:
            _ext.warp_affine_f32(
                src.cai, spec.matrices, h, w, spec.inverse, spec.border, spec.fill_f32, cai,
                self.stream,
            )  # fmt: skip
        else:
            _ext.warp_affine_u8(
                src.cai, spec.matrices, h, w, spec.inverse, spec.border, spec.fill_u8, cai,
                self.stream,
            )  # fmt: skip
        return self.result(res)

    # ----------------------------------------------------------------------- windows
    def windows(self, image: _Dev, spec: _args.Windows) -> Iterator[tuple[Any, int, np.ndarray]]:
        """Batches as ``(tensor, first, origins)``: device tensors (NumPy for host input with
        ``device="cuda"``); ``origins`` stay NumPy."""
        g, c = spec.grid, spec.channels
        for first in range(0, g.count, spec.batch_size):
            count = min(spec.batch_size, g.count - first)
            res = self.output(None, (count, c, g.window_h, g.window_w), np.float32)
            _ext.extract_windows_nchw_f32(
                image.cai, g.window_h, g.window_w, g.stride_y, g.stride_x, first, count,
                spec.mean, spec.std, spec.swap_rb, res.cai, self.stream,
            )  # fmt: skip
            yield self.result(res), first, g.origins(first, count)

    def accumulate(self, scores: _Dev, spec: _args.Accumulate, out: object) -> object:
        g = spec.grid
        res = self.output(out, (g.image_h, g.image_w), np.float32)
        _ext.accumulate_windows_f32(
            scores.cai, g.image_h, g.image_w, g.window_h, g.window_w, g.stride_y, g.stride_x,
            spec.reduce, spec.fill, res.cai, self.stream,
        )  # fmt: skip
        return self.result(res)

    def probability_map(
        self,
        image: _Dev,
        classify: Callable[[Any], Any],
        spec: _args.Windows,
        reduce: _args.Accumulate,
    ) -> object:
        """Windows, scores and map stay on the device (``classify`` gets device batches and
        may return device or host scores)."""
        g = spec.grid
        scores = self.output(None, (g.count,), np.float32)
        for tensor, first, _ in self.windows(image, spec):
            n = tensor.shape[0]
            got = classify(tensor)
            if is_device_array(got):
                d = _contiguous(_device_in(got, "classify"), "classify")
                if d.dtype != np.float32 and d.framework == "cupy":
                    d = _Dev(d.obj.astype("float32"), "cupy")
                elif d.dtype != np.float32 and d.framework == "torch":
                    import torch

                    d = _Dev(d.obj.to(torch.float32).contiguous(), "torch")
                shape_ok = (
                    d.dtype == np.float32 and int(np.prod(d.shape)) == n and len(d.shape) <= 2
                )
                if not shape_ok or (len(d.shape) == 2 and d.shape[1] != 1):
                    raise ValueError(
                        f"classify: must return one float32 score per window, shape ({n},) or ({n}, 1); "
                        f"got {d.describe()}"
                    )
                _ext.copy_dtod(scores.ptr + 4 * first, d.ptr, 4 * n, self.stream)
            else:
                h = np.asarray(got)
                if h.size != n or (h.ndim == 2 and h.shape[1] != 1) or h.ndim > 2:
                    raise ValueError(
                        f"classify: must return one score per window, shape ({n},) or ({n}, 1); got {h.shape}"
                    )
                _ext.copy_htod(
                    scores.ptr + 4 * first,
                    np.ascontiguousarray(h, np.float32).reshape(n),
                    self.stream,
                )
        return self.accumulate(_reshaped(scores, (g.rows, g.cols)), reduce, None)

    # ------------------------------------------------------------------------ refine
    def refine(self, p: _Dev, spec: _args.Refine, out: object, *, in_place: bool) -> object:
        """``in_place``: the caller passed ``out=p`` (on the device: written in place)."""
        if in_place and not p.host:
            res = p
        else:
            res = self.output(out, p.shape, np.float32, alias=(p,))
        _ext.refine_map_f32(p.cai, spec.power, spec.kernel, spec.iterations, res.cai, self.stream)
        return self.result(res)

    # ------------------------------------------------------------------------ guided
    def guided(self, guide: _Dev, alpha: _Dev, spec: _args.Guided, out: object) -> object:
        res = self.output(out, guide.shape[:2], np.float32)
        _ext.guided_upsample_f32(guide.cai, alpha.cai, spec.radius, spec.eps, res.cai, self.stream)
        return self.result(res)

    # ------------------------------------------------------------------------- blend
    def blend(
        self,
        base: _Dev,
        effect: _Dev,
        alpha: _Dev,
        out: object,
        *,
        base_arg: object,
        effect_arg: object,
    ) -> object:
        """``out`` may be ``base`` or ``effect`` (``base_arg``, ``effect_arg``: as passed)."""
        if out is not None and (out is base_arg or out is effect_arg) and not base.host:
            res = base if out is base_arg else effect
        else:
            res = self.output(out, base.shape, np.uint8)
        _ext.blend_u8(base.cai, effect.cai, alpha.cai, res.cai, self.stream)
        return self.result(res)

    def recolor(
        self, image: _Dev, alpha: _Dev, spec: _args.Recolor, out: object, *, image_arg: object
    ) -> object:
        """``out`` may be ``image`` (``image_arg``: as passed)."""
        if out is not None and out is image_arg and not image.host:
            res = image
        else:
            res = self.output(out, image.shape, np.uint8)
        _ext.recolor_u8(
            image.cai, alpha.cai, spec.space, spec.color, spec.strength, res.cai, self.stream,
            spec.source,
        )  # fmt: skip
        return self.result(res)


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


def host_copy(x: object, name: str) -> object:
    """``x`` itself, or a NumPy copy when it is a GPU array (matrices are inverted on the host)."""
    return to_host(x, name) if is_device_array(x) else x


def to_host(x: object, name: str) -> np.ndarray:
    """A NumPy copy of a GPU array (small host-side parameters such as matrices)."""
    d = _device_in(x, name)
    if d.framework == "cupy":
        return d.obj.get()
    if d.framework == "torch":
        return d.obj.cpu().numpy()
    return np.asarray(d.obj)
