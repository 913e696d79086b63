"""The recolour kernel of two builds, interleaved: this one against a previous one.

    python benchmarks/ab_recolor.py PREVIOUS_CORE_SO [--repeat 20] [--threads 1]
    python benchmarks/ab_recolor.py PREVIOUS_CORE_SO --photos DIR   # differences only

``PREVIOUS_CORE_SO`` is another build's ``facecore/_core*.so`` (e.g. main's, copied aside
before rebuilding). Two pybind11 modules with the same types cannot share a process, so each
build runs in its own worker process and the two take turns call by call (one works while
the other waits), on the bench_kernels.py 1080p frame with its dense and hair-like alphas.
Prints the median (and min) time per call (at one thread the calling thread's CPU time,
which a loaded machine disturbs far less than wall time; else wall time), the speed-up, and
the largest difference between the two builds' outputs. With ``--photos DIR`` it times
nothing and instead recolours every ``*.jpg`` under DIR with both builds (every mode,
strengths 1 and 0.6, three colours, a smooth alpha in [0, 1]) and reports the largest
difference. The "before / after" figures of docs/benchmarks.md (issues 14 and 19) come from
this script.
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
    res = np.empty_like(frame)  # one output buffer: the kernel is timed, not the page faults
    while True:
        msg = conn.recv()
        if msg is None:
            return
        if msg[0] == "image":  # a new frame and alpha
            frame, alphas = msg[1].astype(np.uint8), {"image": msg[2].astype(np.float32)}
            res = np.empty_like(frame)
            continue
        mode, strength, bgr, which = msg
        bgr = np.asarray(bgr).astype(np.float32)
        t, c = time.perf_counter(), time.thread_time()
        core.recolor_u8(
            frame, alphas[which], getattr(core.ColourSpace, mode), bgr, strength, res, None
        )
        conn.send(((time.perf_counter() - t, time.thread_time() - c), res))


def compare_photos(folder: Path, conns: dict[str, Any]) -> None:
    import cv2

    import facecore as fc

    worst: dict[str, tuple[int, float]] = {}
    for path in sorted(folder.rglob("*.jpg")):
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            continue
        h, w = img.shape[:2]
        coarse = np.random.default_rng(0).random((8, 8), dtype=np.float32)
        alpha = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
        alpha = np.clip(alpha * 1.3 - 0.1, 0, 1).astype(np.float32)
        for conn in conns.values():
            conn.send(("image", img, alpha))
        for mode in ("lab", "hsv", "transfer", "natural"):
            for strength in (1.0, 0.6):
                for color in ("#0000ff", "#a52a2a", "#e6c27a"):
                    msg = (mode, strength, np.float32(fc._validate.as_color(color)), "image")
                    outs = {}
                    for name, conn in conns.items():
                        conn.send(msg)
                        outs[name] = conn.recv()[1]
                    d = np.abs(outs["this"].astype(int) - outs["previous"])
                    key = f"{mode} s={strength}"
                    m, frac = worst.get(key, (0, 0.0))
                    worst[key] = (max(m, int(d.max())), max(frac, float((d > 0).mean())))
        print(f"{path.name}: {img.shape[1]}x{img.shape[0]}", flush=True)
    for key, (m, frac) in worst.items():
        print(
            f"{key:16s} max |this - previous| {m} level(s); at most {100 * frac:.4f} % of values differ"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("previous", help="the other build's _core .so")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--photos", type=Path, default=None, help="compare outputs on these photos")
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
    if args.photos is not None:
        compare_photos(args.photos, conns)
        for conn in conns.values():
            conn.send(None)
        return 0
    print(f"load average {os.getloadavg()}, threads {args.threads}, repeats {args.repeat}")
    medians = {}
    for mode, strength, color, which in CASES:
        msg = (mode, strength, np.float32(fc._validate.as_color(color)), which)
        times: dict[str, list[float]] = {k: [] for k in builds}
        cpu: dict[str, list[float]] = {k: [] for k in builds}
        outs = {}
        for _ in range(args.repeat):
            for name, conn in conns.items():
                conn.send(msg)
                (dt, dc), outs[name] = conn.recv()
                times[name].append(dt)
                cpu[name].append(dc)
        d = np.abs(outs["this"].astype(int) - outs["previous"])
        med = {k: 1e3 * statistics.median(v) for k, v in times.items()}
        mn = {k: 1e3 * min(v) for k, v in times.items()}
        if args.threads == 1:  # the work runs on the calling thread: its CPU time, not the load's
            med = {k: 1e3 * statistics.median(v) for k, v in cpu.items()}
            mn = {k: 1e3 * min(v) for k, v in cpu.items()}
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
