"""CPU/GPU dispatch, tested without a GPU.

Three layers, none of which needs a device:
1. the dispatch rules of ``facecore.kernels`` (``device=``, GPU arrays where ``_cuda`` cannot
   run, mixed host/GPU arguments);
2. ``facecore._cuda`` itself where it is built: it imports, finds no device here, and its
   C++ argument checks (dtype, shape, strides, device memory) raise before any launch;
3. the whole Python GPU path of ``facecore.kernels._cuda`` (parsing ``__cuda_array_interface__``,
   output allocation, streams, the NumPy round trip of ``device="cuda"``, ``DeviceArray``)
   against a fake ``_cuda`` whose "device memory" is host memory and whose kernels are the
   C++ CPU kernels: every family must give the CPU result through it. What this cannot test
   (the CUDA kernels) is tests/test_cuda_matches_cpu.py's job, on a GPU.
"""

from __future__ import annotations

import ctypes
import types

import numpy as np
import pytest

import facecore
from facecore import _core, kernels
from facecore.errors import CudaUnavailableError
from facecore.kernels import _cuda as gpu


class FakeGpuArray:
    """A host array dressed as a GPU array: ``__cuda_array_interface__`` with its pointer."""

    def __init__(self, a: np.ndarray, stream: int | None = None):
        self.a = a
        self.stream = stream

    @property
    def __cuda_array_interface__(self) -> dict:
        d = {
            "version": 3,
            "shape": self.a.shape,
            "typestr": self.a.dtype.str,
            "data": (self.a.ctypes.data, not self.a.flags.writeable),
            "strides": None if self.a.flags.c_contiguous else self.a.strides,
        }
        if self.stream is not None:
            d["stream"] = self.stream
        return d


def _view(iface: dict) -> np.ndarray:
    """A NumPy view of the memory an interface dict describes (host memory, in these tests)."""
    shape = tuple(iface["shape"])
    dtype = np.dtype(iface["typestr"])
    strides = iface.get("strides")
    if strides is None:
        strides = []
        s = dtype.itemsize
        for d in reversed(shape):
            strides.append(s)
            s *= d
        strides = tuple(reversed(strides))
    span = dtype.itemsize + sum((d - 1) * st for d, st in zip(shape, strides)) if all(shape) else 1
    raw = (ctypes.c_uint8 * span).from_address(iface["data"][0])
    return np.ndarray(shape, dtype, buffer=raw, strides=strides)


def _iface(x) -> dict:
    return x if isinstance(x, dict) else x.__cuda_array_interface__


