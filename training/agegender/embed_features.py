"""Cached features for the embedding heads: SFace's 128-d embedding and the ``agegender``
graph's pooled 256-d feature, logits and outputs, of every UTKFace face, as the pipeline
cuts the chips.

    python -m training.agegender.embed_features [--cache /work/cache/agegender] [--out /work/scratch/agegender2]

Reads the landmarks of :mod:`training.agegender.prepare` (``chips_<set>.npz``: YuNet on the
crop padded by half its side, the detection nearest the centre). The SFace chip is cut from
the same padded crop with the embedder's own warp (:meth:`facecore.models.embedder.SFace.tensor`,
what :class:`facecore.FaceAnalyzer` feeds it); the ``agegender`` input is the cached 64-px
chip (the centre of the 80-px chip; ``chip_tensor``'s within one grey level). The sets named
by ``--flip`` are also run horizontally flipped (the ``*_flip`` arrays; test-time
augmentation: on ``val.txt`` it moved ``agegender`` from MAE 7.02 / gender 91.0 % to
6.98 / 92.0 %, at twice the model's cost). SFace is slow on the shared cores (about
120-340 ms per face), so ``extra`` goes in a seeded random order and the parts written so
far are a usable random sample of it (:func:`load_features`).

Output ``feat_<set>.npz`` (``--out``, outside the repository): ``emb`` / ``emb_flip`` (N, 128)
raw SFace ``fc1``; ``gap`` / ``gap_flip`` (N, 256) the ``agegender`` tail's pooled feature;
``age_prob`` / ``age_prob_flip`` (N, 121); ``glogit`` / ``glogit_flip`` (N,) the fused gender
logit before the sigmoid; ``age``, ``male``, ``files`` (and ``index`` into the set). Written
in resumable parts of 1,000 faces.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import cv2
import numpy as np
import onnx

from .prepare import MARGIN, data_dir, list_set

log = logging.getLogger("agegender.embed_features")
MEAN_RGB = np.array([122.782, 117.001, 104.298], np.float32)
PART = 1000


def agegender_session(path: Path):
    import onnxruntime as ort

    m = onnx.load(str(path))
    extra = {"/heads/Flatten_output_0": "gap", "/Add_1_output_0": "glogit"}
    for name in extra:
        m.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    s = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return s, ["age_prob", *extra]


def agegender_input(chips80: np.ndarray) -> np.ndarray:
    c = chips80[:, MARGIN:-MARGIN, MARGIN:-MARGIN, ::-1].astype(np.float32)  # RGB 64x64
    return np.ascontiguousarray(((c - MEAN_RGB) / 256.0).transpose(0, 3, 1, 2))


def features(items, chips80, lms, sface, ag, names, *, flip: bool) -> dict[str, np.ndarray]:
    n = len(items)
    tens = np.zeros((n, 3, 112, 112), np.float32)
    for i, (p, _, _) in enumerate(items):
        img = cv2.imread(str(p))
        pad = img.shape[0] // 2
        big = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
        tens[i] = sface.tensor(big, (lms[i] + pad)[None])[0]
    out: dict[str, np.ndarray] = {}
    out["emb"] = sface.run(tens)
    x = agegender_input(chips80)
    runs = [("", x)]
    if flip:
        out["emb_flip"] = sface.run(np.ascontiguousarray(tens[..., ::-1]))
        runs.append(("_flip", np.ascontiguousarray(x[..., ::-1])))
    for suffix, xx in runs:
        res = ag.run(names, {"images": xx})
        out["age_prob" + suffix] = res[0]
        out["gap" + suffix] = res[1].astype(np.float32)
        out["glogit" + suffix] = res[2].reshape(-1)
    return out


def run_set(data: Path, cache: Path, out: Path, name: str, sface, ag, names, *, flip: bool) -> None:
    """Features of one set, in parts of ``PART`` faces (a seeded random order for ``extra``,
    so that the parts written so far are a random sample of it); resumable."""
    dst = out / f"feat_{name}.npz"
    if dst.is_file():
        log.info("%s: cached", name)
        return
    items = list_set(data, name)
    z = np.load(cache / f"chips_{name}.npz")
    files = z["files"]
    if [p.name for p, _, _ in items] != list(files):
        raise RuntimeError(f"{name}: chips_{name}.npz does not list the faces of the set")
    chips, lms = z["chips"], z["landmarks"]
    n = len(items)
    order = np.random.default_rng(0).permutation(n) if name == "extra" else np.arange(n)
    t0 = time.time()
    nparts = (n + PART - 1) // PART
    for k in range(nparts):
        pf = out / f"part_{name}_{k:03d}.npz"
        if pf.is_file():
            continue
        idx = order[k * PART : (k + 1) * PART]
        f = features([items[i] for i in idx], chips[idx], lms[idx], sface, ag, names, flip=flip)
        np.savez(pf, **f, index=idx, age=z["age"][idx], male=z["male"][idx], files=files[idx])
        log.info("%s: part %d/%d (%.0f s)", name, k + 1, nparts, time.time() - t0)
    parts = [dict(np.load(out / f"part_{name}_{k:03d}.npz")) for k in range(nparts)]
    feats = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    np.savez(dst, **feats)
    for k in range(nparts):
        (out / f"part_{name}_{k:03d}.npz").unlink()
    log.info("%s: wrote %s (%.0f s)", name, dst, time.time() - t0)


def load_features(out: Path, name: str) -> dict[str, np.ndarray]:
    """The features of one set: its ``feat_<set>.npz``, or the parts written so far."""
    dst = Path(out) / f"feat_{name}.npz"
    if dst.is_file():
        return dict(np.load(dst))
    parts = [dict(np.load(p)) for p in sorted(Path(out).glob(f"part_{name}_*.npz"))]
    if not parts:
        raise FileNotFoundError(f"no features of {name} in {out}")
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data")
    ap.add_argument("--cache", default="/work/cache/agegender")
    ap.add_argument("--out", default="/work/scratch/agegender2")
    ap.add_argument("--agegender", help="agegender.onnx (default: the packaged one)")
    ap.add_argument("--sets", nargs="+", default=["val", "test", "train", "extra"])
    ap.add_argument("--flip", nargs="*", default=[], help="sets also run flipped (TTA)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    from importlib.resources import files

    from facecore.models import load

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sface = load("sface", threads=1)
    agp = (
        Path(args.agegender)
        if args.agegender
        else Path(str(files("facecore") / "models" / "data" / "agegender.onnx"))
    )
    ag, names = agegender_session(agp)
    for s in args.sets:
        run_set(
            data_dir(args.data), Path(args.cache), out, s, sface, ag, names, flip=s in args.flip
        )


if __name__ == "__main__":
    main()
