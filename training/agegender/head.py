"""``agegender_v2``: ``agegender`` with a second, non-linear head over the same features, averaged.

    python -m training.agegender.head [--cache /work/cache/agegender] [--base python/facecore/models/data/agegender.onnx] --out agegender_v2.onnx

Why: ``agegender`` reads two linear heads (121 age logits over the fine-tuned tail's pooled
256-d feature; a logistic regression over that feature and dlib's frozen gender network's
64 x 8 x 8 map). A one-hidden-layer MLP over the same 4,352 standardised features (ReLU, 256
units, dropout 0.2 on the input and 0.5 on the hidden layer), trained with the same DLDL age
loss (+ 0.2 |E[age] - age|) and binary cross-entropy for gender, decade-balanced sampling
weights ``n_decade^-0.75``, reaches about the linear heads' accuracy on ``val.txt`` on its
own; the average of both (age distributions averaged, gender logits averaged and then
temperature-scaled on ``val.txt``) is the model. No new image features: the graph still reads
one 64-px chip and runs the same convolutions, so the cost is the MLP (1.1 M multiply-adds per
face).

Inputs: the cached chips of :mod:`training.agegender.prepare`, the front activations of
:mod:`training.agegender.features` and dlib's gender features of
:mod:`training.agegender.gender_fusion` (``gfeats_<set>.npy``), the ``final.pt`` tail
checkpoint (``--checkpoint``) and the ``agegender.onnx`` it was exported into (``--base``).
The MLP sees the plain chip of every ``extra`` + ``train`` face (20,808). The epoch is chosen
on ``val.txt`` (MAE + 30 x gender error), the gender temperature on ``val.txt``.

The export edits ``--base``: it reads the graph's own tensors ``/Flatten_output_0`` (dlib's
gender map, 4,096) and ``/heads/Flatten_output_0`` (the pooled 256-d feature), adds the MLP
(standardisation folded into the first layer, float16 weights + Cast like the rest of the
file) and replaces the outputs ``age_prob`` and ``p_male`` by the averaged ones. Checked
against the NumPy computation of the same formula on the ``val.txt`` features.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

from .features import models_dir
from .train import fit_temperature

log = logging.getLogger("agegender.head")
AGES = 121
GENDER_MAP = "/Flatten_output_0"
GAP = "/heads/Flatten_output_0"
BASE_AGE_PROB = "age_prob"
BASE_LOGIT = "/Add_1_output_0"  # the base model's calibrated gender logit (before Sigmoid)


def labels(cache: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    z = np.load(cache / f"chips_{name}.npz")
    return z["age"].astype(np.int64), z["male"].astype(bool)


def fused(cache: Path, work: Path, name: str, checkpoint: Path, models: Path) -> np.ndarray:
    """(N, 4352) float32: dlib's gender map and the tail's pooled feature of the plain chips
    (cached in ``work`` as ``fus_<set>.npy``)."""
    path = work / f"fus_{name}.npy"
    if path.is_file():
        return np.load(path).astype(np.float32)
    from .gender_fusion import features, gender_session
    from .models import Tail

    tail = Tail(onnx.load(str(models / "age-v1.onnx")))
    ck = torch.load(checkpoint, map_location="cpu", weights_only=False)
    tail.load_state_dict(ck["model"])
    tail.eval()
    x, _ = features(cache, name, gender_session(models), tail)
    np.save(path, x.astype(np.float16))
    return x.astype(np.float32)


def dldl(age: torch.Tensor) -> torch.Tensor:
    bins = torch.arange(float(AGES))
    a = age.float()[:, None]
    p = torch.exp(-0.5 * ((bins[None] - a) / (1 + 0.05 * a)) ** 2)
    return p / p.sum(1, keepdim=True)


def mlp(n_in: int, hidden: int) -> torch.nn.Sequential:
    return torch.nn.Sequential(
        torch.nn.Dropout(0.2),
        torch.nn.Linear(n_in, hidden),
        torch.nn.ReLU(),
        torch.nn.Dropout(0.5),
        torch.nn.Linear(hidden, AGES + 1),
    )


def train_head(
    x: np.ndarray,
    age: np.ndarray,
    male: np.ndarray,
    xv: np.ndarray,
    age_v: np.ndarray,
    male_v: np.ndarray,
    *,
    hidden: int = 256,
    epochs: int = 24,
    seed: int = 0,
) -> dict:
    """Train the MLP; returns the state of the best epoch on val (MAE + 30 x gender error)."""
    torch.manual_seed(seed)
    mu, sd = x.mean(0), x.std(0) + 1e-3
    xt = torch.from_numpy((x - mu) / sd)
    xvt = torch.from_numpy((xv - mu) / sd)
    at = torch.from_numpy(age)
    yt = torch.from_numpy(male.astype(np.float32))
    target = dldl(at)
    dec = np.minimum(age // 10, 9)
    w = np.bincount(dec, minlength=10)[dec] ** -0.75
    wt = torch.from_numpy((w / w.mean()).astype(np.float32))
    bins = torch.arange(float(AGES))
    net = mlp(x.shape[1], hidden)
    opt = torch.optim.AdamW(net.parameters(), 1e-3, weight_decay=1e-3)
    n, bs = len(xt), 256
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, 1e-3, total_steps=epochs * ((n + bs - 1) // bs)
    )
    best: dict = {}
    t0 = time.time()
    for ep in range(epochs):
        net.train()
        perm = torch.randperm(n)
        for s in range(0, n, bs):
            i = perm[s : s + bs]
            o = net(xt[i])
            logp = F.log_softmax(o[:, :AGES], 1)
            la = -(target[i] * logp).sum(1) + 0.2 * ((logp.exp() * bins).sum(1) - at[i]).abs()
            lg = F.binary_cross_entropy_with_logits(o[:, AGES], yt[i], reduction="none")
            loss = (wt[i] * (la + lg)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        net.eval()
        with torch.no_grad():
            o = net(xvt).numpy()
        mae = float(np.abs(softmax(o[:, :AGES]) @ np.arange(AGES) - age_v).mean())
        acc = float(((o[:, AGES] > 0) == male_v).mean())
        score = mae + 30 * (1 - acc)
        log.info(
            "epoch %d: val MAE %.3f, gender %.4f, score %.3f (%.0f s)",
            ep + 1,
            mae,
            acc,
            score,
            time.time() - t0,
        )
        if not best or score < best["score"]:
            best = {
                "score": score,
                "epoch": ep + 1,
                "val_mae": mae,
                "val_gender": acc,
                "state": {k: v.clone() for k, v in net.state_dict().items()},
            }
    best.update(mu=mu, sd=sd, hidden=hidden)
    return best


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def head_arrays(head: dict) -> dict[str, np.ndarray]:
    """The MLP as two affine maps with the standardisation folded into the first.

    The weight matrices are rounded to float16 (as stored in the file) before the bias is
    folded, so the standardisation's offset cancels exactly with the stored weights.
    """
    st = head["state"]
    w1 = (st["1.weight"].numpy().astype(np.float64) / head["sd"][None]).T  # (4352, hidden)
    w1 = w1.astype(np.float16).astype(np.float64)
    b1 = st["1.bias"].numpy().astype(np.float64) - head["mu"].astype(np.float64) @ w1
    w2 = st["4.weight"].numpy().T.astype(np.float16)  # (hidden, 122)
    return {
        "w1": w1.astype(np.float32),
        "b1": b1.astype(np.float32),
        "w2": w2.astype(np.float32),
        "b2": st["4.bias"].numpy().astype(np.float32),
    }


def ensemble(
    x: np.ndarray, base_prob: np.ndarray, base_logit: np.ndarray, arrays: dict, temperature: float
) -> tuple[np.ndarray, np.ndarray]:
    """NumPy reference of the exported graph: (age_prob (N, 121), p_male (N,))."""
    h = np.maximum(x @ arrays["w1"] + arrays["b1"], 0) @ arrays["w2"] + arrays["b2"]
    prob = 0.5 * (base_prob + softmax(h[:, :AGES]))
    z = 0.5 * (base_logit + h[:, AGES]) / temperature
    return prob, 1 / (1 + np.exp(-z))


def export(base: Path, arrays: dict, temperature: float, out: Path) -> onnx.ModelProto:
    """``base`` with the MLP branch and the averaged outputs (see the module docstring)."""
    m = onnx.load(str(base))
    g = m.graph
    produced = {o for n in g.node for o in n.output}
    for name in (GENDER_MAP, GAP, BASE_LOGIT):
        if name not in produced:
            raise ValueError(f"base: the graph has no tensor {name!r}")
    # rename the base outputs: their producers now write internal tensors
    for n in g.node:
        for k, o in enumerate(n.output):
            if o in ("age_prob", "p_male"):
                n.output[k] = "base_" + o
    inits = []
    casts = []
    for key, a in arrays.items():
        if a.size >= 1024:
            h = numpy_helper.from_array(a.astype(np.float16), f"v2_{key}_f16")
            inits.append(h)
            casts.append(helper.make_node("Cast", [h.name], [f"v2_{key}"], to=TensorProto.FLOAT))
        else:
            inits.append(numpy_helper.from_array(a.astype(np.float32), f"v2_{key}"))
    consts = {
        "v2_half": np.array(0.5, np.float32),
        "v2_inv_t": np.array(1.0 / temperature, np.float32),
        "v2_split": np.array([AGES, 1], np.int64),
    }
    inits += [numpy_helper.from_array(v, k) for k, v in consts.items()]
    mk = helper.make_node
    nodes = [
        *casts,
        mk("Concat", [GENDER_MAP, GAP], ["v2_x"], axis=1),
        mk("MatMul", ["v2_x", "v2_w1"], ["v2_h0"]),
        mk("Add", ["v2_h0", "v2_b1"], ["v2_h1"]),
        mk("Relu", ["v2_h1"], ["v2_h"]),
        mk("MatMul", ["v2_h", "v2_w2"], ["v2_o0"]),
        mk("Add", ["v2_o0", "v2_b2"], ["v2_o"]),
        mk("Split", ["v2_o", "v2_split"], ["v2_age_logits", "v2_glogit2"], axis=1),
        mk("Softmax", ["v2_age_logits"], ["v2_age_prob"], axis=1),
        mk("Add", ["base_age_prob", "v2_age_prob"], ["v2_prob_sum"]),
        mk("Mul", ["v2_prob_sum", "v2_half"], ["age_prob"]),
        mk("Reshape", ["v2_glogit2", "v2_shape_n"], ["v2_glogit"]),  # (N,)
        mk("Reshape", [BASE_LOGIT, "v2_shape_n"], ["v2_base_logit"]),
        mk("Add", ["v2_base_logit", "v2_glogit"], ["v2_z_sum"]),
        mk("Mul", ["v2_z_sum", "v2_half"], ["v2_z_mean"]),
        mk("Mul", ["v2_z_mean", "v2_inv_t"], ["v2_z"]),
        mk("Sigmoid", ["v2_z"], ["p_male"]),
    ]
    inits.append(numpy_helper.from_array(np.array([-1], np.int64), "v2_shape_n"))
    g.initializer.extend(inits)
    g.node.extend(nodes)
    m.doc_string = (
        "facecore agegender_v2: agegender (dlib age ResNet fine-tuned on UTKFace + fused gender "
        "head) averaged with an MLP head over the same features; age distribution over 0..120 "
        "and P(male) of a 64x64 dlib-style chip; UTKFace-trained: non-commercial research only"
    )
    onnx.checker.check_model(m)
    onnx.save(m, str(out))
    return m


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default="/work/cache/agegender")
    ap.add_argument("--work", default="/work/scratch/agegender2", help="features, head")
    ap.add_argument("--checkpoint", default="/work/cache/agegender/run/final.pt")
    ap.add_argument("--base", default=None, help="agegender.onnx (default: the packaged one)")
    ap.add_argument("--models")
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--epochs", type=int, default=24)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(1)
    cache, models, work = Path(args.cache), models_dir(args.models), Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    base = (
        Path(args.base)
        if args.base
        else Path(__file__).resolve().parents[2] / "python/facecore/models/data/agegender.onnx"
    )
    xs, ages, males = [], [], []
    for name in ("extra", "train"):
        xs.append(fused(cache, work, name, Path(args.checkpoint), models))
        a, m = labels(cache, name)
        ages.append(a)
        males.append(m)
    x, age, male = np.concatenate(xs), np.concatenate(ages), np.concatenate(males)
    xv = fused(cache, work, "val", Path(args.checkpoint), models)
    age_v, male_v = labels(cache, "val")
    head_path = work / "head_v2.pt"
    if head_path.is_file():
        head = torch.load(head_path, map_location="cpu", weights_only=False)
    else:
        head = train_head(x, age, male, xv, age_v, male_v, hidden=args.hidden, epochs=args.epochs)
        torch.save(head, head_path)
    arrays = head_arrays(head)
    # the base model's outputs on val, for the temperature of the averaged logit
    import onnxruntime as ort

    from .embed_features import agegender_input

    bm = onnx.load(str(base))
    for name in (BASE_LOGIT, GENDER_MAP, GAP):
        bm.graph.output.append(helper.make_empty_tensor_value_info(name))
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(bm.SerializeToString(), so, providers=["CPUExecutionProvider"])
    chips_v = np.load(cache / "chips_val.npz")["chips"]
    bp, bl, gmap, gap = sess.run(
        ["age_prob", BASE_LOGIT, GENDER_MAP, GAP], {"images": agegender_input(chips_v)}
    )
    bl = bl.reshape(-1)
    xg = np.concatenate([gmap, gap], 1)  # the graph's own features (the cache is float16)
    h = np.maximum(xg @ arrays["w1"] + arrays["b1"], 0) @ arrays["w2"] + arrays["b2"]
    t = fit_temperature(0.5 * (bl + h[:, AGES]), male_v)
    prob, pm = ensemble(xg, bp, bl, arrays, t)
    bins = np.arange(AGES)
    summary = {
        "epoch": head["epoch"],
        "mlp_val_mae": head["val_mae"],
        "mlp_val_gender": head["val_gender"],
        "base_val_mae": float(np.abs(bp @ bins - age_v).mean()),
        "base_val_gender": float(((bl > 0) == male_v).mean()),
        "v2_val_mae": float(np.abs(prob @ bins - age_v).mean()),
        "v2_val_gender": float(((pm > 0.5) == male_v).mean()),
        "v2_val_gender_lt13": float(((pm > 0.5) == male_v)[age_v < 13].mean()),
        "temperature": t,
    }
    log.info("%s", json.dumps(summary))
    out = Path(args.out)
    export(base, arrays, t, out)
    sess2 = ort.InferenceSession(str(out), so, providers=["CPUExecutionProvider"])
    p2, m2 = sess2.run(["age_prob", "p_male"], {"images": agegender_input(chips_v)})
    d_age = float(np.abs(p2 @ bins - prob @ bins).max())
    d_pm = float(np.abs(m2.reshape(-1) - pm).max())
    log.info(
        "export %s: %d bytes; vs NumPy on val: age %.4f y, p_male %.5f",
        out,
        out.stat().st_size,
        d_age,
        d_pm,
    )
    if d_age > 0.05 or d_pm > 2e-3:
        raise RuntimeError(f"ONNX differs from the reference: age {d_age:.4f} y, p_male {d_pm:.5f}")


if __name__ == "__main__":
    main()
