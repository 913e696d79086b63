"""Clustering at scale: k-NN + every method on up to 1,000,000 synthetic face embeddings.

The embeddings are a mixture of identities whose spread is **calibrated to SFace on
identity/glint24**: the script embeds the 1,827 glint24 crops with facecore's SFace
embedder (cached in ``--workdir``), measures the genuine (same identity) and impostor
cosine distributions, and fits the generator to them:

* identity centres ``c_i = normalize(a * mu + z_i)`` (``mu`` a fixed unit vector shared by
  all faces, ``z_i ~ N(0, I / D)``), with ``a`` set so that the mean impostor cosine
  matches glint24's;
* faces ``x = normalize(c_i + s * e)``, ``e ~ N(0, I / D)``, with a per-face spread
  ``s = s0 * exp(sigma_id * u_i + sigma_face * v)`` (``u_i`` per identity, ``v`` per face,
  both standard normal), ``s0`` and ``sigma_face`` fitted on a grid to glint24's genuine
  cosine mean, standard deviation and 5 % quantile;
* identity sizes uniform in 20..80 (glint24 has 21..80), 50 on average, so ``N`` faces
  have ``N / 50`` identities (20,000 at 1M).

For each size the data is written to ``--workdir`` and every stage runs in its own
subprocess (``nice``, ``OMP_NUM_THREADS``/BLAS threads = ``--threads``), so the peak
resident memory reported (``ru_maxrss`` of that process: data + index + graph +
clustering) and its CPU time (user + system, all threads; steadier than wall time on a
shared machine) belong to that stage alone:

* ``knn``: :func:`facecore.cluster.knn_graph` (exact up to 20k, IVF above, or
  ``--index``; one round of neighbour-of-neighbour refinement unless ``--refine 0``),
  with its :class:`~facecore.cluster.KnnInfo` (recall of the approximate graph against
  exact search on a sample);
* one process per method: :func:`facecore.cluster.cluster` on that graph at the method's
  default (SFace, glint24-tuned) threshold; purity, pairwise F and BCubed F against the
  synthetic identities.

    nice python scripts/scale_cluster.py --sizes 10000 100000 1000000 --json scale.json

Timings on a shared machine are noisy: the JSON records the load average before and
after every stage.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

DATA = Path(
    os.environ.get("FACECORE_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data")
)
D = 128
MEAN_SIZE = 50


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_s() -> float:
    """CPU seconds (user + system, all threads) of this process so far: less noisy than wall
    time on a shared machine."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# -- calibration ---------------------------------------------------------------------------------


def glint24_embeddings(workdir: Path) -> tuple[np.ndarray, np.ndarray]:
    cache = workdir / "glint24_sface.npz"
    if cache.is_file():
        d = np.load(cache)
        return d["x"], d["y"]
    import facecore as fc

    root = DATA / "identity" / "glint24"
    names = sorted(p.name for p in root.iterdir() if p.is_dir())
    paths, y = [], []
    for i, n in enumerate(names):
        files = sorted((root / n).glob("*.jpg"))
        paths += files
        y += [i] * len(files)
    emb = fc.models.load("sface", kind="embedder")
    x = emb.embed_aligned(np.stack([fc.read_image(p) for p in paths]))
    np.savez(cache, x=x, y=np.array(y))
    return x, np.array(y)


def cosine_stats(
    x: np.ndarray, y: np.ndarray, max_items: int = 4000, seed: int = 0
) -> dict[str, float]:
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    if len(y) > max_items:
        sel = np.random.default_rng(seed).choice(len(y), max_items, replace=False)
        x, y = x[sel], y[sel]
    s = x @ x.T
    iu = np.triu_indices(len(y), 1)
    same = (y[:, None] == y[None, :])[iu]
    g, imp = s[iu][same], s[iu][~same]
    return {
        "genuine_mean": float(g.mean()),
        "genuine_std": float(g.std()),
        "genuine_q05": float(np.quantile(g, 0.05)),
        "genuine_q95": float(np.quantile(g, 0.95)),
        "impostor_mean": float(imp.mean()),
        "impostor_std": float(imp.std()),
        "impostor_q999": float(np.quantile(imp, 0.999)),
    }