class FakeCuda(types.SimpleNamespace):
    """``_cuda`` with host memory as "device" memory and the CPU kernels as "CUDA" kernels."""

    def __init__(self):
        super().__init__()
        self.streams: list[int] = []
        self.keep: dict[int, np.ndarray] = {}

        fake = self

        class DeviceMemory:
            def __init__(self, nbytes, device=0, stream=0):
                self._buf = np.empty(max(int(nbytes), 1), np.uint8)
                self.nbytes, self.device, self.stream = int(nbytes), device, stream
                fake.keep[self._buf.ctypes.data] = self._buf

            @property
            def ptr(self):
                return self._buf.ctypes.data

        self.DeviceMemory = DeviceMemory
        self.runtime_version = 0

    def device_count(self):
        return 1

    def pointer_device(self, ptr):
        return 0

    def copy_htod(self, dst, src, stream=0):
        src = np.ascontiguousarray(src)
        ctypes.memmove(dst, src.ctypes.data, src.nbytes)

    def copy_dtoh(self, dst, src, stream=0):
        ctypes.memmove(dst.ctypes.data, src, dst.nbytes)

    def copy_dtod(self, dst, src, nbytes, stream=0):
        ctypes.memmove(dst, src, nbytes)

    def _run(self, name, arrays, args, stream):
        self.streams.append(stream)
        views = [_view(_iface(a)) for a in arrays]
        getattr(_core, name)(*args(views))

    def warp_affine_u8(self, image, matrices, h, w, inverse, border, fill, out, stream=0):
        self._run(
            "warp_affine_u8",
            [image, out],
            lambda v: (v[0], matrices, h, w, inverse, border, fill, v[1]),
            stream,
        )

    def warp_affine_to_nchw_f32(
        self, image, matrices, h, w, inverse, border, fill, mean, std, swap_rb, out, stream=0
    ):
        self._run(
            "warp_affine_to_nchw_f32",
            [image, out],
            lambda v: (v[0], matrices, h, w, inverse, border, fill, mean, std, swap_rb, v[1]),
            stream,
        )

    def warp_affine_f32(self, src, matrices, h, w, inverse, border, fill, out, stream=0):
        self._run(
            "warp_affine_f32",
            [src, out],
            lambda v: (v[0], matrices, h, w, inverse, border, fill, v[1]),
            stream,
        )

    def extract_windows_nchw_f32(
        self, image, wh, ww, sy, sx, first, count, mean, std, swap_rb, out, stream=0
    ):
        self._run(
            "extract_windows_nchw_f32",
            [image, out],
            lambda v: (v[0], wh, ww, sy, sx, first, count, mean, std, swap_rb, v[1]),
            stream,
        )

    def accumulate_windows_f32(self, scores, H, W, wh, ww, sy, sx, reduce, fill, out, stream=0):
        self._run(
            "accumulate_windows_f32",
            [scores, out],
            lambda v: (v[0], H, W, wh, ww, sy, sx, reduce, fill, v[1]),
            stream,
        )

    def refine_map_f32(self, p, power, kernel, iterations, out, stream=0):
        self._run(
            "refine_map_f32", [p, out], lambda v: (v[0], power, kernel, iterations, v[1]), stream
        )

    def guided_upsample_f32(self, guide, alpha, radius, eps, out, stream=0):
        self._run(
            "guided_upsample_f32",
            [guide, alpha, out],
            lambda v: (v[0], v[1], radius, eps, v[2]),
            stream,
        )

    def blend_u8(self, base, effect, alpha, out, stream=0):
        self._run("blend_u8", [base, effect, alpha, out], lambda v: tuple(v), stream)

    def recolor_u8(self, image, alpha, space, color, strength, out, stream=0, source=None):
        self._run(
            "recolor_u8",
            [image, alpha, out],
            lambda v: (v[0], v[1], space, color, strength, v[2], source),
            stream,
        )


@pytest.fixture
def fake_cuda(monkeypatch):
    fake = FakeCuda()
    monkeypatch.setattr(gpu, "_ext", fake)
    return fake


@pytest.fixture
def no_cuda(monkeypatch):
    """As on a machine whose _cuda finds no device (this one, or a GPU machine made to look so)."""
    monkeypatch.setattr(gpu, "_ext", types.SimpleNamespace(device_count=lambda: 0))


rng = np.random.default_rng(8)
IMG = rng.integers(0, 256, (37, 41, 3), dtype=np.uint8)
MAP = rng.random((37, 41), dtype=np.float32)
M = np.array([[[0.9, 0.1, -3.0], [-0.1, 0.9, 2.0]], [[1.2, 0.0, -5.5], [0.0, 1.2, -4.25]]])


# ---------------------------------------------------------------------- dispatch rules
def test_fake_gpu_array_without_cuda_names_the_argument(no_cuda):
    with pytest.raises(CudaUnavailableError, match=r"^image: a GPU array was given"):
        kernels.warp_crops(FakeGpuArray(IMG), M, 16)
    with pytest.raises(CudaUnavailableError, match=r"^alpha: "):
        kernels.blend(IMG, IMG, FakeGpuArray(MAP))
    with pytest.raises(CudaUnavailableError, match=r"^p: "):
        kernels.refine_map(FakeGpuArray(MAP))


