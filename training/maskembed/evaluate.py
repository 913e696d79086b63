"""glint24 masked verification of a student checkpoint, with the project's evaluation code.

    python -m training.maskembed.evaluate [--ckpt /work/cache/maskembed/student.pt] [--json out.json]

glint24's crops and their synthetic masks are exactly those of
``scripts/eval_masked_verification.py`` (``load_glint24``, ``mask_chips``); its ``table``
(all 24 identities: thresholds at FAR 1e-3 / 1e-4, identity-bootstrap 95 % intervals) and
``split_eval`` (thresholds on the 12 dev identities, TAR on the 12 test identities) score the
similarity matrices. The frozen SFace head (onnxruntime) runs once per crop and is cached
(``glint_*.npy`` in ``--cache``); only the tail is the checkpoint's. Rows:

- ``sface``: SFace everywhere (today's figures; reproduces docs/accuracy.md);
- ``student``: the student on both sides of every pair, masked or not;
- ``student_masked_only``: the student for masked crops, SFace for unmasked ones (what a
  mask-aware ``verify`` does when the mask attribute is right).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
log = logging.getLogger("maskembed.evaluate")


def eval_module():
    spec = importlib.util.spec_from_file_location(
        "eval_masked_verification", REPO / "scripts" / "eval_masked_verification.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def glint_features(cache: Path, data: Path, models: Path):
    """(y, feat_u, feat_m, emb_u, emb_m) of glint24, cached."""
    from .prepare import feature_session, run_features

    f = cache / "glint_features.npz"
    if f.is_file():
        z = np.load(f)
        return z["y"], z["feat_u"], z["feat_m"], z["emb_u"], z["emb_m"]
    ev = eval_module()
    chips, y, _ = ev.load_glint24(data)
    masked = ev.mask_chips(chips)
    sess, inp = feature_session(models)
    out = {"feat_u": [], "feat_m": [], "emb_u": [], "emb_m": []}
    for s in range(0, len(y), 64):
        for k, c in (("u", chips), ("m", masked)):
            e, ft = run_features(sess, inp, c[s : s + 64])
            out[f"feat_{k}"].append(ft.astype(np.float16))
            out[f"emb_{k}"].append(e)
        log.info("glint24 features %d/%d", min(len(y), s + 64), len(y))
    z = {k: np.concatenate(v) for k, v in out.items()}
    np.savez(f, y=y, **z)
    return y, z["feat_u"], z["feat_m"], z["emb_u"], z["emb_m"]


def l2n(x):
    x = np.asarray(x, np.float64)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def student_embeddings(ckpt: Path, models: Path, feats: np.ndarray) -> np.ndarray:
    import torch

    from .model import Student, sface_proto

    torch.set_num_threads(1)
    ck = torch.load(ckpt, weights_only=False)
    st = Student(sface_proto(models), ck["args"]["which"])
    st.load_state_dict(ck["model"])
    st.eval()
    with torch.no_grad():
        return np.concatenate(
            [
                st(torch.from_numpy(feats[s : s + 128].astype(np.float32))).numpy()
                for s in range(0, len(feats), 128)
            ]
        )


def sims_of(u, m) -> dict:
    """Similarity matrices of the three pair types from unmasked (u) and masked (m) embeddings
    (masked-unmasked: a masked first side against an unmasked second)."""
    return {"unmasked-unmasked": u @ u.T, "masked-unmasked": m @ u.T, "masked-masked": m @ m.T}


def score(ev, sims: dict, y) -> dict:
    """table (all identities) + split (dev thresholds, test TAR) of the three pair types."""
    return {"all": ev.table(sims, y), "split": ev.split_eval(sims, y)}


def paired_gain(ev, sims_a: dict, sims_b: dict, y, reps: int = 1000, seed: int = 0) -> dict:
    """TAR(b) - TAR(a) at FAR 1e-3 per pair type (each at its own threshold on all 24
    identities) with a 95 % interval from resampling identities, the same resamples for both
    (a paired bootstrap: the interval of the gain, not of each TAR)."""
    out = {}
    for pt in sims_a:
        oks = []
        for sims in (sims_a, sims_b):
            s, same, ida = ev.pairs(sims[pt], y, ordered=pt == "masked-unmasked")
            thr = ev.threshold_at(s[~same], 1e-3)
            oks.append((s[same] > thr, ida[same]))
        ids = np.unique(oks[0][1])
        acc = [np.array([ok[gid == i].sum() for i in ids], float) for ok, gid in oks]
        tot = np.array([(oks[0][1] == i).sum() for i in ids], float)
        r = np.random.default_rng(seed).integers(0, len(ids), size=(reps, len(ids)))
        d = acc[1][r].sum(1) / tot[r].sum(1) - acc[0][r].sum(1) / tot[r].sum(1)
        out[pt] = {
            "gain": float(oks[1][0].mean() - oks[0][0].mean()),
            "ci95": (float(np.percentile(d, 2.5)), float(np.percentile(d, 97.5))),
        }
    return out


def report(name: str, r: dict) -> None:
    for pt, row in r["all"].items():
        a, b = row["far_0.001"], row["far_0.0001"]
        sp = r["split"][pt]
        print(
            f"{name:20s} {pt:18s} FAR1e-3 thr {a['threshold']:.4f} TAR {a['tar']:.3f} "
            f"[{a['tar_ci95'][0]:.3f}, {a['tar_ci95'][1]:.3f}]  FAR1e-4 thr {b['threshold']:.4f} "
            f"TAR {b['tar']:.3f} [{b['tar_ci95'][0]:.3f}, {b['tar_ci95'][1]:.3f}]  | split dev thr "
            f"{sp['threshold_dev']:.4f} test TAR {sp['test_tar']:.3f} FAR {sp['test_far']:.1e}",
            flush=True,
        )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default="/work/cache/maskembed")
    ap.add_argument("--data", default=os.environ.get("FACECORE_DATA_DIR"))
    ap.add_argument("--models", default=os.environ.get("FACECORE_MODEL_DIR"))
    ap.add_argument("--ckpt", default=None, help="student checkpoint (default: SFace rows only)")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    data = Path(args.data or REPO.parent / "shared" / "data")
    models = Path(args.models or REPO.parent / "shared" / "models")
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    y, fu, fm, eu, em = glint_features(cache, data, models)
    ev = eval_module()
    tu, tm = l2n(eu), l2n(em)
    base = sims_of(tu, tm)
    res = {"sface": score(ev, base, y)}
    report("sface", res["sface"])
    if args.ckpt:
        su = l2n(student_embeddings(Path(args.ckpt), models, fu))
        sm = l2n(student_embeddings(Path(args.ckpt), models, fm))
        for name, sims in (("student", sims_of(su, sm)), ("student_masked_only", sims_of(tu, sm))):
            res[name] = score(ev, sims, y)
            res[name]["gain_over_sface"] = g = paired_gain(ev, base, sims, y)
            report(name, res[name])
            print(
                f"{name:20s} TAR@1e-3 gain over SFace: "
                + "; ".join(
                    f"{pt} {v['gain']:+.3f} [{v['ci95'][0]:+.3f}, {v['ci95'][1]:+.3f}]"
                    for pt, v in g.items()
                )
            )
        res["cos_masked_to_unmasked"] = {
            "sface": float((tm * tu).sum(1).mean()),
            "student": float((sm * tu).sum(1).mean()),
            "student_unmasked_to_sface": float((su * tu).sum(1).mean()),
        }
        print(res["cos_masked_to_unmasked"])
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
