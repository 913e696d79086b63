"""Train facecore's age/gender model (``agegender``) on UTKFace, on the CPU, resumably.

One command reproduces everything (chips, cached front activations, training, the fused
gender head and its temperature on ``val.txt``), then export and register::

    FACECORE_DATA_DIR=../shared/data FACECORE_MODEL_DIR=../shared/models \\
        nohup python -m training.agegender.train --out /work/cache/agegender/run \\
        > /work/cache/agegender/train.log 2>&1 &
    # interrupted? the same command with --resume continues from the last epoch; it ends
    # with training.agegender.gender_fusion (the fused gender head) -> run/fused.pt
    python -m training.agegender.export --checkpoint /work/cache/agegender/run/fused.pt --out agegender.onnx
    python -m training.agegender.register agegender.onnx

Data: ``age/utkface_extra_train`` (19,310) + ``age/utkface/train.txt`` (1,498) train;
``val.txt`` chooses the epoch and fits the temperature; ``test.txt`` is not read here.
Sampling: with replacement, each face weighted by ``n_decade ** -0.75`` (UTKFace is skewed
young; the evaluation set is flat over decades), one of the four cached variants per draw
(plain 0.3, jitter 0.25, occluder 0.2, degraded 0.25; see :mod:`training.agegender.features`).

Loss: age -- cross-entropy against a Gaussian label distribution over the 121 bins
(sigma = 1 + 0.05 * age, DLDL) plus 0.2 x |expected age - age| (DLDL-v2); gender -- binary
cross-entropy. AdamW (tail 2e-4, heads 1e-3, cosine over 5 epochs of 18,000 draws), batch 128,
``torch.set_num_threads(1)``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import time
from pathlib import Path

import numpy as np
import onnx
import torch
import torch.nn.functional as F

from . import features, prepare
from .models import AGES, Tail

log = logging.getLogger("agegender.train")
VARIANT_P = np.array([0.3, 0.25, 0.2, 0.25])


def load_sets(cache: Path):
    tr_f, tr_a, tr_m = [], [], []
    for s in ("extra", "train"):
        z = np.load(cache / f"chips_{s}.npz")
        tr_f.append(np.load(cache / f"feats_{s}.npy", mmap_mode="r"))
        tr_a.append(z["age"])
        tr_m.append(z["male"])
    z = np.load(cache / "chips_val.npz")
    val = (np.load(cache / "feats_val.npy"), z["age"], z["male"])
    return tr_f, np.concatenate(tr_a), np.concatenate(tr_m), val


def sample_weights(age: np.ndarray) -> np.ndarray:
    dec = np.minimum(age // 10, 10)
    cnt = np.bincount(dec, minlength=11).astype(np.float64)
    w = cnt[dec] ** -0.75
    return w / w.sum()


def label_dist(age: torch.Tensor) -> torch.Tensor:
    bins = torch.arange(AGES, dtype=torch.float32)
    a = age.float().clamp(0, AGES - 1)[:, None]
    sigma = 1.0 + 0.05 * a
    q = torch.exp(-0.5 * ((bins[None] - a) / sigma) ** 2)
    return q / q.sum(1, keepdim=True)


def losses(age_logits, g_logit, age, male):
    logp = F.log_softmax(age_logits, 1)
    ce = -(label_dist(age) * logp).sum(1).mean()
    e = (logp.exp() * torch.arange(AGES, dtype=torch.float32)).sum(1)
    l1 = (e - age.float().clamp(max=AGES - 1)).abs().mean()
    bce = F.binary_cross_entropy_with_logits(g_logit, male.float())
    return ce + 0.2 * l1 + bce, {"ce": ce.item(), "l1": l1.item(), "bce": bce.item()}


@torch.no_grad()
def predict(tail: Tail, feats: np.ndarray, batch: int = 512):
    tail.eval()
    ages, logits = [], []
    for s in range(0, len(feats), batch):
        a, g = tail(torch.from_numpy(np.asarray(feats[s : s + batch], np.float32)))
        p = F.softmax(a, 1)
        ages.append((p * torch.arange(AGES, dtype=torch.float32)).sum(1).numpy())
        logits.append(g.numpy() * float(tail.heads.temperature))  # raw logit (before temperature)
    return np.concatenate(ages), np.concatenate(logits)


def evaluate(tail: Tail, val) -> dict:
    feats, age, male = val
    out = {}
    for k, name in ((0, "plain"), (1, "occluded")):
        e, lg = predict(tail, feats[k])
        out[f"{name}_mae"] = float(np.abs(e - age).mean())
        out[f"{name}_gender_acc"] = float(((lg > 0) == male).mean())
    out["score"] = out["plain_mae"] + 30 * (1 - out["plain_gender_acc"])
    return out


def fit_temperature(logits: np.ndarray, male: np.ndarray) -> float:
    """The temperature minimising the gender NLL on ``val`` (grid 0.5 .. 4)."""
    y = male.astype(np.float64)
    best, bt = np.inf, 1.0
    for t in np.arange(0.5, 4.0001, 0.01):
        z = logits / t
        nll = float(np.mean(np.logaddexp(0, z) - y * z))
        if nll < best:
            best, bt = nll, float(t)
    return bt


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default="/work/cache/agegender")
    ap.add_argument("--out", default="/work/cache/agegender/run")
    ap.add_argument("--data")
    ap.add_argument("--models")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--epoch-size", type=int, default=18000, help="faces drawn per epoch")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--resume", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(1)
    cache, out = Path(args.cache), Path(args.out)
    cache.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    models = features.models_dir(args.models)
    for s in ("val", "test", "train", "extra"):
        if not (cache / f"chips_{s}.npz").is_file():
            prepare.prepare(prepare.data_dir(args.data), cache, s)
    for s in ("val", "train", "extra"):
        if not (cache / f"feats_{s}.npy").is_file():
            features.compute(cache, models, s)
    tr_f, tr_a, tr_m, val = load_sets(cache)
    offsets = np.cumsum([0] + [f.shape[1] for f in tr_f])
    n = int(offsets[-1])
    w = sample_weights(tr_a)
    torch.manual_seed(args.seed)
    tail = Tail(onnx.load(str(models / "age-v1.onnx")))
    head_params = list(tail.heads.parameters())
    ids = {id(p) for p in head_params}
    opt = torch.optim.AdamW(
        [
            {"params": [p for p in tail.parameters() if id(p) not in ids], "lr": 2e-4},
            {"params": head_params, "lr": 1e-3},
        ],
        weight_decay=1e-4,
    )
    steps_per_epoch = args.epoch_size // args.batch
    total = steps_per_epoch * args.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt,
        lambda s: min(1.0, (s + 1) / 200) * 0.5 * (1 + math.cos(math.pi * min(s, total) / total)),
    )
    start, history, best = 0, [], np.inf
    if args.resume and (out / "last.pt").is_file():
        ck = torch.load(out / "last.pt", map_location="cpu", weights_only=False)
        tail.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        sched.load_state_dict(ck["sched"])
        start, history, best = ck["epoch"] + 1, ck["history"], ck["best"]
        log.info("resumed after epoch %d", ck["epoch"])
    log.info(
        "train %d faces, val %d; %d steps/epoch; epochs %d..%d",
        n,
        len(val[1]),
        steps_per_epoch,
        start,
        args.epochs - 1,
    )
    for ep in range(start, args.epochs):
        rng = np.random.default_rng([args.seed, ep])
        idx = rng.choice(n, size=steps_per_epoch * args.batch, p=w)
        var = rng.choice(4, size=idx.size, p=VARIANT_P)
        tail.train()
        t0 = time.time()
        agg = {"ce": 0.0, "l1": 0.0, "bce": 0.0}
        for st in range(steps_per_epoch):
            sl = slice(st * args.batch, (st + 1) * args.batch)
            bi, bv = idx[sl], var[sl]
            order = np.argsort(bi)
            bi, bv = bi[order], bv[order]
            x = np.empty((len(bi), 128, 7, 7), np.float32)
            for k, (lo, hi) in enumerate(zip(offsets[:-1], offsets[1:])):
                m = (bi >= lo) & (bi < hi)
                if m.any():
                    x[m] = tr_f[k][bv[m], bi[m] - lo]
            a, g = tail(torch.from_numpy(x))
            loss, parts = losses(a, g, torch.from_numpy(tr_a[bi]), torch.from_numpy(tr_m[bi]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            for k in agg:
                agg[k] += parts[k]
            if st % 40 == 0:
                log.info(
                    "epoch %d step %d/%d %s (%.0f s)",
                    ep,
                    st,
                    steps_per_epoch,
                    " ".join(f"{k} {v / (st + 1):.3f}" for k, v in agg.items()),
                    time.time() - t0,
                )
        ev = evaluate(tail, val)
        ev.update(
            epoch=ep, seconds=time.time() - t0, **{k: v / steps_per_epoch for k, v in agg.items()}
        )
        history.append(ev)
        log.info("epoch %d: %s", ep, json.dumps(ev))
        if ev["score"] < best:
            best = ev["score"]
            torch.save({"model": tail.state_dict(), "epoch": ep, "val": ev}, out / "best.pt")
        torch.save(
            {
                "model": tail.state_dict(),
                "opt": opt.state_dict(),
                "sched": sched.state_dict(),
                "epoch": ep,
                "history": history,
                "best": best,
            },
            out / "last.pt.tmp",
        )
        os.replace(out / "last.pt.tmp", out / "last.pt")
    ck = torch.load(out / "best.pt", map_location="cpu", weights_only=False)
    tail.load_state_dict(ck["model"])
    _, lg = predict(tail, val[0][0])
    t = fit_temperature(lg, val[2])
    tail.heads.temperature.fill_(t)
    torch.save(
        {
            "model": tail.state_dict(),
            "epoch": ck["epoch"],
            "val": ck["val"],
            "temperature": t,
            "history": history,
        },
        out / "final.pt",
    )
    (out / "history.json").write_text(
        json.dumps({"history": history, "best_epoch": ck["epoch"], "temperature": t}, indent=1)
    )
    log.info(
        "best epoch %d %s; gender temperature %.2f; wrote %s",
        ck["epoch"],
        json.dumps(ck["val"]),
        t,
        out / "final.pt",
    )
    from . import gender_fusion  # the shipped gender head (see its module notes) -> fused.pt

    gender_fusion.main(
        ["--checkpoint", str(out / "final.pt"), "--cache", str(cache), "--models", str(models)]
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