def test_cuda_unavailable_error_is_a_runtime_error(no_cuda):
    # FacecoreError mixin + builtin, as every facecore error.
    with pytest.raises(facecore.FacecoreError):
        kernels.recolor(FakeGpuArray(IMG), MAP, "red")


@pytest.mark.skipif(facecore.cuda_available(), reason="this machine has a usable CUDA device")
def test_gpu_array_here_raises_cuda_unavailable():
    with pytest.raises(CudaUnavailableError, match=r"^scores: "):
        kernels.accumulate_windows(FakeGpuArray(np.zeros((3, 3), np.float32)), (5, 5), 3)


def test_device_cuda_on_cpu_only_build_raises(no_cuda):
    with pytest.raises(CudaUnavailableError, match=r"^image: device='cuda' was asked for"):
        kernels.warp_crops(IMG, M, 16, device="cuda")
    with pytest.raises(CudaUnavailableError, match="no CUDA device"):
        kernels.refine_map(MAP, device="cuda")


def test_device_cuda_without_module(monkeypatch):
    monkeypatch.setattr(gpu, "_ext", None)
    with pytest.raises(CudaUnavailableError, match="not built"):
        kernels.blend(IMG, IMG, MAP, device="cuda")


@pytest.mark.parametrize("device", ["cpu", "auto"])
def test_device_cpu_and_auto_on_numpy_equal_the_default(device):
    assert np.array_equal(
        kernels.warp_crops(IMG, M, 16, device=device), kernels.warp_crops(IMG, M, 16)
    )
    assert np.array_equal(kernels.refine_map(MAP, device=device), kernels.refine_map(MAP))
    assert np.array_equal(
        kernels.recolor(IMG, MAP, "red", device=device), kernels.recolor(IMG, MAP, "red")
    )
    assert np.array_equal(
        kernels.blend(IMG, IMG[::-1].copy(), MAP, device=device),
        kernels.blend(IMG, IMG[::-1].copy(), MAP),
    )


def test_bad_device():
    with pytest.raises(
        ValueError, match=r"^device: expected one of \['auto', 'cpu', 'cuda'\]; got 'bogus'"
    ):
        kernels.warp_crops(IMG, M, 16, device="bogus")
    with pytest.raises(TypeError, match=r"^device: "):
        kernels.refine_map(MAP, device=0)
    with pytest.raises(ValueError, match=r"^device: "):
        kernels.blend(IMG, IMG, MAP, device="gpu")


def test_gpu_array_with_device_cpu_is_a_type_error():
    with pytest.raises(TypeError, match=r"^image: a GPU array was given with device='cpu'"):
        kernels.warp_crops(FakeGpuArray(IMG), M, 16, device="cpu")


def test_mixed_host_and_gpu_arrays(fake_cuda):
    with pytest.raises(TypeError, match=r"^alpha: a host array mixed with GPU arrays \(image\)"):
        kernels.recolor(FakeGpuArray(IMG), MAP, "red")
    # device="cuda" copies the host ones instead
    got = kernels.recolor(FakeGpuArray(IMG), MAP, "red", device="cuda")
    assert np.array_equal(got.get(), kernels.recolor(IMG, MAP, "red"))


def test_is_device_array():
    assert not gpu.is_device_array(IMG)
    assert not gpu.is_device_array([1, 2])
    assert not gpu.is_device_array(None)
    assert gpu.is_device_array(FakeGpuArray(IMG))

    class DLCuda:
        def __dlpack_device__(self):
            return (2, 0)

    class DLCpu:
        def __dlpack_device__(self):
            return (1, 0)

    class Broken:
        @property
        def __cuda_array_interface__(self):
            raise AttributeError("not on a GPU")  # what a CPU torch tensor does

    assert gpu.is_device_array(DLCuda())
    assert not gpu.is_device_array(DLCpu())
    assert not gpu.is_device_array(Broken())


