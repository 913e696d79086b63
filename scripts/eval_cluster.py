"""Measure identity clustering and build-dataset (figures in docs/accuracy.md).

1. identity/glint24 (aligned crops, embedded directly with SFace): identities split in
   two halves (even / odd index in sorted order); each method's threshold is chosen on
   the dev half (max BCubed F) and measured on the test half and on all 24.
2. photos/celebs13: ``build_dataset`` over the 178 photos (time and peak memory), then
   the accepted faces re-clustered per method, threshold chosen on 7 dev identities and
   measured on the other 6 and on all 13 (labels: the largest face of each photo; other
   faces are unlabelled noise, DATA.md).
3. 100k random unit vectors (128-d): k-NN graph and each method.

Methods: every one in ``facecore.cluster.METHODS`` (graph, agglomerative,
chinese_whispers, components, infomap, leiden; the last two need
``facecore[cluster]``), or ``--methods``. ``--cache DIR`` keeps the glint24 SFace
embeddings (``glint24_sface.npz``, the file scripts/scale_cluster.py also reads).

    python scripts/eval_cluster.py [--json out.json] [--skip-100k] [--methods ...] [--cache DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

import facecore as fc
from facecore.cluster import METHODS, choose_threshold, cluster, cluster_metrics, knn_graph
from facecore.jobs import build_dataset
from facecore.jobs.builder import _config
from facecore.jobs.store import EmbeddingStore

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
KEYS = (
    "purity",
    "compactness",
    "ideal_compactness",
    "n_clusters",
    "n_unassigned",
    "pairwise_f",
    "bcubed_f",
    "nmi",
)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


SELECTED = list(METHODS)


def per_method(x, y, dev_mask, name):
    rows = []
    for method in SELECTED:
        ch = choose_threshold(x[dev_mask], y[dev_mask], method=method)
        test = cluster_metrics(
            y[~dev_mask], cluster(x[~dev_mask], method=method, threshold=ch.threshold).labels
        )
        full = cluster_metrics(y, cluster(x, method=method, threshold=ch.threshold).labels)
        row = {
            "set": name,
            "method": method,
            "threshold": ch.threshold,
            "dev_bcubed_f": ch.metrics.bcubed_f,
            "test": {k: getattr(test, k) for k in KEYS},
            "all": {k: getattr(full, k) for k in KEYS},
        }
        rows.append(row)
        print(
            f"{name:9s} {method:17s} t={ch.threshold:.2f} | test: "
            + " ".join(
                f"{k}={getattr(test, k):.4f}"
                if isinstance(getattr(test, k), float)
                else f"{k}={getattr(test, k)}"
                for k in KEYS
            )
            + " | all: "
            + " ".join(
                f"{k}={getattr(full, k):.4f}"
                if isinstance(getattr(full, k), float)
                else f"{k}={getattr(full, k)}"
                for k in KEYS
            ),
            flush=True,
        )
    return rows


def glint24(cache=None):
    if cache is not None and (Path(cache) / "glint24_sface.npz").is_file():
        d = np.load(Path(cache) / "glint24_sface.npz")
        print(f"glint24: {len(d['y'])} cached SFace embeddings from {cache}")
        return per_method(d["x"], d["y"], d["y"] % 2 == 0, "glint24")
    root = DATA / "identity" / "glint24"
    names = sorted(p.name for p in root.iterdir() if p.is_dir())
    paths, y = [], []
    for i, n in enumerate(names):
        files = sorted((root / n).glob("*.jpg"))
        paths += files
        y += [i] * len(files)
    y = np.array(y)
    emb = fc.models.load("sface", kind="embedder")
    t = time.perf_counter()
    x = emb.embed_aligned(np.stack([fc.read_image(p) for p in paths]))
    print(
        f"glint24: {len(paths)} crops, {len(names)} identities, embedded in {time.perf_counter() - t:.1f} s"
    )
    if cache is not None:
        Path(cache).mkdir(parents=True, exist_ok=True)
        np.savez(Path(cache) / "glint24_sface.npz", x=x, y=y)
    return per_method(x, y, y % 2 == 0, "glint24")


def celebs13():
    root = DATA / "photos" / "celebs13"
    out = Path(tempfile.mkdtemp(prefix="facecore-eval-")) / "out"
    rss0 = rss_mb()
    t = time.perf_counter()
    r = build_dataset([root], out, labels="folders", progress=False)
    dt = time.perf_counter() - t
    n_img = r.n_images
    build = {
        "images": n_img,
        "faces": r.n_faces,
        "accepted": r.n_accepted,
        "rejected": r.rejected,
        "seconds": dt,
        "seconds_per_1000_images": dt / n_img * 1000,
        "peak_rss_mb": rss_mb(),
        "rss_before_mb": rss0,
        "store_bytes": (out / ".facecore" / "store.sqlite").stat().st_size,
        "default_graph": r.metrics.to_dict() if r.metrics else None,
    }
    print(
        f"build-dataset celebs13: {n_img} images, {r.n_faces} faces, {r.n_accepted} accepted, {dt:.1f} s "
        f"({dt / n_img * 1000:.0f} s per 1000 images), peak RSS {rss_mb():.0f} MB; default graph: {r.metrics}"
    )
    t = time.perf_counter()
    build_dataset([root], out, labels="folders", progress=False)
    build["rerun_seconds"] = time.perf_counter() - t
    # accepted faces with their labels from the manifest, embeddings from the store
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    faces = [f for f in rows if f.get("status") == "ok"]
    store = EmbeddingStore(
        out / ".facecore" / "store.sqlite", config=_config(fc.FaceAnalyzer(age=False, gender=False))
    )
    x, lab = [], []
    for f in faces:
        key = hashlib.sha256(Path(f["source"]).read_bytes()).hexdigest()
        x.append(store.get(key)[1][f["face"]].embedding)
        lab.append(f["label"] if f.get("labelled") else "")
    store.close()
    x = np.stack(x)
    names = sorted({v for v in lab if v})
    y = np.array([names.index(v) if v else -1 for v in lab])
    # dev: identities with even index; unlabelled faces go with the photo's folder
    folder = np.array([Path(f["source"]).parent.name for f in faces])
    dev = np.array([names.index(v) % 2 == 0 for v in folder])
    return build, per_method(x, y, dev, "celebs13")


def random_100k():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((100_000, 128)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    t = time.perf_counter()
    g = knn_graph(x, 16)
    tk = time.perf_counter() - t
    out = {"knn_seconds": tk}
    for m in SELECTED:
        t = time.perf_counter()
        r = cluster(x, method=m, graph=g)
        out[m] = {
            "seconds": time.perf_counter() - t,
            "clusters": r.n_clusters,
            "unassigned": r.n_unassigned,
        }
    t = time.perf_counter()
    cluster(x)
    out["cluster_default_total_seconds"] = time.perf_counter() - t
    out["peak_rss_mb"] = rss_mb()
    print("100k random:", out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json")
    ap.add_argument("--skip-100k", action="store_true")
    ap.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    ap.add_argument(
        "--cache", default=None, help="folder for the glint24 embeddings (read if there)"
    )
    args = ap.parse_args()
    SELECTED[:] = args.methods
    res = {"glint24": glint24(args.cache)}
    res["celebs13_build"], res["celebs13"] = celebs13()
    if not args.skip_100k:
        res["random_100k"] = random_100k()
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1, default=float))


if __name__ == "__main__":
    main()
