"""The recolour kernel of two builds, interleaved: this one against a previous one.

    python benchmarks/ab_recolor.py PREVIOUS_CORE_SO [--repeat 20] [--threads 1]

``PREVIOUS_CORE_SO`` is another build's ``facecore/_core*.so`` (e.g. main's, copied aside
before rebuilding). Two pybind11 modules with the same types cannot share a process, so each
build runs in its own worker process and the two take turns call by call (one works while
the other waits), on the bench_kernels.py 1080p frame with its dense and hair-like alphas.
Prints the median (and min) wall time per call, the speed-up, and the largest difference
between the two builds' outputs. The "before / after" figures of docs/benchmarks.md
(issues 14 and 19) come from this script.
"""

from __future__ import annotations

import argparse
import importlib.util
import multiprocessing as mp
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

CASES = [
    ("lab", 1.0, "#a52a2a", "dense"),
    ("lab", 1.0, "#a52a2a", "hair"),
    ("transfer", 1.0, "#0000ff", "hair"),
    ("transfer", 1.0, "#0000ff", "dense"),
    ("natural", 1.0, "#0000ff", "hair"),
    ("lab", 0.5, "#a52a2a", "dense"),
    ("transfer", 0.5, "#0000ff", "hair"),
    ("hsv", 1.0, "#a52a2a", "dense"),
]


def worker(so_path: str, threads: int, conn: Any) -> None:
    """Load one build's _core (nothing else of facecore) and run the calls the parent asks for."""
    spec = importlib.util.spec_from_file_location("_core", so_path)
    assert spec is not None and spec.loader is not None
    core = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(core)
    core.set_num_threads(threads)
    frame, alphas = conn.recv()
    # unpickled arrays carry non-canonical dtype objects, which the binding refuses: copy
    frame = frame.astype(np.uint8)
    alphas = {k: v.astype(np.float32) for k, v in alphas.items()}
    while True:
        msg = conn.recv()
        if msg is None:
            return
        mode, strength, bgr, which = msg
        bgr = np.asarray(bgr).astype(np.float32)
        res = np.empty_like(frame)
        t = time.perf_counter()
        core.recolor_u8(
            frame, alphas[which], getattr(core.ColourSpace, mode), bgr, strength, res, None
        )
        conn.send((time.perf_counter() - t, res))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("previous", help="the other build's _core .so")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import bench_kernels as bk

    import facecore as fc

    rng = np.random.default_rng(0)
    frame, _ = bk.load_frame(rng)
    alphas = {
        "dense": (0.02 + 0.98 * bk.smooth_field(rng, frame.shape[:2])).astype(np.float32),
        "hair": bk.hair_alpha(rng, frame.shape[:2]),
    }
    ctx = mp.get_context("spawn")  # a fresh interpreter each: no _core loaded yet
    builds = {"previous": args.previous, "this": fc._core.__file__}
    conns, procs = {}, []
    for name, path in builds.items():
        parent, child = ctx.Pipe()
        p = ctx.Process(target=worker, args=(path, args.threads, child), daemon=True)
        p.start()
        parent.send((frame, alphas))
        conns[name], procs = parent, [*procs, p]
    print(f"load average {os.getloadavg()}, threads {args.threads}, repeats {args.repeat}")
    medians = {}
    for mode, strength, color, which in CASES:
        msg = (mode, strength, np.float32(fc._validate.as_color(color)), which)
        times: dict[str, list[float]] = {k: [] for k in builds}
        outs = {}
        for _ in range(args.repeat):
            for name, conn in conns.items():
                conn.send(msg)
                dt, outs[name] = conn.recv()
                times[name].append(dt)
        d = np.abs(outs["this"].astype(int) - outs["previous"])
        med = {k: 1e3 * statistics.median(v) for k, v in times.items()}
        mn = {k: 1e3 * min(v) for k, v in times.items()}
        key = f"{mode} s={strength} {which}"
        medians[key] = med
        print(
            f"{key:22s} previous {med['previous']:6.1f} ms (min {mn['previous']:5.1f})  "
            f"this {med['this']:6.1f} ms (min {mn['this']:5.1f})  "
            f"speed-up {med['previous'] / med['this']:.2f}x  "
            f"max |diff| {d.max()} on {100 * (d > 0).mean():.4f} % of values"
        )
    for conn in conns.values():
        conn.send(None)
    for p in procs:
        p.join()
    tr, lab = medians["transfer s=1.0 hair"], medians["lab s=1.0 hair"]
    print(
        f"transfer / lab (hair alpha): previous {tr['previous'] / lab['previous']:.2f}, "
        f"this {tr['this'] / lab['this']:.2f}; this transfer / previous lab "
        f"{tr['this'] / lab['previous']:.2f}"
    )
    print(f"load average {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
