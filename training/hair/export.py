"""ONNX export of the hair models (opset 17, batch dimension dynamic, BN folded by the exporter).

python -m training.hair.export --model dense --checkpoint /tmp/hair_dense/best.pt --out hair_dense.onnx
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from .models import HairDense, HairPatch

OPSET = 17


def export(
    model: torch.nn.Module, kind: str, path: Path, *, size: int = 128, window: int = 31
) -> Path:
    """Export ``model`` (eval mode) to ``path``; input ``input`` (N, 3, S, S), output ``prob``.

    The dense model's spatial dims are dynamic too (any multiple of 32 runs); the patch model's
    window is fixed. Checks the ONNX output against PyTorch with onnxruntime.
    """
    model = model.eval().cpu()
    side = size if kind == "dense" else window
    x = torch.randn(2, 3, side, side)
    axes = {"input": {0: "n"}, "prob": {0: "n"}}
    if kind == "dense":
        axes["input"].update({2: "h", 3: "w"})
        axes["prob"].update({2: "h", 3: "w"})
    path = Path(path)
    torch.onnx.export(
        model,
        (x,),
        str(path),
        input_names=["input"],
        output_names=["prob"],
        dynamic_axes=axes,
        opset_version=OPSET,
        do_constant_folding=True,
        dynamo=False,
    )
    import onnx
    import onnxruntime as ort

    m = onnx.load(str(path))
    m.producer_name = "facecore training/hair"
    onnx.save(m, str(path))
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"input": x.numpy()})[0]
    with torch.no_grad():
        ref = model(x).numpy()
    err = float(np.abs(got - ref).max())
    if err > 1e-4:
        raise RuntimeError(f"ONNX output differs from PyTorch by {err}")
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", choices=("dense", "patch"), required=True)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    ck = torch.load(args.checkpoint, map_location="cpu")
    a = ck.get("args", {})
    model = HairDense() if args.model == "dense" else HairPatch(a.get("window", 31))
    model.load_state_dict(ck["model"])
    print(
        export(
            model, args.model, Path(args.out), size=a.get("size", 128), window=a.get("window", 31)
        )
    )


if __name__ == "__main__":
    main()