# ------------------------------------------------------------------ the built _cuda
def _built_cuda():
    try:
        from facecore import _cuda
    except ImportError:
        _cuda = None
    if _cuda is None:  # facecore/__init__ sets None where the import fails
        pytest.skip("facecore._cuda is not built here (no nvcc at build time)")
    return _cuda


def test_cuda_module_imports_without_a_device():
    cu = _built_cuda()
    if facecore.cuda_available():
        pytest.skip("this machine has a usable CUDA device")
    assert cu.device_count() == 0
    assert isinstance(cu.runtime_version, int)
    with pytest.raises(ValueError, match=r"^device: no CUDA device 0"):
        cu.device_properties(0)


def _kernels_built(cu):
    if not hasattr(cu, "warp_affine_u8"):
        pytest.skip("the installed facecore._cuda is the skeleton without kernels; reinstall")


def _cai(shape, typestr, ptr=0x1000, strides=None, readonly=False):
    return {
        "version": 3,
        "shape": shape,
        "typestr": typestr,
        "data": (ptr, readonly),
        "strides": strides,
    }


def test_cuda_binding_checks_arguments_before_touching_a_device():
    cu = _built_cuda()
    _kernels_built(cu)
    m = M.copy()
    fill = np.zeros(3, np.int32)
    out = _cai((2, 8, 8, 3), "|u1")
    C = _core.Border.constant
    with pytest.raises(TypeError, match=r"^image: expected uint8 array; got float32"):
        cu.warp_affine_u8(_cai((10, 10, 3), "<f4"), m, 8, 8, False, C, fill, out)
    with pytest.raises(ValueError, match=r"^image: expected \(H, W\) or \(H, W, C\)"):
        cu.warp_affine_u8(_cai((10,), "|u1"), m, 8, 8, False, C, fill, out)
    with pytest.raises(ValueError, match=r"^image: pixels must be contiguous"):
        cu.warp_affine_u8(
            _cai((10, 10, 3), "|u1", strides=(30, 6, 1)), m, 8, 8, False, C, fill, out
        )
    with pytest.raises(ValueError, match=r"^out: wrong shape \(2, 8, 9, 3\)"):
        cu.warp_affine_u8(
            _cai((10, 10, 3), "|u1"), m, 8, 8, False, C, fill, _cai((2, 8, 9, 3), "|u1")
        )
    with pytest.raises(ValueError, match=r"^out: array is read-only"):
        cu.blend_u8(
            _cai((4, 4, 3), "|u1"),
            _cai((4, 4, 3), "|u1"),
            _cai((4, 4), "<f4"),
            _cai((4, 4, 3), "|u1", readonly=True),
        )
    with pytest.raises(TypeError, match=r"^matrices: expected float64"):
        cu.warp_affine_u8(_cai((10, 10, 3), "|u1"), m.astype(np.float32), 8, 8, False, C, fill, out)
    # enumerations are facecore._core's types, shared by both extensions; never bare ints
    assert cu.Border is _core.Border and cu.Reduce is _core.Reduce
    assert cu.ColourSpace is _core.ColourSpace
    with pytest.raises(TypeError, match="incompatible function arguments"):
        cu.warp_affine_u8(_cai((10, 10, 3), "|u1"), m, 8, 8, False, 0, fill, out)
    with pytest.raises(TypeError, match=r"^image: expected a CUDA array"):
        cu.warp_affine_u8(IMG, m, 8, 8, False, C, fill, out)
    with pytest.raises(ValueError, match=r"^window: 5x5 is larger than the image"):
        cu.extract_windows_nchw_f32(
            _cai((4, 4), "|u1"),
            5,
            5,
            1,
            1,
            0,
            1,
            np.zeros(1, np.float32),
            np.ones(1, np.float32),
            False,
            _cai((1, 1, 5, 5), "<f4"),
        )
    with pytest.raises(ValueError, match=r"^scores: expected the window grid's shape \(3, 3\)"):
        cu.accumulate_windows_f32(
            _cai((2, 3), "<f4"), 5, 5, 3, 3, 1, 1, _core.Reduce.mean, 0.0, _cai((5, 5), "<f4")
        )
    with pytest.raises(ValueError, match=r"^out: overlaps p without being p"):
        cu.refine_map_f32(
            _cai((4, 4), "<f4", ptr=0x1000),
            2.0,
            np.ones((3, 3), np.float32),
            1,
            _cai((4, 4), "<f4", ptr=0x1004),
        )
    with pytest.raises(TypeError, match=r"^image: malformed"):
        cu.recolor_u8(
            {"shape": (2, 2, 3)},
            _cai((2, 2), "<f4"),
            _core.ColourSpace.lab,
            np.zeros(3, np.float32),
            1.0,
            _cai((2, 2, 3), "|u1"),
        )
    # Everything right but the memory: here there is no device, so no pointer is device memory.
    with pytest.raises(ValueError, match=r"^image: not a CUDA device pointer"):
        cu.warp_affine_u8(FakeGpuArray(IMG), m, 8, 8, False, C, fill, out)


