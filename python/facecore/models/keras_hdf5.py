"""Keras HDF5 -> ONNX, without TensorFlow: the layer graph from ``model_config``, the weights
from ``model_weights``, rebuilt with :mod:`onnx.helper`.

Reads the whole-model ``.h5`` / ``.hdf5`` files that Keras 2 (``model.save``) writes: the
root attribute ``model_config`` (the JSON of a ``Sequential`` or functional ``Model``) and
the group ``model_weights/<layer>/<weight name>``. Only :mod:`h5py` (the optional extra
``facecore[convert]``) and NumPy are needed, and only while converting: the converted ONNX
graph runs on onnxruntime like any other zoo model.

Layers supported (channels-last Keras semantics, an NCHW ONNX graph):
``InputLayer``, ``Conv2D``, ``SeparableConv2D``, ``DepthwiseConv2D``,
``BatchNormalization``, ``Activation`` (linear, relu, relu6, sigmoid, tanh, softmax, elu,
softplus, swish, hard_sigmoid), ``ReLU`` (``max_value`` / ``negative_slope``),
``LeakyReLU``, ``Softmax``, ``Add``, ``Subtract``, ``Multiply``, ``Average``, ``Maximum``,
``Minimum``, ``Concatenate``, ``MaxPooling2D``, ``AveragePooling2D``,
``GlobalAveragePooling2D``, ``GlobalMaxPooling2D``, ``Dense`` (on flat features),
``Flatten`` (in Keras' H, W, C order), ``Reshape``, ``ZeroPadding2D``, ``Rescaling``,
``Dropout`` / ``SpatialDropout2D`` / ``GaussianNoise`` / ``GaussianDropout`` /
``ActivityRegularization`` (identity at inference). Anything else (nested models, shared
layers, ``channels_first``, ``padding="causal"``...) raises :class:`ValueError` naming the
layer, rather than converting it wrongly.

Padding ``"same"`` follows TensorFlow: ``total = max((out - 1) * s + (k - 1) * d + 1 - in, 0)``
with the odd pixel at the end, written as explicit ONNX ``pads``; average pooling excludes
the padding from the count, as TensorFlow does.

Examples
--------
>>> from facecore.models.keras_hdf5 import keras_to_onnx  # doctest: +SKIP
>>> model = keras_to_onnx("fer_emotion_model.hdf5")  # doctest: +SKIP
>>> [i.name for i in model.graph.input], [o.name for o in model.graph.output]  # doctest: +SKIP
(['input'], ['probabilities'])
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

__all__ = ["OPSET", "SUPPORTED_LAYERS", "KerasModel", "keras_to_onnx", "read_keras_hdf5"]

#: The ONNX opset of converted graphs (onnxruntime >= 1.8 and OpenCV >= 4.5 read it).
OPSET = 13
_IR_VERSION = 7

_IDENTITY = {
    "Dropout",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "GaussianNoise",
    "GaussianDropout",
    "ActivityRegularization",
    "AlphaDropout",
}
SUPPORTED_LAYERS = frozenset(
    {
        "InputLayer",
        "Conv2D",
        "SeparableConv2D",
        "DepthwiseConv2D",
        "BatchNormalization",
        "Activation",
        "ReLU",
        "LeakyReLU",
        "Softmax",
        "Add",
        "Subtract",
        "Multiply",
        "Average",
        "Maximum",
        "Minimum",
        "Concatenate",
        "MaxPooling2D",
        "AveragePooling2D",
        "GlobalAveragePooling2D",
        "GlobalMaxPooling2D",
        "Dense",
        "Flatten",
        "Reshape",
        "ZeroPadding2D",
        "Rescaling",
    }
    | _IDENTITY
)
_ALIASES = {
    "Convolution2D": "Conv2D",
    "SeparableConvolution2D": "SeparableConv2D",
    "MaxPool2D": "MaxPooling2D",
    "AvgPool2D": "AveragePooling2D",
    "GlobalAvgPool2D": "GlobalAveragePooling2D",
    "GlobalMaxPool2D": "GlobalMaxPooling2D",
    "Functional": "Model",
}


@dataclass(frozen=True)
class KerasModel:
    """What a Keras HDF5 file holds that inference needs.

    Attributes
    ----------
    config : dict
        The parsed ``model_config`` (``{"class_name": ..., "config": ...}``).
    weights : dict of str -> dict of str -> ndarray
        Per layer name, its weights by short name (``kernel``, ``bias``, ``gamma``,
        ``beta``, ``moving_mean``, ``moving_variance``, ``depthwise_kernel``,
        ``pointwise_kernel``...), float32.
    keras_version : str
    """

    config: dict[str, Any]
    weights: dict[str, dict[str, np.ndarray]] = field(repr=False)
    keras_version: str = ""


def _s(v: Any) -> str:
    return v.decode("utf-8") if isinstance(v, bytes) else str(v)


def read_keras_hdf5(path: str | os.PathLike[str]) -> KerasModel:
    """Read the model config and the weights of a Keras HDF5 file (never executes code).

    Parameters
    ----------
    path : str or os.PathLike
        A whole-model Keras HDF5 file (``model.save("x.h5")``).

    Returns
    -------
    KerasModel

    Raises
    ------
    TypeError
        If ``path`` is not a path.
    ValueError
        If the file is not HDF5 or has no ``model_config``.
    ImportError
        If :mod:`h5py` is not installed (``pip install "facecore[convert]"``).
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: expected str or os.PathLike; got {type(path).__name__}")
    try:
        import h5py
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            'reading Keras HDF5 files needs h5py: pip install "facecore[convert]"'
        ) from e
    p = os.fspath(path)
    if not os.path.isfile(p):
        raise ValueError(f"path: {p!r} is not a file")
    try:
        f = h5py.File(p, "r")
    except OSError as e:
        raise ValueError(f"path: {p!r} is not an HDF5 file ({e})") from None
    with f:
        if "model_config" not in f.attrs:
            raise ValueError(
                f"path: {p!r} has no 'model_config' attribute (a weights-only file? save the whole model)"
            )
        try:
            config = json.loads(_s(f.attrs["model_config"]))
        except json.JSONDecodeError as e:
            raise ValueError(f"path: {p!r}: model_config is not JSON ({e})") from None
        g = f.get("model_weights", f)
        weights: dict[str, dict[str, np.ndarray]] = {}
        for lname in g.attrs.get("layer_names", []):
            lname = _s(lname)
            lg = g[lname]
            ws = {}
            for wn in lg.attrs.get("weight_names", []):
                wn = _s(wn)
                short = wn.split("/")[-1].split(":")[0]
                ws[short] = np.asarray(lg[wn], dtype=np.float32)
            weights[lname] = ws
        version = _s(f.attrs.get("keras_version", ""))
    return KerasModel(config=config, weights=weights, keras_version=version)


