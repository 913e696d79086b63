"""Every CUDA kernel against its CPU twin (the reference), on random inputs.

Both builds compile the same per-pixel maths (src/cpp/pixel_ops.hpp), without fused
multiply-add, with IEEE division and square root, the sampling maps and colour tables
computed on the host by the same code, and the same summation orders (refine's correlation,
accumulate's float64 prefix sums), so the results are expected to be identical. The bounds
asserted are the issue's: uint8 within 1 level, float within 1e-5; the tests also report
how many values differ at all, so a drift from "identical" is visible in the log.

Run on a GPU machine: ``pytest -m gpu tests/test_cuda_matches_cpu.py``. Inputs go in as NumPy
with ``device="cuda"`` (facecore's DeviceArray path) and, where installed, as CuPy arrays and
PyTorch tensors.
"""

from __future__ import annotations

import numpy as np
import pytest

import facecore
from facecore import kernels

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(
        not facecore.cuda_available(),
        reason="no usable CUDA device (facecore.cuda_available() is False)",
    ),
]


def _frameworks():
    out = ["numpy"]
    try:
        import cupy  # noqa: F401

        out.append("cupy")
    except ImportError:
        pass
    try:
        import torch

        if torch.cuda.is_available():
            out.append("torch")
    except ImportError:
        pass
    return out


FRAMEWORKS = _frameworks()


def to_dev(a: np.ndarray, fw: str):
    if fw == "cupy":
        import cupy

        return cupy.asarray(a)
    if fw == "torch":
        import torch

        return torch.from_numpy(np.ascontiguousarray(a)).cuda()
    return a


def to_host(x) -> np.ndarray:
    if isinstance(x, np.ndarray):
        return x
    mod = type(x).__module__.split(".")[0]
    if mod == "cupy":
        return x.get()
    if mod == "torch":
        return x.cpu().numpy()
    return x.get()


def run(fn, fw, *arrays, **kw):
    """fn on the GPU: NumPy with device='cuda', CuPy/PyTorch as themselves."""
    dev = [to_dev(a, fw) if isinstance(a, np.ndarray) else a for a in arrays]
    if fw == "numpy":
        kw["device"] = "cuda"
    got = fn(*dev, **kw)
    if fw != "numpy":
        assert type(got).__module__.split(".")[0] == fw, (
            "result not allocated by the input's framework"
        )
    return to_host(got)


def check_u8(got, want, what):
    assert got.shape == want.shape and got.dtype == want.dtype
    diff = np.abs(got.astype(np.int16) - want.astype(np.int16))
    n = int((diff > 0).sum())
    print(f"{what}: {n} of {diff.size} values differ (max {int(diff.max()) if diff.size else 0})")
    assert diff.max() <= 1, what


def check_f32(got, want, what):
    assert got.shape == want.shape and got.dtype == want.dtype
    n = int((got != want).sum())
    print(
        f"{what}: {n} of {got.size} values differ (max abs {float(np.abs(got - want).max()):.3g})"
    )
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=what)


def random_matrices(rng, n, h, w):
    """Similarity-ish crops of random scale, angle and position (some partly outside)."""
    ang = rng.uniform(-0.6, 0.6, n)
    sc = rng.uniform(0.3, 2.5, n)
    tx = rng.uniform(-0.3 * w, 0.3 * w, n)
    ty = rng.uniform(-0.3 * h, 0.3 * h, n)
    m = np.empty((n, 2, 3))
    m[:, 0, 0] = sc * np.cos(ang)
    m[:, 0, 1] = -sc * np.sin(ang)
    m[:, 1, 0] = sc * np.sin(ang)
    m[:, 1, 1] = sc * np.cos(ang)
    m[:, 0, 2] = -tx * sc
    m[:, 1, 2] = -ty * sc
    return m


@pytest.mark.parametrize("fw", FRAMEWORKS)
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_warp_crops(fw, seed, channels):
    rng = np.random.default_rng(seed)
    h, w = int(rng.integers(20, 300)), int(rng.integers(20, 300))
    img = rng.integers(0, 256, (h, w, channels) if channels > 1 else (h, w), dtype=np.uint8)
    m = random_matrices(rng, int(rng.integers(1, 70)), h, w)
    shape = (int(rng.integers(4, 120)), int(rng.integers(4, 120)))
    for border in ("constant", "replicate"):
        kw = dict(border=border, fill=int(rng.integers(0, 256)))
        check_u8(
            run(kernels.warp_crops, fw, img, m, shape, **kw),
            kernels.warp_crops(img, m, shape, **kw),
            f"warp u8 {border}",
        )
        tk = dict(kw, tensor=True, mean=127.5, std=128.0, swap_rb=channels >= 3)
        check_f32(
            run(kernels.warp_crops, fw, img, m, shape, **tk),
            kernels.warp_crops(img, m, shape, **tk),
            f"warp tensor {border}",
        )


