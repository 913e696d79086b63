"""Export a trained expression checkpoint to ONNX and check it against PyTorch.

    python -m training.expression.export --checkpoint /work/scratch/expr/run1/best.pt \\
        --out python/facecore/models/data/expression_fc.onnx

The graph: input ``input`` float32 ``(N, 1, 48, 48)`` = ``(grey - 128) / 64``, output
``probabilities`` ``(N, 7)`` (softmax inside; BatchNorm folded by the exporter), opset 13.
The calibration temperature is not folded in: the zoo entry carries it
(``temperature``) and :class:`facecore.models.expression.ExpressionModel` applies it.
"""

from __future__ import annotations

import argparse
import hashlib
import warnings
from pathlib import Path

import numpy as np
import torch

from .model import ExpressionNet

OPSET = 13


class WithSoftmax(torch.nn.Module):
    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x):
        return torch.softmax(self.net(x), dim=1)


def load_checkpoint(path: str | Path) -> ExpressionNet:
    ck = torch.load(path, map_location="cpu", weights_only=False)
    net = ExpressionNet(width=int(ck.get("args", {}).get("width", 16)))
    net.load_state_dict(ck["model"])
    return net.eval()


def export(net: torch.nn.Module, path: Path) -> float:
    """Write the ONNX file; return max |onnxruntime - PyTorch| on random inputs."""
    import onnx
    import onnxruntime as ort

    model = WithSoftmax(net).eval()
    x = torch.randn(4, 1, 48, 48)
    with warnings.catch_warnings():  # the TorchScript exporter's deprecation notice
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            model,
            (x,),
            str(path),
            input_names=["input"],
            output_names=["probabilities"],
            dynamic_axes={"input": {0: "N"}, "probabilities": {0: "N"}},
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )
    m = onnx.load(str(path))
    m.producer_name = "facecore training/expression"
    onnx.save(m, str(path))
    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = s.run(None, {"input": x.numpy()})[0]
    with torch.no_grad():
        ref = model(x).numpy()
    return float(np.abs(got - ref).max())


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    out = Path(args.out)
    err = export(load_checkpoint(args.checkpoint), out)
    if err > 1e-5:
        raise SystemExit(f"ONNX differs from PyTorch by {err}")
    data = out.read_bytes()
    print(
        f"{out}: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}, max |onnx - torch| {err:.2g}"
    )


if __name__ == "__main__":
    main()