# -- the builder ---------------------------------------------------------------------------


class _Graph:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0

    def const(self, name: str, arr: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def op(self, op: str, inputs: list[str], name: str, **attrs: Any) -> str:
        self._n += 1
        out = f"{name}:{self._n}"
        self.nodes.append(
            helper.make_node(op, inputs, [out], name=f"{name}/{op}/{self._n}", **attrs)
        )
        return out


@dataclass
class _T:
    """A Keras tensor in the ONNX graph: its ONNX name and its Keras shape (no batch)."""

    name: str
    shape: tuple[int, ...]  # (H, W, C) or (F,)


def _pair(v: Any) -> tuple[int, int]:
    if isinstance(v, (list, tuple)):
        return int(v[0]), int(v[1])
    return int(v), int(v)


def _pads(
    padding: str,
    hw: tuple[int, int],
    k: tuple[int, int],
    s: tuple[int, int],
    d: tuple[int, int],
    layer: str,
) -> tuple[list[int], tuple[int, int]]:
    """ONNX pads [top, left, bottom, right] and the output (H, W), TensorFlow's rule."""
    if padding == "valid":
        out = tuple((hw[i] - (k[i] - 1) * d[i] - 1) // s[i] + 1 for i in range(2))
        if min(out) < 1:
            raise ValueError(f"layer {layer!r}: input {hw} is smaller than its kernel")
        return [0, 0, 0, 0], out  # type: ignore[return-value]
    if padding == "same":
        out = tuple(-(-hw[i] // s[i]) for i in range(2))
        tot = [max((out[i] - 1) * s[i] + (k[i] - 1) * d[i] + 1 - hw[i], 0) for i in range(2)]
        return [tot[0] // 2, tot[1] // 2, tot[0] - tot[0] // 2, tot[1] - tot[1] // 2], out  # type: ignore[return-value]
    raise ValueError(f"layer {layer!r}: padding {padding!r} is not supported (valid, same)")


def _activation(g: _Graph, x: str, act: Any, rank: int, name: str) -> str:
    act = "linear" if act is None else act
    if isinstance(act, dict):  # serialized activation object (Keras >= 2.x)
        act = act.get("config", {}).get("name", act.get("class_name", "?"))
    act = str(act)
    if act == "linear":
        return x
    if act == "relu":
        return g.op("Relu", [x], name)
    if act == "relu6":
        return g.op(
            "Clip",
            [g.op("Relu", [x], name), "", g.const(f"{name}/six", np.array(6, np.float32))],
            name,
        )
    if act == "sigmoid":
        return g.op("Sigmoid", [x], name)
    if act == "tanh":
        return g.op("Tanh", [x], name)
    if act == "elu":
        return g.op("Elu", [x], name, alpha=1.0)
    if act == "softplus":
        return g.op("Softplus", [x], name)
    if act in ("swish", "silu"):
        return g.op("Mul", [x, g.op("Sigmoid", [x], name)], name)
    if act == "hard_sigmoid":  # Keras 2: clip(0.2 x + 0.5, 0, 1)
        return g.op("HardSigmoid", [x], name, alpha=0.2, beta=0.5)
    if act == "softmax":
        return g.op("Softmax", [x], name, axis=1 if rank == 3 else -1)
    raise ValueError(f"layer {name!r}: activation {act!r} is not supported")


def _inbound(layer: dict[str, Any]) -> list[str]:
    nodes = layer.get("inbound_nodes", [])
    if not nodes:
        return []
    if len(nodes) > 1:
        raise ValueError(
            f"layer {layer.get('name')!r}: shared layers (called {len(nodes)} times) are not supported"
        )
    node = nodes[0]
    if isinstance(node, dict):  # Keras 3 format
        args = node.get("args", [])
        flat = args[0] if len(args) == 1 and isinstance(args[0], list) else args
        return [a["config"]["keras_history"][0] for a in flat if isinstance(a, dict)]
    return [str(item[0]) for item in node]


def _layers(cfg: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """(layers with explicit inbound names, input layer names, output layer names)."""
    cls = _ALIASES.get(cfg.get("class_name", ""), cfg.get("class_name", ""))
    c = cfg.get("config", {})
    if cls == "Sequential":
        layers = c["layers"] if isinstance(c, dict) else c
        out: list[dict[str, Any]] = []
        prev = "input"  # the first layer is an InputLayer (no inbound) or gets one named "input"
        first = layers[0] if layers else None
        if first is None:
            raise ValueError("model: empty Sequential model")
        if first["class_name"] != "InputLayer":
            shape = first["config"].get("batch_input_shape") or first["config"].get("batch_shape")
            if shape is None:
                raise ValueError("model: the Sequential model has no input shape")
            out.append(
                {
                    "class_name": "InputLayer",
                    "name": "input",
                    "config": {"batch_input_shape": shape},
                    "_in": [],
                }
            )
            prev = "input"
        for layer in layers:
            name = str(layer.get("name") or layer["config"]["name"])
            out.append(
                {
                    **layer,
                    "name": name,
                    "_in": [] if layer["class_name"] == "InputLayer" else [prev],
                }
            )
            prev = name
        return out, [out[0]["name"]], [prev]
    if cls != "Model":
        raise ValueError(
            f"model: class {cfg.get('class_name')!r} is not a Sequential or functional Model"
        )
    layers = [
        {**ly, "name": ly.get("name") or ly["config"]["name"], "_in": _inbound(ly)}
        for ly in c["layers"]
    ]
    ins = (
        [str(v[0]) for v in c["input_layers"]]
        if isinstance(c["input_layers"][0], list)
        else [str(c["input_layers"][0])]
    )
    outs = (
        [str(v[0]) for v in c["output_layers"]]
        if isinstance(c["output_layers"][0], list)
        else [str(c["output_layers"][0])]
    )
    return layers, ins, outs


def _conv_w(kernel: np.ndarray) -> np.ndarray:
    """Keras (kh, kw, in, out) -> ONNX (out, in, kh, kw)."""
    return np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))


def _dw_w(kernel: np.ndarray) -> np.ndarray:
    """Keras depthwise (kh, kw, in, mult) -> ONNX (in * mult, 1, kh, kw) (channel c*mult + m)."""
    kh, kw, cin, mult = kernel.shape
    return np.ascontiguousarray(kernel.transpose(2, 3, 0, 1).reshape(cin * mult, 1, kh, kw))


def _weights(
    km: KerasModel, name: str, *keys: str, optional: tuple[str, ...] = ()
) -> dict[str, np.ndarray]:
    ws = km.weights.get(name, {})
    missing = [k for k in keys if k not in ws]
    if missing:
        raise ValueError(
            f"layer {name!r}: weights {missing} are missing from the file (it has {sorted(ws)})"
        )
    return {k: ws[k] for k in keys + optional if k in ws}


def _convert_layer(g: _Graph, km: KerasModel, layer: dict[str, Any], xs: list[_T]) -> _T:
    cls = _ALIASES.get(layer["class_name"], layer["class_name"])
    c = layer.get("config", {})
    name = layer["name"]
    if c.get("data_format", "channels_last") != "channels_last":
        raise ValueError(
            f"layer {name!r}: data_format {c.get('data_format')!r} is not supported (channels_last)"
        )
    if cls not in SUPPORTED_LAYERS:
        raise ValueError(
            f"layer {name!r}: Keras layer type {layer['class_name']!r} is not supported "
            f"(supported: {sorted(SUPPORTED_LAYERS)})"
        )
    if (
        cls not in ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate")
        and len(xs) != 1
    ):
        raise ValueError(f"layer {name!r}: expected one input; got {len(xs)}")
    x = xs[0]

    def spatial() -> tuple[int, int, int]:
        if len(x.shape) != 3:
            raise ValueError(f"layer {name!r}: expected a (H, W, C) input; got shape {x.shape}")
        h, w, ch = x.shape
        return int(h), int(w), int(ch)

    if cls in _IDENTITY:
        return x
    if cls in ("Conv2D", "SeparableConv2D", "DepthwiseConv2D"):
        h, w, cin = spatial()
        k, s = _pair(c["kernel_size"]), _pair(c.get("strides", 1))
        d = _pair(c.get("dilation_rate", 1))
        if d != (1, 1) and s != (1, 1):
            raise ValueError(f"layer {name!r}: dilation with strides is not supported")
        pads, (oh, ow) = _pads(c.get("padding", "valid"), (h, w), k, s, d, name)
        attrs = {"kernel_shape": list(k), "strides": list(s), "dilations": list(d), "pads": pads}
        use_bias = bool(c.get("use_bias", True))
        if cls == "Conv2D":
            if int(c.get("groups", 1)) != 1:
                raise ValueError(f"layer {name!r}: grouped Conv2D is not supported")
            ws = _weights(km, name, "kernel", *(("bias",) if use_bias else ()))
            ins = [x.name, g.const(f"{name}/W", _conv_w(ws["kernel"]))]
            if use_bias:
                ins.append(g.const(f"{name}/B", ws["bias"]))
            y = g.op("Conv", ins, name, **attrs)
            cout = ws["kernel"].shape[3]
        elif cls == "DepthwiseConv2D":
            ws = _weights(km, name, "depthwise_kernel", *(("bias",) if use_bias else ()))
            wk = _dw_w(ws["depthwise_kernel"])
            ins = [x.name, g.const(f"{name}/W", wk)]
            if use_bias:
                ins.append(g.const(f"{name}/B", ws["bias"]))
            y = g.op("Conv", ins, name, group=cin, **attrs)
            cout = wk.shape[0]
        else:
            ws = _weights(
                km, name, "depthwise_kernel", "pointwise_kernel", *(("bias",) if use_bias else ())
            )
            wk = _dw_w(ws["depthwise_kernel"])
            y = g.op("Conv", [x.name, g.const(f"{name}/Wdw", wk)], name, group=cin, **attrs)
            ins = [y, g.const(f"{name}/Wpw", _conv_w(ws["pointwise_kernel"]))]
            if use_bias:
                ins.append(g.const(f"{name}/B", ws["bias"]))
            y = g.op("Conv", ins, name, kernel_shape=[1, 1])
            cout = ws["pointwise_kernel"].shape[3]
        return _T(_activation(g, y, c.get("activation"), 3, name), (oh, ow, int(cout)))
    if cls == "BatchNormalization":
        axis = c.get("axis", -1)
        axis = axis[0] if isinstance(axis, list) and len(axis) == 1 else axis
        if axis not in (-1, len(x.shape)):
            raise ValueError(
                f"layer {name!r}: BatchNormalization over axis {axis} is not supported (the channel axis)"
            )
        ch = x.shape[-1]
        opt = tuple(
            k
            for k, flag in (("gamma", c.get("scale", True)), ("beta", c.get("center", True)))
            if flag
        )
        ws = _weights(km, name, "moving_mean", "moving_variance", *opt)
        gamma = ws.get("gamma", np.ones(ch, np.float32))
        beta = ws.get("beta", np.zeros(ch, np.float32))
        ins = [x.name] + [
            g.const(f"{name}/{k}", v)
            for k, v in (
                ("scale", gamma),
                ("bias", beta),
                ("mean", ws["moving_mean"]),
                ("var", ws["moving_variance"]),
            )
        ]
        return _T(
            g.op("BatchNormalization", ins, name, epsilon=float(c.get("epsilon", 1e-3))), x.shape
        )
    if cls == "Activation":
        return _T(_activation(g, x.name, c.get("activation"), len(x.shape), name), x.shape)
    if cls == "ReLU":
        mv, ns, th = (
            c.get("max_value"),
            float(c.get("negative_slope", 0.0) or 0.0),
            float(c.get("threshold", 0.0) or 0.0),
        )
        if th != 0.0:
            raise ValueError(f"layer {name!r}: ReLU threshold {th} is not supported")
        y = g.op("LeakyRelu", [x.name], name, alpha=ns) if ns else g.op("Relu", [x.name], name)
        if mv is not None:
            y = g.op("Min", [y, g.const(f"{name}/max", np.array(float(mv), np.float32))], name)
        return _T(y, x.shape)
    if cls == "LeakyReLU":
        return _T(
            g.op(
                "LeakyRelu",
                [x.name],
                name,
                alpha=float(c.get("alpha", c.get("negative_slope", 0.3))),
            ),
            x.shape,
        )
    if cls == "Softmax":
        if c.get("axis", -1) not in (-1, len(x.shape)):
            raise ValueError(f"layer {name!r}: Softmax over axis {c.get('axis')} is not supported")
        return _T(g.op("Softmax", [x.name], name, axis=1 if len(x.shape) == 3 else -1), x.shape)
    if cls in ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"):
        if len({t.shape for t in xs}) != 1:
            raise ValueError(
                f"layer {name!r}: inputs of different shapes {[t.shape for t in xs]} (broadcasting is not supported)"
            )
        if cls == "Subtract":
            return _T(g.op("Sub", [xs[0].name, xs[1].name], name), x.shape)
        op = {
            "Add": "Sum",
            "Multiply": "Mul",
            "Maximum": "Max",
            "Minimum": "Min",
            "Average": "Mean",
        }[cls]
        if op == "Mul":
            y = xs[0].name
            for t in xs[1:]:
                y = g.op("Mul", [y, t.name], name)
            return _T(y, x.shape)
        return _T(g.op(op, [t.name for t in xs], name), x.shape)
    if cls == "Concatenate":
        rank = len(x.shape)
        axis = int(c.get("axis", -1))
        axis = axis if axis >= 0 else rank + 1 + axis  # with batch
        if any(len(t.shape) != rank for t in xs):
            raise ValueError(f"layer {name!r}: inputs of different ranks")
        onnx_axis = {3: 1, 1: 2, 2: 3}[axis] if rank == 3 else axis
        shape = list(x.shape)
        shape[axis - 1] = sum(t.shape[axis - 1] for t in xs)
        return _T(g.op("Concat", [t.name for t in xs], name, axis=onnx_axis), tuple(shape))
    if cls in ("MaxPooling2D", "AveragePooling2D"):
        h, w, ch = spatial()
        k = _pair(c.get("pool_size", 2))
        s = _pair(c.get("strides") or k)
        pads, (oh, ow) = _pads(c.get("padding", "valid"), (h, w), k, s, (1, 1), name)
        if cls == "MaxPooling2D":
            y = g.op("MaxPool", [x.name], name, kernel_shape=list(k), strides=list(s), pads=pads)
        else:
            y = g.op(
                "AveragePool",
                [x.name],
                name,
                kernel_shape=list(k),
                strides=list(s),
                pads=pads,
                count_include_pad=0,
            )
        return _T(y, (oh, ow, ch))
    if cls in ("GlobalAveragePooling2D", "GlobalMaxPooling2D"):
        h, w, ch = spatial()
        y = g.op(
            "GlobalAveragePool" if cls == "GlobalAveragePooling2D" else "GlobalMaxPool",
            [x.name],
            name,
        )
        if c.get("keepdims", False):
            return _T(y, (1, 1, ch))
        return _T(g.op("Flatten", [y], name, axis=1), (ch,))
    if cls == "Flatten":
        if len(x.shape) == 1:
            return x
        y = g.op("Transpose", [x.name], name, perm=[0, 2, 3, 1]) if len(x.shape) == 3 else x.name
        return _T(g.op("Flatten", [y], name, axis=1), (int(np.prod(x.shape)),))
    if cls == "Dense":
        if len(x.shape) != 1:
            raise ValueError(
                f"layer {name!r}: Dense on a {len(x.shape) + 1}-d input is not supported (flatten first)"
            )
        use_bias = bool(c.get("use_bias", True))
        ws = _weights(km, name, "kernel", *(("bias",) if use_bias else ()))
        ins = [x.name, g.const(f"{name}/W", ws["kernel"])]
        if use_bias:
            ins.append(g.const(f"{name}/B", ws["bias"]))
        y = g.op("Gemm", ins, name)
        return _T(_activation(g, y, c.get("activation"), 1, name), (int(ws["kernel"].shape[1]),))
    if cls == "Reshape":
        target = tuple(int(v) for v in c["target_shape"])
        n_in = int(np.prod(x.shape))
        if -1 in target:
            known = int(np.prod([v for v in target if v != -1]))
            target = tuple(n_in // known if v == -1 else v for v in target)
        if int(np.prod(target)) != n_in or len(target) not in (1, 3):
            raise ValueError(f"layer {name!r}: cannot reshape {x.shape} to {c['target_shape']}")
        y = g.op("Transpose", [x.name], name, perm=[0, 2, 3, 1]) if len(x.shape) == 3 else x.name
        y = g.op("Reshape", [y, g.const(f"{name}/shape", np.array((-1, *target), np.int64))], name)
        if len(target) == 3:
            y = g.op("Transpose", [y], name, perm=[0, 3, 1, 2])
        return _T(y, target)
    if cls == "ZeroPadding2D":
        h, w, ch = spatial()
        p = c.get("padding", 1)
        if isinstance(p, (int, float)):
            (top, bottom), (left, right) = (int(p), int(p)), (int(p), int(p))
        elif isinstance(p[0], (list, tuple)):
            (top, bottom), (left, right) = (
                (int(p[0][0]), int(p[0][1])),
                (int(p[1][0]), int(p[1][1])),
            )
        else:
            (top, bottom), (left, right) = (int(p[0]), int(p[0])), (int(p[1]), int(p[1]))
        pads_in = g.const(
            f"{name}/pads", np.array([0, 0, top, left, 0, 0, bottom, right], np.int64)
        )
        return _T(
            g.op("Pad", [x.name, pads_in], name, mode="constant"),
            (h + top + bottom, w + left + right, ch),
        )
    if cls == "Rescaling":
        y = g.op(
            "Mul", [x.name, g.const(f"{name}/scale", np.array(float(c["scale"]), np.float32))], name
        )
        y = g.op(
            "Add",
            [y, g.const(f"{name}/offset", np.array(float(c.get("offset", 0.0)), np.float32))],
            name,
        )
        return _T(y, x.shape)
    raise ValueError(
        f"layer {name!r}: Keras layer type {layer['class_name']!r} is not supported"
    )  # pragma: no cover


def keras_to_onnx(
    source: str | os.PathLike[str] | KerasModel,
    *,
    input_layout: str = "NCHW",
    input_name: str = "input",
    output_name: str = "output",
    doc: str = "",
) -> onnx.ModelProto:
    """Convert a Keras HDF5 model to an ONNX graph (opset 13, dynamic batch).

    Parameters
    ----------
    source : str, os.PathLike or KerasModel
        A whole-model Keras HDF5 file, or what :func:`read_keras_hdf5` returned.
    input_layout : {"NCHW", "NHWC"}
        Layout of the ONNX input: ``"NCHW"`` (facecore's, what
        :func:`facecore.kernels.warp_crops` writes with ``tensor=True``) or Keras' own
        ``"NHWC"`` (a Transpose is added at the front).
    input_name, output_name : str
        Names of the graph's input and output (one of each is supported).
    doc : str
        Stored as the model's ``doc_string``.

    Returns
    -------
    onnx.ModelProto
        Checked with :func:`onnx.checker.check_model`; input float32
        ``(N, C, H, W)`` (or ``(N, H, W, C)``), output float32 ``(N, F)`` or
        ``(N, C, H, W)``.

    Raises
    ------
    TypeError
        If ``source`` is neither a path nor a :class:`KerasModel`.
    ValueError
        If the file is not a Keras model or a layer is not supported (the message names it).
    """
    if input_layout not in ("NCHW", "NHWC"):
        raise ValueError(f"input_layout: expected 'NCHW' or 'NHWC'; got {input_layout!r}")
    for nm, v in (("input_name", input_name), ("output_name", output_name), ("doc", doc)):
        if not isinstance(v, str):
            raise TypeError(f"{nm}: expected str; got {type(v).__name__}")
    km = source if isinstance(source, KerasModel) else read_keras_hdf5(source)
    try:
        layers, ins, outs = _layers(km.config)
    except (KeyError, IndexError, TypeError) as e:
        raise ValueError(
            f"source: model_config is not a Keras model config ({type(e).__name__}: {e})"
        ) from None
    if len(ins) != 1 or len(outs) != 1:
        raise ValueError(
            f"source: models with {len(ins)} inputs and {len(outs)} outputs are not supported (1 and 1)"
        )
    g = _Graph()
    tensors: dict[str, _T] = {}
    graph_input = None
    for layer in layers:
        name = layer["name"]
        if layer["class_name"] == "InputLayer":
            c = layer["config"]
            shape = c.get("batch_input_shape") or c.get("batch_shape")
            if shape is None or len(shape) != 4 or any(v is None for v in shape[1:]):
                raise ValueError(
                    f"layer {name!r}: expected a fixed (H, W, C) image input; got {shape}"
                )
            h, w, ch = (int(v) for v in shape[1:])
            if input_layout == "NCHW":
                graph_input = helper.make_tensor_value_info(
                    input_name, TensorProto.FLOAT, ["N", ch, h, w]
                )
                tensors[name] = _T(input_name, (h, w, ch))
            else:
                graph_input = helper.make_tensor_value_info(
                    input_name, TensorProto.FLOAT, ["N", h, w, ch]
                )
                tensors[name] = _T(
                    g.op("Transpose", [input_name], name, perm=[0, 3, 1, 2]), (h, w, ch)
                )
            continue
        try:
            xs = [tensors[i] for i in layer["_in"]]
        except KeyError as e:
            if layer["class_name"] in ("Model", "Functional", "Sequential"):
                raise ValueError(f"layer {name!r}: nested models are not supported") from None
            raise ValueError(
                f"layer {name!r}: its input {e} is not produced by an earlier layer"
            ) from None
        try:
            tensors[name] = _convert_layer(g, km, layer, xs)
        except (KeyError, IndexError, TypeError) as e:
            raise ValueError(
                f"layer {name!r} ({layer['class_name']}): malformed config ({type(e).__name__}: {e})"
            ) from None
    if graph_input is None:
        raise ValueError("source: the model has no InputLayer with a fixed image shape")
    out = tensors[outs[0]]
    g.nodes.append(helper.make_node("Identity", [out.name], [output_name], name="output"))
    oshape: list[Any] = (
        ["N", out.shape[2], out.shape[0], out.shape[1]]
        if len(out.shape) == 3
        else ["N", *out.shape]
    )
    graph = helper.make_graph(
        g.nodes,
        "keras_hdf5",
        [graph_input],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, oshape)],
        initializer=g.inits,
    )
    model = helper.make_model(
        graph,
        producer_name="facecore.models.keras_hdf5",
        producer_version=str(km.keras_version),
        opset_imports=[helper.make_opsetid("", OPSET)],
        doc_string=doc,
    )
    model.ir_version = _IR_VERSION
    onnx.checker.check_model(model)
    return model


def convert(path: str | os.PathLike[str]) -> onnx.ModelProto:
    """The converter ``facecore models fetch`` uses for Keras HDF5 members (``"keras_hdf5"``).

    Deterministic: the same file gives the same ONNX bytes (for one onnx version), so the
    zoo can record their sha256.
    """
    return keras_to_onnx(path, doc="converted from Keras HDF5 by facecore.models.keras_hdf5")
