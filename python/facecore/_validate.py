"""Argument checks used first thing in every public function.

Each helper takes the argument's ``name`` and raises ``TypeError`` (wrong type or dtype) or
``ValueError`` (wrong shape or value) with a message that starts with that name, e.g.
``"image: expected uint8 array of shape (H, W, 3) or (H, W); got float64 (480, 640, 3)"``.
No silent dtype casts of image data; no ``assert`` (the checks survive ``python -O``).
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Sequence

import numpy as np

__all__ = [
    "as_bgr",
    "as_bool",
    "as_choice",
    "as_color",
    "as_float",
    "as_image",
    "as_int",
    "as_map",
    "as_matrices",
    "as_out",
    "as_pair",
    "as_shape",
]


def _describe(x: object) -> str:
    if isinstance(x, np.ndarray):
        return f"{x.dtype} {x.shape}"
    return type(x).__name__


def _as_array(x: object, name: str) -> np.ndarray:
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "__cuda_array_interface__") or hasattr(x, "__dlpack_device__"):
        dev = getattr(x, "__dlpack_device__", lambda: (1, 0))()
        if dev[0] != 1:  # kDLCPU
            from .errors import CudaUnavailableError

            raise CudaUnavailableError(
                f"{name}: a GPU array was given but facecore's CUDA kernels are not available "
                "here; pass a NumPy array"
            )
    if isinstance(x, (str, bytes)) or x is None:
        raise TypeError(f"{name}: expected an array; got {_describe(x)}")
    try:
        return np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}: expected an array; got {_describe(x)}") from exc


def _pixels_contiguous(a: np.ndarray) -> bool:
    """Pixels contiguous, rows positively strided: what the C++ ImageView takes without a copy."""
    item = a.itemsize
    h, w = a.shape[:2]
    c = a.shape[2] if a.ndim == 3 else 1
    if a.ndim == 3 and c > 1 and a.strides[2] != item:
        return False
    if w > 1 and a.strides[1] != c * item:
        return False
    return h == 1 or (
        a.strides[0] > 0 and a.strides[0] % item == 0 and a.strides[0] >= w * c * item
    )


def as_image(
    x: object, name: str, *, channels: Sequence[int] = (1, 3, 4), gray: bool = True
) -> np.ndarray:
    """A uint8 ``(H, W)`` or ``(H, W, C)`` image, C in ``channels``; a view when possible."""
    a = _as_array(x, name)
    allowed = " or ".join(f"(H, W, {c})" for c in channels) + (" or (H, W)" if gray else "")
    if a.dtype != np.uint8:
        raise TypeError(f"{name}: expected uint8 array of shape {allowed}; got {_describe(a)}")
    if not ((a.ndim == 3 and a.shape[2] in channels) or (gray and a.ndim == 2)):
        raise ValueError(f"{name}: expected uint8 array of shape {allowed}; got {_describe(a)}")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"{name}: image is empty; got {_describe(a)}")
    if not _pixels_contiguous(a):
        a = np.ascontiguousarray(a)
    return a


def as_map(x: object, name: str, *, shape: tuple[int, int] | None = None) -> np.ndarray:
    """A float32 ``(H, W)`` map, C-contiguous (copied if it is not)."""
    a = _as_array(x, name)
    if a.dtype != np.float32:
        raise TypeError(f"{name}: expected float32 array of shape (H, W); got {_describe(a)}")
    if a.ndim != 2 or a.size == 0:
        raise ValueError(f"{name}: expected float32 array of shape (H, W); got {_describe(a)}")
    if shape is not None and a.shape != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)}; got {a.shape}")
    return np.ascontiguousarray(a)


def as_matrices(x: object, name: str, *, single: bool = False) -> np.ndarray:
    """``(N, 2, 3)`` finite float matrices as C-contiguous float64 (one ``(2, 3)`` if ``single``)."""
    a = _as_array(x, name)
    if not np.issubdtype(a.dtype, np.floating) and not np.issubdtype(a.dtype, np.integer):
        raise TypeError(f"{name}: expected a float array; got {_describe(a)}")
    if a.dtype == np.bool_:
        raise TypeError(f"{name}: expected a float array; got {_describe(a)}")
    want = "(2, 3)" if single else "(N, 2, 3)"
    if single:
        if a.shape != (2, 3):
            raise ValueError(f"{name}: expected shape {want}; got {a.shape}")
        a = a[None]
    elif a.ndim != 3 or a.shape[1:] != (2, 3) or a.shape[0] == 0:
        raise ValueError(f"{name}: expected shape {want} with N >= 1; got {a.shape}")
    a = np.ascontiguousarray(a, dtype=np.float64)
    if not np.isfinite(a).all():
        raise ValueError(f"{name}: entries must be finite")
    with np.errstate(over="ignore", invalid="ignore"):  # entries near 1e155 and beyond
        det = a[:, 0, 0] * a[:, 1, 1] - a[:, 0, 1] * a[:, 1, 0]
    huge = np.flatnonzero(~np.isfinite(det))
    if huge.size:
        raise ValueError(
            f"{name}: matrix {int(huge[0])} has entries too large (its determinant overflows)"
        )
    bad = np.flatnonzero(~(np.abs(det) > 1e-12))
    if bad.size:
        raise ValueError(f"{name}: matrix {int(bad[0])} is singular (determinant {det[bad[0]]:g})")
    return a


def as_int(x: object, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, numbers.Integral):
        raise TypeError(f"{name}: expected an int; got {_describe(x)}")
    v = int(x)
    if minimum is not None and v < minimum:
        raise ValueError(f"{name}: must be >= {minimum}; got {v}")
    if maximum is not None and v > maximum:
        raise ValueError(f"{name}: must be <= {maximum}; got {v}")
    return v


def as_float(
    x: object, name: str, *, minimum: float | None = None, maximum: float | None = None
) -> float:
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, numbers.Real):
        raise TypeError(f"{name}: expected a number; got {_describe(x)}")
    v = float(x)
    if not np.isfinite(v):
        raise ValueError(f"{name}: must be finite; got {v}")
    if minimum is not None and v < minimum:
        raise ValueError(f"{name}: must be >= {minimum}; got {v}")
    if maximum is not None and v > maximum:
        raise ValueError(f"{name}: must be <= {maximum}; got {v}")
    return v


def as_pair(x: object, name: str, *, minimum: int = 1) -> tuple[int, int]:
    """An int (both) or a pair of ints ``(height, width)`` / ``(y, x)``."""
    if isinstance(x, numbers.Integral) and not isinstance(x, (bool, np.bool_)):
        v = as_int(x, name, minimum=minimum)
        return v, v
    if isinstance(x, (str, bytes)) or not isinstance(x, (Sequence, np.ndarray)) or len(x) != 2:
        raise TypeError(f"{name}: expected an int or a pair (height, width); got {_describe(x)}")
    return as_int(x[0], name, minimum=minimum), as_int(x[1], name, minimum=minimum)


def as_shape(x: object, name: str = "shape") -> tuple[int, int]:
    """Output size ``(height, width)`` (NumPy order) or an int for a square; both sides >= 1."""
    h, w = as_pair(x, name, minimum=1)
    if h > 32767 or w > 32767:
        raise ValueError(f"{name}: sides must be below 32768; got {(h, w)}")
    return h, w


def as_choice(x: object, name: str, choices: Sequence[str]) -> str:
    if not isinstance(x, str):
        raise TypeError(f"{name}: expected one of {list(choices)}; got {_describe(x)}")
    if x not in choices:
        raise ValueError(f"{name}: expected one of {list(choices)}; got {x!r}")
    return x


def as_bool(x: object, name: str) -> bool:
    if not isinstance(x, (bool, np.bool_)):
        raise TypeError(f"{name}: expected a bool; got {_describe(x)}")
    return bool(x)


# A few names people use for hair colours, plus the CSS basics. Values are #rrggbb.
NAMED_COLORS: dict[str, str] = {
    "black": "#000000",
    "white": "#ffffff",
    "red": "#ff0000",
    "green": "#008000",
    "blue": "#0000ff",
    "yellow": "#ffff00",
    "cyan": "#00ffff",
    "magenta": "#ff00ff",
    "gray": "#808080",
    "grey": "#808080",
    "orange": "#ffa500",
    "purple": "#800080",
    "pink": "#ffc0cb",
    "brown": "#8b4513",
    "blueviolet": "#8a2be2",
    "violet": "#ee82ee",
    "teal": "#008080",
    "navy": "#000080",
    "gold": "#ffd700",
    "silver": "#c0c0c0",
    "blonde": "#e6c27a",
    "platinum": "#e5e4e2",
    "auburn": "#a52a2a",
    "copper": "#b87333",
    "burgundy": "#800020",
    "chestnut": "#954535",
    "ginger": "#b06500",
    "rose": "#ff66cc",
}
_HEX6 = re.compile(r"^#?([0-9a-fA-F]{6})$")
_HEX3 = re.compile(r"^#([0-9a-fA-F]{3})$")
_RGB_FN = re.compile(r"^rgb\(\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*\)$", re.IGNORECASE)
_COLOR_FORMS = "a name, '#rrggbb', '#rgb', 'rgb(r, g, b)' or a (b, g, r) tuple of ints 0..255"


def as_color(x: object, name: str = "color") -> tuple[int, int, int]:
    """The one colour parser of facecore: -> ``(b, g, r)`` ints (BGR, as facecore's images).

    Accepted: a name (``"red"``, ``"auburn"``, see ``NAMED_COLORS``), ``"#rrggbb"`` (the ``#``
    optional), ``"#rgb"``, ``"rgb(r, g, b)"`` (CSS, RGB order), or a sequence of three ints
    0..255 in **BGR** order, as OpenCV's drawing functions take colours.

    Examples
    --------
    >>> as_color("#f00"), as_color("rgb(255, 0, 0)"), as_color((0, 0, 255)), as_color("red")
    ((0, 0, 255), (0, 0, 255), (0, 0, 255), (0, 0, 255))
    """
    if isinstance(x, str):
        text = NAMED_COLORS.get(x.strip().lower(), x.strip())
        m6, m3, mf = _HEX6.match(text), _HEX3.match(text), _RGB_FN.match(text)
        if m6:
            v = int(m6.group(1), 16)
            return v & 0xFF, (v >> 8) & 0xFF, (v >> 16) & 0xFF
        if m3:
            r, g, b = (int(c * 2, 16) for c in m3.group(1))
            return b, g, r
        if mf and all(int(c) <= 255 for c in mf.groups()):
            r, g, b = (int(c) for c in mf.groups())
            return b, g, r
        raise ValueError(
            f"{name}: expected {_COLOR_FORMS} (names: {sorted(NAMED_COLORS)}); got {x!r}"
        )
    if (
        isinstance(x, (Sequence, np.ndarray))
        and not isinstance(x, (bytes, bytearray))
        and len(x) == 3
    ):
        vals = list(x)
        if all(
            isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_)) for v in vals
        ):
            if all(0 <= int(v) <= 255 for v in vals):
                return int(vals[0]), int(vals[1]), int(vals[2])
            raise ValueError(
                f"{name}: tuple entries must be in 0..255; got {tuple(int(v) for v in vals)}"
            )
    raise TypeError(f"{name}: expected {_COLOR_FORMS}; got {_describe(x)}")


def as_bgr(x: object, name: str = "image") -> np.ndarray:
    """facecore's input contract for images: grey ``(H, W)`` or ``(H, W, 1)``, BGR
    ``(H, W, 3)`` or BGRA ``(H, W, 4)`` uint8 -> a BGR ``(H, W, 3)`` uint8 array.

    Grey becomes three equal channels; the alpha channel of BGRA is ignored (functions that
    return an image keep it where their docstring says so). BGR input comes back as is (a
    view, never a copy the caller could mistake for theirs, and never written to).
    """
    a = as_image(x, name, channels=(1, 3, 4), gray=True)
    if a.ndim == 2:
        return np.repeat(a[:, :, None], 3, axis=2)
    if a.shape[2] == 1:
        return np.repeat(a, 3, axis=2)
    if a.shape[2] == 4:
        return np.ascontiguousarray(a[:, :, :3])
    return a


def as_out(
    out: object, name: str, shape: tuple[int, ...], dtype: np.dtype, *inputs: np.ndarray
) -> np.ndarray:
    """A caller's ``out=`` array: exact shape and dtype, C-contiguous, writable, and not
    overlapping an input (the kernels read inputs while writing)."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name}: expected a NumPy array; got {_describe(out)}")
    if out.dtype != dtype or out.shape != tuple(shape):
        raise ValueError(f"{name}: expected {np.dtype(dtype)} {tuple(shape)}; got {_describe(out)}")
    if not out.flags.c_contiguous or not out.flags.writeable:
        raise ValueError(f"{name}: must be C-contiguous and writable")
    for a in inputs:
        if np.may_share_memory(out, a):
            raise ValueError(f"{name}: must not overlap an input array")
    return out
