"""Distil a mask-robust SFace tail from the frozen SFace.

    python -m training.maskembed.train [--cache /work/cache/maskembed] [--which tail]
        [--minutes 30] [--out /work/cache/maskembed/student.pt]

Loss per face (no identity labels): ``1 - cos(student(masked), teacher(unmasked))`` plus
``lam * (1 - cos(student(unmasked), teacher(unmasked)))``, the second term keeping unmasked
embeddings where SFace has them. ``--beta`` adds a relational term over the other faces of
the batch (mostly other people): the squared difference between ``cos(student(masked_i),
teacher(unmasked_j))`` (and ``cos(student(masked_i), student(masked_j))``) and the teacher's
``cos(teacher(unmasked_i), teacher(unmasked_j))``, so that pulling masked faces toward their
own unmasked embedding does not pull them toward everyone else's (impostor similarities are
what sets a threshold at a low false accept rate). The teacher is the frozen SFace on the unmasked chip
(``emb_u`` of ``training.maskembed.prepare``); the student reads SFace's frozen
``conv_13_relu`` features (cached) through a trainable copy of SFace's tail
(:class:`training.maskembed.model.Student`).

Training rows: ``utk`` (its train and val splits), ``extra``, ``lfw``, ``celebahq`` and
``celebamask`` (``--sets``), as far as ``prepare`` has
written them (the count is re-read every epoch, so training may start while ``prepare``
runs); validation: ``utk``'s test split (501 faces). CPU, one thread, Adam; a checkpoint
every ``--ckpt-every`` steps and at the end (``--out``), resumed when present; the run stops
after ``--minutes``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from pathlib import Path

import numpy as np
import torch

from .model import Student, sface_proto

log = logging.getLogger("maskembed.train")


def load_set(cache: Path, name: str):
    done_f = cache / f"done_{name}.txt"
    if not done_f.is_file():
        return None
    n = int(done_f.read_text())
    meta = np.load(cache / f"meta_{name}.npz")
    return {
        "n": n,
        "test": meta["test"],
        "feat_u": np.load(cache / f"feat_u_{name}.npy", mmap_mode="r"),
        "feat_m": np.load(cache / f"feat_m_{name}.npy", mmap_mode="r"),
        "emb_u": np.load(cache / f"emb_u_{name}.npy", mmap_mode="r"),
        "emb_m": np.load(cache / f"emb_m_{name}.npy", mmap_mode="r"),
    }


def rows(sets: dict, *, test: bool) -> list[tuple[str, int]]:
    out = []
    for name, s in sets.items():
        if s is None:
            continue
        idx = np.flatnonzero(s["test"][: s["n"]] == test)
        out += [(name, int(i)) for i in idx]
    return out


def batch(sets: dict, items: list[tuple[str, int]]):
    fu, fm, eu = [], [], []
    for name, i in items:
        s = sets[name]
        fu.append(s["feat_u"][i])
        fm.append(s["feat_m"][i])
        eu.append(s["emb_u"][i])
    t = torch.from_numpy(np.stack(eu))
    return (
        torch.from_numpy(np.stack(fu).astype(np.float32)),
        torch.from_numpy(np.stack(fm).astype(np.float32)),
        torch.nn.functional.normalize(t, dim=1),
    )


def cos(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (torch.nn.functional.normalize(a, dim=1) * b).sum(1)


@torch.no_grad()
def validate(student, sets, items, bs=128) -> dict:
    if not items:
        return {}
    student.eval()
    cm, cu, base = [], [], []
    for k in range(0, len(items), bs):
        fu, fm, t = batch(sets, items[k : k + bs])
        cm.append(cos(student(fm), t))
        cu.append(cos(student(fu), t))
        em = np.stack([sets[n]["emb_m"][i] for n, i in items[k : k + bs]])
        base.append(cos(torch.from_numpy(em), t))
    student.train()
    return {
        "cos_masked": float(torch.cat(cm).mean()),
        "cos_unmasked": float(torch.cat(cu).mean()),
        "cos_masked_sface": float(torch.cat(base).mean()),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default="/work/cache/maskembed")
    ap.add_argument("--models", default=os.environ.get("FACECORE_MODEL_DIR"))
    ap.add_argument("--which", default="tail", choices=("tail", "fc"))
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--lam", type=float, default=1.0, help="weight of the unmasked term")
    ap.add_argument(
        "--sets", default="utk,extra,lfw,celebahq,celebamask", help="prepared sets to train on"
    )
    ap.add_argument("--beta", type=float, default=0.0, help="weight of the relational term")
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--ckpt-every", type=int, default=100)
    ap.add_argument("--out", default="/work/cache/maskembed/student.pt")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    cache = Path(args.cache)
    models = Path(args.models or Path(__file__).resolve().parents[3] / "shared" / "models")
    student = Student(sface_proto(models), args.which)
    params = [p for p in student.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=args.lr)
    out = Path(args.out)
    state = {"epoch": 0, "step": 0, "history": []}
    if out.is_file():
        ck = torch.load(out, weights_only=False)
        student.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        state = ck["state"]
        log.info("resumed at epoch %d step %d", state["epoch"], state["step"])

    def save():
        tmp = out.with_suffix(".tmp")
        torch.save(
            {
                "model": student.state_dict(),
                "opt": opt.state_dict(),
                "state": state,
                "args": vars(args),
            },
            tmp,
        )
        os.replace(tmp, out)

    t0 = time.time()
    elapsed0 = state.get("seconds", 0.0)
    names = tuple(args.sets.split(","))
    sets = {n: load_set(cache, n) for n in names}
    val = rows(sets, test=True)
    if not state["history"]:
        state["history"].append({"epoch": 0, "step": 0, **validate(student, sets, val)})
        log.info("val before training: %s", state["history"][-1])
    stop = False
    while state["epoch"] < args.epochs and not stop:
        sets = {n: load_set(cache, n) for n in names}  # prepare may have written more rows
        train = rows(sets, test=False)
        val = rows(sets, test=True)
        order = np.random.default_rng([args.seed, state["epoch"]]).permutation(len(train))
        nb = len(train) // args.batch
        # resume inside an epoch at the next batch (the row count may have grown meanwhile:
        # the order is the epoch's seeded permutation of the rows present now)
        first = min(state.get("batch_in_epoch", 0), nb) if state.get("in_epoch") else 0
        state["in_epoch"] = True
        run = 0.0
        for b in range(first, nb):
            items = [train[j] for j in order[b * args.batch : (b + 1) * args.batch]]
            fu, fm, t = batch(sets, items)
            sm = torch.nn.functional.normalize(student(fm), dim=1)
            su = torch.nn.functional.normalize(student(fu), dim=1)
            lm = (1 - (sm * t).sum(1)).mean()
            lu = (1 - (su * t).sum(1)).mean()
            loss = lm + args.lam * lu
            if args.beta > 0:
                tt = t @ t.T
                off = ~torch.eye(len(t), dtype=torch.bool)
                rel = ((sm @ t.T - tt)[off] ** 2).mean() + ((sm @ sm.T - tt)[off] ** 2).mean()
                loss = loss + args.beta * rel
            opt.zero_grad()
            loss.backward()
            opt.step()
            state["step"] += 1
            state["batch_in_epoch"] = b + 1
            run = 0.9 * run + 0.1 * loss.item() if run else loss.item()
            if state["step"] % 20 == 0:
                log.info(
                    "epoch %d step %d/%d loss %.4f (masked %.4f unmasked %.4f) %.0f s",
                    state["epoch"],
                    b + 1,
                    nb,
                    run,
                    float(lm),
                    float(lu),
                    time.time() - t0,
                )
            if state["step"] % args.ckpt_every == 0:
                save()
            if time.time() - t0 > 60 * args.minutes:
                stop = True
                break
        if not stop:
            state["epoch"] += 1
            state["in_epoch"] = False
            state["batch_in_epoch"] = 0
        state["seconds"] = elapsed0 + time.time() - t0
        state["history"].append(
            {
                "epoch": state["epoch"],
                "step": state["step"],
                "rows": len(train),
                **validate(student, sets, val),
            }
        )
        log.info("val: %s", state["history"][-1])
        save()
    (out.with_suffix(".json")).write_text(json.dumps(state["history"], indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
