"""Train facecore's expression model on FER2013 (CPU, one thread, wall-clock budget).

    python -m training.expression.train --out /work/scratch/expr/run1 --minutes 33
    python -m training.expression.train --out /work/scratch/expr/run1 --minutes 33 --resume

Data: ``fer2013_train`` minus a seeded 10 % per-class validation split (see
:mod:`training.expression.data`). Framing: FER's own 48x48 face crops; the pipeline cuts
chips with the same framing from the 5 landmarks (``facecore.models.expression.FER_TEMPLATE``).
Augmentation per batch (one ``affine_grid`` + ``grid_sample``): rotation +-12 deg, scale
0.88-1.12, shift +-8 %, horizontal flip, brightness/contrast +-20 %. Loss: cross-entropy
with class weights (inverse square root of the class frequency, mean 1), so the rare
``disgust`` class is not ignored. AdamW, the learning rate a warm-up then a cosine to 0 over
``--minutes`` of training wall time (so the run ends on time whatever else the shared
machine does). Every ``--eval-every`` steps: val accuracy; best weights -> ``best.pt``,
state -> ``last.pt`` (``--resume`` continues from it, wall time included).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .data import CLASSES, load_part, split_train_val
from .model import MEAN, STD, ExpressionNet, n_params

log = logging.getLogger("train")


def to_tensor(x: np.ndarray) -> torch.Tensor:
    """(N, 48, 48) uint8 -> (N, 1, 48, 48) float32 normalised."""
    return (torch.from_numpy(np.ascontiguousarray(x)).float().unsqueeze(1) - MEAN) / STD


def augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    n = x.shape[0]
    ang = (torch.rand(n, generator=g) * 2 - 1) * math.radians(12)
    sc = 1.0 / (0.88 + torch.rand(n, generator=g) * 0.24)
    tx, ty = [(torch.rand(n, generator=g) * 2 - 1) * 0.16 for _ in range(2)]
    flip = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0)
    cos, sin = torch.cos(ang) * sc, torch.sin(ang) * sc
    theta = torch.stack(
        [torch.stack([cos * flip, -sin, tx], 1), torch.stack([sin * flip, cos, ty], 1)], 1
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    y = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    c = 1 + (torch.rand(n, 1, 1, 1, generator=g) * 2 - 1) * 0.2
    b = (torch.rand(n, 1, 1, 1, generator=g) * 2 - 1) * 0.2 * (128 / STD)
    return y * c + b


@torch.no_grad()
def logits_of(model, x: np.ndarray, bs: int = 512) -> np.ndarray:
    model.eval()
    device = next(model.parameters()).device
    with torch.no_grad():
        return np.concatenate(
            [model(to_tensor(x[i : i + bs]).to(device)).cpu().numpy() for i in range(0, len(x), bs)]
        )


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--out", required=True)
    ap.add_argument("--minutes", type=float, default=33.0)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--wd", type=float, default=5e-4)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--eval-every", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument(
        "--device", default="cpu", help="torch device: cpu, or cuda on a lent GPU (same code)"
    )
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    X, y, _ = load_part("train")
    tr, va = split_train_val(y)
    Xtr, ytr, Xva, yva = X[tr], y[tr], X[va], y[va]
    freq = np.bincount(ytr, minlength=len(CLASSES)) / len(ytr)
    w = 1 / np.sqrt(freq)
    w = torch.tensor(w / w.mean(), dtype=torch.float32, device=device)
    log.info(
        "train %d val %d class weights %s",
        len(ytr),
        len(yva),
        np.round(w.cpu().numpy(), 2).tolist(),
    )

    model = ExpressionNet(width=args.width).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.wd)
    g = torch.Generator().manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    state = {"step": 0, "elapsed": 0.0, "best_acc": 0.0, "history": []}
    if args.resume and (out / "last.pt").is_file():
        ck = torch.load(out / "last.pt", map_location="cpu", weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        state = ck["state"]
        g.set_state(ck["gen"])
        rng = np.random.default_rng(args.seed + state["step"])
        log.info("resumed at step %d, %.1f min", state["step"], state["elapsed"] / 60)
    log.info("params %d", n_params(model))
    budget = args.minutes * 60
    warm = 0.03
    perm, pos = rng.permutation(len(ytr)), 0
    t_last = time.perf_counter()
    loss_avg = None
    while state["elapsed"] < budget:
        model.train()
        if pos + args.batch > len(perm):
            perm, pos = rng.permutation(len(ytr)), 0
        idx = perm[pos : pos + args.batch]
        pos += args.batch
        frac = state["elapsed"] / budget
        lr = args.lr * (
            frac / warm
            if frac < warm
            else 0.5 * (1 + math.cos(math.pi * (frac - warm) / (1 - warm)))
        )
        for pg in opt.param_groups:
            pg["lr"] = lr
        xb = augment(to_tensor(Xtr[idx]), g).to(device)  # augmented on the CPU (seeded)
        loss = F.cross_entropy(model(xb), torch.from_numpy(ytr[idx]).to(device), weight=w)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss_avg = loss.item() if loss_avg is None else 0.98 * loss_avg + 0.02 * loss.item()
        state["step"] += 1
        now = time.perf_counter()
        state["elapsed"] += now - t_last
        t_last = now
        done = state["elapsed"] >= budget
        if state["step"] % args.eval_every == 0 or done:
            t0 = time.perf_counter()
            acc = float((logits_of(model, Xva).argmax(1) == yva).mean())
            state["history"].append(
                {
                    "step": state["step"],
                    "minutes": round(state["elapsed"] / 60, 2),
                    "loss": round(loss_avg, 4),
                    "val_acc": round(acc, 4),
                }
            )
            log.info(
                "step %d  %.1f min  epoch %.2f  lr %.2e  loss %.3f  val acc %.4f",
                state["step"],
                state["elapsed"] / 60,
                state["step"] * args.batch / len(ytr),
                lr,
                loss_avg,
                acc,
            )
            if acc > state["best_acc"]:
                state["best_acc"] = acc
                torch.save(
                    {
                        "model": model.state_dict(),
                        "args": vars(args),
                        "val_acc": acc,
                        "step": state["step"],
                    },
                    out / "best.pt",
                )
            torch.save(
                {
                    "model": model.state_dict(),
                    "opt": opt.state_dict(),
                    "state": state,
                    "gen": g.get_state(),
                    "args": vars(args),
                },
                out / "last.pt",
            )
            t_last = time.perf_counter()  # evaluation time is not training time
            del t0
    (out / "history.json").write_text(json.dumps(state, indent=1))
    log.info("done: best val acc %.4f", state["best_acc"])


if __name__ == "__main__":
    main()
