"""Train the learned face restorer and export it to ONNX.

The shipped ``restore_unet`` came from two stages on one CPU thread (about 60 minutes in all)::

    # 1. reconstruction only (stopped after 23.5 min, step 400: the best val hole L1)
    python -m training.restore.train --minutes 60 --threads 1 --out /tmp/restore_unet
    # 2. fine-tune with the age/gender consistency loss, checkpoint on val |d age|
    python -m training.restore.train --init /tmp/restore_unet/best.pt --attr-loss 1 --lr 1e-3 \
        --warmup 20 --eval-every 100 --minutes 36 --threads 1 --out /tmp/restore_unet2
    python -m training.restore.register /tmp/restore_unet2/restore_unet.onnx

    python -m training.restore.train --minutes 60 --out /tmp/restore_unet --resume   # continue a run
    python -m training.restore.train --device cuda --minutes 10 --out /tmp/restore_unet_gpu

Data (see :mod:`training.restore.data`): aligned 128x128 chips of UTKFace ``train.txt`` with
synthetic occluders drawn by :func:`facecore.occlusion.synthesize` (a fresh mask every time a
chip is drawn); the checkpoint is chosen on every 4th face of ``val.txt`` with fixed masks
(seeded), never on ``test.txt`` (the occlusion study's held-out part).

Loss: ``6 * L1(hole) + 1 * L1(valid) + 2 * L1(image gradients, hole)``, all on the normalised
chip, where "hole" / "valid" are means over the hole / other pixels; with ``--attr-loss w``
plus ``w`` times the age/gender consistency loss of :class:`AttributeLoss` (the restored face
must read as the same age and gender as the unmasked face through the pipeline's frozen dlib
models; the labels are never used), and the checkpoint is then chosen on the val faces' mean
|age(restored) - age(original)| instead of the hole L1. The learning rate follows
a cosine from ``--lr`` to 0 over ``--steps`` steps or ``--minutes`` of wall time, whichever ends
first, so a CPU run ends on time whatever else the machine does. ``<out>/last.pt`` (weights,
optimiser, step, elapsed time, RNG state) is saved every ``--eval-every`` steps and lets a run
resume (``--resume``); ``<out>/best.pt`` keeps the weights with the lowest val hole L1. At the
end the best weights are exported to ``<out>/restore_unet.onnx`` (:mod:`training.restore.export`).
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

from .data import Augment, data_root, load_chips, random_mask
from .export import export
from .models import RestoreUNet, make_input, n_params

log = logging.getLogger("train")


def to_tensor(x: np.ndarray, device) -> torch.Tensor:
    """(N, H, W, 3) uint8 BGR -> float32 NCHW in [-1, 1]."""
    t = torch.from_numpy(np.ascontiguousarray(x)).to(device).permute(0, 3, 1, 2).float()
    return t / 127.5 - 1.0


def grad_l1(pred, target, hole):
    dx = lambda t: t[..., :, 1:] - t[..., :, :-1]
    dy = lambda t: t[..., 1:, :] - t[..., :-1, :]
    hx = hole[..., :, 1:] * hole[..., :, :-1]
    hy = hole[..., 1:, :] * hole[..., :-1, :]
    ex = ((dx(pred) - dx(target)).abs() * hx).sum() / (3 * hx.sum() + 1)
    ey = ((dy(pred) - dy(target)).abs() * hy).sum() / (3 * hy.sum() + 1)
    return ex + ey


def losses(pred, target, hole):
    valid = 1 - hole
    l_hole = ((pred - target).abs() * hole).sum() / (3 * hole.sum() + 1)
    l_valid = ((pred - target).abs() * valid).sum() / (3 * valid.sum() + 1)
    l_grad = grad_l1(pred, target, hole)
    return 6 * l_hole + l_valid + 2 * l_grad, l_hole


def batch(X, L, aug, rng, bs):
    idx = rng.integers(0, len(X), bs)
    xs, ms, ls = [], [], []
    for i in idx:
        chip, lm = aug(X[i], L[i])
        xs.append(chip)
        ls.append(lm)
        ms.append(random_mask(chip, lm, rng))
    return np.stack(xs), np.stack(ms)[:, None].astype(np.float32), np.stack(ls)


class AttributeLoss(torch.nn.Module):
    """Age and gender consistency through the (frozen) dlib models the pipeline uses.

    The restored chip (hole composited into the original) and the original chip are both cut
    into the models' 64 px age / 32 px gender chips (the pipeline's template, bilinear; the
    gender chip from a 2x box-filtered chip, as the pyramid would) and the loss is
    ``|E[age](restored) - E[age](original)| / 5 + KL(p_age(original) || p_age(restored))
    + BCE(p_male(restored), p_male(original))``: the restorer is taught to leave the age and
    gender signal of the face as the unmasked face had it (the labels are never used).
    """

    def __init__(self, models_dir: Path):
        super().__init__()
        from .onnx_torch import OnnxModule

        self.age = OnnxModule(str(models_dir / "age-v1.onnx")).eval()
        self.gender = OnnxModule(str(models_dir / "gender-v1.onnx")).eval()
        for p in self.parameters():
            p.requires_grad_(False)
        self.register_buffer(
            "w", torch.cat([torch.tensor([0.25]), torch.arange(1, 81, dtype=torch.float32)])
        )
        self.register_buffer(
            "mean", torch.tensor([122.781998, 117.000999, 104.297997]).view(1, 3, 1, 1)
        )

    @staticmethod
    def _theta(lm: np.ndarray, size: int, src: int, scale: float) -> torch.Tensor:
        from facecore.models.attributes import chip_matrices

        m = chip_matrices(lm, size)  # forward: chip px (of the 128 chip) -> model chip px
        m[:, :, :2] /= scale  # source is ``scale`` times smaller than the chip
        out = []
        for a in m:
            inv = np.linalg.inv(np.vstack([a, [0, 0, 1]]))  # model px -> source px
            n_out = np.array([[2 / size, 0, 1 / size - 1], [0, 2 / size, 1 / size - 1], [0, 0, 1]])
            n_in = np.array([[2 / src, 0, 1 / src - 1], [0, 2 / src, 1 / src - 1], [0, 0, 1]])
            out.append((n_in @ inv @ np.linalg.inv(n_out))[:2])
        return torch.from_numpy(np.stack(out)).float()

    def _inputs(self, x, lm):
        rgb = ((x + 1) * 127.5).flip(1)
        s = x.shape[-1]
        ta = self._theta(lm, 64, s, 1.0).to(x.device)
        age = F.grid_sample(
            rgb, F.affine_grid(ta, (len(x), 3, 64, 64), align_corners=False), align_corners=False
        )
        half = F.avg_pool2d(rgb, 2)
        tg = self._theta(lm, 32, s // 2, 2.0).to(x.device)
        gen = F.grid_sample(
            half, F.affine_grid(tg, (len(x), 3, 32, 32), align_corners=False), align_corners=False
        )
        return (age - self.mean) / 256, (gen - self.mean) / 256

    def forward(self, restored, original, lm):
        ra, rg = self._inputs(restored, lm)
        with torch.no_grad():
            oa, og = self._inputs(original, lm)
            pa_o = self.age(oa)
            pg_o = self.gender(og)[:, 1]
        pa_r = self.age(ra)
        pg_r = self.gender(rg)[:, 1].clamp(1e-5, 1 - 1e-5)
        l_age = ((pa_r @ self.w) - (pa_o @ self.w)).abs().mean() / 5
        kl = (pa_o * (torch.log(pa_o + 1e-8) - torch.log(pa_r + 1e-8))).sum(1).mean()
        bce = F.binary_cross_entropy(pg_r, pg_o)
        return l_age + kl + bce, (pa_r @ self.w - pa_o @ self.w).abs().mean()


@torch.no_grad()
def evaluate(model, Xv, Mv, device, attr=None, Lv=None):
    """Mean L1 in the hole (grey levels, 0..255) over the fixed val set, and with ``attr`` the
    mean |age(restored) - age(original)| in years through the age model (else NaN)."""
    model.eval()
    tot = n = 0.0
    dage = []
    for k in range(0, len(Xv), 32):
        x = to_tensor(Xv[k : k + 32], device)
        m = torch.from_numpy(Mv[k : k + 32]).to(device)
        p = model(make_input(x, m))
        tot += float(((p - x).abs() * m).sum()) * 127.5 / 3
        n += float(m.sum())
        if attr is not None:
            dage.append(float(attr(x * (1 - m) + p * m, x, Lv[k : k + 32])[1]) * len(x))
    model.train()
    return tot / max(n, 1), (sum(dage) / len(Xv) if dage else float("nan"))


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--data", default=None, help="data dir (default $FACECORE_DATA_DIR or ../shared/data)"
    )
    ap.add_argument("--out", required=True, help="output folder (checkpoints, log, ONNX)")
    ap.add_argument("--cache", default="/tmp/facecore_restore", help="landmark cache folder")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--steps", type=int, default=1_000_000)
    ap.add_argument("--minutes", type=float, default=60.0, help="wall-time budget for the schedule")
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--eval-every", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--resume",
        action="store_true",
        help="continue <out>/last.pt (weights, optimiser, schedule)",
    )
    ap.add_argument(
        "--init", default=None, help="start from these weights (a best.pt) with a fresh schedule"
    )
    ap.add_argument(
        "--attr-loss",
        type=float,
        default=0.0,
        help="weight of the age/gender consistency loss through the dlib models (0: off)",
    )
    ap.add_argument(
        "--models",
        default=None,
        help="folder with age-v1.onnx and gender-v1.onnx "
        "(default $FACECORE_MODEL_DIR or ../shared/models)",
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

    root = data_root(args.data)
    t0 = time.time()
    X, L, _ = load_chips(root, "train", args.size, Path(args.cache))
    Xv, Lv, _ = load_chips(root, "val", args.size, Path(args.cache))
    vrng = np.random.default_rng(12345)
    Mv = np.stack([random_mask(c, lm, vrng) for c, lm in zip(Xv, Lv)])[:, None].astype(np.float32)
    log.info(
        "data: %d train, %d val chips of %d px, %.1fs", len(X), len(Xv), args.size, time.time() - t0
    )

    model = RestoreUNet().to(device)
    log.info("model: %d parameters", n_params(model))
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    aug = Augment(rng)
    step, best, elapsed0 = 0, float("inf"), 0.0
    attr = None
    if args.attr_loss > 0:
        import os

        mdir = Path(
            args.models
            or os.environ.get("FACECORE_MODEL_DIR")
            or Path(__file__).resolve().parents[3] / "shared" / "models"
        )
        attr = AttributeLoss(mdir).to(device)
        log.info("attribute-consistency loss on (weight %g, models %s)", args.attr_loss, mdir)
    if args.init:
        model.load_state_dict(
            torch.load(args.init, map_location=device, weights_only=False)["model"]
        )
        log.info("initialised from %s", args.init)
    if args.resume and (out / "last.pt").exists():
        ck = torch.load(out / "last.pt", map_location=device, weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step, best, elapsed0 = ck["step"], ck["best"], ck["elapsed"]
        rng.bit_generator.state = ck["rng"]
        log.info(
            "resumed at step %d (best val hole L1 %.3f, %.1f min done)", step, best, elapsed0 / 60
        )

    start = time.time() - elapsed0
    budget = args.minutes * 60
    hist = []
    while True:
        frac = max(step / args.steps, (time.time() - start) / budget)
        if frac >= 1:
            break
        lr = args.lr * min(1.0, (step + 1) / args.warmup) * 0.5 * (1 + math.cos(math.pi * frac))
        for g in opt.param_groups:
            g["lr"] = lr
        xb, mb, lb = batch(X, L, aug, rng, args.batch)
        x = to_tensor(xb, device)
        m = torch.from_numpy(mb).to(device)
        pred = model(make_input(x, m))
        loss, l_hole = losses(pred, x, m)
        d_age = torch.zeros(())
        if attr is not None:
            la, d_age = attr(x * (1 - m) + pred * m, x, lb)
            loss = loss + args.attr_loss * la
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        hist.append((loss.item(), l_hole.item() * 127.5, float(d_age.detach())))
        if step % 50 == 0:
            h = np.mean(hist[-50:], axis=0)
            log.info(
                "step %d lr %.2e loss %.4f hole L1 %.2f |d age| %.2f (%.0fs)",
                step,
                lr,
                h[0],
                h[1],
                h[2],
                time.time() - start,
            )
        if step % args.eval_every == 0:
            v, da = evaluate(model, Xv, Mv, device, attr, Lv)
            log.info("step %d val hole L1 %.3f grey levels, |d age| %.3f years", step, v, da)
            v = da if attr is not None else v  # the checkpoint criterion
            if v < best:
                best = v
                torch.save(
                    {
                        "model": model.state_dict(),
                        "step": step,
                        "val_criterion": v,
                        "args": vars(args),
                    },
                    out / "best.pt",
                )
            torch.save(
                {
                    "model": model.state_dict(),
                    "opt": opt.state_dict(),
                    "step": step,
                    "best": best,
                    "elapsed": time.time() - start,
                    "rng": rng.bit_generator.state,
                },
                out / "last.pt",
            )

    v, da = evaluate(model, Xv, Mv, device, attr, Lv)
    log.info("final step %d val hole L1 %.3f, |d age| %.3f", step, v, da)
    v = da if attr is not None else v
    if v < best:
        best = v
        torch.save(
            {"model": model.state_dict(), "step": step, "val_criterion": v, "args": vars(args)},
            out / "best.pt",
        )
    ck = torch.load(out / "best.pt", map_location="cpu", weights_only=False)
    model = RestoreUNet()
    model.load_state_dict(ck["model"])
    path = export(model, out / "restore_unet.onnx", size=args.size)
    (out / "result.json").write_text(
        json.dumps(
            {
                "best_val_criterion": best,
                "criterion": "val |d age| (years)" if attr is not None else "val hole L1",
                "best_step": ck["step"],
                "steps": step,
                "minutes": (time.time() - start) / 60,
                "onnx": str(path),
                "params": n_params(model),
                "args": vars(args),
            },
            indent=2,
        )
    )
    log.info("exported %s (best val criterion %.3f at step %d)", path, best, ck["step"])


if __name__ == "__main__":
    main()