@pytest.mark.parametrize("fw", FRAMEWORKS)
def test_warp_affine_float_and_paste_back(fw):
    rng = np.random.default_rng(11)
    p = rng.random((112, 96, 1), dtype=np.float32)[..., 0]
    a = random_matrices(rng, 1, 480, 640)[0]
    for inverse in (False, True):
        kw = dict(inverse=inverse, fill=0.25, border="constant")
        check_f32(
            run(kernels.warp_affine, fw, p, a, (480, 640), **kw),
            kernels.warp_affine(p, a, (480, 640), **kw),
            f"warp f32 inverse={inverse}",
        )
    img3 = rng.random((64, 64, 3), dtype=np.float32)
    check_f32(
        run(kernels.warp_affine, fw, img3, a, 50, border="replicate"),
        kernels.warp_affine(img3, a, 50, border="replicate"),
        "warp f32 3ch",
    )


def test_warp_more_crops_than_one_grid_dimension():
    # 70,000 crops: more than gridDim.z's 65,535, so the kernel's crop loop runs twice.
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    m = random_matrices(rng, 70_000, 64, 64)
    check_u8(
        kernels.warp_crops(img, m, 4, device="cuda"),
        kernels.warp_crops(img, m, 4),
        "warp 70k crops",
    )


def test_row_strided_input():
    cupy = pytest.importorskip("cupy")
    rng = np.random.default_rng(5)
    frame = rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)
    m = random_matrices(rng, 8, 200, 300)
    view = cupy.asarray(frame)[50:250, 40:340]  # rows strided: used in place
    check_u8(
        kernels.warp_crops(view, m, 64).get(),
        kernels.warp_crops(frame[50:250, 40:340], m, 64),
        "strided",
    )


@pytest.mark.parametrize("fw", FRAMEWORKS)
@pytest.mark.parametrize("seed", range(3))
def test_windows(fw, seed):
    rng = np.random.default_rng(seed)
    h, w = int(rng.integers(20, 120)), int(rng.integers(20, 120))
    img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    win = (int(rng.integers(1, 20)), int(rng.integers(1, 20)))
    stride = (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
    kw = dict(
        stride=stride,
        batch_size=int(rng.integers(1, 400)),
        mean=(1.0, 2.0, 3.0),
        std=(10.0, 20.0, 30.0),
        swap_rb=True,
    )
    dev_img = to_dev(img, fw)
    extra = {"device": "cuda"} if fw == "numpy" else {}
    cpu = list(kernels.iter_windows(img, win, **kw))
    gpu = list(kernels.iter_windows(dev_img, win, **kw, **extra))
    assert sum(b.tensor.shape[0] for b in gpu) == sum(b.tensor.shape[0] for b in cpu)
    got = np.concatenate([to_host(b.tensor) for b in gpu])
    check_f32(got, np.concatenate([b.tensor for b in cpu]), "extract")
    gh, gw = kernels.window_grid(img.shape, win, stride=stride)
    scores = rng.random((gh, gw), dtype=np.float32)
    for reduce in ("mean", "centre"):
        ak = dict(stride=stride, reduce=reduce, fill=-1.0)
        check_f32(
            run(kernels.accumulate_windows, fw, scores, img.shape, win, **ak),
            kernels.accumulate_windows(scores, img.shape, win, **ak),
            f"accumulate {reduce}",
        )


def test_probability_map_on_the_gpu():
    cupy = pytest.importorskip("cupy")
    rng = np.random.default_rng(9)
    img = rng.integers(0, 256, (90, 70, 3), dtype=np.uint8)
    got = kernels.probability_map(
        cupy.asarray(img), lambda b: b.mean(axis=(1, 2, 3)) / 255, 15, stride=2
    )
    want = kernels.probability_map(img, lambda b: b.mean(axis=(1, 2, 3)) / 255, 15, stride=2)
    np.testing.assert_allclose(got.get(), want, rtol=1e-5, atol=1e-6)  # CuPy's mean vs NumPy's


@pytest.mark.parametrize("fw", FRAMEWORKS)
@pytest.mark.parametrize("power", [2.0, 2.5, 1.0])
@pytest.mark.parametrize("iterations", [0, 1, 2, 3])
def test_refine(fw, power, iterations):
    rng = np.random.default_rng(int(power * 10) + iterations)
    p = rng.random((333, 517), dtype=np.float32)
    p[5, 5] = np.nan
    p[6, 6] = 1.5
    p[7, 7] = -0.5
    k5 = rng.random((5, 7), dtype=np.float32) / 35
    for kernel in ("lbp3", k5):
        kw = dict(power=power, kernel=kernel, iterations=iterations)
        check_f32(
            run(kernels.refine_map, fw, p, **kw),
            kernels.refine_map(p, **kw),
            f"refine {power} {iterations}",
        )


def test_refine_in_place():
    cupy = pytest.importorskip("cupy")
    rng = np.random.default_rng(2)
    p = rng.random((100, 130), dtype=np.float32)
    d = cupy.asarray(p)
    r = kernels.refine_map(d, iterations=3, out=d)
    assert r is d
    check_f32(d.get(), kernels.refine_map(p, iterations=3), "refine in place")


@pytest.mark.parametrize("fw", FRAMEWORKS)
@pytest.mark.parametrize("grey", [False, True])
@pytest.mark.parametrize("low", [(144, 256), (37, 51), (360, 640)])
def test_guided(fw, grey, low):
    rng = np.random.default_rng(low[0])
    frame = rng.integers(0, 256, (360, 640) if grey else (360, 640, 3), dtype=np.uint8)
    alpha = rng.uniform(-0.2, 1.2, low).astype(np.float32)
    alpha[0, :3] = np.nan
    for radius, eps in ((4, 1e-3), (1, 1e-5), (9, 0.05)):
        kw = dict(radius=radius, eps=eps)
        check_f32(
            run(kernels.guided_upsample, fw, frame, alpha, **kw),
            kernels.guided_upsample(frame, alpha, **kw),
            f"guided {low} r={radius}",
        )


@pytest.mark.parametrize("fw", FRAMEWORKS)
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_blend(fw, channels):
    rng = np.random.default_rng(channels)
    shape = (257, 301, channels) if channels > 1 else (257, 301)
    base = rng.integers(0, 256, shape, dtype=np.uint8)
    effect = rng.integers(0, 256, shape, dtype=np.uint8)
    alpha = rng.uniform(-0.2, 1.2, (257, 301)).astype(np.float32)
    alpha[0, :5] = np.nan
    check_u8(
        run(kernels.blend, fw, base, effect, alpha), kernels.blend(base, effect, alpha), "blend"
    )


@pytest.mark.parametrize("fw", FRAMEWORKS)
@pytest.mark.parametrize("mode", ["lab", "hsv", "transfer", "natural"])
@pytest.mark.parametrize("strength", [1.0, 0.5, 0.0])
@pytest.mark.parametrize("color", ["#8a2be2", "blonde", "black", "#00ff00"])
def test_recolor(fw, mode, strength, color):
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (199, 263, 3), dtype=np.uint8)
    alpha = rng.uniform(-0.2, 1.2, (199, 263)).astype(np.float32)
    alpha[:, :40] = 0  # whole blocks the CPU copies
    kw = dict(mode=mode, strength=strength)
    check_u8(
        run(kernels.recolor, fw, img, alpha, color, **kw),
        kernels.recolor(img, alpha, color, **kw),
        f"recolor {mode} {strength} {color}",
    )


