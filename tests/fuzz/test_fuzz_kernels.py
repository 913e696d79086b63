"""Fuzzing the public kernels and the image decoder with hostile arguments.

Contract: a result of the documented dtype, or TypeError / ValueError (CudaUnavailableError
for GPU-looking inputs): never a crash, a hang, or another exception. The default run does a
few examples per target (a smoke test of the harness); the real campaign is

    HYPOTHESIS_PROFILE=fuzz python -m pytest -m fuzz tests/fuzz -p no:cacheprovider

(scripts/fuzz.sh; counts in docs/reliability.md). A crash kills the interpreter, which pytest
reports as a failure of the whole run, with hypothesis' database holding the example.
"""

from __future__ import annotations

import numpy as np
import pytest
from harness import CALLS, call
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import images, maps, matrices, scalars, shapes

import facecore as fc

pytestmark = pytest.mark.fuzz


@given(
    image=images(),
    m=matrices,
    shape=shapes,
    border=st.sampled_from(["constant", "replicate", "wrap"]),
    fill=scalars,
    tensor=st.booleans(),
    mean=scalars,
    std=scalars,
    swap_rb=st.booleans(),
)
def test_warp_crops(image, m, shape, border, fill, tensor, mean, std, swap_rb):
    out = call(
        fc.kernels.warp_crops,
        image,
        m,
        shape,
        border=border,
        fill=fill,
        tensor=tensor,
        mean=mean,
        std=std,
        swap_rb=swap_rb,
    )
    if out is not None:
        assert out.dtype == (np.float32 if tensor else np.uint8)
        assert out.shape[0] == np.asarray(m).shape[0]


@given(src=st.one_of(images(), maps), m=matrices, shape=shapes, inverse=st.booleans(), fill=scalars)
def test_warp_affine(src, m, shape, inverse, fill):
    mm = np.asarray(m)[0] if np.ndim(m) == 3 and len(m) else m
    out = call(fc.kernels.warp_affine, src, mm, shape, inverse=inverse, fill=fill)
    if out is not None:
        assert out.dtype == src.dtype


@given(
    image=images(),
    window=shapes,
    stride=shapes,
    batch_size=st.one_of(st.none(), st.integers(-1, 5000)),
)
def test_iter_windows(image, window, stride, batch_size):
    it = call(fc.kernels.iter_windows, image, window, stride=stride, batch_size=batch_size)
    if it is not None:
        for k, batch in enumerate(it):
            assert batch.tensor.dtype == np.float32
            if k > 3:
                break


@given(
    scores=maps,
    image_shape=st.one_of(
        st.tuples(st.integers(-1, 40), st.integers(-1, 40)), st.just((5,)), st.none()
    ),
    window=shapes,
    stride=shapes,
    reduce=st.sampled_from(["mean", "centre", "max"]),
    fill=scalars,
)
def test_accumulate_windows(scores, image_shape, window, stride, reduce, fill):
    out = call(
        fc.kernels.accumulate_windows,
        scores,
        image_shape,
        window,
        stride=stride,
        reduce=reduce,
        fill=fill,
    )
    if out is not None:
        assert out.dtype == np.float32 and out.shape == tuple(image_shape[:2])


@given(
    p=maps,
    power=scalars,
    kernel=st.one_of(st.sampled_from(["lbp3", "nope"]), maps),
    iterations=st.integers(-2, 3),
)
def test_refine_map(p, power, kernel, iterations):
    out = call(fc.kernels.refine_map, p, power=power, kernel=kernel, iterations=iterations)
    if out is not None:
        assert out.dtype == np.float32 and out.shape == p.shape
        if iterations > 0:  # 0 iterations is documented as a plain copy
            assert np.all((out >= 0) & (out <= 1))


@given(base=images(), effect=images(), alpha=maps)
def test_blend(base, effect, alpha):
    out = call(fc.kernels.blend, base, effect, alpha)
    if out is not None:
        assert out.dtype == np.uint8 and out.shape == base.shape


@given(
    image=images(),
    alpha=maps,
    color=st.one_of(st.sampled_from(["red", "#8a2be2", "#zzzzzz", ""]), scalars),
    mode=st.sampled_from(["lab", "hsv", "rgb"]),
    strength=scalars,
)
def test_recolor(image, alpha, color, mode, strength):
    out = call(fc.kernels.recolor, image, alpha, color, mode=mode, strength=strength)
    if out is not None:
        assert out.dtype == np.uint8 and out.shape == image.shape


# Not st.from_type(object): it draws range(10**11) now and then, a legitimate MemoryError of
# np.asarray that says nothing about facecore.
@given(
    src=st.one_of(
        images(prefer=np.float64),
        st.lists(st.lists(st.floats(), max_size=3), max_size=6),
        st.none(),
        st.text(max_size=5),
        st.integers(),
    ),
    dst=images(prefer=np.float64),
)
def test_estimate_similarity(src, dst):
    call(fc.align.estimate_similarity, src, dst)


CORRUPT = [
    b"",
    b"\x00" * 10,
    b"\xff\xd8\xff\xe0" + b"\x00" * 50,  # JPEG header, nothing after
    b"\x89PNG\r\n\x1a\n" + b"\x00" * 30,
    b"GIF89a" + b"\x01" * 20,
    b"BM" + b"\xff" * 60,
    b"P5\n100000 1\n255\n" + b"\x00" * 10,  # a 100000x1 PGM that ends early
]


@given(
    data=st.one_of(st.sampled_from(CORRUPT), st.binary(max_size=2048)),
    cut=st.integers(0, 4096),
    suffix=st.sampled_from([".jpg", ".png", ".bmp", ".pgm", ".txt", ""]),
)
@settings(max_examples=60)
def test_read_image_corrupt_files(tmp_path_factory, data, cut, suffix):
    path = tmp_path_factory.mktemp("corrupt") / f"f{suffix}"
    path.write_bytes(data[:cut])
    CALLS["n"] += 1
    try:
        img = fc.read_image(path)
    except (ValueError, FileNotFoundError):
        return
    assert img.dtype == np.uint8 and img.ndim == 3


def test_truncated_real_jpeg(tmp_path, data_dir):
    raw = (data_dir / "photos" / "single_01.jpg").read_bytes()
    for cut in (0, 10, 100, 1000, len(raw) // 2, len(raw) - 1):
        path = tmp_path / f"cut{cut}.jpg"
        path.write_bytes(raw[:cut])
        try:
            img = fc.read_image(path)
        except ValueError:
            continue
        assert img.dtype == np.uint8  # libjpeg fills a truncated tail: a picture is fine


def test_the_harness_passes_only_documented_rejections():
    """``call`` (every target's contract check) counts each call, turns TypeError/ValueError
    into None and lets any other exception fail the target: a harness that swallowed
    everything would make every fuzz target pass."""

    def crash():
        raise RuntimeError("not a documented rejection")

    n = CALLS["n"]
    assert call(int, "12") == 12
    assert call(int, "twelve") is None  # ValueError
    assert call(len, 5) is None  # TypeError
    with pytest.raises(RuntimeError, match="not a documented rejection"):
        call(crash)
    assert CALLS["n"] == n + 4
