"""ONNX export of the restorer with the LaMa-style interface facecore's adapter runs.

    python -m training.restore.export --checkpoint /tmp/restore_unet/best.pt --out restore_unet.onnx

Inputs ``image`` (N, 3, H, W) RGB float32 in [0, 1] and ``mask`` (N, 1, H, W) float32, 1 = hole;
output ``output`` (N, 3, H, W) RGB in [0, 1] with the hole filled and the other pixels passed
through. Batch and spatial dims are dynamic (multiples of 8; trained at 128x128). Opset 17.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from .models import LamaStyle, RestoreUNet

OPSET = 17


def export(net: RestoreUNet, path: Path, *, size: int = 128) -> Path:
    """Export ``net`` wrapped in :class:`LamaStyle`; checks onnxruntime against PyTorch."""
    model = LamaStyle(net.eval().cpu()).eval()
    g = torch.Generator().manual_seed(0)
    img = torch.rand(2, 3, size, size, generator=g)
    mask = (torch.rand(2, 1, size, size, generator=g) > 0.6).float()
    path = Path(path)
    axes = {
        "image": {0: "n", 2: "h", 3: "w"},
        "mask": {0: "n", 2: "h", 3: "w"},
        "output": {0: "n", 2: "h", 3: "w"},
    }
    torch.onnx.export(
        model,
        (img, mask),
        str(path),
        input_names=["image", "mask"],
        output_names=["output"],
        dynamic_axes=axes,
        opset_version=OPSET,
        do_constant_folding=True,
        dynamo=False,
    )
    import onnx
    import onnxruntime as ort

    m = onnx.load(str(path))
    m.producer_name = "facecore training/restore"
    onnx.save(m, str(path))
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"image": img.numpy(), "mask": mask.numpy()})[0]
    with torch.no_grad():
        ref = model(img, mask).numpy()
    err = float(np.abs(got - ref).max())
    if err > 1e-4:
        raise RuntimeError(f"ONNX output differs from PyTorch by {err}")
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    ck = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    net = RestoreUNet()
    net.load_state_dict(ck["model"])
    print(export(net, Path(args.out), size=ck.get("args", {}).get("size", 128)))


if __name__ == "__main__":
    main()
