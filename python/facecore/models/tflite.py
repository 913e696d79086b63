"""A minimal reader for TFLite flatbuffers (NumPy only, no TensorFlow, no generated code).

The flatbuffer is parsed by hand with :mod:`struct`: a TFLite file is one ``Model`` table
(schema: tensorflow/lite/schema/schema.fbs) whose fields are read through each table's
vtable. Only what a converter needs is read: operator codes, the first subgraph's tensors
(shape, type, buffer, name), its operators (inputs, outputs, builtin options as a raw
table, custom options as bytes) and the constant buffers as NumPy arrays.

Examples
--------
>>> from facecore.models.tflite import read_tflite
>>> m = read_tflite(path)                                 # doctest: +SKIP
>>> [op.opcode for op in m.operators][:3]                  # doctest: +SKIP
['CONV_2D', 'HARD_SWISH', 'DEPTHWISE_CONV_2D']
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["FlatTable", "TFLiteModel", "TFLiteOperator", "TFLiteTensor", "read_tflite"]

# tensorflow/lite/schema/schema.fbs, enum TensorType
_TENSOR_TYPES = {
    0: np.float32,
    1: np.float16,
    2: np.int32,
    3: np.uint8,
    4: np.int64,
    6: np.bool_,
    7: np.int16,
    9: np.int8,
    10: np.float64,
}
# enum BuiltinOperator (the ones the converters know; others are reported by number)
BUILTIN_OPS = {
    0: "ADD",
    1: "AVERAGE_POOL_2D",
    2: "CONCATENATION",
    3: "CONV_2D",
    4: "DEPTHWISE_CONV_2D",
    6: "DEQUANTIZE",
    9: "FULLY_CONNECTED",
    14: "LOGISTIC",
    17: "MAX_POOL_2D",
    18: "MUL",
    19: "RELU",
    21: "RELU6",
    22: "RESHAPE",
    23: "RESIZE_BILINEAR",
    25: "SOFTMAX",
    32: "CUSTOM",
    34: "PAD",
    40: "MEAN",
    41: "SUB",
    67: "TRANSPOSE_CONV",
    97: "RESIZE_NEAREST_NEIGHBOR",
    117: "HARD_SWISH",
}


class FlatTable:
    """One flatbuffer table: typed access to field ``i`` through the vtable."""

    __slots__ = ("_vt", "_vt_len", "buf", "pos")

    def __init__(self, buf: bytes, pos: int) -> None:
        if not 0 <= pos <= len(buf) - 4:
            raise ValueError("model: corrupt flatbuffer (table offset outside the file)")
        self.buf = buf
        self.pos = pos
        vt = pos - struct.unpack_from("<i", buf, pos)[0]
        if not 0 <= vt <= len(buf) - 4:
            raise ValueError("model: corrupt flatbuffer (vtable outside the file)")
        self._vt = vt
        self._vt_len = struct.unpack_from("<H", buf, vt)[0]

    def _field(self, i: int) -> int:
        """Absolute position of field ``i``, or 0 when absent."""
        o = 4 + 2 * i
        if o >= self._vt_len:
            return 0
        off = struct.unpack_from("<H", self.buf, self._vt + o)[0]
        return self.pos + off if off else 0

    def scalar(self, i: int, fmt: str, default=0):
        p = self._field(i)
        return struct.unpack_from("<" + fmt, self.buf, p)[0] if p else default

    def _indirect(self, p: int) -> int:
        return p + struct.unpack_from("<I", self.buf, p)[0]

    def table(self, i: int) -> FlatTable | None:
        p = self._field(i)
        return FlatTable(self.buf, self._indirect(p)) if p else None

    def _vector(self, i: int) -> tuple[int, int]:
        p = self._field(i)
        if not p:
            return 0, 0
        v = self._indirect(p)
        n = struct.unpack_from("<I", self.buf, v)[0]
        return v + 4, n

    def string(self, i: int) -> str | None:
        start, n = self._vector(i)
        if not start:
            return None
        return self.buf[start : start + n].decode("utf-8", "replace")

    def scalars(self, i: int, dtype) -> np.ndarray:
        start, n = self._vector(i)
        dt = np.dtype(dtype).newbyteorder("<")
        if not start:
            return np.zeros(0, dt)
        if start + n * dt.itemsize > len(self.buf):
            raise ValueError("model: corrupt flatbuffer (vector past the end of the file)")
        return np.frombuffer(self.buf, dt, n, start)

    def tables(self, i: int) -> list[FlatTable]:
        start, n = self._vector(i)
        return [FlatTable(self.buf, self._indirect(start + 4 * k)) for k in range(n)]


@dataclass(frozen=True)
class TFLiteTensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    data: np.ndarray | None  # constant contents (already shaped), or None for activations


@dataclass(frozen=True)
class TFLiteOperator:
    opcode: str  # builtin name ("CONV_2D") or the custom code
    inputs: tuple[int, ...]  # tensor indices; -1 for an omitted optional input
    outputs: tuple[int, ...]
    options: FlatTable | None  # the builtin options table (read by field number)
    custom_options: bytes = b""


@dataclass(frozen=True)
class TFLiteModel:
    tensors: list[TFLiteTensor]
    operators: list[TFLiteOperator]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    version: int
    description: str = ""
    opcodes: list[str] = field(default_factory=list)


def read_tflite(source: str | Path | bytes) -> TFLiteModel:
    """Parse a TFLite flatbuffer (the first subgraph) into tensors and operators.

    Parameters
    ----------
    source : path or bytes
        A ``.tflite`` file.

    Returns
    -------
    TFLiteModel
        Constant tensors carry their data as NumPy arrays of the stored dtype (fp16
        weights stay fp16; the converter dequantises).

    Raises
    ------
    ValueError
        If the bytes are not a TFLite flatbuffer (identifier ``TFL3``) or are corrupt.
    """
    buf = (
        bytes(source)
        if isinstance(source, (bytes, bytearray, memoryview))
        else Path(source).read_bytes()
    )
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        raise ValueError("model: not a TFLite flatbuffer (no 'TFL3' identifier)")
    try:
        return _read(buf)
    except (struct.error, IndexError, UnicodeDecodeError) as e:
        raise ValueError(f"model: corrupt TFLite flatbuffer ({e})") from None


def _read(buf: bytes) -> TFLiteModel:
    root = FlatTable(buf, struct.unpack_from("<I", buf, 0)[0])
    version = root.scalar(0, "I")
    opcodes: list[str] = []
    for oc in root.tables(1):
        code = max(oc.scalar(0, "b"), oc.scalar(3, "i"))  # deprecated int8 field vs int32
        opcodes.append(
            (oc.string(1) or "CUSTOM") if code == 32 else BUILTIN_OPS.get(code, f"BUILTIN_{code}")
        )
    buffers = []
    for b in root.tables(4):
        start, n = b._vector(0)
        if start:
            buffers.append(buf[start : start + n])
        else:  # large models keep data after the flatbuffer: offset(1), size(2)
            off, size = b.scalar(1, "Q"), b.scalar(2, "Q")
            buffers.append(buf[off : off + size] if off > 1 else b"")
    subgraphs = root.tables(2)
    if not subgraphs:
        raise ValueError("model: the TFLite file has no subgraph")
    g = subgraphs[0]
    tensors = []
    for i, t in enumerate(g.tables(0)):
        shape = tuple(int(s) for s in t.scalars(0, np.int32))
        ttype = t.scalar(1, "b")
        if ttype not in _TENSOR_TYPES:
            raise ValueError(f"model: tensor {i} has unsupported TFLite type {ttype}")
        dtype = np.dtype(_TENSOR_TYPES[ttype])
        bi = t.scalar(2, "I")
        data = None
        if 0 < bi < len(buffers) and buffers[bi]:
            raw = buffers[bi]
            data = np.frombuffer(raw, dtype.newbyteorder("<")).astype(dtype).reshape(shape)
        tensors.append(TFLiteTensor(i, t.string(3) or f"t{i}", shape, dtype, data))
    ops = []
    for o in g.tables(3):
        idx = o.scalar(0, "I")
        start, n = o._vector(5)
        ops.append(
            TFLiteOperator(
                opcode=opcodes[idx],
                inputs=tuple(int(x) for x in o.scalars(1, np.int32)),
                outputs=tuple(int(x) for x in o.scalars(2, np.int32)),
                options=o.table(4),
                custom_options=buf[start : start + n] if start else b"",
            )
        )
    return TFLiteModel(
        tensors=tensors,
        operators=ops,
        inputs=tuple(int(x) for x in g.scalars(1, np.int32)),
        outputs=tuple(int(x) for x in g.scalars(2, np.int32)),
        version=version,
        description=root.string(3) or "",
        opcodes=opcodes,
    )