# ------------------------------------------------- the Python GPU path, on a fake _cuda
def test_warp_crops_through_the_gpu_path(fake_cuda):
    got = kernels.warp_crops(FakeGpuArray(IMG), M, (16, 12))
    assert isinstance(got, gpu.DeviceArray) and got.shape == (2, 16, 12, 3)
    assert np.array_equal(got.get(), kernels.warp_crops(IMG, M, (16, 12)))
    t = kernels.warp_crops(
        FakeGpuArray(IMG), M, 16, tensor=True, mean=(1, 2, 3), std=50.0, swap_rb=True
    )
    assert np.array_equal(
        t.get(), kernels.warp_crops(IMG, M, 16, tensor=True, mean=(1, 2, 3), std=50.0, swap_rb=True)
    )
    # a row-strided crop of the frame is used in place
    view = IMG[3:30, 2:40]
    got = kernels.warp_crops(FakeGpuArray(view), M, 16, border="replicate", fill=0)
    assert np.array_equal(got.get(), kernels.warp_crops(view, M, 16, border="replicate"))


def test_warp_affine_through_the_gpu_path(fake_cuda):
    A = M[0]
    got = kernels.warp_affine(FakeGpuArray(MAP), A, (20, 30), inverse=True, fill=0.5)
    assert got.shape == (20, 30) and got.dtype == np.float32
    assert np.array_equal(got.get(), kernels.warp_affine(MAP, A, (20, 30), inverse=True, fill=0.5))
    got = kernels.warp_affine(FakeGpuArray(IMG), A, 25)
    assert np.array_equal(got.get(), kernels.warp_affine(IMG, A, 25))


def test_numpy_with_device_cuda_returns_numpy(fake_cuda):
    got = kernels.warp_crops(IMG, M, 16, device="cuda")
    assert isinstance(got, np.ndarray)
    assert np.array_equal(got, kernels.warp_crops(IMG, M, 16))
    out = np.empty((37, 41), np.float32)
    r = kernels.refine_map(MAP, iterations=3, out=out, device="cuda")
    assert r is out and np.array_equal(out, kernels.refine_map(MAP, iterations=3))
    assert np.array_equal(
        kernels.blend(IMG, IMG[::-1].copy(), MAP, device="cuda"),
        kernels.blend(IMG, IMG[::-1].copy(), MAP),
    )


