"""Read a torch state dict (``torch.save`` file) into NumPy arrays, without torch and safely.

A ``.pth`` file is a pickle, and unpickling runs whatever callables the file names. This
reader uses a restricted :class:`pickle.Unpickler` whose ``find_class`` hands out only what a
state dict needs and refuses every other global with :class:`UnsafePickleError`:

- ``collections.OrderedDict`` (the dict itself, and the empty backward-hooks dict);
- ``torch._utils._rebuild_tensor_v2`` / ``_rebuild_parameter`` -> facecore's own functions
  that record (storage, offset, size, stride), nothing else;
- ``torch.FloatStorage`` and the other typed storage names -> a dtype marker (not callable).

Storages come through ``persistent_load`` as ``('storage', type, key, location, numel)``
records; their bytes are read afterwards and every tensor is rebuilt with NumPy, its offset,
shape and strides checked against its storage. Both layouts are read:

- the legacy (non-zip) stream: magic number, protocol, system info, the pickled object, the
  pickled list of storage keys, then each storage as ``int64 numel`` + raw little-endian bytes;
- the zip layout (torch >= 1.6): ``<root>/data.pkl`` + ``<root>/data/<key>``.

Examples
--------
>>> from facecore.models.torchpickle import load_state_dict
>>> sd = load_state_dict("79999_iter.pth")  # doctest: +SKIP
>>> sd["cp.resnet.conv1.weight"].shape  # doctest: +SKIP
(64, 3, 7, 7)
"""

from __future__ import annotations

import io
import os
import pickle
import struct
import zipfile
from collections import OrderedDict
from typing import Any, BinaryIO

import numpy as np

__all__ = ["UnsafePickleError", "load_state_dict"]

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_MAX_DIMS = 16

_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class UnsafePickleError(pickle.UnpicklingError, ValueError):
    """The file is not a plain torch state dict: it names a global that is not allowed, or is malformed."""


class _StorageType:
    __slots__ = ("dtype", "name")

    def __init__(self, name: str):
        self.name = name
        self.dtype = np.dtype(_STORAGE_DTYPES[name]).newbyteorder("<")


class _Storage:
    __slots__ = ("array", "dtype", "key", "numel")

    def __init__(self, key: str, dtype: np.dtype, numel: int):
        self.key, self.dtype, self.numel, self.array = key, dtype, numel, None


class _TensorRef:
    __slots__ = ("offset", "size", "storage", "stride")

    def __init__(self, storage: Any, offset: Any, size: Any, stride: Any):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride


def _rebuild_tensor_v2(
    storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None
) -> _TensorRef:
    return _TensorRef(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None) -> Any:
    return data


_ALLOWED = {
    ("collections", "OrderedDict"): OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
}


class _Restricted(pickle.Unpickler):
    def __init__(self, f: BinaryIO):
        super().__init__(f)
        self.storages: dict[str, _Storage] = {}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise UnsafePickleError(f"refusing global {module}.{name}: a state dict holds tensors only")

    def persistent_load(self, pid: Any) -> _Storage:
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"):
            raise UnsafePickleError(f"unexpected persistent id {str(pid)[:80]}")
        stype, key, _location, numel = pid[1:5]
        if len(pid) == 6 and pid[5] is not None:
            raise UnsafePickleError("storage views are not supported")
        if (
            not isinstance(stype, _StorageType)
            or not isinstance(key, str)
            or type(numel) is not int
            or numel < 0
        ):
            raise UnsafePickleError(f"malformed storage record {str(pid)[:80]}")
        s = self.storages.get(key)
        if s is None:
            s = self.storages[key] = _Storage(key, stype.dtype, numel)
        elif s.dtype != stype.dtype:
            raise UnsafePickleError(f"storage {key} used with two dtypes")
        return s


def _restricted_load(f: BinaryIO, storages: dict[str, _Storage] | None = None) -> Any:
    u = _Restricted(f)
    if storages is not None:
        u.storages = storages
    try:
        return u.load(), u.storages
    except UnsafePickleError:
        raise
    except (
        pickle.UnpicklingError,
        EOFError,
        TypeError,
        ValueError,
        AttributeError,
        IndexError,
        KeyError,
        struct.error,
        RecursionError,
        MemoryError,
        OverflowError,
        UnicodeDecodeError,
    ) as exc:
        raise UnsafePickleError(f"malformed pickle: {type(exc).__name__}: {exc}") from None


