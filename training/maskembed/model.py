"""The student: SFace in torch through the project's ONNX-to-torch interpreter.

The shipped ``face_recognition_sface_2021dec_int8bq.onnx`` is repaired as the library does
(:func:`facecore.models.embedder.repair_sface`: DequantizeLinear folded, so every weight is a
float32 initialiser) and interpreted by :class:`training.restore.onnx_torch.OnnxModule`.
The trainable part is the tail from :data:`TAIL_START` (``conv_13_relu``, (N, 1024, 7, 7))
to ``fc1``: the last depthwise-separable block (conv_14), ``bn1``, the 50176 -> 128 fully
connected layer and its batch norm. Everything before it stays the frozen SFace, so its
output is computed once by onnxruntime (``training.maskembed.prepare``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch

from training.restore.onnx_torch import OnnxModule

SFACE_FILE = "face_recognition_sface_2021dec_int8bq.onnx"
TAIL_START = "conv_13_relu"
OUTPUT = "fc1"


def sface_proto(model_dir: Path) -> onnx.ModelProto:
    from facecore.models.embedder import repair_sface

    return repair_sface(onnx.load(str(Path(model_dir) / SFACE_FILE)))


def tail_nodes(m: onnx.ModelProto, start: str = TAIL_START) -> list[onnx.NodeProto]:
    """Nodes computed from ``start`` (graph order), plus the Reshape/Constant nodes they read."""
    live = {start}
    out = []
    produced_by = {o: n for n in m.graph.node for o in n.output}
    for n in m.graph.node:
        if any(i in live for i in n.input):
            out.append(n)
            live.update(n.output)
    # constant-only producers the tail reads (weight reshapes, the dropout ratio)
    consts = {i.name for i in m.graph.initializer}
    extra = []
    for n in out:
        for i in n.input:
            p = produced_by.get(i)
            if (
                p is not None
                and p not in out
                and p not in extra
                and all(j in consts or not j for j in p.input)
            ):
                extra.append(p)
    keep = {id(n) for n in out + extra}
    return [n for n in m.graph.node if id(n) in keep]


def tail_initializers(m: onnx.ModelProto, start: str = TAIL_START) -> list[str]:
    """Float initialisers the tail reads."""
    names = {i.name for i in m.graph.initializer if i.data_type == onnx.TensorProto.FLOAT}
    used = {i for n in tail_nodes(m, start) for i in n.input}
    return [i.name for i in m.graph.initializer if i.name in used and i.name in names]


def trainable_names(m: onnx.ModelProto, which: str = "tail") -> list[str]:
    """Initialisers to train: ``tail`` (all of the tail except batch-norm statistics) or
    ``fc`` (only the fully connected layer and its batch norm's scale and shift)."""
    bn_stats = set()
    for n in m.graph.node:
        if n.op_type == "BatchNormalization":
            bn_stats.update(n.input[3:5])
    names = [k for k in tail_initializers(m) if k not in bn_stats]
    if which == "fc":
        fc = next(n for n in m.graph.node if n.op_type == "Gemm")
        bn = next(
            n for n in m.graph.node if n.op_type == "BatchNormalization" and n.output[0] == OUTPUT
        )
        names = [k for k in names if k in set(fc.input[1:]) | set(bn.input[1:3])]
    elif which != "tail":
        raise ValueError(f"which: expected 'tail' or 'fc'; got {which!r}")
    return names


class Student(torch.nn.Module):
    """SFace's tail (``conv_13_relu`` -> ``fc1``) with chosen initialisers trainable."""

    def __init__(self, m: onnx.ModelProto, which: str = "tail"):
        super().__init__()
        self.names = trainable_names(m, which)
        self.net = OnnxModule(m, start=TAIL_START, stop=OUTPUT, trainable=self.names)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return self.net(feats)

    def state_arrays(self) -> dict[str, np.ndarray]:
        """The trainable initialisers by their ONNX names, as float32 arrays."""
        return {
            k: getattr(self.net, self.net.consts[k]).detach().numpy().astype(np.float32)
            for k in self.names
        }


def full_torch(m: onnx.ModelProto) -> OnnxModule:
    """The whole repaired SFace in torch (frozen), input RGB NCHW 0..255."""
    return OnnxModule(m, stop=OUTPUT)
