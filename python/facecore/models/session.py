"""onnxruntime sessions: providers, threads, and in-memory models."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort

from ..errors import CudaUnavailableError

__all__ = ["make_session", "nchw_input", "resolve_providers"]

logger = logging.getLogger(__name__)

_DEVICE_PROVIDERS = {
    "cpu": ["CPUExecutionProvider"],
    "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
}


def resolve_providers(providers: Sequence[Any] | None = None, *, device: str = "cpu") -> list[Any]:
    """The provider list for a session.

    Parameters
    ----------
    providers : sequence of str or (str, dict), optional
        Explicit onnxruntime providers, in priority order; overrides ``device``.
    device : {"cpu", "cuda", "auto"}
        ``"auto"`` takes TensorRT/CUDA when this onnxruntime build offers them, else CPU.

    Returns
    -------
    list
        Providers to pass to ``onnxruntime.InferenceSession``.

    Raises
    ------
    ValueError
        If a provider or ``device`` is unknown.
    CudaUnavailableError
        If ``device="cuda"`` but onnxruntime has no CUDA provider.
    """
    have = ort.get_available_providers()
    if providers is not None:
        if isinstance(providers, (str, bytes)):
            raise TypeError("providers: expected a sequence of provider names; got a single string")
        out = list(providers)
        for p in out:
            name = p[0] if isinstance(p, tuple) else p
            if name not in have:
                raise ValueError(
                    f"providers: {name!r} is not available in this onnxruntime; available: {have}"
                )
        if not out:
            raise ValueError("providers: expected at least one provider")
        return out
    if device not in ("cpu", "cuda", "auto"):
        raise ValueError(f"device: expected 'cpu', 'cuda' or 'auto'; got {device!r}")
    if device == "cpu":
        return ["CPUExecutionProvider"]
    gpu = [p for p in ("TensorrtExecutionProvider", "CUDAExecutionProvider") if p in have]
    if device == "cuda" and "CUDAExecutionProvider" not in have:
        raise CudaUnavailableError(
            "device='cuda': this onnxruntime has no CUDAExecutionProvider "
            f"(available: {have}); install onnxruntime-gpu instead of onnxruntime"
        )
    if device == "auto":
        gpu = [p for p in gpu if p != "TensorrtExecutionProvider"]
    return [*gpu, "CPUExecutionProvider"]


def make_session(
    model: onnx.ModelProto | str | os.PathLike[str] | bytes,
    *,
    providers: Sequence[Any] | None = None,
    device: str = "cpu",
    threads: int | None = None,
) -> ort.InferenceSession:
    """Create an onnxruntime session from a (repaired, in-memory) model.

    Parameters
    ----------
    model : onnx.ModelProto, bytes or path
    providers : sequence, optional
        See :func:`resolve_providers`.
    device : {"cpu", "cuda", "auto"}
    threads : int, optional
        Intra-op thread count (default: onnxruntime's, i.e. the physical cores).

    Returns
    -------
    onnxruntime.InferenceSession

    Examples
    --------
    >>> from facecore.models import zoo
    >>> from facecore.models.session import make_session
    >>> s = make_session(zoo.find("hair_dense"), threads=1)
    >>> [(i.name, i.shape[1]) for i in s.get_inputs()]  # N, 3, H, W with named N, H, W
    [('input', 3)]
    """
    if threads is not None:
        if isinstance(threads, bool) or not isinstance(threads, int):
            raise TypeError(f"threads: expected int or None; got {type(threads).__name__}")
        if threads < 1:
            raise ValueError(f"threads: expected >= 1; got {threads}")
    provs = resolve_providers(providers, device=device)
    so = ort.SessionOptions()
    so.log_severity_level = 3  # constant-folding notices about unused initializers are noise
    # all graph optimisations (onnxruntime's default, set so it stays so): BiSeNet at 512 on one
    # thread 371 ms CPU per face against 398 ms with none (scripts/eval_parsing.py --speed)
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads is not None:
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
    if isinstance(model, onnx.ModelProto):
        data: Any = model.SerializeToString()
    elif isinstance(model, bytes):
        data = model
    else:
        data = os.fspath(model)
    try:
        sess = ort.InferenceSession(data, so, providers=provs)
    except Exception as exc:
        if type(exc).__module__.startswith("onnxruntime"):
            msg = " ".join(str(exc).split())[:500]
            raise ValueError(
                f"model: onnxruntime cannot load it ({type(exc).__name__}: {msg})"
            ) from None
        raise
    active = sess.get_providers()
    wanted = provs[0][0] if isinstance(provs[0], tuple) else provs[0]
    if wanted not in active:
        logger.warning("requested provider %s is not active; running on %s", wanted, active)
    return sess


def nchw_input(tensor: Any, size: int) -> np.ndarray:
    """``tensor`` as a C-contiguous float32 ``(N, 3, size, size)`` batch, the input every
    square-chip adapter's ``run`` takes; anything else is a ValueError naming ``tensor``.

    Examples
    --------
    >>> import numpy as np
    >>> from facecore.models.session import nchw_input
    >>> nchw_input(np.zeros((2, 3, 112, 112)), 112).dtype
    dtype('float32')
    >>> nchw_input(np.zeros((1, 3, 64, 64)), 112)
    Traceback (most recent call last):
    ValueError: tensor: expected float32 (N, 3, 112, 112); got float32 (1, 3, 64, 64)
    """
    t = np.ascontiguousarray(tensor, dtype=np.float32)
    if t.ndim != 4 or t.shape[1:] != (3, size, size):
        raise ValueError(
            f"tensor: expected float32 (N, 3, {size}, {size}); got {t.dtype} {t.shape}"
        )
    return t
