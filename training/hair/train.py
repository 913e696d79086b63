"""Train a hair model (dense segmenter or patch classifier) and export it to ONNX.

    python -m training.hair.train --model dense --size 128 --minutes 25 --out /tmp/hair_dense
    python -m training.hair.train --model patch --window 31 --size 128 --minutes 12 --out /tmp/hair_patch
    python -m training.hair.train --model dense --device cuda ...    # same code on a GPU

Train on the ``train`` splits of celeba_hq, lfw_parts and figaro (minus the figaro holdout,
see :mod:`training.hair.data`); choose the checkpoint on the ``val`` splits. The learning rate
follows a cosine from ``--lr`` to 0 over ``--steps`` steps, or over ``--minutes`` of wall time
when that comes first (so a CPU run ends on time whatever else the machine does); every
``--eval-every`` steps the val IoU (summed over the three val splits at model resolution) is
measured and the best weights are kept in ``<out>/best.pt``; ``<out>/last.pt`` lets a run
resume (``--resume``). At the end the best weights are exported to ``<out>/<name>.onnx``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from .data import SETS, Augment, data_root, load_split
from .export import export
from .models import MEAN, STD, HairDense, HairPatch, n_params

log = logging.getLogger("train")


def to_tensor(x: np.ndarray, device) -> torch.Tensor:
    """(N, H, W, 3) uint8 BGR -> float32 NCHW normalised."""
    t = torch.from_numpy(np.ascontiguousarray(x)).to(device).permute(0, 3, 1, 2).float()
    return (t - MEAN) / STD


def dice_loss(logits, target):
    p = torch.sigmoid(logits)
    inter = (p * target).sum((1, 2, 3))
    den = p.sum((1, 2, 3)) + target.sum((1, 2, 3))
    return (1 - (2 * inter + 1) / (den + 1)).mean()


def dense_batch(X, Y, aug, rng, bs, size):
    idx = rng.integers(0, len(X), bs)
    xs, ys = [], []
    for i in idx:
        a, b = aug(X[i], Y[i], size)
        xs.append(a)
        ys.append(b)
    return np.stack(xs), np.stack(ys)[:, None].astype(np.float32)


def patch_batch(X, Y, aug, rng, bs, size, window):
    """``bs`` windows, half centred on hair, half not, from ``bs // 8`` augmented images."""
    r = window // 2
    per = 8
    xs, ys = [], []
    while len(xs) < bs:
        i = rng.integers(0, len(X))
        a, b = aug(X[i], Y[i], size)
        a = cv2.copyMakeBorder(a, r, r, r, r, cv2.BORDER_CONSTANT, value=0)
        hair = np.argwhere(b >= 0.5)
        bg = np.argwhere(b < 0.5)
        for k in range(per):
            pool = hair if (k % 2 == 0 and len(hair)) else bg
            y, x = pool[rng.integers(0, len(pool))]
            xs.append(a[y : y + window, x : x + window])
            ys.append(float(b[y, x] >= 0.5))
    return np.stack(xs[:bs]), np.array(ys[:bs], np.float32)[:, None]


@torch.no_grad()
def evaluate(model, kind, val, device, size, window, stride=8):
    """Summed hair IoU over all val images (at model resolution)."""
    model.eval()
    inter = union = 0.0
    per = {}
    for name, (X, Y) in val.items():
        i_s = u_s = 0.0
        for k in range(0, len(X), 32):
            if kind == "dense":
                p = model(to_tensor(X[k : k + 32], device))[:, 0].cpu().numpy()
            else:
                p = np.stack([patch_map(model, x, device, window, stride) for x in X[k : k + 32]])
            pred = p >= 0.5
            gt = Y[k : k + 32].astype(bool)
            i_s += float((pred & gt).sum())
            u_s += float((pred | gt).sum())
        per[name] = i_s / max(u_s, 1)
        inter += i_s
        union += u_s
    model.train()
    return inter / max(union, 1), per


def patch_map(model, img, device, window, stride):
    """Patch classifier over every ``stride``-th pixel centre of one image (torch, for val only)."""
    r = window // 2
    a = cv2.copyMakeBorder(img, r, r, r, r, cv2.BORDER_CONSTANT, value=0)
    t = to_tensor(a[None], device)
    win = F.unfold(t, window, stride=stride)  # (1, 3*w*w, L)
    n = win.shape[-1]
    win = win[0].T.reshape(n, 3, window, window)
    s = torch.cat([model(win[j : j + 1024]) for j in range(0, n, 1024)])[:, 0]
    g = (img.shape[0] - 1) // stride + 1
    s = s.reshape(g, -1).cpu().numpy()
    return cv2.resize(s, (img.shape[1], img.shape[0]), interpolation=cv2.INTER_LINEAR)