def test_windows_through_the_gpu_path(fake_cuda):
    img = IMG[:20, :24]
    cpu = list(
        kernels.iter_windows(
            img, (5, 7), stride=(2, 3), batch_size=10, mean=(1, 2, 3), std=3.0, swap_rb=True
        )
    )
    gpu = list(
        kernels.iter_windows(
            FakeGpuArray(np.ascontiguousarray(img)),
            (5, 7),
            stride=(2, 3),
            batch_size=10,
            mean=(1, 2, 3),
            std=3.0,
            swap_rb=True,
        )
    )
    assert [b.first for b in gpu] == [b.first for b in cpu]
    for g, c in zip(gpu, cpu):
        assert np.array_equal(g.tensor.get(), c.tensor)
        assert np.array_equal(g.origins, c.origins)
    gh, gw = kernels.window_grid(img.shape, (5, 7), stride=(2, 3))
    scores = rng.random((gh, gw), dtype=np.float32)
    for reduce in ("mean", "centre"):
        got = kernels.accumulate_windows(
            FakeGpuArray(scores.reshape(-1)),
            img.shape,
            (5, 7),
            stride=(2, 3),
            reduce=reduce,
            fill=-1.0,
        )
        want = kernels.accumulate_windows(
            scores, img.shape, (5, 7), stride=(2, 3), reduce=reduce, fill=-1.0
        )
        assert np.array_equal(got.get(), want)


def test_probability_map_through_the_gpu_path(fake_cuda):
    img = np.ascontiguousarray(IMG[:24, :24])

    def classify_device(batch):  # returns a "GPU" array
        return FakeGpuArray(np.asarray(batch.get()).mean(axis=(1, 2, 3)).astype(np.float32))

    def classify_host(batch):  # returns host scores
        return np.asarray(batch.get()).mean(axis=(1, 2, 3))[:, None]

    want = kernels.probability_map(img, lambda b: b.mean(axis=(1, 2, 3)), 7, stride=2, batch_size=9)
    for classify in (classify_device, classify_host):
        got = kernels.probability_map(FakeGpuArray(img), classify, 7, stride=2, batch_size=9)
        np.testing.assert_allclose(got.get(), want, rtol=1e-6)
    with pytest.raises(ValueError, match=r"^classify: must return one"):
        kernels.probability_map(FakeGpuArray(img), lambda b: np.zeros(3), 7, stride=2, batch_size=9)


def test_refine_and_recolor_through_the_gpu_path(fake_cuda):
    p = MAP.copy()
    fp = FakeGpuArray(p)
    got = kernels.refine_map(fp, power=2.5, kernel="gauss3", iterations=2)
    assert np.array_equal(
        got.get(), kernels.refine_map(MAP, power=2.5, kernel="gauss3", iterations=2)
    )
    r = kernels.refine_map(fp, out=fp)  # in place
    assert r is fp.a or r is fp
    assert np.array_equal(p, kernels.refine_map(MAP))
    for mode in ("lab", "hsv"):
        got = kernels.recolor(
            FakeGpuArray(IMG), FakeGpuArray(MAP), "#8a2be2", mode=mode, strength=0.6
        )
        assert np.array_equal(
            got.get(), kernels.recolor(IMG, MAP, "#8a2be2", mode=mode, strength=0.6)
        )


def test_out_on_the_gpu(fake_cuda):
    base, effect = IMG.copy(), IMG[::-1].copy()
    fb = FakeGpuArray(base)
    kernels.blend(fb, FakeGpuArray(effect), FakeGpuArray(MAP), out=fb)
    assert np.array_equal(base, kernels.blend(IMG, IMG[::-1].copy(), MAP))
    with pytest.raises(ValueError, match=r"^out: expected uint8 \(2, 16, 16, 3\)"):
        kernels.warp_crops(
            FakeGpuArray(IMG), M, 16, out=FakeGpuArray(np.zeros((2, 16, 16, 4), np.uint8))
        )
    with pytest.raises(ValueError, match=r"^out: must not overlap an input"):
        kernels.warp_affine(FakeGpuArray(MAP), M[0], (37, 41), out=FakeGpuArray(MAP))
    with pytest.raises(TypeError, match=r"^out: a host array mixed with GPU arrays"):
        kernels.warp_crops(FakeGpuArray(IMG), M, 16, out=np.zeros((2, 16, 16, 3), np.uint8))
    with pytest.raises(TypeError, match=r"^out: expected a GPU array for GPU inputs"):
        kernels.warp_crops(
            FakeGpuArray(IMG), M, 16, out=np.zeros((2, 16, 16, 3), np.uint8), device="cuda"
        )


