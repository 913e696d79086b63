"""Adapters for facecore's own hair models (trained in ``training/hair``, shipped as package data).

Both graphs take BGR float32 NCHW normalised as ``(v - 127.5) / 64`` (the zoo's
:class:`~facecore.models.spec.InputSpec`) and output probabilities (sigmoid inside):

- ``hair_dense`` (:class:`HairSegmenter`): ``(N, 3, S, S) -> (N, 1, S, S)``, a
  depthwise-separable U-Net; trained at S = 128, spatial dims dynamic (multiples of 32).
- ``hair_patch`` (:class:`HairPatchClassifier`): ``(N, 3, W, W) -> (N, 1)``, hair probability
  of the window's centre pixel; W = 31, fixed.

Adapters take and return arrays; the crops, the windows and the paste-back are the feature
layer's (:mod:`facecore.hair`), done with the kernels.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .session import make_session
from .spec import InputSpec

__all__ = ["HairPatchClassifier", "HairSegmenter", "ParsingHairSegmenter", "open_hair_model"]


def _batch(x: object, name: str) -> np.ndarray:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name}: expected a float32 ndarray; got {type(x).__name__}")
    if x.dtype != np.float32:
        raise TypeError(f"{name}: expected float32; got {x.dtype}")
    if x.ndim != 4 or x.shape[1] != 3 or x.shape[0] == 0:
        raise ValueError(f"{name}: expected (N, 3, H, W) with N >= 1; got {x.shape}")
    return np.ascontiguousarray(x)


class _HairModel:
    kind = ""

    def __init__(
        self,
        model: Any,
        *,
        spec: InputSpec,
        providers=None,
        device: str = "cpu",
        threads: int | None = None,
    ):
        self.spec = spec
        self.session = make_session(model, providers=providers, device=device, threads=threads)
        self._input = self.session.get_inputs()[0].name
        self._output = self.session.get_outputs()[0].name
        shape = self.session.get_inputs()[0].shape
        if len(shape) != 4:
            raise ValueError(f"model: expected a 4-d input; got {shape}")
        self._graph_shape = shape

    def run(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run([self._output], {self._input: batch})[0]


class HairSegmenter(_HairModel):
    """Dense hair segmenter: a batch of crops -> per-pixel hair probability.

    Attributes
    ----------
    shape : (height, width)
        The crop size the model was trained at (``spec.shape``).
    """

    kind = "hair_dense"

    @property
    def shape(self) -> tuple[int, int]:
        return self.spec.shape or (128, 128)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """``(N, 3, H, W)`` float32 normalised -> ``(N, H, W)`` float32 in [0, 1]."""
        b = _batch(batch, "batch")
        if b.shape[2] % 32 or b.shape[3] % 32:
            raise ValueError(f"batch: height and width must be multiples of 32; got {b.shape[2:]}")
        return self.run(b)[:, 0]


class HairPatchClassifier(_HairModel):
    """Patch classifier: a batch of ``W x W`` windows -> hair probability of each centre pixel.

    Attributes
    ----------
    window : int
        The window side (31 for the shipped model), read from the graph.
    """

    kind = "hair_patch"

    @property
    def window(self) -> int:
        w = self._graph_shape[2]
        return int(w) if isinstance(w, int) else 31

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """``(B, 3, W, W)`` float32 normalised -> ``(B,)`` float32 in [0, 1]."""
        b = _batch(batch, "batch")
        if b.shape[2:] != (self.window, self.window):
            raise ValueError(
                f"batch: expected windows of {self.window}x{self.window}; got {b.shape[2:]}"
            )
        return self.run(b).reshape(-1)


class ParsingHairSegmenter:
    """The BiSeNet face parser's hair class as a dense hair segmenter (the accurate model).

    ``(N, 3, H, W)`` float32, normalised with the parser's spec (RGB, ImageNet mean/std;
    H and W multiples of 32) -> ``(N, H, W)`` float32: the softmax probability of class
    ``"hair"`` over the 19 CelebAMask-HQ classes. The weights are the zoo's
    ``"bisenet_parsing"`` (``facecore models fetch bisenet_parsing`` once; non-commercial
    research terms, see ``docs/models/parsing.md``).

    Attributes
    ----------
    shape : (height, width)
        The parser's training crop (512, 512).

    Raises
    ------
    ModelNotFoundError
        If ``bisenet_parsing`` was not fetched; the message names the command.

    Examples
    --------
    >>> import numpy as np
    >>> from facecore.models.hair import ParsingHairSegmenter
    >>> seg = ParsingHairSegmenter(threads=1)  # doctest: +SKIP
    >>> seg(np.zeros((1, 3, 64, 96), np.float32)).shape  # doctest: +SKIP
    (1, 64, 96)
    """

    kind = "hair_parsing"

    def __init__(
        self,
        model: Any = "bisenet_parsing",
        *,
        providers=None,
        device: str = "cpu",
        threads: int | None = None,
    ):
        from . import zoo
        from .bisenet import CLASSES, BiSeNetParser

        if not isinstance(model, (str, os.PathLike)):
            raise TypeError(f"model: expected a zoo name or a path; got {type(model).__name__}")
        s = os.fspath(model)
        path = zoo.find(s) if s in zoo.available() else s
        if not os.path.isfile(path):
            from ..errors import ModelNotFoundError

            raise ModelNotFoundError(f"model: {s!r} is neither a zoo name nor a file")
        self.spec = zoo.info("bisenet_parsing").input
        self.parser = BiSeNetParser(
            os.fspath(path), spec=self.spec, providers=providers, device=device, threads=threads
        )
        self._hair = CLASSES.index("hair")

    @property
    def shape(self) -> tuple[int, int]:
        return self.spec.shape or (512, 512)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """``(N, 3, H, W)`` float32 normalised -> ``(N, H, W)`` float32 hair probability."""
        b = _batch(batch, "batch")
        out = np.empty((b.shape[0], b.shape[2], b.shape[3]), np.float32)
        for i in range(b.shape[0]):  # one face at a time: ~0.5 GB of activations per region
            z = self.parser(b[i : i + 1])[0]
            z -= z.max(axis=0, keepdims=True)
            np.exp(z, out=z)
            out[i] = z[self._hair] / z.sum(axis=0)
        return out


def open_hair_model(
    path_or_name: str | os.PathLike[str],
    *,
    providers=None,
    device: str = "cpu",
    threads: int | None = None,
) -> HairSegmenter | HairPatchClassifier:
    """Open ``"hair_dense"``, ``"hair_patch"`` (zoo names) or a path to a compatible ONNX file.

    A file given by path is routed by its input: a fixed small square input (<= 96) is a patch
    classifier, anything else a dense segmenter; its input spec is the shipped models'.

    Raises
    ------
    ModelNotFoundError, ModelIntegrityError
        As :func:`facecore.models.zoo.find`.
    TypeError
        If ``path_or_name`` is not a str or path.

    Examples
    --------
    >>> import numpy as np
    >>> from facecore.models.hair import open_hair_model
    >>> dense = open_hair_model("hair_dense", threads=1)  # shipped in the wheel
    >>> type(dense).__name__, dense.shape
    ('HairSegmenter', (128, 128))
    >>> open_hair_model("hair_patch", threads=1).window
    31
    """
    from . import zoo

    if not isinstance(path_or_name, (str, os.PathLike)):
        raise TypeError(
            f"model: expected 'dense', 'patch', a zoo name or a path; got {type(path_or_name).__name__}"
        )
    s = os.fspath(path_or_name)
    common = {"providers": providers, "device": device, "threads": threads}
    if s in ("hair_dense", "hair_patch"):
        mi = zoo.info(s)
        _, data = zoo.find_bytes(s)  # read once, hashed, and the session built from these bytes
        cls = HairSegmenter if s == "hair_dense" else HairPatchClassifier
        return cls(data, spec=mi.input, **common)
    from ..errors import ModelNotFoundError

    if not os.path.isfile(s):
        raise ModelNotFoundError(
            f"model: {s!r} is not a file, nor 'dense', 'patch', 'hair_dense' or 'hair_patch'"
        )
    from . import parse_model

    data = zoo.read_verified(s, None)
    m = parse_model(data, s)
    if not m.graph.input:
        raise ValueError(f"model: {s} has no graph input")
    dims = [
        d.dim_value if d.HasField("dim_value") else None
        for d in m.graph.input[0].type.tensor_type.shape.dim
    ]
    is_patch = (
        len(dims) == 4 and isinstance(dims[2], int) and dims[2] == dims[3] and 0 < dims[2] <= 96
    )
    name = "hair_patch" if is_patch else "hair_dense"
    spec = zoo.info(name).input
    cls = HairPatchClassifier if is_patch else HairSegmenter
    return cls(data, spec=spec, **common)