def export_best(model, out: Path, args, *, best, step, start, kind, size, window=31) -> Path:
    """Load ``out/best.pt`` into ``model``, export it to ``out/hair_<kind>.onnx`` and write
    ``out/result.json`` (best val IoU, its step, steps run, minutes, parameters, arguments)."""
    ck = torch.load(out / "best.pt", map_location="cpu")
    model.load_state_dict(ck["model"])
    path = export(model, kind, out / f"hair_{kind}.onnx", size=size, window=window)
    result = {
        "best_val_iou": best,
        "best_step": ck["step"],
        "steps": step,
        "minutes": (time.time() - start) / 60,
        "onnx": str(path),
        "params": n_params(model),
        "args": vars(args),
    }
    (out / "result.json").write_text(json.dumps(result, indent=2))
    log.info("exported %s (best val IoU %.4f at step %d)", path, best, ck["step"])
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--model", choices=("dense", "patch"), required=True)
    ap.add_argument(
        "--data", default=None, help="data dir (default $FACECORE_DATA_DIR or ../shared/data)"
    )
    ap.add_argument("--out", required=True, help="output folder (checkpoints, log, ONNX)")
    ap.add_argument("--size", type=int, default=128, help="image side the model sees (default 128)")
    ap.add_argument("--window", type=int, default=31, help="patch window side (patch model)")
    ap.add_argument("--batch", type=int, default=None, help="batch size (dense 16, patch 256)")
    ap.add_argument(
        "--lr", type=float, default=None, help="peak learning rate (dense 4e-3, patch 2e-3)"
    )
    ap.add_argument("--steps", type=int, default=100000)
    ap.add_argument("--minutes", type=float, default=25.0, help="wall-time budget for the schedule")
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--eval-every", type=int, default=300)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--resume",
        action="store_true",
        help="continue <out>/last.pt (weights, optimiser, schedule)",
    )
    ap.add_argument(
        "--init", default=None, help="start from these weights (a best.pt) with a fresh schedule"
    )
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
    bs = args.batch or (16 if args.model == "dense" else 256)
    lr0 = args.lr or (4e-3 if args.model == "dense" else 2e-3)

    root = data_root(args.data)
    t0 = time.time()
    train = [load_split(root, s, "train", args.size) for s in SETS]
    X = np.concatenate([t[0] for t in train])
    Y = np.concatenate([t[1] for t in train])
    val = {s: load_split(root, s, "val", args.size) for s in SETS}
    if args.model == "patch":  # val on a subset: the torch patch map is slow on one thread
        val = {s: (v[0][::4], v[1][::4]) for s, v in val.items()}
    log.info(
        "data: %d train, val %s, %.1fs",
        len(X),
        {k: len(v[0]) for k, v in val.items()},
        time.time() - t0,
    )

    model = (HairDense() if args.model == "dense" else HairPatch(args.window)).to(device)
    log.info("model %s: %d parameters", args.model, n_params(model))
    opt = torch.optim.AdamW(model.parameters(), lr=lr0, weight_decay=1e-4)
    aug = Augment(rng)
    step, best, elapsed0 = 0, -1.0, 0.0
    if args.init:
        model.load_state_dict(torch.load(args.init, map_location=device)["model"])
        best, _ = evaluate(model, args.model, val, device, args.size, args.window)
        torch.save(
            {"model": model.state_dict(), "step": 0, "iou": best, "args": vars(args)},
            out / "best.pt",
        )
        log.info("initialised from %s: val IoU %.4f", args.init, best)
    if args.resume and (out / "last.pt").exists():
        ck = torch.load(out / "last.pt", map_location=device)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step, best, elapsed0 = ck["step"], ck["best"], ck["elapsed"]
        log.info("resumed at step %d (best %.4f)", step, best)

    start = time.time() - elapsed0
    budget = args.minutes * 60
    hist = []
    while True:
        frac = max(step / args.steps, (time.time() - start) / budget)
        if frac >= 1:
            break
        lr = lr0 * min(1.0, (step + 1) / args.warmup) * 0.5 * (1 + math.cos(math.pi * frac))
        for g in opt.param_groups:
            g["lr"] = lr
        if args.model == "dense":
            xb, yb = dense_batch(X, Y, aug, rng, bs, args.size)
            yb = torch.from_numpy(yb).to(device)
            logits = model.logits(to_tensor(xb, device))
            loss = F.binary_cross_entropy_with_logits(logits, yb) + dice_loss(logits, yb)
        else:
            xb, yb = patch_batch(X, Y, aug, rng, bs, args.size, args.window)
            logits = model.logits(to_tensor(xb, device))
            loss = F.binary_cross_entropy_with_logits(logits, torch.from_numpy(yb).to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        hist.append(loss.item())
        if step % 50 == 0:
            log.info(
                "step %d lr %.2e loss %.4f (%.0fs)",
                step,
                lr,
                np.mean(hist[-50:]),
                time.time() - start,
            )
        if step % args.eval_every == 0:
            iou, per = evaluate(model, args.model, val, device, args.size, args.window)
            log.info("step %d val IoU %.4f %s", step, iou, {k: round(v, 4) for k, v in per.items()})
            if iou > best:
                best = iou
                torch.save(
                    {"model": model.state_dict(), "step": step, "iou": iou, "args": vars(args)},
                    out / "best.pt",
                )
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

    iou, per = evaluate(model, args.model, val, device, args.size, args.window)
    log.info("final step %d val IoU %.4f %s", step, iou, {k: round(v, 4) for k, v in per.items()})
    if iou > best:
        best = iou
        torch.save(
            {"model": model.state_dict(), "step": step, "iou": iou, "args": vars(args)},
            out / "best.pt",
        )
    model = HairDense() if args.model == "dense" else HairPatch(args.window)
    export_best(
        model,
        out,
        args,
        best=best,
        step=step,
        start=start,
        kind=args.model,
        size=args.size,
        window=args.window,
    )


if __name__ == "__main__":
    main()
