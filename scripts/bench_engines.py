"""Faces per second of build-dataset's per-image stage: the local engine against the Ray
engine with 1 and 2 workers, on the same inputs (photos/celebs13 by default).

Each run builds into a fresh output folder (an empty store, so every image is decoded,
detected, aligned and embedded) and reports the per-image stage's wall time
(``BuildResult.stage_seconds``: for Ray, start-up of the actors and the Parquet round
trip included), faces/s and faces/s per worker. Ray runs on a local instance started
here with ``ray.init(num_cpus=--cpus)``.

    nice python scripts/bench_engines.py [--json out.json] [--limit 0] [--cpus 2]

On a machine shared with other jobs the figures are noisy; the load average before and
after each run is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

DATA = Path(
    os.environ.get("FACECORE_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data")
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--source", default=str(DATA / "photos" / "celebs13"))
    ap.add_argument(
        "--limit", type=int, default=0, help="use the first N images per person folder (0: all)"
    )
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument(
        "--runs",
        nargs="+",
        default=["local", "ray1", "ray2"],
        help="local (onnxruntime's default threads), local1 (1 thread per model), rayN (N actors)",
    )
    ap.add_argument("--json")
    args = ap.parse_args()

    from facecore.jobs import build_dataset

    tmp = Path(tempfile.mkdtemp(prefix="facecore-bench-engines-"))
    src = Path(args.source)
    if args.limit:
        sub = tmp / "in"
        for d in sorted(p for p in src.iterdir() if p.is_dir()):
            (sub / d.name).mkdir(parents=True)
            for f in sorted(d.iterdir())[: args.limit]:
                shutil.copy(f, sub / d.name / f.name)
        src = sub
    results = {}
    manifests = {}
    ray = None
    for run in args.runs:
        kw = {}
        if run == "local1":  # onnxruntime with 1 intra-op thread per model, as each Ray actor has
            from facecore import FaceAnalyzer

            kw = {"analyzer": FaceAnalyzer(age=False, gender=False, det_threshold=0.6, threads=1)}
        if run.startswith("ray"):
            if ray is None:
                import ray as _ray

                ray = _ray
                ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
            kw = {"engine": "ray", "workers": int(run[3:])}
        out = tmp / f"out-{run}"
        load0 = os.getloadavg()[0]
        t = time.perf_counter()
        r = build_dataset([src], out, labels="folders", progress=False, **kw)
        total = time.perf_counter() - t
        res = {
            "engine": r.engine,
            "workers": r.workers,
            "images": r.n_images,
            "faces": r.n_faces,
            "stage_seconds": r.stage_seconds,
            "total_seconds": total,
            "faces_per_s": r.n_faces / r.stage_seconds,
            "images_per_s": r.n_images / r.stage_seconds,
            "faces_per_s_per_worker": r.n_faces / r.stage_seconds / r.workers,
            "clusters": r.n_clusters,
            "purity": r.metrics.purity if r.metrics else None,
            "load_before": load0,
            "load_after": os.getloadavg()[0],
        }
        results[run] = res
        manifests[run] = sorted((out / "manifest.jsonl").read_text().splitlines())
        print(
            f"{run:6s} {r.n_images} images {r.n_faces} faces: per-image stage {r.stage_seconds:6.1f} s "
            f"= {res['faces_per_s']:.2f} faces/s ({res['faces_per_s_per_worker']:.2f} per worker), total "
            f"{total:.1f} s, {r.n_clusters} clusters [load {load0:.1f} -> {res['load_after']:.1f}]",
            flush=True,
        )
    base = next((r for r in args.runs if r.startswith("local")), args.runs[0])
    for run in [r for r in args.runs if r != base]:
        same = manifests[run] == manifests[base]
        results[run]["manifest_identical_to_" + base] = same
        print(f"{run}: manifest identical to {base}: {same}")
    if ray is not None:
        ray.shutdown()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
