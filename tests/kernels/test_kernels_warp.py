"""warp family: warp_crops (uint8 and fused float32 NCHW) and warp_affine (images, float maps).

References: cv2.warpAffine (OpenCV >= 4.11 samples in float32 as facecore does: measured
max |diff| 1 grey level on 5e-6 of the pixels, at half-level ties) and the float64 NumPy warp
in tests/reference.py.
"""

from __future__ import annotations

import hashlib

import cv2
import numpy as np
import pytest
import reference as ref
from hypothesis import given
from hypothesis import strategies as st

import facecore as fc

BORDERS = {"constant": cv2.BORDER_CONSTANT, "replicate": cv2.BORDER_REPLICATE}


def similarity(scale, angle, tx, ty):
    c, s = scale * np.cos(angle), scale * np.sin(angle)
    return np.array([[c, -s, tx], [s, c, ty]], np.float64)


def textured(h, w, c, seed=0):
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (h, w, c) if c > 1 else (h, w), dtype=np.uint8)
    img = cv2.GaussianBlur(img, (0, 0), 1.5).reshape(img.shape)
    img[h // 4 : h // 2, w // 4 : w // 2] = 255  # sharp edges too
    return img


# ------------------------------------------------------------------------------ 1. smoke
def test_smoke():
    img = textured(60, 80, 3)
    out = fc.kernels.warp_crops(img, similarity(1, 0, 0, 0)[None], (60, 80))
    assert out.dtype == np.uint8 and out.shape == (1, 60, 80, 3)


# ------------------------------------------------------------------------ 2. cardinality
@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("n", [1, 7])
@pytest.mark.parametrize("shape", [1, 5, (3, 9), (112, 96)])
def test_shapes(channels, n, shape):
    img = textured(40, 50, channels)
    M = np.stack([similarity(0.7, 0.1 * i, 3, 4) for i in range(n)])
    h, w = (shape, shape) if isinstance(shape, int) else shape
    crops = fc.kernels.warp_crops(img, M, shape)
    assert crops.shape == ((n, h, w, channels) if channels > 1 else (n, h, w))
    blob = fc.kernels.warp_crops(img, M, shape, tensor=True)
    assert blob.shape == (n, channels, h, w) and blob.dtype == np.float32
    back = fc.kernels.warp_affine(img, M[0], shape)
    assert back.shape == crops.shape[1:]


# -------------------------------------------------------------------------- 3. exact
def test_identity_returns_input():
    img = textured(33, 47, 3)
    out = fc.kernels.warp_crops(img, similarity(1, 0, 0, 0)[None], img.shape[:2])[0]
    np.testing.assert_array_equal(out, img)


def test_integer_translation_shifts_by_one_pixel():
    img = textured(20, 30, 3)
    out = fc.kernels.warp_crops(img, similarity(1, 0, 1, 0)[None], img.shape[:2])[0]
    np.testing.assert_array_equal(out[:, 1:], img[:, :-1])
    np.testing.assert_array_equal(out[:, 0], 0)


def test_half_pixel_is_the_mean_of_neighbours():
    img = np.zeros((4, 4), np.uint8)
    img[:, 2:] = 200
    out = fc.kernels.warp_crops(img, similarity(1, 0, 0.5, 0)[None], (4, 4))[0]
    assert out[0, 2] == 100


def test_fill_and_replicate_borders():
    img = np.full((10, 10, 3), 50, np.uint8)
    M = similarity(1, 0, 20, 20)[None]  # everything lands outside the source
    out = fc.kernels.warp_crops(img, M, 10, fill=(1, 2, 3))[0]
    assert (out == [1, 2, 3]).all()
    assert (fc.kernels.warp_crops(img, M, 10, border="replicate")[0] == 50).all()


def test_tensor_is_the_normalised_uint8_warp():
    img = textured(90, 120, 3)
    M = np.stack([similarity(0.8, 0.3, 10, -5), similarity(1.3, -0.2, -20, 8)])
    crops = fc.kernels.warp_crops(img, M, (50, 40))
    mean, std = (127.5, 120.0, 100.0), (128.0, 64.0, 32.0)
    blob = fc.kernels.warp_crops(img, M, (50, 40), tensor=True, mean=mean, std=std, swap_rb=True)
    want = (crops[..., ::-1].astype(np.float32) - np.float32(mean)) / np.float32(std)
    np.testing.assert_array_equal(blob, want.transpose(0, 3, 1, 2))


@pytest.mark.parametrize(
    "std",
    [
        (128.0, 64.0, 0.5),  # powers of two: the kernel may multiply by 1 / std
        (58.395, 57.12, 57.375),  # ImageNet: it must divide
        (128.0, 57.12, 1.0),  # one channel that must divide
        (255.0, 255.0, 255.0),
    ],
)
def test_tensor_normalisation_is_the_numpy_division(std):
    """(v - mean) / std rounded as NumPy's float32 division, bit for bit, whether the kernel
    divides or multiplies by a reciprocal it found exact for all 256 values."""
    img = textured(70, 90, 3, seed=3)
    M = np.stack([similarity(0.7, 0.4, 15, -3), similarity(1.6, -0.5, -30, 20)])
    crops = fc.kernels.warp_crops(img, M, (33, 45))
    mean = (123.675, 116.28, 103.53)
    blob = fc.kernels.warp_crops(img, M, (33, 45), tensor=True, mean=mean, std=std)
    want = (crops.astype(np.float32) - np.float32(mean)) / np.float32(std)
    np.testing.assert_array_equal(blob, want.transpose(0, 3, 1, 2))


GUARDED = """
import ctypes, mmap, sys
import numpy as np
import facecore as fc

# An image whose last byte is the last byte before a page that may not be read (PROT_NONE):
# a read past the image's end kills this process.
libc = ctypes.CDLL(None, use_errno=True)
page = mmap.PAGESIZE
for c, h, w, stride in [(3, 9, 7, 21), (4, 6, 5, 20), (3, 5, 3, 9), (3, 12, 40, 128), (4, 3, 2, 8)]:
    nbytes = (h - 1) * stride + w * c
    total = (nbytes // page + 2) * page
    buf = mmap.mmap(-1, total)
    base = ctypes.addressof(ctypes.c_char.from_buffer(buf))
    assert libc.mprotect(ctypes.c_void_p(base + total - page), page, 0) == 0
    start = total - page - nbytes
    raw = np.frombuffer(buf, np.uint8, count=nbytes, offset=start)
    img = np.lib.stride_tricks.as_strided(raw, (h, w, c), (stride, c, 1))
    img[...] = np.random.default_rng(c).integers(0, 256, (h, w, c), dtype=np.uint8)
    # every sub-pixel position near the bottom-right corner, where the taps are the last bytes
    ys, xs = np.meshgrid(np.arange(h - 3.0, h + 0.01, 0.25), np.arange(w - 4.0, w + 0.01, 0.25))
    m = np.zeros((ys.size, 2, 3))
    m[:, 0, 0] = m[:, 1, 1] = 1.0
    m[:, 0, 2], m[:, 1, 2] = -xs.ravel(), -ys.ravel()
    for border in ("constant", "replicate"):
        fc.kernels.warp_crops(img, m, (2, 9), border=border)
        fc.kernels.warp_crops(img, m, (2, 9), border=border, tensor=True, mean=1.0, std=3.0)
    del raw, img
print("ok")
"""


@pytest.mark.parametrize("isa", ["native", "baseline"])
def test_reads_stay_inside_the_image(isa):
    """The taps are read several bytes at a time: no read may pass the image's last byte,
    which here is followed by a page that cannot be read."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, FACECORE_ISA=isa)
    r = subprocess.run([sys.executable, "-c", GUARDED], env=env, capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "ok", (r.returncode, r.stderr[-2000:])


def test_image_spanning_more_than_2_gib():
    """Rows 2 GiB apart (a strided view; the bytes between are never touched): the AVX2 rows
    address the image with 32-bit offsets, so this one must take the 64-bit path, and give
    the bits of the same pixels stored compactly."""
    try:
        base = np.zeros(2**31 + 16384, np.uint8)  # untouched pages: no memory is used
    except MemoryError:
        pytest.skip("the system refuses 2 GiB of address space")
    img = np.lib.stride_tricks.as_strided(base, (2, 300, 3), (2**31 + 4096, 3, 1))
    img[...] = np.random.default_rng(0).integers(0, 256, (2, 300, 3), dtype=np.uint8)
    compact = np.ascontiguousarray(img)
    M = np.array([[[1.5, 0.2, -10], [-0.1, 1.1, 0.3]], [[0.9, 0.0, 2.5], [0.0, 1.0, -0.5]]])
    for kw in ({}, dict(tensor=True, mean=100.0, std=3.0)):
        np.testing.assert_array_equal(
            fc.kernels.warp_crops(img, M, (3, 200), **kw),
            fc.kernels.warp_crops(compact, M, (3, 200), **kw),
        )


@pytest.mark.parametrize("tiny", [1.1754943508222875e-38, -1e-30, 1e-9])
def test_tiny_rotation_samples_the_right_pixels(tiny):
    """A coordinate of -1e-37 floors to -1 with fraction 1.0f: it must sample pixel 0."""
    p = np.random.default_rng(0).random((45, 55), dtype=np.float32)
    M = np.array([[1.0, -tiny, 0.0], [tiny, 1.0, 0.0]])
    got = fc.kernels.warp_affine(p, M, (40, 30), fill=0.25)
    want = cv2.warpAffine(p, M, (30, 40), flags=cv2.INTER_LINEAR, borderValue=0.25)
    np.testing.assert_allclose(got, want, atol=2e-5)
    img = (p * 255).astype(np.uint8)
    np.testing.assert_array_equal(fc.kernels.warp_crops(img, M[None], (40, 30))[0], img[:40, :30])


def test_paste_back_inverts_the_crop():
    img = textured(100, 100, 1).astype(np.float32) / 255
    M = similarity(2.0, 0.0, -50, -60)  # 2x zoom of the region at (25, 30)
    chip = fc.kernels.warp_affine(img, M, (80, 80))
    back = fc.kernels.warp_affine(chip, M, img.shape, inverse=True)
    inner = (slice(32, 60), slice(27, 55))
    assert np.abs(back[inner] - img[inner]).max() < 0.08  # two bilinear resamplings
    ref_back = cv2.warpAffine(chip, M, (100, 100), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
    np.testing.assert_allclose(back, ref_back, atol=1e-4)


# --------------------------------------------------------------- 4. properties vs references
matrices = st.builds(
    similarity,
    st.floats(0.25, 3.0),
    st.floats(-np.pi, np.pi),
    st.floats(-80, 80),
    st.floats(-80, 80),
)


@given(
    M=matrices,
    h=st.integers(1, 70),
    w=st.integers(1, 70),
    out_h=st.integers(1, 60),
    out_w=st.integers(1, 60),
    channels=st.sampled_from([1, 3, 4]),
    border=st.sampled_from(list(BORDERS)),
    fill=st.integers(0, 255),
    seed=st.integers(0, 2**16),
)
def test_matches_opencv(M, h, w, out_h, out_w, channels, border, fill, seed):
    img = (
        textured(h, w, channels, seed)
        if min(h, w) >= 4
        else np.random.default_rng(seed).integers(
            0, 256, (h, w, channels) if channels > 1 else (h, w), dtype=np.uint8
        )
    )
    got = fc.kernels.warp_crops(img, M[None], (out_h, out_w), border=border, fill=fill)[0]
    want = cv2.warpAffine(
        img,
        M,
        (out_w, out_h),
        flags=cv2.INTER_LINEAR,
        borderMode=BORDERS[border],
        borderValue=(fill,) * 4,
    )
    want = want.reshape(got.shape)
    diff = np.abs(got.astype(int) - want)
    assert diff.max() <= 1
    assert diff.mean() <= 0.01


@given(M=matrices, border=st.sampled_from(list(BORDERS)), seed=st.integers(0, 2**16))
def test_matches_float64_reference(M, border, seed):
    img = textured(40, 50, 3, seed)
    got = fc.kernels.warp_crops(img, M[None], (30, 35), border=border, fill=9)[0]
    want = ref.warp_affine(img, M, (30, 35), border=border, fill=9)
    # float32 coordinates vs float64: at most a rounding flip, rarely more at sharp edges
    diff = np.abs(got - want)
    assert np.mean(diff) < 0.6
    assert np.mean(diff > 1.5) < 0.01


@given(M=matrices, seed=st.integers(0, 2**16), border=st.sampled_from(list(BORDERS)))
def test_float_maps_match_opencv(M, seed, border):
    p = np.random.default_rng(seed).random((45, 55), dtype=np.float32)
    got = fc.kernels.warp_affine(p, M, (40, 30), border=border, fill=0.25)
    want = cv2.warpAffine(
        p, M, (30, 40), flags=cv2.INTER_LINEAR, borderMode=BORDERS[border], borderValue=0.25
    )
    np.testing.assert_allclose(got, want, atol=2e-5)


def test_row_strided_view_needs_no_copy_and_input_is_untouched():
    frame = textured(120, 160, 3)
    view = frame[10:90, 20:140]
    before = hashlib.sha256(frame.tobytes()).hexdigest()
    M = similarity(0.9, 0.2, 5, 5)[None]
    np.testing.assert_array_equal(
        fc.kernels.warp_crops(view, M, 64), fc.kernels.warp_crops(np.ascontiguousarray(view), M, 64)
    )
    assert hashlib.sha256(frame.tobytes()).hexdigest() == before


def test_out_argument_is_filled():
    img = textured(30, 30, 3)
    out = np.empty((2, 16, 16, 3), np.uint8)
    res = fc.kernels.warp_crops(img, np.stack([similarity(1, 0, 0, 0)] * 2), 16, out=out)
    assert res is out and (out[0] == img[:16, :16]).all()


# ------------------------------------------------------------------------- 5. bad inputs
@pytest.mark.parametrize(
    "kwargs, exc, word",
    [
        (dict(image=np.zeros((10, 10, 3), np.float32)), TypeError, "image"),
        (dict(image=np.zeros((10, 10, 2), np.uint8)), ValueError, "image"),
        (dict(image=np.zeros((0, 10, 3), np.uint8)), ValueError, "image"),
        (dict(image="frame.jpg"), TypeError, "image"),
        (dict(matrices=np.zeros((2, 3))), ValueError, "matrices"),
        (dict(matrices=np.zeros((1, 2, 3))), ValueError, "singular"),
        (dict(matrices=np.full((1, 2, 3), np.nan)), ValueError, "matrices"),
        (dict(matrices=np.zeros((0, 2, 3))), ValueError, "matrices"),
        (dict(matrices=np.ones((1, 2, 3), bool)), TypeError, "matrices"),
        (dict(shape=0), ValueError, "shape"),
        (dict(shape=(4, -1)), ValueError, "shape"),
        (dict(shape=4.5), TypeError, "shape"),
        (dict(shape=(1, 2, 3)), TypeError, "shape"),
        (dict(shape=40000), ValueError, "shape"),
        (dict(border="wrap"), ValueError, "border"),
        (dict(fill=300), ValueError, "fill"),
        (dict(fill=(1, 2)), ValueError, "fill"),
        (dict(tensor=True, std=0.0), ValueError, "std"),
        (dict(tensor=True, mean=(1.0, 2.0)), ValueError, "mean"),
        (dict(swap_rb=True), ValueError, "swap_rb"),
        (dict(tensor=1), TypeError, "tensor"),
        (dict(out=np.empty((1, 8, 8, 3), np.float32)), ValueError, "out"),
    ],
)
def test_bad_inputs(kwargs, exc, word):
    args = dict(
        image=np.zeros((10, 10, 3), np.uint8), matrices=similarity(1, 0, 0, 0)[None], shape=8
    )
    args.update(kwargs)
    with pytest.raises(exc, match=word):
        fc.kernels.warp_crops(args.pop("image"), args.pop("matrices"), args.pop("shape"), **args)


def test_bad_inputs_warp_affine():
    with pytest.raises(ValueError, match="matrix"):
        fc.kernels.warp_affine(np.zeros((5, 5), np.uint8), np.eye(3), 4)
    with pytest.raises(TypeError, match="src"):
        fc.kernels.warp_affine(np.zeros((5, 5), np.float64), similarity(1, 0, 0, 0), 4)
    with pytest.raises(ValueError, match="out"):
        img = np.zeros((5, 5), np.uint8)
        fc.kernels.warp_affine(img, similarity(1, 0, 0, 0), 5, out=img)


def test_compiled_core_checks_again():
    """The C++ entry points refuse what the wrappers would have refused."""
    core = fc._core
    img = np.zeros((8, 8, 3), np.uint8)
    M = np.zeros((1, 2, 3))
    out = np.empty((1, 4, 4, 3), np.uint8)
    fill = np.zeros(3, np.int32)
    C = core.Border.constant
    with pytest.raises(ValueError, match="singular"):
        core.warp_affine_u8(img, M, 4, 4, False, C, fill, out)
    with pytest.raises(TypeError, match="image"):
        core.warp_affine_u8(img.astype(np.float32), M, 4, 4, False, C, fill, out)
    with pytest.raises(ValueError, match="out"):
        core.warp_affine_u8(img, np.eye(3)[None, :2], 5, 4, False, C, fill, out)
    with pytest.raises(ValueError, match="contiguous"):
        core.warp_affine_u8(img[:, ::2], np.eye(3)[None, :2], 4, 4, False, C, fill, out)
    # enumerations cross as facecore._core enum values, never bare ints
    with pytest.raises(TypeError, match="incompatible function arguments"):
        core.warp_affine_u8(img, np.eye(3)[None, :2], 4, 4, False, 0, fill, out)
