"""The age/gender network: dlib's age ResNet (``age-v1.onnx``, CC0) as a torch graph whose
last stage is fine-tuned, with two new heads.

* ``front``: the age ResNet from the 64x64 chip up to ``layer_22_relu`` (128 x 7 x 7),
  frozen; its outputs for the augmented training chips are computed once (onnxruntime) and
  cached (:mod:`training.agegender.features`);
* ``tail``: the rest of the ResNet (two residual blocks, 256 channels, 3 x 3), trainable,
  initialised from dlib's weights, then global average pooling (256-d);
* heads: ``age`` -- 121 logits for the ages 0 .. 120 (a distribution: DLDL-style training,
  expectation = the age, standard deviation = its uncertainty); ``gender`` -- one logit for
  P(male), divided by a temperature fitted on ``val.txt`` before export.

:class:`OnnxGraph` interprets the ONNX nodes with torch ops (Conv, Mul, Add, Relu, MaxPool,
AveragePool, Pad, GlobalAveragePool), so the whole network exports back to ONNX unchanged
in structure.
"""

from __future__ import annotations

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import helper, numpy_helper

CUT = "layer_22_relu"
FEATURE = "layer_3_relu"
AGES = 121  # bins 0 .. 120 years
MEAN = (122.781998, 117.000999, 104.297997)  # dlib's RGB means; inputs are (rgb - mean) / 256


class OnnxGraph(torch.nn.Module):
    """The nodes of an ONNX graph between two tensors as a torch module.

    Initializers become parameters (``trainable=True``) or buffers.
    """

    def __init__(self, model: onnx.ModelProto, start: str, end: str, *, trainable: bool) -> None:
        super().__init__()
        nodes = list(model.graph.node)
        inits = {i.name: i for i in model.graph.initializer}
        # nodes reachable from `start` up to and including the node producing `end`
        have = {start}
        keep = []
        for n in nodes:
            if any(i in have for i in n.input):
                keep.append(n)
                have.update(n.output)
            if end in n.output:
                break
        self.start, self.end = start, end
        self.nodes = []
        self.names: dict[str, str] = {}
        for n in keep:
            attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
            for i in n.input:
                if i in inits and i not in self.names:
                    key = f"w{len(self.names)}"
                    t = torch.from_numpy(numpy_helper.to_array(inits[i]).copy())
                    if trainable and t.dtype == torch.float32:
                        self.register_parameter(key, torch.nn.Parameter(t))
                    else:
                        self.register_buffer(key, t)
                    self.names[i] = key
            self.nodes.append((n.op_type, list(n.input), list(n.output), attrs))

    def _get(self, env, n):
        return env[n] if n in env else getattr(self, self.names[n])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        env = {self.start: x}
        for op, ins, outs, a in self.nodes:
            g = lambda k, ins=ins: self._get(env, ins[k])
            if op == "Conv":
                p = a.get("pads", [0, 0, 0, 0])
                if (
                    p[0] == p[2] and p[1] == p[3]
                ):  # symmetric: the conv's own padding (no Pad node in the export)
                    y = F.conv2d(
                        g(0),
                        g(1),
                        g(2) if len(ins) > 2 else None,
                        stride=a.get("strides", [1, 1]),
                        padding=(p[0], p[1]),
                    )
                else:
                    y = F.conv2d(
                        F.pad(g(0), (p[1], p[3], p[0], p[2])),
                        g(1),
                        g(2) if len(ins) > 2 else None,
                        stride=a.get("strides", [1, 1]),
                    )
            elif op == "Mul":
                y = g(0) * g(1)
            elif op == "Add":
                y = g(0) + g(1)
            elif op == "Relu":
                y = F.relu(g(0))
            elif op in ("MaxPool", "AveragePool"):
                if any(a.get("pads", [0, 0, 0, 0])):
                    raise NotImplementedError("padded pooling")
                fn = F.max_pool2d if op == "MaxPool" else F.avg_pool2d
                y = fn(
                    g(0),
                    a["kernel_shape"],
                    a.get("strides", a["kernel_shape"]),
                    ceil_mode=bool(a.get("ceil_mode", 0)),
                )
            elif op == "Pad":
                pads = [int(v) for v in getattr(self, self.names[ins[1]]).tolist()]
                r = len(pads) // 2
                tp: list[int] = []
                for d in reversed(range(r)):
                    tp += [pads[d], pads[d + r]]
                y = F.pad(g(0), tp)
            elif op == "GlobalAveragePool":
                y = g(0).mean(dim=(2, 3), keepdim=True)
            else:
                raise NotImplementedError(op)
            env[outs[0]] = y
            if outs[0] == self.end:
                return y
        return env[self.end]


