"""Fine-tune the dense hair model on person-region framings (what ``facecore recolor`` feeds it).

    python -m training.hair.train_region --init-onnx python/facecore/models/data/hair_dense.onnx \\
        --minutes 30 --out /tmp/hair_region [--resume]

The shipped model was trained on 128 px letterboxed images; on photos it sees 320 x 256 person
regions (the head at the same pixel scale, plus torso and background around it), whose global
pooling context it never saw. This trains on exactly those framings (:mod:`training.hair.regions`)
with scale / rotation / shift / mirror augmentation, all train splits plus the CelebAMask-HQ
hair class. Starting weights: ``--init-onnx`` (a shipped graph, BN folded: its convolution
weights are loaded and every BatchNorm becomes ``x + bias`` with frozen statistics) or
``--init`` (a ``best.pt``). Checkpoint choice on the val regions (lfw_parts/val, figaro-holdout
images with a face, celeba_hq/val): IoU of ``p * person prior >= 0.5`` summed over the three.
``<out>/last.pt`` resumes (``--resume``); the best weights are exported to ``<out>/hair_dense.onnx``.
"""

from __future__ import annotations

import argparse
import logging
import math
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .data import data_root
from .models import HairDense, n_params
from .regions import RegionAugment, load_images, region_matrices
from .train import dice_loss, export_best, to_tensor

log = logging.getLogger("train_region")
SHAPE = (320, 256)


def load_onnx_weights(model: HairDense, path: str) -> None:
    """Copy a BN-folded ONNX export of :class:`HairDense` into ``model`` (convs in graph order)."""
    import onnx
    from onnx import numpy_helper

    g = onnx.load(path).graph
    inits = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    convs = [n for n in g.node if n.op_type == "Conv"]
    mods = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if len(convs) != len(mods):
        raise ValueError(f"{path}: {len(convs)} convs, model has {len(mods)}")
    bns = {}
    for m in model.modules():  # conv_bn = Sequential(conv, bn, relu)
        if isinstance(m, nn.Sequential) and len(m) == 3 and isinstance(m[1], nn.BatchNorm2d):
            bns[id(m[0])] = m[1]
    with torch.no_grad():
        for node, conv in zip(convs, mods):
            w = inits[node.input[1]].copy()
            b = inits[node.input[2]] if len(node.input) > 2 else np.zeros(w.shape[0], np.float32)
            if tuple(w.shape) != tuple(conv.weight.shape):
                raise ValueError(f"shape mismatch {w.shape} vs {tuple(conv.weight.shape)}")
            conv.weight.copy_(torch.from_numpy(w))
            bn = bns.get(id(conv))
            if bn is None:
                conv.bias.copy_(torch.from_numpy(b))
            else:
                bn.weight.fill_(1.0)
                bn.bias.copy_(torch.from_numpy(b))
                bn.running_mean.zero_()
                bn.running_var.fill_(1.0 - bn.eps)


