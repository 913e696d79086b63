"""libFuzzer (atheris) over facecore's compiled entry points, without the Python wrappers.

The C++ layer must refuse everything the wrappers would have refused: here random bytes pick
the entry point, dtypes, shapes, strides, sizes and numbers (NaN, inf, huge, negative) and call
facecore._core directly. TypeError / ValueError / OverflowError / MemoryError are the allowed
answers; a crash is a finding (libFuzzer saves the input as crash-*).

    python scripts/fuzz_atheris.py -runs=200000 -max_len=512
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    import numpy as np

    import facecore._core as core

DTYPES = [np.uint8, np.float32, np.float64, np.int32, np.uint16]
ALLOWED = (TypeError, ValueError, OverflowError, MemoryError)


def array(fdp: atheris.FuzzedDataProvider, max_dims: int = 4, prefer=None, ndim=None) -> np.ndarray:
    """Mostly the dtype and rank the entry point wants (so calls get past the first check and
    reach the kernels), sometimes anything."""
    usual = prefer is not None and fdp.ConsumeIntInRange(0, 9) < 8
    dtype = prefer if usual else DTYPES[fdp.ConsumeIntInRange(0, len(DTYPES) - 1)]
    ndim = ndim if (usual and ndim is not None) else fdp.ConsumeIntInRange(0, max_dims)
    shape = tuple(fdp.ConsumeIntInRange(0, 24) for _ in range(ndim))
    n = int(np.prod(shape)) if shape else 1
    raw = fdp.ConsumeBytes(n * np.dtype(dtype).itemsize)
    buf = np.zeros(n * np.dtype(dtype).itemsize, np.uint8)
    buf[: len(raw)] = np.frombuffer(raw, np.uint8)
    a = buf.view(dtype).reshape(shape)
    kind = fdp.ConsumeIntInRange(0, 3)
    if kind == 1 and a.ndim:
        a = a[::-1]
    elif kind == 2 and a.ndim >= 2:
        a = a[:, ::2]
    elif kind == 3 and a.ndim >= 2:
        a = np.swapaxes(a, 0, 1)
    return a


def number(fdp: atheris.FuzzedDataProvider) -> float:
    return [fdp.ConsumeFloat(), 0.0, 1.0, -1.0, float("nan"), float("inf"), 1e30][fdp.ConsumeIntInRange(0, 6)]


def size(fdp: atheris.FuzzedDataProvider) -> int:
    return [fdp.ConsumeIntInRange(-3, 70), 0, 1, 2**31, -(2**40), 40000][fdp.ConsumeIntInRange(0, 5)]


STATS = {"calls": 0, "returned": 0, "refused": 0}


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    which = fdp.ConsumeIntInRange(0, 8)
    u8, f32, f64, i32 = np.uint8, np.float32, np.float64, np.int32
    STATS["calls"] += 1
    try:
        if which == 0:
            core.warp_affine_u8(array(fdp, 3, u8, 3), array(fdp, 3, f64, 3), size(fdp), size(fdp), fdp.ConsumeBool(),
                                fdp.ConsumeIntInRange(-1, 2), array(fdp, 1, i32, 1), array(fdp, 4, u8, 4))
        elif which == 1:
            core.warp_affine_to_nchw_f32(array(fdp, 3, u8, 3), array(fdp, 3, f64, 3), size(fdp), size(fdp), fdp.ConsumeBool(),
                                         fdp.ConsumeIntInRange(-1, 2), array(fdp, 1, i32, 1), array(fdp, 1, f32, 1),
                                         array(fdp, 1, f32, 1), fdp.ConsumeBool(), array(fdp, 4, f32, 4))
        elif which == 2:
            core.warp_affine_f32(array(fdp, 3, f32, 2), array(fdp, 3, f64, 3), size(fdp), size(fdp), fdp.ConsumeBool(),
                                 fdp.ConsumeIntInRange(-1, 2), number(fdp), array(fdp, 4, f32, 3))
        elif which == 3:
            core.extract_windows_nchw_f32(array(fdp, 3, u8, 3), size(fdp), size(fdp), size(fdp), size(fdp), size(fdp),
                                          size(fdp), array(fdp, 1, f32, 1), array(fdp, 1, f32, 1), fdp.ConsumeBool(), array(fdp, 4, f32, 4))
        elif which == 4:
            core.accumulate_windows_f32(array(fdp, 2, f32, 2), size(fdp), size(fdp), size(fdp), size(fdp), size(fdp),
                                        size(fdp), fdp.ConsumeIntInRange(-1, 2), number(fdp), array(fdp, 2, f32, 2))
        elif which == 5:
            core.refine_map_f32(array(fdp, 2, f32, 2), number(fdp), array(fdp, 2, f32, 2), fdp.ConsumeIntInRange(-2, 3), array(fdp, 2, f32, 2))
        elif which == 6:
            core.blend_u8(array(fdp, 3, u8, 3), array(fdp, 3, u8, 3), array(fdp, 2, f32, 2), array(fdp, 3, u8, 3))
        elif which == 7:
            core.recolor_u8(array(fdp, 3, u8, 3), array(fdp, 2, f32, 2), fdp.ConsumeIntInRange(-1, 2), array(fdp, 1, f32, 1),
                            number(fdp), array(fdp, 3, u8, 3))
        else:
            core.set_num_threads(fdp.ConsumeIntInRange(-5, 4))
        STATS["returned"] += 1
    except ALLOWED:
        STATS["refused"] += 1
    if STATS["calls"] % 10000 == 0:  # libFuzzer exits without Python's atexit: report as we go
        report()


def report() -> None:
    print(f"facecore._core calls: {STATS['calls']}, returned {STATS['returned']}, "
          f"refused with TypeError/ValueError {STATS['refused']}, crashes 0", flush=True)


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