def generate(n: int, params: dict[str, float], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` unit vectors (float32) and their identity labels, from the fitted model."""
    rng = np.random.default_rng(seed)
    n_id = max(1, round(n / MEAN_SIZE))
    sizes = rng.integers(20, 81, n_id)
    sizes = np.maximum(1, np.round(sizes * n / sizes.sum()).astype(np.int64))
    sizes[-1] += n - sizes.sum()
    while sizes[-1] < 1:  # pragma: no cover - rounding slack
        j = int(np.argmax(sizes))
        sizes[j] -= 1
        sizes[-1] += 1
    mu = np.zeros(D, np.float32)
    mu[0] = 1.0
    z = rng.standard_normal((n_id, D), dtype=np.float32) / np.sqrt(D)
    c = params["a"] * mu + z
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    y = np.repeat(np.arange(n_id, dtype=np.int64), sizes)
    u = rng.standard_normal(n_id).astype(np.float32)
    x = np.empty((n, D), np.float32)
    step = 200_000
    for s in range(0, n, step):
        yy = y[s : s + step]
        spread = params["s0"] * np.exp(
            params["sigma_id"] * u[yy]
            + params["sigma_face"] * rng.standard_normal(yy.size).astype(np.float32)
        )
        xx = c[yy] + spread[:, None] * rng.standard_normal(
            (yy.size, D), dtype=np.float32
        ) / np.sqrt(D)
        xx /= np.linalg.norm(xx, axis=1, keepdims=True)
        x[s : s + step] = xx
    perm = rng.permutation(n)  # no order to exploit
    return x[perm], y[perm]


def fit(real: dict[str, float]) -> dict[str, float]:
    """Grid search of the generator's spread on a small sample against glint24's statistics."""
    # impostor mean ~= centre cosine / (1 + s^2); centre cosine = a^2 / (1 + a^2)
    s2 = 1.0 / real["genuine_mean"] - 1.0
    cc = min(0.9, real["impostor_mean"] * (1.0 + s2))
    a = float(np.sqrt(cc / (1.0 - cc)))
    best = None
    for s0 in np.linspace(0.6, 1.1, 11):
        for sf in (0.0, 0.1, 0.2, 0.3, 0.4):
            p = {"a": a, "s0": float(s0), "sigma_id": 0.1, "sigma_face": sf}
            x, y = generate(2400, p, seed=1)
            st = cosine_stats(x, y)
            err = (
                (st["genuine_mean"] - real["genuine_mean"]) ** 2
                + (st["genuine_std"] - real["genuine_std"]) ** 2
                + (st["genuine_q05"] - real["genuine_q05"]) ** 2
            )
            if best is None or err < best[0]:
                best = (err, p, st)
    assert best is not None
    return {**best[1], "fit_error": float(best[0]), "synthetic_stats": best[2]}


# -- stages (subprocesses) -----------------------------------------------------------------------


def stage_knn(d: Path, index: str, recall_sample: int, refine: int, opts: dict) -> dict:
    from facecore.cluster import knn_graph

    x = np.load(d / "x.npy")
    t, c = time.perf_counter(), cpu_s()
    idx, sim, info = knn_graph(
        x, 16, index=index, recall_sample=recall_sample, refine=refine, return_info=True, **opts
    )
    secs, cpu = time.perf_counter() - t, cpu_s() - c
    np.save(d / "idx.npy", idx)
    np.save(d / "sim.npy", sim)
    # info.seconds: the search alone; seconds/cpu_seconds: search + recall sample
    return {"seconds": secs, "cpu_seconds": cpu, "peak_rss_mb": rss_mb(), "info": info.to_dict()}


def stage_job(d: Path, method: str) -> dict:
    """The whole job in one process, as a user runs it: ``cluster(x, method=method)`` with
    every default (k-NN index, its parameters, refinement, recall sample) + the metrics."""
    from facecore.cluster import cluster, cluster_metrics

    x = np.load(d / "x.npy")
    y = np.load(d / "y.npy")
    t, c = time.perf_counter(), cpu_s()
    r = cluster(x, method=method)
    secs, cpu = time.perf_counter() - t, cpu_s() - c
    m = cluster_metrics(y, r.labels)
    assert r.knn is not None
    return {
        "seconds": secs,
        "cpu_seconds": cpu,
        "peak_rss_mb": rss_mb(),
        "info": r.knn.to_dict(),
        "method": method,
        "threshold": r.threshold,
        "purity": m.purity,
        "pairwise_f": m.pairwise_f,
        "bcubed_f": m.bcubed_f,
        "n_clusters": m.n_clusters,
        "n_unassigned": m.n_unassigned,
    }


def stage_method(d: Path, method: str) -> dict:
    from facecore.cluster import cluster, cluster_metrics

    # a cap on the address space so a method that does not fit fails alone (MemoryError)
    # instead of pushing a shared machine into the OOM killer (agglomerative's Python
    # adjacency sets took 3 GB at 100k)
    cap = int(float(os.environ.get("FACECORE_SCALE_MEM_GB", "12")) * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    x = np.load(d / "x.npy")
    y = np.load(d / "y.npy")
    g = (np.load(d / "idx.npy"), np.load(d / "sim.npy"))
    t, c = time.perf_counter(), cpu_s()
    try:
        r = cluster(x, method=method, graph=g)
    except MemoryError:
        nan = float("nan")
        return {
            "failed": f"MemoryError under a {cap / 2**30:.0f} GB address-space cap",
            "seconds": time.perf_counter() - t,
            "cpu_seconds": cpu_s() - c,
            "peak_rss_mb": rss_mb(),
            "threshold": nan,
            "purity": nan,
            "compactness": nan,
            "ideal_compactness": nan,
            "pairwise_f": nan,
            "bcubed_f": nan,
            "nmi": nan,
            "n_clusters": -1,
            "n_unassigned": -1,
        }
    secs, cpu = time.perf_counter() - t, cpu_s() - c
    m = cluster_metrics(y, r.labels)
    return {
        "seconds": secs,
        "cpu_seconds": cpu,
        "peak_rss_mb": rss_mb(),
        "threshold": r.threshold,
        "purity": m.purity,
        "compactness": m.compactness,
        "ideal_compactness": m.ideal_compactness,
        "pairwise_f": m.pairwise_f,
        "bcubed_f": m.bcubed_f,
        "nmi": m.nmi,
        "n_clusters": m.n_clusters,
        "n_unassigned": m.n_unassigned,
    }


def run_stage(args: list[str], threads: int, timeout: float, nice: int = 10) -> dict:
    env = dict(os.environ)
    for var in (
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "FACECORE_NUM_THREADS",
    ):
        env[var] = str(threads)
    load0 = os.getloadavg()[0]
    t = time.perf_counter()
    try:
        out = subprocess.run(
            ["nice", "-n", str(nice), sys.executable, __file__, *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {
            "timed_out": True,
            "seconds": float("nan"),
            "timeout_seconds": timeout,
            "load_before": load0,
            "load_after": os.getloadavg()[0],
        }
    wall = time.perf_counter() - t
    if out.returncode != 0:
        raise RuntimeError(f"stage {args} failed:\n{out.stderr[-3000:]}")
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["process_wall_seconds"] = wall
    res["load_before"], res["load_after"] = load0, os.getloadavg()[0]
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--methods", nargs="+", default=None)
    ap.add_argument("--index", default="auto", choices=("auto", "flat", "ivf", "hnsw"))
    ap.add_argument("--recall-sample", type=int, default=1000)
    ap.add_argument(
        "--refine",
        type=int,
        default=1,
        help="neighbour-of-neighbour rounds after an approximate search",
    )
    ap.add_argument("--nlist", type=int, help="IVF lists (default: knn_graph's)")
    ap.add_argument("--nprobe", type=int, help="IVF lists probed (default: knn_graph's)")
    ap.add_argument("--hnsw-m", type=int, help="HNSW links per node (default: knn_graph's)")
    ap.add_argument("--ef-construction", type=int, help="HNSW build breadth (default: knn_graph's)")
    ap.add_argument("--ef-search", type=int, help="HNSW search breadth (default: knn_graph's)")
    ap.add_argument(
        "--job",
        action="store_true",
        help="instead of k-NN and methods in separate processes: the whole job "
        "(cluster(x, method=M) with every default) in one process per method",
    )
    ap.add_argument("--nice", type=int, default=10, help="niceness of the stage processes")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--stage-timeout", type=float, default=1200.0, help="seconds before a method is given up"
    )
    ap.add_argument(
        "--knn-timeout",
        type=float,
        default=3600.0,
        help="seconds before the k-NN stage is given up",
    )
    ap.add_argument("--workdir", default="/tmp/facecore-scale")
    ap.add_argument("--json")
    ap.add_argument("--stage", choices=("knn", "method", "job"), help=argparse.SUPPRESS)
    ap.add_argument("--knn-options", default="{}", help=argparse.SUPPRESS)
    ap.add_argument("--dir", help=argparse.SUPPRESS)
    ap.add_argument("--method", help=argparse.SUPPRESS)
    args = ap.parse_args()
    knn_opts = (args.nlist, args.nprobe, args.hnsw_m, args.ef_construction, args.ef_search)
    if args.job and (args.index != "auto" or any(v is not None for v in knn_opts)):
        ap.error(
            "--job runs cluster(x) with every default; --index/--nlist/--nprobe/--hnsw-m/"
            "--ef-construction/--ef-search apply to the separate k-NN stage (run without --job)"
        )
    if args.stage == "knn":
        opts = json.loads(args.knn_options)
        print(
            json.dumps(stage_knn(Path(args.dir), args.index, args.recall_sample, args.refine, opts))
        )
        return
    if args.stage == "job":
        print(json.dumps(stage_job(Path(args.dir), args.method)))
        return
    if args.stage == "method":
        print(json.dumps(stage_method(Path(args.dir), args.method)))
        return

    from facecore.cluster import METHODS

    methods = args.methods or list(METHODS)
    if methods == ["none"]:  # the k-NN stage alone
        methods = []
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    gx, gy = glint24_embeddings(work)
    real = cosine_stats(gx, gy)
    params = fit(real)
    print("glint24 SFace:", {k: round(v, 4) for k, v in real.items()})
    print(
        "generator:",
        {
            k: (round(v, 4) if isinstance(v, float) else v)
            for k, v in params.items()
            if k != "synthetic_stats"
        },
    )
    print("synthetic:", {k: round(v, 4) for k, v in params["synthetic_stats"].items()}, flush=True)
    res: dict = {
        "glint24": real,
        "generator": params,
        "threads": args.threads,
        "cpu_count": os.cpu_count(),
        "sizes": {},
    }
    for n in args.sizes:
        d = work / f"n{n}"
        d.mkdir(exist_ok=True)
        t = time.perf_counter()
        x, y = generate(n, params, seed=n)
        np.save(d / "x.npy", x)
        np.save(d / "y.npy", y)
        gen = time.perf_counter() - t
        st = cosine_stats(x, y)
        del x
        row: dict = {
            "n": n,
            "identities": int(y.max()) + 1,
            "generate_seconds": gen,
            "stats": st,
            "methods": {},
        }
        print(
            f"\n== N={n:,}: {row['identities']:,} identities (generated in {gen:.1f} s; genuine cos "
            f"{st['genuine_mean']:.3f}±{st['genuine_std']:.3f}, impostor {st['impostor_mean']:.3f}±{st['impostor_std']:.3f})",
            flush=True,
        )
        if args.job:
            row["jobs"] = {}
            for m in methods:
                r = run_stage(
                    ["--stage", "job", "--dir", str(d), "--method", m],
                    args.threads,
                    args.knn_timeout,
                    args.nice,
                )
                row["jobs"][m] = r
                if r.get("timed_out"):
                    print(f"  job {m}: did not finish in {args.knn_timeout:.0f} s", flush=True)
                    continue
                print(
                    f"  job cluster(x, method={m!r}): {r['seconds']:.1f} s (CPU {r['cpu_seconds']:.1f} s), "
                    f"peak RSS {r['peak_rss_mb']:.0f} MB | k-NN {r['info']['index']} {r['info']['params']} "
                    f"recall@16 {r['info']['recall']} edge recall {r['info']['edge_recall']} | purity "
                    f"{r['purity']:.4f} pairwise F {r['pairwise_f']:.4f} BCubed F {r['bcubed_f']:.4f} "
                    f"clusters {r['n_clusters']} (ideal {row['identities']}) "
                    f"[load {r['load_before']:.1f}->{r['load_after']:.1f}]",
                    flush=True,
                )
            res["sizes"][str(n)] = row
            if args.json:
                Path(args.json).write_text(json.dumps(res, indent=1))
            for f in ("x.npy", "y.npy"):
                (d / f).unlink(missing_ok=True)
            continue
        knn_opts = {
            k: v
            for k, v in (
                ("nlist", args.nlist),
                ("nprobe", args.nprobe),
                ("hnsw_m", args.hnsw_m),
                ("ef_construction", args.ef_construction),
                ("ef_search", args.ef_search),
            )
            if v is not None
        }
        k = run_stage(
            [
                "--knn-options",
                json.dumps(knn_opts),
                "--stage",
                "knn",
                "--dir",
                str(d),
                "--index",
                args.index,
                "--recall-sample",
                str(args.recall_sample),
                "--refine",
                str(args.refine),
            ],
            args.threads,
            args.knn_timeout,
            args.nice,
        )
        if k.get("timed_out"):
            print(f"knn: did not finish in {args.knn_timeout:.0f} s", flush=True)
            row["knn"] = k
            res["sizes"][str(n)] = row
            continue
        row["knn"] = k
        print(
            f"knn: {k['info']['index']} {k['seconds']:.1f} s (CPU {k['cpu_seconds']:.1f} s), peak RSS {k['peak_rss_mb']:.0f} MB, recall@16 "
            f"{k['info']['recall']} edge recall {k['info']['edge_recall']} ({k['info']['recall_queries']} queries) "
            f"params {k['info']['params']} "
            f"[load {k['load_before']:.1f}->{k['load_after']:.1f}]",
            flush=True,
        )
        for m in methods:
            r = run_stage(
                ["--stage", "method", "--dir", str(d), "--method", m],
                args.threads,
                args.stage_timeout,
                args.nice,
            )
            r["knn_plus_method_seconds"] = k["seconds"] + r["seconds"]
            row["methods"][m] = r
            if r.get("timed_out"):
                print(f"  {m:17s} did not finish in {args.stage_timeout:.0f} s", flush=True)
                continue
            r["knn_plus_method_cpu_seconds"] = k["cpu_seconds"] + r["cpu_seconds"]
            print(
                f"  {m:17s} {r['seconds']:7.1f} s (CPU {r['cpu_seconds']:6.1f} s; k-NN + method {r['knn_plus_method_seconds']:7.1f} s), peak RSS "
                f"{r['peak_rss_mb']:6.0f} MB | purity {r['purity']:.4f} pairwise F {r['pairwise_f']:.4f} BCubed F "
                f"{r['bcubed_f']:.4f} clusters {r['n_clusters']} (ideal {row['identities']}) "
                f"[load {r['load_before']:.1f}->{r['load_after']:.1f}]",
                flush=True,
            )
        res["sizes"][str(n)] = row
        if args.json:
            Path(args.json).write_text(json.dumps(res, indent=1))
        for f in ("x.npy", "y.npy", "idx.npy", "sim.npy"):
            (d / f).unlink(missing_ok=True)


if __name__ == "__main__":
    main()