def freeze_bn(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()


def region_prior() -> np.ndarray:
    from facecore.hair import HairRecolor

    return HairRecolor("dense", detect=False, threads=1).prior()


@torch.no_grad()
def evaluate(model, val, prior, device):
    model.eval()
    per, inter, union = {}, 0.0, 0.0
    for name, (X, Y) in val.items():
        i_s = u_s = 0.0
        for k in range(0, len(X), 16):
            p = model(to_tensor(X[k : k + 16], device))[:, 0].cpu().numpy() * prior
            pred, gt = p >= 0.5, Y[k : k + 16] >= 0.5
            i_s += float((pred & gt).sum())
            u_s += float((pred | gt).sum())
        per[name] = i_s / max(u_s, 1)
        inter += i_s
        union += u_s
    model.train()
    freeze_bn(model)
    return inter / max(union, 1), per


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--data", default=None)
    ap.add_argument("--out", required=True)
    ap.add_argument("--init-onnx", default=None)
    ap.add_argument("--init", default=None)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--steps", type=int, default=100000)
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument(
        "--val-every", type=int, default=2, help="checkpoint choice on every n-th val image"
    )
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--resume", action="store_true")
    args = ap.parse_args(argv)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(message)s",
        handlers=[logging.StreamHandler(), logging.FileHandler(out / "train.log")],
    )
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(1)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    device = torch.device(args.device)
    root = data_root(args.data)
    t0 = time.time()
    train = load_images(root, "train")
    mats, face = region_matrices(train, out / "train_regions.npz")
    vitems = load_images(root, "val")
    vmats, vface = region_matrices(vitems, out / "val_regions.npz")
    aug = RegionAugment(rng)
    val: dict[str, tuple[list, list]] = {}
    for k, ((s, _, img, m), M, f) in enumerate(zip(vitems, vmats, vface)):
        if not f or k % args.val_every:
            continue
        x, y = aug.sample(img, m, M, SHAPE, augment=False)
        val.setdefault(s, ([], []))
        val[s][0].append(x)
        val[s][1].append(y)
    val = {k: (np.stack(a), np.stack(b)) for k, (a, b) in val.items()}
    log.info(
        "data: %d train (%d with a face), val %s, %.1fs",
        len(train),
        int(face.sum()),
        {k: len(v[0]) for k, v in val.items()},
        time.time() - t0,
    )
    prior = region_prior()

    model = HairDense().to(device)
    if args.init_onnx:
        load_onnx_weights(model, args.init_onnx)
    if args.init:
        model.load_state_dict(torch.load(args.init, map_location=device)["model"])
    log.info("model: %d parameters", n_params(model))
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    step, elapsed0 = 0, 0.0
    best = -1.0
    if args.resume and (out / "last.pt").exists():
        ck = torch.load(out / "last.pt", map_location=device)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step, best, elapsed0 = ck["step"], ck["best"], ck["elapsed"]
        rng = np.random.default_rng(args.seed + step)
        aug = RegionAugment(rng)
        log.info("resumed at step %d (best %.4f)", step, best)
    else:
        best, per = evaluate(model, val, prior, device)
        log.info("start: val IoU %.4f %s", best, {k: round(v, 4) for k, v in per.items()})
        torch.save({"model": model.state_dict(), "step": 0, "iou": best}, out / "best.pt")
    model.train()
    freeze_bn(model)
    start = time.time() - elapsed0
    budget = args.minutes * 60
    hist: list[float] = []
    while True:
        frac = max(step / args.steps, (time.time() - start) / budget)
        if frac >= 1:
            break
        lr = args.lr * min(1.0, (step + 1) / 50) * 0.5 * (1 + math.cos(math.pi * frac))
        for g in opt.param_groups:
            g["lr"] = lr
        idx = rng.integers(0, len(train), args.batch)
        xs, ys = zip(*(aug.sample(train[i][2], train[i][3], mats[i], SHAPE) for i in idx))
        xb = to_tensor(np.stack(xs), device)
        yb = torch.from_numpy(np.stack(ys)[:, None].astype(np.float32)).to(device)
        logits = model.logits(xb)
        loss = F.binary_cross_entropy_with_logits(logits, yb) + dice_loss(logits, yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        hist.append(loss.item())
        if step % 25 == 0:
            log.info(
                "step %d lr %.2e loss %.4f (%.0fs)",
                step,
                lr,
                np.mean(hist[-25:]),
                time.time() - start,
            )
        if step % args.eval_every == 0:
            iou, per = evaluate(model, val, prior, device)
            log.info("step %d val IoU %.4f %s", step, iou, {k: round(v, 4) for k, v in per.items()})
            if iou > best:
                best = iou
                torch.save({"model": model.state_dict(), "step": step, "iou": iou}, out / "best.pt")
            torch.save(
                {
                    "model": model.state_dict(),
                    "opt": opt.state_dict(),
                    "step": step,
                    "best": best,
                    "elapsed": time.time() - start,
                },
                out / "last.pt",
            )
    iou, per = evaluate(model, val, prior, device)
    log.info("final step %d val IoU %.4f %s", step, iou, {k: round(v, 4) for k, v in per.items()})
    if iou > best:
        best = iou
        torch.save({"model": model.state_dict(), "step": step, "iou": iou}, out / "best.pt")
    export_best(HairDense(), out, args, best=best, step=step, start=start, kind="dense", size=128)


if __name__ == "__main__":
    main()