class Heads(torch.nn.Module):
    """Age logits (N, 121) and gender logit (N,) from the pooled 256-d feature."""

    def __init__(self, dlib: onnx.ModelProto | None = None) -> None:
        super().__init__()
        self.age = torch.nn.Linear(256, AGES)
        self.gender = torch.nn.Linear(256, 1)
        self.register_buffer("temperature", torch.ones(()))
        if dlib is not None:  # start the age head from dlib's 81 bins (0..80), extend flat beyond
            inits = {i.name: numpy_helper.to_array(i) for i in dlib.graph.initializer}
            w, b = inits["layer_1_weights"].T, inits["layer_1_bias"]  # (81, 256), (81,)
            with torch.no_grad():
                self.age.weight[:81] = torch.from_numpy(w.copy())
                self.age.bias[:81] = torch.from_numpy(b.copy())
                self.age.weight[81:] = torch.from_numpy(w[80:81].copy())
                self.age.bias[81:] = float(b[80]) - 6.0

    def forward(self, f: torch.Tensor):
        f = f.flatten(1)
        return self.age(f), self.gender(f)[:, 0] / self.temperature


class Tail(torch.nn.Module):
    """Cached front activations (N, 128, 7, 7) -> (age logits, gender logit)."""

    def __init__(self, dlib: onnx.ModelProto) -> None:
        super().__init__()
        self.body = OnnxGraph(dlib, CUT, FEATURE, trainable=True)
        self.heads = Heads(dlib)

    def forward(self, x):
        return self.heads(self.body(x).mean(dim=(2, 3)))


class AgeGenderNet(torch.nn.Module):
    """The exported network: normalised 64x64 RGB chip -> (age_prob (N, 121), p_male (N,)).

    With ``gender`` (dlib's ``gender-v1.onnx``) and ``gender_head`` (from
    :mod:`training.agegender.gender_fusion`), P(male) is the logistic regression over dlib's
    frozen gender features of the chip average-pooled to 32 px and the tail's pooled feature;
    without them, the tail's own gender head.
    """

    def __init__(
        self,
        dlib: onnx.ModelProto,
        tail: Tail,
        *,
        gender: onnx.ModelProto | None = None,
        gender_head: dict | None = None,
    ) -> None:
        super().__init__()
        self.front = OnnxGraph(dlib, dlib.graph.input[0].name, CUT, trainable=False)
        self.tail = tail
        self.fused = gender is not None and gender_head is not None
        if self.fused:
            self.gfront = OnnxGraph(
                gender, gender.graph.input[0].name, "layer_5_multiply", trainable=False
            )
            t = float(gender_head["temperature"])
            self.register_buffer("w_gender", gender_head["w_gender"].float()[:, None] / t)
            self.register_buffer("w_gap", gender_head["w_gap"].float()[:, None] / t)
            self.register_buffer("b_gender", torch.tensor([float(gender_head["b"]) / t]))

    def forward(self, x):
        f = self.tail.body(self.front(x)).mean(dim=(2, 3))
        age, g = self.tail.heads(f)
        if self.fused:
            gf = self.gfront(F.avg_pool2d(x, 2)).flatten(1)
            g = (gf @ self.w_gender + f @ self.w_gap)[:, 0] + self.b_gender
        return F.softmax(age, dim=1), torch.sigmoid(g)


def expected_age(prob: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) in years of (N, 121) age probabilities."""
    bins = np.arange(prob.shape[1], dtype=np.float64)
    m = prob @ bins
    v = prob @ (bins**2) - m**2
    return m.astype(np.float32), np.sqrt(np.maximum(v, 0)).astype(np.float32)