def test_on_a_non_default_stream():
    cupy = pytest.importorskip("cupy")
    rng = np.random.default_rng(4)
    img = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    alpha = rng.random((480, 640), dtype=np.float32)
    s = cupy.cuda.Stream(non_blocking=True)
    with s:
        d = cupy.asarray(img)
        a = cupy.asarray(alpha)
        got = kernels.recolor(d, a, "red")  # the current (non-default) stream
    s.synchronize()
    check_u8(got.get(), kernels.recolor(img, alpha, "red"), "recolor on a stream")
    got2 = kernels.recolor(cupy.asarray(img), cupy.asarray(alpha), "red", stream=s)
    s.synchronize()
    check_u8(got2.get(), kernels.recolor(img, alpha, "red"), "recolor stream=")


def test_device_array_round_trip_and_consumers():
    from facecore.kernels._cuda import DeviceArray

    rng = np.random.default_rng(6)
    img = rng.integers(0, 256, (100, 120, 3), dtype=np.uint8)
    d = DeviceArray.from_numpy(img)
    got = kernels.warp_crops(d, random_matrices(rng, 5, 100, 120), 32)
    assert isinstance(got, DeviceArray)
    assert got.get().shape == (5, 32, 32, 3)
    try:
        import cupy
    except ImportError:
        return
    assert np.array_equal(cupy.asarray(d).get(), img)  # read through __cuda_array_interface__


def test_bad_inputs_on_the_gpu():
    cupy = pytest.importorskip("cupy")
    with pytest.raises(TypeError, match=r"^image: expected uint8"):
        kernels.warp_crops(cupy.zeros((10, 10, 3), cupy.float32), np.eye(2, 3)[None], 8)
    with pytest.raises(ValueError, match=r"^alpha: expected shape"):
        kernels.blend(
            cupy.zeros((10, 10, 3), cupy.uint8),
            cupy.zeros((10, 10, 3), cupy.uint8),
            cupy.zeros((9, 10), cupy.float32),
        )
    with pytest.raises(TypeError, match=r"^alpha: a host array mixed"):
        kernels.recolor(cupy.zeros((10, 10, 3), cupy.uint8), np.zeros((10, 10), np.float32), "red")
