"""The gender head of ``agegender``: a logistic regression over two frozen feature sets.

    python -m training.agegender.gender_fusion --checkpoint /work/cache/agegender/run/final.pt

Why: dlib's *age* features carry little gender (a linear probe on the age network's pooled
256-d feature: 70 % on ``val.txt``; on its 128 x 7 x 7 stage-3 map: 84 %), and the
fine-tuned tail reached about 82 % after three epochs -- below dlib's own 32-px gender
network. So P(male) reads both: the fine-tuned tail's pooled 256-d feature and dlib's gender
network's 64 x 8 x 8 map before its classifier (``layer_5_multiply`` of ``gender-v1.onnx``,
CC0, frozen), fed with the 64-px chip average-pooled 2 x 2 to 32 px inside the graph. One
L2-regularised logistic regression over the 4,352 standardised features, trained on the
plain chips of ``extra`` + ``train``; the L2 weight (0.001 .. 0.1, by NLL) and then a
temperature chosen on ``val.txt``. dlib's gender features are cached (``gfeats_<set>.npy``). Writes ``gender_head`` into the checkpoint as ``fused.pt`` beside it.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import onnx
import torch
import torch.nn.functional as F

from .features import models_dir, normalise
from .models import Tail
from .prepare import CHIP, MARGIN
from .train import fit_temperature

log = logging.getLogger("agegender.gender_fusion")
GENDER_CUT = "layer_5_multiply"


def gender_session(models: Path):
    import onnxruntime as ort
    from onnx.utils import Extractor

    m = onnx.load(str(models / "gender-v1.onnx"))
    sub = Extractor(m).extract_model([m.graph.input[0].name], [GENDER_CUT])
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(sub.SerializeToString(), so, providers=["CPUExecutionProvider"])


def pool2(x: np.ndarray) -> np.ndarray:
    n, c, h, w = x.shape
    return np.ascontiguousarray(x.reshape(n, c, h // 2, 2, w // 2, 2).mean(axis=(3, 5)))


def features(
    cache: Path, name: str, sess, tail: Tail, batch: int = 512
) -> tuple[np.ndarray, np.ndarray]:
    z = np.load(cache / f"chips_{name}.npz")
    fr = np.load(cache / f"feats_{name}.npy", mmap_mode="r")[0]
    inp = sess.get_inputs()[0].name
    gpath = cache / f"gfeats_{name}.npy"  # dlib's gender features do not depend on the tail: cached
    gall = np.load(gpath) if gpath.is_file() else None
    out, gs = [], []
    for s in range(0, len(z["age"]), batch):
        if gall is None:
            x = normalise(z["chips"][s : s + batch, MARGIN : MARGIN + CHIP, MARGIN : MARGIN + CHIP])
            g = sess.run(None, {inp: pool2(x)})[0].reshape(len(x), -1).astype(np.float16)
            gs.append(g)
        else:
            g = gall[s : s + batch]
        with torch.no_grad():
            gap = (
                tail.body(torch.from_numpy(np.asarray(fr[s : s + batch], np.float32)))
                .mean(dim=(2, 3))
                .numpy()
            )
        out.append(np.concatenate([g.astype(np.float32), gap], 1))
    if gall is None:
        np.save(gpath, np.concatenate(gs))
    return np.concatenate(out), z["male"]


def fit(X: np.ndarray, y: np.ndarray, lam: float, iters: int = 150) -> tuple[np.ndarray, float]:
    A = torch.from_numpy(X)
    t = torch.from_numpy(y.astype(np.float32))
    w = torch.zeros(X.shape[1], requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=iters, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(A @ w + b, t) + lam * (w**2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach().numpy(), float(b.detach())


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--cache", default="/work/cache/agegender")
    ap.add_argument("--models")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(1)
    cache, models = Path(args.cache), models_dir(args.models)
    tail = Tail(onnx.load(str(models / "age-v1.onnx")))
    ck = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    tail.load_state_dict(ck["model"])
    tail.eval()
    sess = gender_session(models)
    parts = [features(cache, s, sess, tail) for s in ("extra", "train")]
    X = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    Xv, yv = features(cache, "val", sess, tail)
    log.info("features: train %s, val %s", X.shape, Xv.shape)
    mu, sd = X.mean(0), X.std(0) + 1e-3
    Xs, Xvs = (X - mu) / sd, (Xv - mu) / sd
    best = None
    for lam in (1e-3, 1e-2, 3e-2, 1e-1):
        w, b = fit(Xs, y, lam)
        z = Xvs @ w + b
        nll = float(np.mean(np.logaddexp(0, z) - yv * z))
        acc = float(((z > 0) == yv).mean())
        log.info(
            "L2 %g: val accuracy %.4f, NLL %.4f, train accuracy %.4f",
            lam,
            acc,
            nll,
            float(((Xs @ w + b > 0) == y).mean()),
        )
        if best is None or nll < best[0]:
            best = (nll, lam, w, b, acc)
    _, lam, w, b, acc = best
    wf = w / sd  # fold the standardisation into the weights
    bf = b - float((w * mu / sd).sum())
    t = fit_temperature(Xv @ wf + bf, yv)
    head = {
        "w_gender": torch.from_numpy(wf[:-256].astype(np.float32)),
        "w_gap": torch.from_numpy(wf[-256:].astype(np.float32)),
        "b": bf,
        "temperature": t,
        "l2": lam,
        "val_accuracy": acc,
    }
    ck["gender_head"] = head
    out = Path(args.checkpoint).with_name("fused.pt")
    torch.save(ck, out)
    log.info("L2 %g, val accuracy %.4f, temperature %.2f; wrote %s", lam, acc, t, out)


if __name__ == "__main__":
    main()
