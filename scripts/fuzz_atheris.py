"""libFuzzer (atheris) over facecore's compiled entry points, without the Python wrappers.

The C++ layer must refuse everything the wrappers would have refused: here random bytes pick
the entry point, dtypes, shapes, strides, sizes and numbers (NaN, inf, huge, negative) and call
facecore._core directly. TypeError / ValueError / OverflowError / MemoryError are the allowed
answers; a crash is a finding (libFuzzer saves the input as crash-*).

    python scripts/fuzz_atheris.py -runs=200000 -max_len=512

``--decode`` fuzzes image decoding instead (facecore.io.decode_image, i.e. OpenCV's codecs as
facecore calls them): libFuzzer mutates a seed corpus of small real encodings (JPEG, PNG, BMP,
WebP, TIFF, PGM, a 1x100000 PNG) written to a temporary folder, and each result that decodes is
then warped with warp_crops, so odd decoded shapes reach the kernels too. ValueError (not an
image) is the allowed answer.

    python scripts/fuzz_atheris.py --decode -runs=100000 -max_len=4096
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    import numpy as np

    import facecore._core as core
    from facecore.io import decode_image
    from facecore.kernels import warp_crops

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


def decode_one_input(data: bytes) -> None:
    STATS["calls"] += 1
    try:
        img = decode_image(data)
    except ValueError:
        STATS["refused"] += 1
    else:
        STATS["returned"] += 1
        m = np.array([[[0.5, 0.0, 0.0], [0.0, 0.5, 0.0]]])
        if max(img.shape[:2]) < 32768:  # warp_crops' documented limit (ValueError beyond it)
            out = warp_crops(img, m, (8, 8))
            assert out.shape == (1, 8, 8, 3)
    if STATS["calls"] % 10000 == 0:
        report("decode_image")


def seed_corpus() -> str:
    """A temporary folder of small valid encodings for libFuzzer to mutate."""
    import tempfile  # noqa: PLC0415

    import cv2  # noqa: PLC0415

    d = tempfile.mkdtemp(prefix="facecore-decode-corpus-")
    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8), (5, 5), 0)
    seeds = {
        "a.jpg": cv2.imencode(".jpg", img)[1], "a.png": cv2.imencode(".png", img)[1],
        "a.bmp": cv2.imencode(".bmp", img[:8, :8])[1], "a.webp": cv2.imencode(".webp", img)[1],
        "a.tif": cv2.imencode(".tif", img[:8, :8])[1], "a.pgm": cv2.imencode(".pgm", img[:8, :8, 0])[1],
        "g16.png": cv2.imencode(".png", (img[:, :, 0].astype(np.uint16) * 257))[1],
        "wide.png": cv2.imencode(".png", np.zeros((1, 100000), np.uint8))[1],
    }
    for name, buf in seeds.items():
        with open(f"{d}/{name}", "wb") as fh:
            fh.write(buf.tobytes())
    return d


def report(what: str = "facecore._core") -> None:
    print(f"{what} calls: {STATS['calls']}, returned {STATS['returned']}, "
          f"refused with TypeError/ValueError {STATS['refused']}, crashes 0", flush=True)


if __name__ == "__main__":
    if "--decode" in sys.argv:
        argv = [a for a in sys.argv if a != "--decode"]
        if not any(not a.startswith("-") for a in argv[1:]):
            argv.append(seed_corpus())
        atheris.Setup(argv, decode_one_input)
    else:
        atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
