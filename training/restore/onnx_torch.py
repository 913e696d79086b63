"""A minimal ONNX -> PyTorch interpreter for the dlib age and gender graphs (for the
restorer's optional attribute-consistency loss) and SFace (the student of
``training.maskembed``); no new dependency.

Covers the ops those graphs use: Conv, Mul, Add, Sub, Relu, PRelu, BatchNormalization
(inference form), MaxPool, AveragePool, Pad (constant), GlobalAveragePool, Flatten, Reshape,
Gemm, Softmax, Dropout / Identity (identity) and Constant. Weights are frozen buffers
(gradients flow to the input) unless named in ``trainable``, which makes them parameters.
``start`` runs the graph from an intermediate tensor (nodes that need anything not computed
from it or the constants are skipped), ``stop`` returns an intermediate tensor.
:func:`check` compares the result with onnxruntime.
"""

from __future__ import annotations

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import helper, numpy_helper


class OnnxModule(torch.nn.Module):
    def __init__(
        self,
        path,
        *,
        start: str | None = None,
        stop: str | None = None,
        trainable=(),
    ):
        super().__init__()
        m = path if isinstance(path, onnx.ModelProto) else onnx.load(path)
        trainable = set(trainable)
        self.nodes = [
            (
                n.op_type,
                list(n.input),
                list(n.output),
                {a.name: helper.get_attribute_value(a) for a in n.attribute},
            )
            for n in m.graph.node
        ]
        self.consts = {}
        for k, init in enumerate(m.graph.initializer):
            name = f"c{k}"
            arr = numpy_helper.to_array(init)
            # floats as float32 (SFace's folded weights), integers (shapes, pads) as they are
            arr = arr.astype(np.float32) if arr.dtype.kind == "f" else arr.copy()
            t = torch.from_numpy(arr)
            if init.name in trainable:
                self.register_parameter(name, torch.nn.Parameter(t))
            else:
                self.register_buffer(name, t)
            self.consts[init.name] = name
        self.input = start or m.graph.input[0].name
        self.output = stop or m.graph.output[0].name

    def forward(self, x):
        env = {self.input: x}

        def get(n):
            return env[n] if n in env else getattr(self, self.consts[n])

        def ready(n):
            return not n or n in env or n in self.consts

        for op, ins, outs, a in self.nodes:
            if outs[0] in env or (op != "Constant" and not all(ready(i) for i in ins)):
                continue  # upstream of ``start`` (or already computed)
            if op == "Conv":
                p = a.get("pads", [0, 0, 0, 0])
                y = F.conv2d(
                    F.pad(get(ins[0]), (p[1], p[3], p[0], p[2])),
                    get(ins[1]),
                    get(ins[2]) if len(ins) > 2 else None,
                    stride=a.get("strides", [1, 1]),
                    dilation=a.get("dilations", [1, 1]),
                    groups=a.get("group", 1),
                )
            elif op == "Mul":
                y = get(ins[0]) * get(ins[1])
            elif op == "Add":
                y = get(ins[0]) + get(ins[1])
            elif op == "Relu":
                y = F.relu(get(ins[0]))
            elif op in ("MaxPool", "AveragePool"):
                p = a.get("pads", [0, 0, 0, 0])
                if any(p):
                    raise NotImplementedError("padded pooling")
                fn = F.max_pool2d if op == "MaxPool" else F.avg_pool2d
                y = fn(
                    get(ins[0]),
                    a["kernel_shape"],
                    a.get("strides", a["kernel_shape"]),
                    ceil_mode=bool(a.get("ceil_mode", 0)),
                )
            elif op == "Pad":
                pads = get(ins[1]).tolist()
                r = len(pads) // 2
                # ONNX: [x1_begin, x2_begin, ..., x1_end, ...]; torch: last dim first
                tp = []
                for d in reversed(range(r)):
                    tp += [int(pads[d]), int(pads[d + r])]
                val = float(get(ins[2])) if len(ins) > 2 and ins[2] else 0.0
                y = F.pad(get(ins[0]), tp, value=val)
            elif op == "GlobalAveragePool":
                y = get(ins[0]).mean(dim=(2, 3), keepdim=True)
            elif op == "Flatten":
                y = torch.flatten(get(ins[0]), a.get("axis", 1))
            elif op == "Gemm":
                A, B = get(ins[0]), get(ins[1])
                if a.get("transA", 0):
                    A = A.T
                if a.get("transB", 0):
                    B = B.T
                y = a.get("alpha", 1.0) * (A @ B)
                if len(ins) > 2:
                    y = y + a.get("beta", 1.0) * get(ins[2])
            elif op == "Softmax":
                y = F.softmax(get(ins[0]), dim=a.get("axis", -1))
            elif op == "Sub":
                y = get(ins[0]) - get(ins[1])
            elif op == "PRelu":
                x0, slope = get(ins[0]), get(ins[1])
                y = torch.where(x0 >= 0, x0, x0 * slope)
            elif op == "BatchNormalization":
                y = F.batch_norm(
                    get(ins[0]),
                    get(ins[3]),
                    get(ins[4]),
                    get(ins[1]),
                    get(ins[2]),
                    training=False,
                    eps=a.get("epsilon", 1e-5),
                )
            elif op == "Reshape":
                shape = [int(v) for v in get(ins[1]).tolist()]
                src = get(ins[0])
                shape = [src.shape[i] if v == 0 else v for i, v in enumerate(shape)]
                y = src.reshape(shape)
            elif op in ("Dropout", "Identity"):
                y = get(ins[0])
            elif op == "Constant":
                y = torch.from_numpy(numpy_helper.to_array(a["value"]).copy())
            else:
                raise NotImplementedError(op)
            env[outs[0]] = y
            if outs[0] == self.output:
                break
        return env[self.output]


def check(path: str, shape) -> float:
    import onnxruntime as ort

    mod = OnnxModule(path).eval()
    x = np.random.default_rng(0).normal(0, 0.5, shape).astype(np.float32)
    ref = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"images": x})[0]
    with torch.no_grad():
        got = mod(torch.from_numpy(x)).numpy()
    return float(np.abs(got - ref).max())
