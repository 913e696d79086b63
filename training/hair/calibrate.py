"""Choose a logit offset for a trained hair model on the val splits and fold it into the weights.

    python -m training.hair.calibrate --model patch --checkpoint /tmp/hair_patch2/best.pt --out /tmp/hair_patch2/cal.pt
    python -m training.hair.export --model patch --checkpoint /tmp/hair_patch2/cal.pt --out /tmp/hair_patch2/hair_patch.onnx

Why: the patch classifier is trained on balanced windows (half centred on hair, half not),
so its probabilities assume a 50 % hair prior, while hair covers about 10 % (LFW) to 35 %
(Figaro) of the val images: at ``p >= 0.5`` it over-predicts hair. Adding a constant ``b`` to
the logit (``sigmoid(z + b)``) is the same as thresholding at another probability, but keeps
``p >= 0.5`` (what :class:`facecore.hair.HairRecolor`, the refinement and the recolour blend
assume) meaningful. ``b`` is chosen on the val splits (the training script's val: the same
images and resolution as ``train.py``'s checkpoint choice) to maximise the summed hair IoU
over all three sets, from a grid of 0.25 steps in [-3, 3]; it is added to the bias of the last
layer (the dense model's 1x1 head: bilinear upsampling is linear with weights summing to 1, so
the offset commutes with it). The written checkpoint keeps ``args`` and records ``logit_offset``.
"""

from __future__ import annotations

import argparse
import logging

import numpy as np
import torch
import torch.nn.functional as F

from .data import SETS, data_root, load_split
from .models import HairDense, HairPatch
from .train import to_tensor

log = logging.getLogger("calibrate")


@torch.no_grad()
def val_logits(model, kind, val, window, stride=8):
    """Per set: (logits (N, S, S) float32, masks (N, S, S) bool) at model resolution."""
    import cv2

    model.eval()
    out = {}
    for name, (X, Y) in val.items():
        zs = []
        for k in range(0, len(X), 32):
            if kind == "dense":
                zs.append(model.logits(to_tensor(X[k : k + 32], "cpu"))[:, 0].numpy())
            else:
                for img in X[k : k + 32]:
                    r = window // 2
                    a = cv2.copyMakeBorder(img, r, r, r, r, cv2.BORDER_CONSTANT, value=0)
                    win = F.unfold(to_tensor(a[None], "cpu"), window, stride=stride)
                    n = win.shape[-1]
                    win = win[0].T.reshape(n, 3, window, window)
                    s = torch.cat([model.logits(win[j : j + 1024]) for j in range(0, n, 1024)])[
                        :, 0
                    ]
                    g = (img.shape[0] - 1) // stride + 1
                    s = s.reshape(g, -1).numpy()
                    zs.append(
                        cv2.resize(s, (img.shape[1], img.shape[0]), interpolation=cv2.INTER_LINEAR)[
                            None
                        ]
                    )
        out[name] = (np.concatenate(zs), Y.astype(bool))
    return out


def sweep(logits, offsets):
    rows = []
    for b in offsets:
        inter = union = 0.0
        per = {}
        for name, (z, gt) in logits.items():
            pred = z + b >= 0
            i, u = float((pred & gt).sum()), float((pred | gt).sum())
            per[name] = i / max(u, 1)
            inter += i
            union += u
        rows.append((float(b), inter / max(union, 1), per))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--model", choices=("dense", "patch"), required=True)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--data", default=None)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    ck = torch.load(args.checkpoint, map_location="cpu")
    a = ck.get("args", {})
    size, window = a.get("size", 128), a.get("window", 31)
    model = HairDense() if args.model == "dense" else HairPatch(window)
    model.load_state_dict(ck["model"])
    root = data_root(args.data)
    val = {s: load_split(root, s, "val", size) for s in SETS}
    if args.model == "patch":  # the same subset train.py chooses checkpoints on
        val = {s: (v[0][::4], v[1][::4]) for s, v in val.items()}
    z = val_logits(model, args.model, val, window)
    rows = sweep(z, np.arange(-3, 3.001, 0.25))
    for b, iou, per in rows:
        log.info("offset %+.2f val IoU %.4f %s", b, iou, {k: round(v, 4) for k, v in per.items()})
    b, iou, per = max(rows, key=lambda r: r[1])
    base = next(r for r in rows if r[0] == 0.0)
    log.info("chosen offset %+.2f: val IoU %.4f (offset 0: %.4f)", b, iou, base[1])
    last = model.head if args.model == "dense" else model.fc[-1]
    with torch.no_grad():
        last.bias += b
    torch.save(
        {
            "model": model.state_dict(),
            "step": ck.get("step"),
            "iou": iou,
            "args": a,
            "logit_offset": b,
            "iou_offset0": base[1],
            "from": args.checkpoint,
        },
        args.out,
    )
    print(args.out, f"offset {b:+.2f}", f"val IoU {base[1]:.4f} -> {iou:.4f}")


if __name__ == "__main__":
    main()
