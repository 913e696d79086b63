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

``--kernels`` is the structure-aware harness: the fuzzer's bytes choose shapes, strides,
matrices, windows and maps that are valid together, so every call reaches a kernel. With
``--core build/fuzz/core`` (built by scripts/fuzz_build.sh) libFuzzer counts the C++ core's
edges; the runtime the instrumented core needs is preloaded:

    LD_PRELOAD=$(clang -print-file-name=libclang_rt.asan-x86_64.so) ASAN_OPTIONS=detect_leaks=0 \
        python scripts/fuzz_atheris.py --kernels --core build/fuzz/core -max_total_time=120
"""

from __future__ import annotations

import importlib.util
import os
import sys

import atheris


def _preload_core() -> None:
    """``--core PATH``: use the coverage-instrumented facecore._core that scripts/fuzz_build.sh
    built (clang, -fsanitize=fuzzer-no-link,address,undefined), so libFuzzer sees the C++ edges."""
    if "--core" not in sys.argv:
        return
    i = sys.argv.index("--core")
    path = sys.argv[i + 1]
    del sys.argv[i : i + 2]
    if os.path.isdir(path):
        path = next(
            os.path.join(path, f)
            for f in os.listdir(path)
            if f.startswith("_core") and f.endswith(".so")
        )
    spec = importlib.util.spec_from_file_location("facecore._core", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["facecore._core"] = mod
    spec.loader.exec_module(mod)
    print(f"facecore._core from {path}", flush=True)


_preload_core()
# Python edges are counted only where asked (--instrument-python): by default the coverage
# libFuzzer reports ("cov:") is the C++ core's edges alone.
_INSTRUMENT = "--instrument-python" in sys.argv
if _INSTRUMENT:
    sys.argv.remove("--instrument-python")
with atheris.instrument_imports() if _INSTRUMENT else __import__("contextlib").nullcontext():
    import numpy as np

    import facecore._core as core
    from facecore import kernels as K
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
    return [fdp.ConsumeFloat(), 0.0, 1.0, -1.0, float("nan"), float("inf"), 1e30][
        fdp.ConsumeIntInRange(0, 6)
    ]


def size(fdp: atheris.FuzzedDataProvider) -> int:
    return [fdp.ConsumeIntInRange(-3, 70), 0, 1, 2**31, -(2**40), 40000][
        fdp.ConsumeIntInRange(0, 5)
    ]


STATS = {"calls": 0, "returned": 0, "refused": 0}


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    which = fdp.ConsumeIntInRange(0, 8)
    u8, f32, f64, i32 = np.uint8, np.float32, np.float64, np.int32
    STATS["calls"] += 1
    try:
        if which == 0:
            core.warp_affine_u8(
                array(fdp, 3, u8, 3),
                array(fdp, 3, f64, 3),
                size(fdp),
                size(fdp),
                fdp.ConsumeBool(),
                fdp.ConsumeIntInRange(-1, 2),
                array(fdp, 1, i32, 1),
                array(fdp, 4, u8, 4),
            )
        elif which == 1:
            core.warp_affine_to_nchw_f32(
                array(fdp, 3, u8, 3),
                array(fdp, 3, f64, 3),
                size(fdp),
                size(fdp),
                fdp.ConsumeBool(),
                fdp.ConsumeIntInRange(-1, 2),
                array(fdp, 1, i32, 1),
                array(fdp, 1, f32, 1),
                array(fdp, 1, f32, 1),
                fdp.ConsumeBool(),
                array(fdp, 4, f32, 4),
            )
        elif which == 2:
            core.warp_affine_f32(
                array(fdp, 3, f32, 2),
                array(fdp, 3, f64, 3),
                size(fdp),
                size(fdp),
                fdp.ConsumeBool(),
                fdp.ConsumeIntInRange(-1, 2),
                number(fdp),
                array(fdp, 4, f32, 3),
            )
        elif which == 3:
            core.extract_windows_nchw_f32(
                array(fdp, 3, u8, 3),
                size(fdp),
                size(fdp),
                size(fdp),
                size(fdp),
                size(fdp),
                size(fdp),
                array(fdp, 1, f32, 1),
                array(fdp, 1, f32, 1),
                fdp.ConsumeBool(),
                array(fdp, 4, f32, 4),
            )
        elif which == 4:
            core.accumulate_windows_f32(
                array(fdp, 2, f32, 2),
                size(fdp),
                size(fdp),
                size(fdp),
                size(fdp),
                size(fdp),
                size(fdp),
                fdp.ConsumeIntInRange(-1, 2),
                number(fdp),
                array(fdp, 2, f32, 2),
            )
        elif which == 5:
            core.refine_map_f32(
                array(fdp, 2, f32, 2),
                number(fdp),
                array(fdp, 2, f32, 2),
                fdp.ConsumeIntInRange(-2, 3),
                array(fdp, 2, f32, 2),
            )
        elif which == 6:
            core.blend_u8(
                array(fdp, 3, u8, 3),
                array(fdp, 3, u8, 3),
                array(fdp, 2, f32, 2),
                array(fdp, 3, u8, 3),
            )
        elif which == 7:
            core.recolor_u8(
                array(fdp, 3, u8, 3),
                array(fdp, 2, f32, 2),
                fdp.ConsumeIntInRange(-1, 2),
                array(fdp, 1, f32, 1),
                number(fdp),
                array(fdp, 3, u8, 3),
            )
        else:
            core.set_num_threads(fdp.ConsumeIntInRange(-5, 4))
        STATS["returned"] += 1
    except ALLOWED:
        STATS["refused"] += 1
    if STATS["calls"] % 10000 == 0:  # libFuzzer exits without Python's atexit: report as we go
        report()


def _image(fdp: atheris.FuzzedDataProvider, h: int, w: int, c: int) -> np.ndarray:
    """A valid uint8 image: the rest of the input as pixels, sometimes as a row-strided or
    reversed view (the layouts the core takes without a copy)."""
    raw = fdp.ConsumeBytes(h * w * c)
    buf = np.resize(np.frombuffer(raw or b"\x80", np.uint8), h * (w + 2) * c)
    img = (
        buf.reshape(h, w + 2, c)[:, 1 : w + 1]
        if fdp.ConsumeBool()
        else buf[: h * w * c].reshape(h, w, c)
    )
    if fdp.ConsumeIntInRange(0, 3) == 0:
        img = img[::-1]
    return img if c > 1 or fdp.ConsumeBool() else img[:, :, 0]


def _matrices(fdp: atheris.FuzzedDataProvider, n: int) -> np.ndarray:
    """n forward 2x3 maps: mostly similarity transforms (what alignment produces), some any finite."""
    out = np.empty((n, 2, 3))
    for i in range(n):
        if fdp.ConsumeIntInRange(0, 3):
            s = 10 ** fdp.ConsumeFloatInRange(-2.0, 1.5)
            a = fdp.ConsumeFloatInRange(-3.2, 3.2)
            out[i] = [
                [s * np.cos(a), -s * np.sin(a), fdp.ConsumeFloatInRange(-200, 200)],
                [s * np.sin(a), s * np.cos(a), fdp.ConsumeFloatInRange(-200, 200)],
            ]
        else:
            out[i] = [[fdp.ConsumeFloatInRange(-50, 50) for _ in range(3)] for _ in range(2)]
    return out


def kernel_one_input(data: bytes) -> None:
    """Structure-aware: every argument valid by construction (shapes, strides, matrices,
    maps agree with each other), so the calls reach the kernels instead of the checks.
    Only ValueError for a singular matrix is expected; anything else is a finding."""
    fdp = atheris.FuzzedDataProvider(data)
    which = fdp.ConsumeIntInRange(0, 6)
    h, w, c = (
        fdp.ConsumeIntInRange(1, 48),
        fdp.ConsumeIntInRange(1, 48),
        (1, 3, 4)[fdp.ConsumeIntInRange(0, 2)],
    )
    STATS["calls"] += 1
    try:
        if which == 0:
            img = _image(fdp, h, w, c)
            n, side = (
                fdp.ConsumeIntInRange(1, 4),
                (fdp.ConsumeIntInRange(1, 24), fdp.ConsumeIntInRange(1, 24)),
            )
            tensor = fdp.ConsumeBool()
            K.warp_crops(
                img,
                _matrices(fdp, n),
                side,
                border=["constant", "replicate"][fdp.ConsumeIntInRange(0, 1)],
                tensor=tensor,
                swap_rb=tensor and img.ndim == 3 and img.shape[2] >= 3 and fdp.ConsumeBool(),
                mean=fdp.ConsumeFloatInRange(0, 255),
                std=fdp.ConsumeFloatInRange(0.01, 128),
            )
        elif which == 1:
            src = (
                _image(fdp, h, w, c)
                if fdp.ConsumeBool()
                else np.frombuffer(
                    np.resize(
                        np.frombuffer(fdp.ConsumeBytes(h * w) or b"\x01", np.uint8), h * w * 4
                    ),
                    np.float32,
                )
                .reshape(h, w)
                .copy()
            )
            if src.dtype == np.float32:
                src = np.nan_to_num(src, nan=0.5, posinf=1.0, neginf=0.0)
            K.warp_affine(
                src,
                _matrices(fdp, 1)[0],
                (fdp.ConsumeIntInRange(1, 40), fdp.ConsumeIntInRange(1, 40)),
                inverse=fdp.ConsumeBool(),
            )
        elif which == 2:
            img = _image(fdp, h, w, c)
            win = (fdp.ConsumeIntInRange(1, h), fdp.ConsumeIntInRange(1, w))
            stride = (fdp.ConsumeIntInRange(1, 7), fdp.ConsumeIntInRange(1, 7))
            for _ in K.iter_windows(
                img, win, stride=stride, batch_size=fdp.ConsumeIntInRange(1, 64)
            ):
                pass
        elif which == 3:
            win = (fdp.ConsumeIntInRange(1, h), fdp.ConsumeIntInRange(1, w))
            stride = (fdp.ConsumeIntInRange(1, 7), fdp.ConsumeIntInRange(1, 7))
            gh, gw = K.window_grid((h, w), win, stride=stride)
            scores = np.array(
                [fdp.ConsumeFloatInRange(0, 1) for _ in range(min(gh * gw, 64))] or [0.5],
                np.float32,
            )
            K.accumulate_windows(
                np.resize(scores, gh * gw),
                (h, w),
                win,
                stride=stride,
                reduce=["mean", "centre"][fdp.ConsumeIntInRange(0, 1)],
            )
        elif which == 4:
            p = np.resize(
                np.array([fdp.ConsumeFloatInRange(0, 1) for _ in range(16)], np.float32), (h, w)
            )
            K.refine_map(np.ascontiguousarray(p), iterations=fdp.ConsumeIntInRange(0, 3))
        else:
            base = _image(fdp, h, w, 3)
            base = base if base.ndim == 3 else np.stack([base] * 3, -1)
            alpha = np.resize(
                np.array([fdp.ConsumeFloatInRange(0, 1) for _ in range(16)], np.float32), (h, w)
            )
            if which == 5:
                K.blend(base, base[::-1].copy(), alpha)
            else:
                K.recolor(
                    base,
                    alpha,
                    f"#{fdp.ConsumeIntInRange(0, 0xFFFFFF):06x}",
                    mode=["lab", "hsv"][fdp.ConsumeIntInRange(0, 1)],
                    strength=fdp.ConsumeFloatInRange(0, 1),
                )
        STATS["returned"] += 1
    except ValueError as exc:
        if "singular" not in str(exc) and "non-finite" not in str(exc):
            raise
        STATS["refused"] += 1
    if STATS["calls"] % 10000 == 0:
        report("kernels (structure-aware)")


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
    import tempfile

    import cv2

    d = tempfile.mkdtemp(prefix="facecore-decode-corpus-")
    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8), (5, 5), 0)
    seeds = {
        "g16.png": cv2.imencode(".png", (img[:, :, 0].astype(np.uint16) * 257))[1],
        "wide.png": cv2.imencode(".png", np.zeros((1, 100000), np.uint8))[1],
    }
    # a real image in every format this OpenCV writes, colour and grey (the same list as
    # tests/test_io_limits.py); plus the project's real photos when FACECORE_DATA_DIR has them
    for ext in (
        ".jpg",
        ".png",
        ".webp",
        ".bmp",
        ".tif",
        ".jp2",
        ".ppm",
        ".pgm",
        ".pbm",
        ".pam",
        ".pfm",
        ".hdr",
        ".sr",
        ".avif",
        ".gif",
    ):
        for tag, a in (("c", img), ("g", img[:, :, 0])):
            if ext in (".pfm", ".hdr"):
                a = a.astype(np.float32) / 255
            try:
                ok, buf = cv2.imencode(ext, a)
            except cv2.error:
                continue
            if ok and len(buf) <= 4096:
                seeds[f"{tag}{ext}"] = buf
    data_dir = os.environ.get("FACECORE_DATA_DIR")
    if data_dir:
        photo = os.path.join(data_dir, "photos", "celebs13", "elon_musk", "0.jpg")
        if os.path.isfile(photo):
            small = cv2.resize(cv2.imread(photo), (40, 48))
            seeds["photo.jpg"] = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 70])[1]
    for name, buf in seeds.items():
        with open(f"{d}/{name}", "wb") as fh:
            fh.write(buf.tobytes())
    return d


def report(what: str = "facecore._core") -> None:
    print(
        f"{what} calls: {STATS['calls']}, returned {STATS['returned']}, "
        f"refused with TypeError/ValueError {STATS['refused']}, crashes 0",
        flush=True,
    )


if __name__ == "__main__":
    if "--decode" in sys.argv:
        argv = [a for a in sys.argv if a != "--decode"]
        if not any(not a.startswith("-") for a in argv[1:]):
            argv.append(seed_corpus())
        atheris.Setup(argv, decode_one_input)
    elif "--kernels" in sys.argv:
        atheris.Setup([a for a in sys.argv if a != "--kernels"], kernel_one_input)
    else:
        atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
