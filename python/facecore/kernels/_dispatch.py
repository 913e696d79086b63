"""One choice of backend per kernel call (the rules: ``_cuda`` module docs, docs/cuda.md)."""

from __future__ import annotations

from . import _cpu, _cuda


def backend(device: object, stream: object, **arrays: object) -> _cpu.CPU | _cuda.GPU:
    """The CPU backend, or a CUDA backend for this call (with its stream), from ``device=``
    and the call's array arguments by name (``None`` entries are ignored)."""
    if _cuda.wants_gpu(device, **arrays):
        return _cuda.GPU(stream, upload=device == "cuda")
    return _cpu.BACKEND
