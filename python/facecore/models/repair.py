"""In-memory repairs for real-world ONNX files.

Every function takes an ``onnx.ModelProto`` and returns a **new** one (the input proto
is deep-copied first), so the caller's model, and the user's file on disk, are never
changed. The repairs are the ones documented in ``shared/models/MODELS.md``:

* :func:`drop_unread_inputs` -- graph inputs that no node reads (SFace lists 29 of
  them; onnxruntime then demands them in the feed), and graph inputs that are also
  initializers (they block constant folding and warn once each).
* :func:`fold_dequantize` -- constant ``DequantizeLinear`` nodes, including OpenCV
  Zoo's block-quantised ones that onnxruntime rejects at run time ("block_size must
  be 0 for per-tensor quantization"), folded into float32 initializers
  ``(q - zero_point) * scale`` with the scale repeated ``block_size`` times along
  ``axis``.
* :func:`scalarize_dequantize_scales` -- the lighter alternative: a one-element scale
  becomes a rank-0 scalar and ``block_size`` / ``axis`` are dropped (exact, since one
  block then covers the whole tensor).
* :func:`make_dims_symbolic` -- turn static input/output dimensions into named
  symbolic ones (YuNet's 640x640 input, SFace's batch of 1).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable, Mapping

import numpy as np
import onnx
from onnx import numpy_helper

__all__ = [
    "drop_unread_inputs",
    "fold_dequantize",
    "make_dims_symbolic",
    "read_names",
    "scalarize_dequantize_scales",
]

logger = logging.getLogger(__name__)


def _attr(node: onnx.NodeProto, name: str, default):
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def read_names(graph: onnx.GraphProto) -> set[str]:
    """Names of every tensor some node reads, subgraphs (If/Loop bodies) included.

    Parameters
    ----------
    graph : onnx.GraphProto

    Returns
    -------
    set of str
        Node input names plus graph output names (an output read by the caller counts).

    Examples
    --------
    >>> from onnx import TensorProto, helper
    >>> from facecore.models.repair import read_names
    >>> t = lambda n: helper.make_tensor_value_info(n, TensorProto.FLOAT, [1])
    >>> g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [t("x"), t("unused")], [t("y")])
    >>> sorted(read_names(g))  # "unused" is an input nothing reads
    ['x', 'y']
    """
    names: set[str] = {o.name for o in graph.output}
    stack = [graph]
    while stack:
        g = stack.pop()
        for node in g.node:
            names.update(i for i in node.input if i)
            for a in node.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    stack.append(a.g)
                    names.update(o.name for o in a.g.output)
                elif a.type == onnx.AttributeProto.GRAPHS:
                    stack.extend(a.graphs)
    return names


def drop_unread_inputs(
    model: onnx.ModelProto, *, drop_initializers: bool = True
) -> onnx.ModelProto:
    """Delete graph inputs that no node reads, and inputs that are initializers.

    Parameters
    ----------
    model : onnx.ModelProto
        Not modified.
    drop_initializers : bool, optional
        Also delete ``graph.input`` entries that name an initializer (allowed from IR
        version 4 on; ignored for older files, where initializers must be listed as
        inputs).

    Returns
    -------
    onnx.ModelProto
        A repaired copy. Unchanged copy if there was nothing to drop.
    """
    model = copy.deepcopy(model)
    g = model.graph
    read = read_names(g)
    inits = {i.name for i in g.initializer}
    can_drop_inits = drop_initializers and model.ir_version >= 4
    keep = []
    dropped_unread, dropped_init = 0, 0
    for inp in g.input:
        if inp.name not in read:
            dropped_unread += 1
            continue
        if can_drop_inits and inp.name in inits:
            dropped_init += 1
            continue
        keep.append(inp)
    if dropped_unread or dropped_init:
        del g.input[:]
        g.input.extend(keep)
        logger.debug(
            "dropped %d unread graph inputs and %d initializer inputs", dropped_unread, dropped_init
        )
    return model


def _dequantize(
    q: np.ndarray, scale: np.ndarray, zero_point: np.ndarray | None, axis: int, block_size: int
) -> np.ndarray:
    """``(q - zero_point) * scale`` with ONNX DequantizeLinear broadcasting rules (float32)."""
    q = q.astype(np.float32)
    scale = np.asarray(scale, dtype=np.float32)
    zp = np.zeros_like(scale) if zero_point is None else np.asarray(zero_point).astype(np.float32)
    if q.ndim == 0 or scale.size == 1:
        # per-tensor: also covers a one-element scale that carries a block_size
        return (q - zp.reshape(())) * scale.reshape(())
    axis = axis % q.ndim
    if block_size > 0:
        if scale.ndim != q.ndim:
            raise ValueError(
                f"blocked DequantizeLinear: scale rank {scale.ndim} != input rank {q.ndim}"
            )
        n = q.shape[axis]
        s = np.repeat(scale, block_size, axis=axis)
        z = np.repeat(zp, block_size, axis=axis)
        index = [slice(None)] * q.ndim
        index[axis] = slice(0, n)
        s, z = s[tuple(index)], z[tuple(index)]
        if s.shape != q.shape:
            raise ValueError(
                f"blocked DequantizeLinear: scale {scale.shape} with block_size {block_size} "
                f"does not cover input {q.shape} along axis {axis}"
            )
        return (q - z) * s
    # per-axis
    shape = [1] * q.ndim
    shape[axis] = scale.size
    return (q - zp.reshape(shape)) * scale.reshape(shape)


def fold_dequantize(model: onnx.ModelProto) -> onnx.ModelProto:
    """Fold every ``DequantizeLinear`` whose inputs are all initializers into float32.

    For a node with quantised input ``q``, ``scale``, optional ``zero_point``,
    attributes ``axis`` (default 1) and ``block_size`` (default 0), the output becomes
    the initializer

    ``y = (q - zero_point) * scale``

    where a blocked scale is repeated ``block_size`` times along ``axis`` (and cut to
    ``q.shape[axis]``), a per-axis scale is broadcast along ``axis``, and a
    one-element scale is per-tensor. Initializers that nothing reads afterwards are
    removed. Non-constant DequantizeLinear nodes (activations) are left as they are.

    Parameters
    ----------
    model : onnx.ModelProto
        Not modified.

    Returns
    -------
    onnx.ModelProto
        A copy without constant DequantizeLinear nodes.
    """
    model = copy.deepcopy(model)
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    keep_nodes = []
    new_inits: list[onnx.TensorProto] = []
    folded = 0
    for node in g.node:
        if (
            node.op_type == "DequantizeLinear"
            and node.domain in ("", "ai.onnx")
            and all((not name) or name in inits for name in node.input)
        ):
            q = numpy_helper.to_array(inits[node.input[0]])
            scale = numpy_helper.to_array(inits[node.input[1]])
            zp = (
                numpy_helper.to_array(inits[node.input[2]])
                if len(node.input) > 2 and node.input[2]
                else None
            )
            y = _dequantize(
                q, scale, zp, int(_attr(node, "axis", 1)), int(_attr(node, "block_size", 0))
            )
            new_inits.append(numpy_helper.from_array(y.astype(np.float32), node.output[0]))
            folded += 1
        else:
            keep_nodes.append(node)
    if not folded:
        return model
    del g.node[:]
    g.node.extend(keep_nodes)
    g.initializer.extend(new_inits)
    # drop value_info of the folded outputs and initializers nobody reads any more
    folded_names = {t.name for t in new_inits}
    vi = [v for v in g.value_info if v.name not in folded_names]
    del g.value_info[:]
    g.value_info.extend(vi)
    read = read_names(g)
    kept = [i for i in g.initializer if i.name in read]
    del g.initializer[:]
    g.initializer.extend(kept)
    graph_inputs = [i for i in g.input if i.name in read]
    del g.input[:]
    g.input.extend(graph_inputs)
    logger.debug("folded %d constant DequantizeLinear nodes into float32", folded)
    return model


def scalarize_dequantize_scales(model: onnx.ModelProto) -> onnx.ModelProto:
    """Give one-element DequantizeLinear scales rank 0 and drop ``block_size``/``axis``.

    onnxruntime treats a one-element scale as per-tensor and then rejects a non-zero
    ``block_size``; with a rank-0 scale (and zero point) the node is plain per-tensor
    quantisation, which is exact because one block covers the whole tensor.

    Parameters
    ----------
    model : onnx.ModelProto
        Not modified.

    Returns
    -------
    onnx.ModelProto
        A repaired copy.
    """
    model = copy.deepcopy(model)
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    added: list[onnx.TensorProto] = []
    changed = 0
    for node in g.node:
        if node.op_type != "DequantizeLinear" or len(node.input) < 2:
            continue
        sname = node.input[1]
        if sname not in inits:
            continue
        scale = numpy_helper.to_array(inits[sname])
        if scale.size != 1 or scale.ndim == 0:
            continue
        base = node.name or node.output[0]
        new_s = numpy_helper.from_array(scale.reshape(()), f"{base}__scalar_scale")
        added.append(new_s)
        node.input[1] = new_s.name
        if len(node.input) > 2 and node.input[2] and node.input[2] in inits:
            zp = numpy_helper.to_array(inits[node.input[2]])
            new_z = numpy_helper.from_array(zp.reshape(()), f"{base}__scalar_zero_point")
            added.append(new_z)
            node.input[2] = new_z.name
        attrs = [a for a in node.attribute if a.name not in ("block_size", "axis")]
        del node.attribute[:]
        node.attribute.extend(attrs)
        changed += 1
    g.initializer.extend(added)
    read = read_names(g)
    kept = [i for i in g.initializer if i.name in read]
    del g.initializer[:]
    g.initializer.extend(kept)
    logger.debug("made %d one-element DequantizeLinear scales scalar", changed)
    return model


def make_dims_symbolic(
    model: onnx.ModelProto,
    inputs: Mapping[str, Mapping[int, str]],
    *,
    outputs: Mapping[str, Mapping[int, str]] | None = None,
    all_outputs: Mapping[int, str] | None = None,
) -> onnx.ModelProto:
    """Replace static dimensions of graph inputs/outputs by symbolic names.

    Intermediate ``value_info`` shapes are cleared (they would pin the old sizes);
    onnxruntime re-infers them.

    Parameters
    ----------
    model : onnx.ModelProto
        Not modified.
    inputs : mapping of input name to {dim index: symbol}
        E.g. ``{"input": {2: "height", 3: "width"}}``.
    outputs : mapping of output name to {dim index: symbol}, optional
    all_outputs : {dim index: symbol}, optional
        Applied to every graph output (YuNet's 12 heads: ``{1: "anchors"}``).

    Returns
    -------
    onnx.ModelProto
        A copy with the named dimensions symbolic.

    Raises
    ------
    ValueError
        If an input or output name is not in the graph, or a dim index is out of range.
    """
    model = copy.deepcopy(model)
    g = model.graph

    def _apply(vi: onnx.ValueInfoProto, dims: Mapping[int, str], what: str) -> None:
        shape = vi.type.tensor_type.shape
        for idx, sym in dims.items():
            if not 0 <= idx < len(shape.dim):
                raise ValueError(f"{what} {vi.name!r} has rank {len(shape.dim)}; no dim {idx}")
            shape.dim[idx].Clear()
            shape.dim[idx].dim_param = sym

    by_in = {i.name: i for i in g.input}
    for name, dims in inputs.items():
        if name not in by_in:
            raise ValueError(f"inputs: graph has no input {name!r}; it has {sorted(by_in)}")
        _apply(by_in[name], dims, "input")
    by_out = {o.name: o for o in g.output}
    for name, dims in (outputs or {}).items():
        if name not in by_out:
            raise ValueError(f"outputs: graph has no output {name!r}; it has {sorted(by_out)}")
        _apply(by_out[name], dims, "output")
    if all_outputs:
        for o in g.output:
            _apply(o, all_outputs, "output")
    del g.value_info[:]
    return model


def iter_dequantize_nodes(model: onnx.ModelProto) -> Iterable[onnx.NodeProto]:
    """The DequantizeLinear nodes of the main graph (for tests and diagnostics)."""
    return [n for n in model.graph.node if n.op_type == "DequantizeLinear"]
