"""Convert a TFLite model (MediaPipe selfie segmentation) to ONNX with ``onnx.helper``.

No TensorFlow: the flatbuffer is read by :mod:`facecore.models.tflite`, fp16 weights are
dequantised to float32 (TFLite's DEQUANTIZE ops are folded), NHWC activations become NCHW
(weights are transposed once), and MediaPipe's custom op ``Convolution2DTransposeBias``
becomes an ONNX ``ConvTranspose`` with its bias. The ONNX graph takes ``(1, 3, H, W)``
RGB float32 in [0, 1] and returns ``(1, 1, H, W)`` (the model's own output channel order).

Supported ops (what the selfie segmentation models use): CONV_2D, DEPTHWISE_CONV_2D,
AVERAGE_POOL_2D, ADD, MUL, RELU, HARD_SWISH, LOGISTIC, RESIZE_BILINEAR, DEQUANTIZE and
Convolution2DTransposeBias. Anything else raises ``ValueError`` naming the op.

Examples
--------
>>> from facecore.models.convert_tflite import convert_tflite
>>> proto = convert_tflite("selfie_segmentation.tflite")    # doctest: +SKIP
>>> [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]   # doctest: +SKIP
[1, 3, 256, 256]
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from .tflite import FlatTable, TFLiteModel, TFLiteOperator, read_tflite

__all__ = ["convert_tflite"]

_PAD_SAME, _PAD_VALID = 0, 1  # TFLite Padding enum (builtin options)
_ACT = {0: None, 1: "Relu", 3: "Relu6"}


def _same_pads(size: int, k: int, s: int, d: int = 1) -> tuple[int, int]:
    """TensorFlow's SAME padding: the extra pixel goes after (ONNX SAME_UPPER)."""
    out = -(-size // s)
    eff = (k - 1) * d + 1
    total = max((out - 1) * s + eff - size, 0)
    return total // 2, total - total // 2


def _options(op: TFLiteOperator) -> FlatTable:
    """The builtin options table of an operator that cannot run without one (strides...)."""
    if op.options is None:
        raise ValueError(f"model: {op.opcode} operator without its builtin options")
    return op.options


class _Builder:
    def __init__(self, model: TFLiteModel) -> None:
        import onnx.helper as oh
        import onnx.numpy_helper as onh

        self.oh, self.onh = oh, onh
        self.m = model
        self.nodes: list = []
        self.inits: list = []
        self.names: dict[int, str] = {}  # tensor index -> ONNX name (NCHW activations)
        self.consts: dict[int, np.ndarray] = {}  # folded constants (float32, TFLite layout)
        self._n = 0
        for t in model.tensors:
            if t.data is not None:
                self.consts[t.index] = t.data

    def uid(self, base: str) -> str:
        self._n += 1
        return f"{base}_{self._n}"

    def init(self, arr: np.ndarray, base: str) -> str:
        name = self.uid(base)
        self.inits.append(self.onh.from_array(np.ascontiguousarray(arr), name))
        return name

    def const(self, i: int) -> np.ndarray:
        if i not in self.consts:
            raise ValueError(f"model: tensor {self.m.tensors[i].name!r} must be constant")
        return self.consts[i].astype(np.float32)

    def act(self, name: str, code: int, out: str) -> None:
        if code not in _ACT:
            raise ValueError(f"model: fused activation {code} is not supported")
        kind = _ACT[code]
        if kind is None:
            self.nodes.append(self.oh.make_node("Identity", [name], [out]))
        elif kind == "Relu":
            self.nodes.append(self.oh.make_node("Relu", [name], [out]))
        else:
            lo, hi = self.init(np.float32(0), "lo"), self.init(np.float32(6), "hi")
            self.nodes.append(self.oh.make_node("Clip", [name, lo, hi], [out]))

    def out_name(self, op: TFLiteOperator) -> str:
        name = self.uid(self.m.tensors[op.outputs[0]].name.replace("/", "_"))
        self.names[op.outputs[0]] = name
        return name

    def conv(self, op: TFLiteOperator, depthwise: bool) -> None:
        x, w_i = op.inputs[0], op.inputs[1]
        b_i = op.inputs[2] if len(op.inputs) > 2 else -1
        w = self.const(w_i)
        o = _options(op)
        pad = o.scalar(0, "b")
        sw, sh = o.scalar(1, "i", 1), o.scalar(2, "i", 1)
        if depthwise:
            mult = o.scalar(3, "i", 1)
            act, dw, dh = o.scalar(4, "b"), o.scalar(5, "i", 1), o.scalar(6, "i", 1)
            cin = self.m.tensors[x].shape[3]
            w_onnx = w.transpose(3, 0, 1, 2)  # (1, kh, kw, C*mult) -> (C*mult, 1, kh, kw)
            group = cin
            if mult * cin != w.shape[3]:
                raise ValueError("model: depthwise channel multiplier does not match the weights")
        else:
            act, dw, dh = o.scalar(3, "b"), o.scalar(4, "i", 1), o.scalar(5, "i", 1)
            w_onnx = w.transpose(0, 3, 1, 2)  # OHWI -> OIHW
            group = 1
        kh, kw = w_onnx.shape[2], w_onnx.shape[3]
        _, H, W, _ = self.m.tensors[x].shape
        if pad == _PAD_SAME:
            (pt, pb), (pl, pr) = _same_pads(H, kh, sh, dh), _same_pads(W, kw, sw, dw)
        else:
            pt = pb = pl = pr = 0
        ins = [self.names[x], self.init(w_onnx, "w")]
        if b_i >= 0:
            ins.append(self.init(self.const(b_i), "b"))
        tmp = self.uid("conv")
        self.nodes.append(
            self.oh.make_node(
                "Conv",
                ins,
                [tmp],
                strides=[sh, sw],
                dilations=[dh, dw],
                group=group,
                kernel_shape=[kh, kw],
                pads=[pt, pl, pb, pr],
            )
        )
        self.act(tmp, act, self.out_name(op))

    def transpose_conv_bias(self, op: TFLiteOperator) -> None:
        # MediaPipe's custom options: TfLiteTransposeConvParams {padding, stride_w, stride_h},
        # padding as TfLitePadding (1 = SAME, 2 = VALID).
        if len(op.custom_options) < 12:
            raise ValueError("model: Convolution2DTransposeBias without its options")
        padding, sw, sh = struct.unpack_from("<3i", op.custom_options, 0)
        x, w_i, b_i = op.inputs[:3]
        w = self.const(w_i)  # (O, kh, kw, I)
        w_onnx = w.transpose(3, 0, 1, 2)  # (I, O, kh, kw)
        kh, kw = w.shape[1], w.shape[2]
        if padding == 1:  # SAME: output = input * stride
            th, tw = max(kh - sh, 0), max(kw - sw, 0)
            pads = [th // 2, tw // 2, th - th // 2, tw - tw // 2]
        elif padding == 2:
            pads = [0, 0, 0, 0]
        else:
            raise ValueError(f"model: Convolution2DTransposeBias padding {padding} unknown")
        self.nodes.append(
            self.oh.make_node(
                "ConvTranspose",
                [self.names[x], self.init(w_onnx, "wt"), self.init(self.const(b_i), "bt")],
                [self.out_name(op)],
                strides=[sh, sw],
                kernel_shape=[kh, kw],
                pads=pads,
            )
        )

    def binary(self, op: TFLiteOperator, kind: str) -> None:
        ins = []
        for i in op.inputs:
            if i in self.names:
                ins.append(self.names[i])
            else:  # a constant operand: bring it to NCHW broadcasting
                c = self.const(i)
                if c.ndim == 4:
                    c = c.transpose(0, 3, 1, 2)
                elif c.ndim == 1:
                    c = c.reshape(1, -1, 1, 1)
                ins.append(self.init(c, "k"))
        tmp = self.uid(kind.lower())
        self.nodes.append(self.oh.make_node(kind, ins, [tmp]))
        act = op.options.scalar(0, "b") if op.options is not None else 0
        self.act(tmp, act, self.out_name(op))

    def run(self) -> None:
        oh = self.oh
        for op in self.m.operators:
            code = op.opcode
            if code == "DEQUANTIZE":
                src = op.inputs[0]
                self.consts[op.outputs[0]] = self.const(src)
            elif code == "CONV_2D":
                self.conv(op, depthwise=False)
            elif code == "DEPTHWISE_CONV_2D":
                self.conv(op, depthwise=True)
            elif code in ("ADD", "MUL"):
                self.binary(op, "Add" if code == "ADD" else "Mul")
            elif code in ("RELU", "LOGISTIC", "HARD_SWISH"):
                kind = {"RELU": "Relu", "LOGISTIC": "Sigmoid", "HARD_SWISH": "HardSwish"}[code]
                self.nodes.append(
                    oh.make_node(kind, [self.names[op.inputs[0]]], [self.out_name(op)])
                )
            elif code == "AVERAGE_POOL_2D":
                o = _options(op)
                pad, sw, sh = o.scalar(0, "b"), o.scalar(1, "i", 1), o.scalar(2, "i", 1)
                fw, fh, act = o.scalar(3, "i", 1), o.scalar(4, "i", 1), o.scalar(5, "b")
                _, H, W, _ = self.m.tensors[op.inputs[0]].shape
                if pad == _PAD_SAME:
                    (pt, pb), (pl, pr) = _same_pads(H, fh, sh), _same_pads(W, fw, sw)
                else:
                    pt = pb = pl = pr = 0
                tmp = self.uid("pool")
                self.nodes.append(
                    oh.make_node(
                        "AveragePool",
                        [self.names[op.inputs[0]]],
                        [tmp],
                        kernel_shape=[fh, fw],
                        strides=[sh, sw],
                        pads=[pt, pl, pb, pr],
                        count_include_pad=0,
                    )
                )
                self.act(tmp, act, self.out_name(op))
            elif code == "RESIZE_BILINEAR":
                o_resize = op.options
                align = bool(o_resize.scalar(2, "b")) if o_resize is not None else False
                half = bool(o_resize.scalar(3, "b")) if o_resize is not None else False
                size = self.consts[op.inputs[1]].astype(np.int64)
                n, _, _, c = self.m.tensors[op.inputs[0]].shape
                sizes = self.init(np.array([n, c, size[0], size[1]], np.int64), "sizes")
                mode = "align_corners" if align else ("half_pixel" if half else "asymmetric")
                self.nodes.append(
                    oh.make_node(
                        "Resize",
                        [self.names[op.inputs[0]], "", "", sizes],
                        [self.out_name(op)],
                        mode="linear",
                        coordinate_transformation_mode=mode,
                    )
                )
            elif code == "MEAN":
                axes = [int(a) % 4 for a in self.consts[op.inputs[1]].reshape(-1)]
                keep = int(op.options.scalar(0, "b")) if op.options is not None else 0
                if not keep:
                    raise ValueError("model: MEAN without keep_dims is not supported")
                nchw = sorted({0: 0, 1: 2, 2: 3, 3: 1}[a] for a in axes)
                self.nodes.append(
                    oh.make_node(
                        "ReduceMean",
                        [self.names[op.inputs[0]]],
                        [self.out_name(op)],
                        axes=nchw,
                        keepdims=1,
                    )
                )
            elif code == "Convolution2DTransposeBias":
                self.transpose_conv_bias(op)
            else:
                raise ValueError(f"model: TFLite op {code!r} is not supported by this converter")


def convert_tflite(source, *, input_name: str = "input", output_name: str = "output"):
    """Convert a TFLite selfie-segmentation-style model to an ONNX ``ModelProto``.

    Parameters
    ----------
    source : path or bytes
        The ``.tflite`` file.
    input_name, output_name : str
        Names of the ONNX graph's input ``(1, 3, H, W)`` and output ``(1, C, H, W)``.

    Returns
    -------
    onnx.ModelProto
        Opset 17, checked with ``onnx.checker``.

    Raises
    ------
    ValueError
        If the file is not TFLite, has several inputs/outputs, or uses an unsupported op.
    """
    import onnx
    import onnx.helper as oh

    model = read_tflite(source) if not isinstance(source, TFLiteModel) else source
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError("model: expected one input and one output")
    b = _Builder(model)
    tin = model.tensors[model.inputs[0]]
    if len(tin.shape) != 4 or tin.dtype != np.float32:
        raise ValueError(f"model: expected a float32 NHWC input; got {tin.dtype} {tin.shape}")
    n, h, w, c = tin.shape
    b.names[tin.index] = input_name + "_nchw"
    # The ONNX input is NCHW already; the graph's own layout is NCHW throughout.
    b.nodes.append(oh.make_node("Identity", [input_name], [input_name + "_nchw"]))
    b.run()
    tout = model.tensors[model.outputs[0]]
    b.nodes.append(oh.make_node("Identity", [b.names[tout.index]], [output_name]))
    on, oh_, ow, oc = tout.shape
    graph = oh.make_graph(
        b.nodes,
        "selfie_segmentation",
        [oh.make_tensor_value_info(input_name, onnx.TensorProto.FLOAT, [n, c, h, w])],
        [oh.make_tensor_value_info(output_name, onnx.TensorProto.FLOAT, [on, oc, oh_, ow])],
        initializer=b.inits,
    )
    proto = oh.make_model(
        graph,
        opset_imports=[oh.make_opsetid("", 17)],
        producer_name="facecore.models.convert_tflite",
    )
    proto.ir_version = 8
    proto.doc_string = f"converted from TFLite: {model.description}"
    onnx.checker.check_model(proto)
    return proto


def convert_tflite_file(source: str | Path, dest: str | Path) -> Path:
    """Convert ``source`` (.tflite) and write the ONNX bytes to ``dest`` (never overwrites)."""
    dest = Path(dest)
    if dest.exists():
        raise ValueError(f"dest: {dest} exists; facecore never overwrites a file")
    proto = convert_tflite(source)
    dest.write_bytes(proto.SerializeToString())
    return dest