def test_gpu_path_validates_like_the_cpu_path(fake_cuda):
    with pytest.raises(TypeError, match=r"^image: expected uint8 array"):
        kernels.warp_crops(FakeGpuArray(MAP), M, 16)
    with pytest.raises(ValueError, match=r"^image: expected uint8 array of shape \(H, W, 3\)"):
        kernels.recolor(FakeGpuArray(IMG[..., :2].copy()), FakeGpuArray(MAP), "red")
    with pytest.raises(ValueError, match=r"^alpha: expected shape \(37, 41\)"):
        kernels.blend(FakeGpuArray(IMG), FakeGpuArray(IMG), FakeGpuArray(MAP[:5]))
    with pytest.raises(ValueError, match=r"^shape: "):
        kernels.warp_crops(FakeGpuArray(IMG), M, 0)
    with pytest.raises(ValueError, match=r"^matrices: matrix 0 is singular"):
        kernels.warp_crops(FakeGpuArray(IMG), np.zeros((1, 2, 3)), 8)
    with pytest.raises(ValueError, match=r"^p: must be C-contiguous on the GPU"):
        kernels.refine_map(FakeGpuArray(MAP[:, ::2]))


def test_streams(fake_cuda):
    kernels.refine_map(FakeGpuArray(MAP), stream=1234)
    assert fake_cuda.streams[-1] == 1234

    class CupyLike:
        ptr = 77

    class TorchLike:
        cuda_stream = 88

    class Protocol:
        def __cuda_stream__(self):
            return (0, 99)

    for s, want in ((CupyLike(), 77), (TorchLike(), 88), (Protocol(), 99), (None, 0)):
        kernels.refine_map(FakeGpuArray(MAP), stream=s)
        assert fake_cuda.streams[-1] == want
    with pytest.raises(TypeError, match=r"^stream: "):
        kernels.refine_map(FakeGpuArray(MAP), stream="fast")
    with pytest.raises(ValueError, match=r"^stream: "):
        kernels.refine_map(FakeGpuArray(MAP), stream=-1)


def test_device_array(fake_cuda):
    d = gpu.DeviceArray.from_numpy(MAP, stream=5)
    cai = d.__cuda_array_interface__
    assert cai["shape"] == (37, 41) and cai["typestr"] == "<f4" and cai["version"] == 3
    assert cai["stream"] == 5 and cai["strides"] is None
    assert np.array_equal(d.get(), MAP) and np.array_equal(np.asarray(d), MAP)
    assert gpu.DeviceArray((2, 3), np.uint8).__cuda_array_interface__["stream"] == 1  # never 0
    assert len(d) == 37 and d.nbytes == MAP.nbytes and "DeviceArray" in repr(d)
    # a DeviceArray is itself a GPU input, and results keep its stream
    got = kernels.refine_map(d)
    assert isinstance(got, gpu.DeviceArray) and got.stream == 5 and fake_cuda.streams[-1] == 5


def test_guided_upsample_dispatch(fake_cuda):
    """The GPU path of guided_upsample (through the fake _cuda, which runs _core) equals the CPU."""
    low = MAP[::4, ::4].copy()
    want = kernels.guided_upsample(IMG, low, radius=2)
    got = kernels.guided_upsample(FakeGpuArray(IMG), FakeGpuArray(low), radius=2)
    assert np.array_equal(got.get(), want)
    got = kernels.guided_upsample(IMG, low, radius=2, device="cuda")
    assert np.array_equal(got, want)
    with pytest.raises(TypeError, match=r"^alpha: a host array mixed"):
        kernels.guided_upsample(FakeGpuArray(IMG), low)
    with pytest.raises(ValueError, match=r"^alpha: "):
        kernels.guided_upsample(FakeGpuArray(IMG), FakeGpuArray(np.zeros((50, 5), np.float32)))
