"""The CPU backend: NumPy arrays in and out, a spec from ``_args`` run on ``facecore._core``.

Every method takes arrays this backend has already read (:meth:`CPU.image`, :meth:`CPU.map`,
...) and a spec; the C++ binding checks everything again with the GIL held, then releases it
around the kernel (``facecore.num_threads()`` threads).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .. import _core
from .._validate import as_image, as_map, as_out
from . import _args

_U8 = np.dtype(np.uint8)
_F32 = np.dtype(np.float32)


def _alloc(dims: tuple[int, ...], dtype: Any, name: str) -> np.ndarray:
    _args.output_bytes(dims, dtype, name)
    return np.empty(dims, dtype)


def _same_view(a: np.ndarray, b: np.ndarray) -> bool:
    """The same elements in the same order (in-place use is then element-wise safe)."""
    return (
        a.shape == b.shape
        and a.strides == b.strides
        and a.dtype == b.dtype
        and a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
    )


def _inplace_out(
    out: object,
    shape: tuple[int, ...],
    inputs: tuple[np.ndarray, ...],
    aliases: tuple[np.ndarray, ...],
) -> np.ndarray:
    """``out=`` that may be exactly one of ``aliases`` (in place) but must not otherwise
    overlap any input: decided by memory overlap, not by identity, so a shifted view of
    the base passed as the effect with ``out=base`` is refused."""
    if isinstance(out, np.ndarray) and any(_same_view(out, a) for a in aliases):
        if out.shape != tuple(shape) or not out.flags.c_contiguous or not out.flags.writeable:
            raise ValueError(f"out: expected a C-contiguous writable {tuple(shape)} array")
        for a in inputs:
            if _same_view(out, a) or not np.may_share_memory(out, a):
                continue
            try:
                overlap = np.shares_memory(out, a, max_work=10**6)  # type: ignore[arg-type]
            except Exception:
                overlap = True
            if overlap:
                raise ValueError(
                    "out: overlaps an input other than as the very same array (e.g. a shifted "
                    "view of it); pass a copy"
                )
        return out
    return as_out(out, "out", shape, _U8, *inputs)


class CPU:
    """The CPU backend (stateless; one instance, :data:`BACKEND`)."""

    name = "cpu"
    #: Default window batch: about 2 MiB stays in the CPU cache, where the extraction (and
    #: usually the classifier reading it) runs about twice as fast as on batches that spill.
    batch_bytes = 2 << 20

    # ------------------------------------------------------------------ array arguments
    def image(self, x: object, name: str, **kw: Any) -> np.ndarray:
        return as_image(x, name, **kw)

    def map(self, x: object, name: str) -> np.ndarray:
        return as_map(x, name)

    def is_float(self, x: object) -> bool:
        return isinstance(x, np.ndarray) and x.dtype == np.float32

    def float_image(self, x: object, name: str) -> np.ndarray:
        a = np.ascontiguousarray(x)
        _args.check_float_src(a.shape, name)
        return a

    def alpha(self, x: object, shape: tuple[int, ...]) -> np.ndarray:
        a = x if isinstance(x, np.ndarray) else np.asarray(x)
        _args.check_alpha_dtype(a.dtype, shape)
        if a.ndim == 3 and a.shape[2] == 1:
            a = a[..., 0]
        _args.check_alpha_shape(a.shape, shape)
        if not (a.strides[1] == 4 and a.strides[0] > 0):
            a = np.ascontiguousarray(a)
        return a

    def scores(self, x: object, g: _args.Grid) -> np.ndarray:
        s = x if isinstance(x, np.ndarray) else np.asarray(x)
        _args.check_scores(s.shape, s.dtype, g)
        return np.ascontiguousarray(s.reshape(g.rows, g.cols))

    # -------------------------------------------------------------------------- warp
    def warp(self, src: np.ndarray, spec: _args.Warp, out: object, *, batch: bool) -> np.ndarray:
        """``batch``: N crops (warp_crops); else one output (warp_affine, N == 1)."""
        h, w, n = spec.height, spec.width, spec.n
        if spec.tensor:
            c = src.shape[2] if src.ndim == 3 else 1
            dims: tuple[int, ...] = (n, c, h, w)
            res = (
                _alloc(dims, np.float32, "shape")
                if out is None
                else as_out(out, "out", dims, _F32, src)
            )
            _core.warp_affine_to_nchw_f32(
                src, spec.matrices, h, w, spec.inverse, spec.border, spec.fill_u8,
                spec.mean, spec.std, spec.swap_rb, res,
            )  # fmt: skip
            return res
        dtype = _F32 if spec.is_float else _U8
        dims = (n, h, w) + src.shape[2:]
        if out is None:
            res = _alloc(dims, dtype, "shape")
        elif batch:
            res = as_out(out, "out", dims, dtype, src)
        else:
            res = as_out(out, "out", dims[1:], dtype, src)[None]
        if spec.is_float:
            _core.warp_affine_f32(
                src, spec.matrices, h, w, spec.inverse, spec.border, spec.fill_f32, res
            )
        else:
            _core.warp_affine_u8(
                src, spec.matrices, h, w, spec.inverse, spec.border, spec.fill_u8, res
            )
        return res if batch else res[0]

    # ----------------------------------------------------------------------- windows
    def windows(
        self, image: np.ndarray, spec: _args.Windows
    ) -> Iterator[tuple[np.ndarray, int, np.ndarray]]:
        """Batches as ``(tensor, first, origins)`` (the public module makes WindowBatches)."""
        g, c = spec.grid, spec.channels
        for first in range(0, g.count, spec.batch_size):
            count = min(spec.batch_size, g.count - first)
            out = np.empty((count, c, g.window_h, g.window_w), np.float32)
            _core.extract_windows_nchw_f32(
                image, g.window_h, g.window_w, g.stride_y, g.stride_x, first, count,
                spec.mean, spec.std, spec.swap_rb, out,
            )  # fmt: skip
            yield out, first, g.origins(first, count)

    def accumulate(self, scores: np.ndarray, spec: _args.Accumulate, out: object) -> np.ndarray:
        g = spec.grid
        dims = (g.image_h, g.image_w)
        res = (
            _alloc(dims, np.float32, "image_shape")
            if out is None
            else as_out(out, "out", dims, _F32, scores)
        )
        _core.accumulate_windows_f32(
            scores, g.image_h, g.image_w, g.window_h, g.window_w, g.stride_y, g.stride_x,
            spec.reduce, spec.fill, res,
        )  # fmt: skip
        return res

    def probability_map(
        self,
        image: np.ndarray,
        classify: Callable[[Any], Any],
        spec: _args.Windows,
        reduce: _args.Accumulate,
    ) -> np.ndarray:
        scores = np.empty(spec.grid.count, np.float32)
        for tensor, first, _ in self.windows(image, spec):
            n = tensor.shape[0]
            got = np.asarray(classify(tensor))
            if got.size != n or (got.ndim == 2 and got.shape[1] != 1) or got.ndim > 2:
                raise ValueError(
                    f"classify: must return one score per window, shape ({n},) or ({n}, 1); got {got.shape}"
                )
            scores[first : first + n] = got.reshape(n)
        g = spec.grid
        return self.accumulate(scores.reshape(g.rows, g.cols), reduce, None)

    # ------------------------------------------------------------------------ refine
    def refine(
        self, p: np.ndarray, spec: _args.Refine, out: object, *, in_place: bool
    ) -> np.ndarray:
        """``in_place``: the caller passed ``out=p``."""
        if out is None:
            res = np.empty_like(p)
        elif in_place:
            res = p
        else:
            res = as_out(out, "out", p.shape, _F32, p)
        _core.refine_map_f32(p, spec.power, spec.kernel, spec.iterations, res)
        return res

    # ------------------------------------------------------------------------ guided
    def guided(
        self, guide: np.ndarray, alpha: np.ndarray, spec: _args.Guided, out: object
    ) -> np.ndarray:
        shape = guide.shape[:2]
        res = (
            np.empty(shape, np.float32)
            if out is None
            else as_out(out, "out", shape, _F32, alpha, guide)
        )
        _core.guided_upsample_f32(guide, alpha, spec.radius, spec.eps, res)
        return res

    # ------------------------------------------------------------------------- blend
    def blend(
        self,
        base: np.ndarray,
        effect: np.ndarray,
        alpha: np.ndarray,
        out: object,
        *,
        base_arg: object,
        effect_arg: object,
    ) -> np.ndarray:
        if out is None:
            res = np.empty_like(base)
        else:  # in place on base or effect is fine; any other overlap (a shifted view) is refused
            res = _inplace_out(out, base.shape, (base, effect, alpha), (base, effect))
        _core.blend_u8(base, effect, alpha, res)
        return res

    def recolor(
        self,
        image: np.ndarray,
        alpha: np.ndarray,
        spec: _args.Recolor,
        out: object,
        *,
        image_arg: object,
    ) -> np.ndarray:
        if out is None:
            res = np.empty_like(image)
        else:
            res = _inplace_out(out, image.shape, (image, alpha), (image,))
        _core.recolor_u8(image, alpha, spec.space, spec.color, spec.strength, res, spec.source)
        return res


BACKEND = CPU()