def _materialise(obj: Any, depth: int = 0) -> Any:
    if depth > 8:
        raise UnsafePickleError("state dict nested too deeply")
    if isinstance(obj, _TensorRef):
        return _tensor(obj)
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            if not isinstance(k, str):
                raise UnsafePickleError(f"state dict key {k!r} is not a string")
            out[k] = _materialise(v, depth + 1)
        return out
    if isinstance(obj, (int, float, str, bool, type(None))):
        return obj
    if isinstance(obj, (list, tuple)):
        return type(obj)(_materialise(v, depth + 1) for v in obj)
    raise UnsafePickleError(f"unexpected object of type {type(obj).__name__} in the state dict")


def _tensor(t: _TensorRef) -> np.ndarray:
    s, off, size, stride = t.storage, t.offset, t.size, t.stride
    ok = (
        isinstance(s, _Storage)
        and type(off) is int
        and isinstance(size, tuple)
        and isinstance(stride, tuple)
        and len(size) == len(stride) <= _MAX_DIMS
        and all(type(v) is int and v >= 0 for v in size + stride)
        and off >= 0
    )
    if not ok:
        raise UnsafePickleError("malformed tensor record")
    if s.array is None:
        raise UnsafePickleError(f"storage {s.key} has no data")
    if 0 in size:
        return np.zeros(size, dtype=s.dtype.newbyteorder("="))
    last = off + sum((n - 1) * st for n, st in zip(size, stride))
    if last >= s.array.size:
        raise UnsafePickleError(f"a tensor reaches past the end of storage {s.key}")
    item = s.array.itemsize
    view = np.lib.stride_tricks.as_strided(
        s.array[off:], shape=size, strides=tuple(st * item for st in stride), writeable=False
    )
    return np.array(view, dtype=s.dtype.newbyteorder("="), order="C", copy=True)


def _read_exact(f: BinaryIO, n: int) -> bytes:
    b = f.read(n)
    if len(b) != n:
        raise UnsafePickleError("the file ends inside a storage")
    return b


def _load_legacy(f: BinaryIO, size: int) -> Any:
    magic, _ = _restricted_load(f)
    if magic != _LEGACY_MAGIC:
        raise UnsafePickleError("not a torch file (bad magic number)")
    version, _ = _restricted_load(f)
    if version != 1001:
        raise UnsafePickleError(f"unsupported legacy torch format version {version!r}")
    sys_info, _ = _restricted_load(f)
    if not isinstance(sys_info, dict) or not sys_info.get("little_endian", True):
        raise UnsafePickleError("only little-endian torch files are supported")
    obj, storages = _restricted_load(f)
    keys, _ = _restricted_load(f)
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise UnsafePickleError("malformed storage key list")
    for k in keys:
        (numel,) = struct.unpack("<q", _read_exact(f, 8))
        s = storages.get(k)
        if s is None:
            raise UnsafePickleError(f"storage {k} is not used by any tensor")
        if numel != s.numel or numel * s.dtype.itemsize > size:
            raise UnsafePickleError(f"storage {k}: {numel} elements recorded, {s.numel} announced")
        s.array = np.frombuffer(_read_exact(f, numel * s.dtype.itemsize), dtype=s.dtype)
    return _materialise(obj)


def _load_zip(path: str | os.PathLike[str]) -> Any:
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        pkl = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pkl) != 1:
            raise UnsafePickleError("zip torch file without exactly one data.pkl")
        root = pkl[0][: -len("data.pkl")]
        obj, storages = _restricted_load(io.BytesIO(z.read(pkl[0])))
        for key, s in storages.items():
            name = f"{root}data/{key}"
            if name not in names:
                raise UnsafePickleError(f"storage {key} missing from the archive")
            info = z.getinfo(name)
            if info.file_size != s.numel * s.dtype.itemsize:
                raise UnsafePickleError(
                    f"storage {key}: {info.file_size} bytes for {s.numel} elements"
                )
            s.array = np.frombuffer(z.read(name), dtype=s.dtype)
    return _materialise(obj)


def load_state_dict(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """The tensors of a ``torch.save``-d state dict, as float/int NumPy arrays by name.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.pth``/``.pt`` file, legacy (non-zip) or zip layout.

    Returns
    -------
    dict of str to ndarray
        Native byte order, C-contiguous copies (nested dicts are kept as dicts).

    Raises
    ------
    TypeError
        If ``path`` is not a str or path.
    UnsafePickleError
        (a ``ValueError``) if the file names any global besides the tensor-rebuilding ones,
        or is malformed; nothing it names is ever called.
    FileNotFoundError
        If ``path`` does not exist.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: expected str or os.PathLike; got {type(path).__name__}")
    size = os.path.getsize(path)
    if zipfile.is_zipfile(path):
        out = _load_zip(path)
    else:
        with open(path, "rb") as f:
            out = _load_legacy(f, size)
    if not isinstance(out, dict):
        raise UnsafePickleError(f"expected a state dict; the file holds a {type(out).__name__}")
    return out
