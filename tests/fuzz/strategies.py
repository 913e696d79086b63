"""Hypothesis strategies for hostile arguments: any dtype, shape, stride and value.

Shared by tests/fuzz/test_fuzz_kernels.py; the contract they check is that every public
kernel either returns a result of the documented shape and dtype or raises TypeError /
ValueError (never crashes, never hangs, never another exception type).
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

DTYPES = [
    np.uint8,
    np.int8,
    np.uint16,
    np.int32,
    np.int64,
    np.float16,
    np.float32,
    np.float64,
    np.bool_,
    np.complex64,
]

dims = st.integers(0, 9) | st.sampled_from([1, 2, 3, 4, 31, 64])


@st.composite
def arrays(draw, *, max_dims: int = 4, prefer=None):
    """An array of any dtype and shape (sometimes empty), possibly a non-contiguous,
    negative-stride or read-only view, with NaN/inf where the dtype allows."""
    dtype = (
        draw(st.sampled_from(DTYPES))
        if prefer is None or (draw(st.booleans()) and draw(st.booleans()))
        else prefer
    )
    ndim = draw(st.integers(0, max_dims))
    shape = tuple(draw(dims) for _ in range(ndim))
    elements = None
    if np.issubdtype(dtype, np.floating):
        elements = st.floats(
            allow_nan=True, allow_infinity=True, width=np.dtype(dtype).itemsize * 8
        )
    a = draw(hnp.arrays(dtype, shape, elements=elements))
    view = draw(st.sampled_from(["plain", "reverse", "step", "transpose", "readonly"]))
    if view == "reverse" and a.ndim:
        a = a[::-1]
    elif view == "step" and a.ndim >= 2:
        a = a[:, ::2]
    elif view == "transpose" and a.ndim >= 2:
        a = np.swapaxes(a, 0, 1)
    elif view == "readonly":
        a.setflags(write=False)
    return a


def images(prefer=np.uint8):
    return arrays(max_dims=3, prefer=prefer)


maps = arrays(max_dims=3, prefer=np.float32)

matrices = st.one_of(
    arrays(max_dims=3, prefer=np.float64),
    hnp.arrays(
        np.float64,
        st.tuples(st.integers(0, 3), st.just(2), st.just(3)),
        elements=st.floats(-1e12, 1e12) | st.sampled_from([0.0, np.nan, np.inf, 1e-300]),
    ),
)

shapes = st.one_of(
    st.integers(-2, 70),
    st.tuples(st.integers(-1, 50), st.integers(-1, 50)),
    st.just((1, 2, 3)),
    st.just(2.5),
    st.none(),
    st.just("8"),
    st.just(True),
)

scalars = st.one_of(
    st.integers(-5, 300),
    st.floats(allow_nan=True, allow_infinity=True),
    st.none(),
    st.just("x"),
    st.just((1.0, 2.0, 3.0)),
    st.just([1, 2]),
)
