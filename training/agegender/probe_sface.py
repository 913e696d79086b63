"""How much age and gender SFace's identity embedding carries: linear probes on ``val.txt``.

    python -m training.agegender.probe_sface [--features /work/scratch/agegender2]

Reads the features of :mod:`training.agegender.embed_features` (the SFace embedding of the
ArcFace 112 chip the pipeline cuts, and the ``agegender`` graph's own outputs) for ``train``
plus whatever part of ``extra`` has been computed, fits an L2 logistic regression (gender)
and a ridge regression (age) on the L2-normalised embedding, and prints their ``val.txt``
accuracy and MAE next to ``agegender``'s. Needs scikit-learn.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from .embed_features import load_features


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--features", default="/work/scratch/agegender2")
    args = ap.parse_args(argv)
    from sklearn.linear_model import LogisticRegression, Ridge

    out = Path(args.features)
    sets = [load_features(out, "train")]
    try:
        sets.append(load_features(out, "extra"))
    except FileNotFoundError:
        pass
    v = load_features(out, "val")

    def unit(x: np.ndarray) -> np.ndarray:
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    e = unit(np.concatenate([s["emb"] for s in sets]))
    male = np.concatenate([s["male"] for s in sets])
    age = np.concatenate([s["age"] for s in sets])
    ev, kids = unit(v["emb"]), v["age"] < 13
    print(f"training faces: {len(e)}; val: {len(ev)}")
    for c in (0.3, 1.0, 3.0):
        ok = LogisticRegression(C=c, max_iter=3000).fit(e, male).predict(ev) == v["male"]
        print(f"SFace gender probe C={c}: val {ok.mean():.3f}, under 13 {ok[kids].mean():.3f}")
    for a in (0.1, 1.0):
        mae = np.abs(Ridge(alpha=a).fit(e, age).predict(ev) - v["age"]).mean()
        print(f"SFace age ridge alpha={a}: val MAE {mae:.2f}")
    ok = (v["glogit"] > 0) == v["male"]
    mae = np.abs(v["age_prob"] @ np.arange(v["age_prob"].shape[1]) - v["age"]).mean()
    print(f"agegender: val gender {ok.mean():.3f}, under 13 {ok[kids].mean():.3f}, MAE {mae:.2f}")


if __name__ == "__main__":
    main()
