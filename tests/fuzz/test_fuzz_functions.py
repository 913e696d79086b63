"""Fuzzing facecore's model-free functions beyond the kernels: in-memory image decoding,
clustering and its metrics, the alignment templates and matrices.

Same contract as test_fuzz_kernels.py: a result of the documented shape and dtype, or
TypeError / ValueError; never a crash, a hang or another exception. Run in the campaign by
scripts/fuzz.sh (HYPOTHESIS_PROFILE=fuzz).
"""

from __future__ import annotations

import numpy as np
import pytest
from harness import call
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from strategies import arrays, scalars

import facecore.align as falign
import facecore.cluster as fcluster
from facecore.io import decode_image

pytestmark = pytest.mark.fuzz

HEADERS = [
    b"",
    b"\xff\xd8\xff\xe0",
    b"\x89PNG\r\n\x1a\n",
    b"GIF89a",
    b"BM",
    b"P5\n3 2\n255\n",
    b"RIFF\x00\x00\x00\x00WEBP",
    b"II*\x00",
    b"P6\n100000 1\n255\n",
]


@given(head=st.sampled_from(HEADERS), body=st.binary(max_size=1024), grey=st.booleans())
def test_decode_image(head, body, grey):
    img = call(decode_image, head + body, grey=grey)
    if img is not None:
        assert img.dtype == np.uint8 and img.ndim == (2 if grey else 3)


@given(data=st.one_of(arrays(max_dims=2), st.binary(max_size=16), st.integers(), st.none()))
def test_decode_image_any_argument(data):
    call(decode_image, data)


# small clouds of points with duplicates, zeros, NaN and inf; any method and threshold
embeddings = st.one_of(
    arrays(max_dims=3, prefer=np.float32),
    hnp.arrays(
        np.float32,
        st.tuples(st.integers(0, 40), st.integers(1, 8)),
        elements=st.floats(-2, 2, width=32) | st.sampled_from([0.0, np.nan, np.inf]),
    ),
)


@given(
    x=embeddings,
    method=st.sampled_from(["graph", "agglomerative", "chinese_whispers", "components", "nope"]),
    threshold=st.one_of(st.none(), scalars),
    k=st.integers(-1, 50),
    min_size=st.integers(-1, 5),
)
def test_cluster(x, method, threshold, k, min_size):
    res = call(fcluster.cluster, x, method=method, threshold=threshold, k=k, min_size=min_size)
    if res is not None:
        assert res.labels.shape == (np.asarray(x).shape[0],) and res.labels.min(initial=-1) >= -1


labels = st.one_of(
    arrays(max_dims=2, prefer=np.int64),
    hnp.arrays(np.int64, st.integers(0, 30), elements=st.integers(-1, 4)),
)


@given(true=labels, pred=labels)
def test_cluster_metrics(true, pred):
    m = call(fcluster.cluster_metrics, true, pred)
    if m is not None:
        assert 0.0 <= m.purity <= 1.0 and 0.0 <= m.bcubed_f <= 1.0


@given(
    shape=st.one_of(
        st.integers(-5, 600), st.tuples(st.integers(-5, 300), st.integers(-5, 300)), scalars
    ),
    padding=scalars,
)
def test_templates(shape, padding):
    t = call(falign.arcface_template, shape)
    if t is not None:
        assert t.shape == (5, 2) and np.isfinite(t).all()
    t = call(falign.dlib_chip_template, shape, padding=padding)
    if t is not None:
        assert t.shape == (5, 2) and np.isfinite(t).all()


@given(
    lm=arrays(max_dims=3, prefer=np.float32),
    shape=st.one_of(st.integers(-2, 300), st.just((112, 96))),
)
def test_arcface_matrices(lm, shape):
    m = call(falign.arcface_matrices, lm, shape)
    if m is not None:
        assert m.shape[-2:] == (2, 3)
