"""Shared helpers for facecore's benchmark scripts (the contract is in benchmarks/README.md).

time_it           median and inter-quartile range of one callable, after warm-up calls.
compare           the same for facecore and its baseline, their repeats interleaved.
run_metadata      what a figure means nothing without: commit, CPU, threads, versions, load.
ForeignLoad       CPU time other processes took during the run (how quiet it was).
memcpy_bandwidth  the machine's copy bandwidth, measured in this process (a time floor).
save_json         write the header and results, atomically.
format_ms         "12.3 ± 0.4" for tables.

Timing uses ``time.perf_counter_ns`` around a single call per repeat: every case here takes
at least a few hundred microseconds, so the clock's resolution (< 1 us) does not matter and
one call per sample keeps the samples independent. CPU kernels return only when their work is
done, so no synchronisation is needed; GPU cases, when they come, must synchronise inside the
timed callable.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------ timing


def summarize(times_s: list[float]) -> dict[str, Any]:
    """Median, quartiles and IQR (ms) of a list of durations in seconds."""
    ms = np.asarray(times_s, dtype=np.float64) * 1e3
    q25, med, q75 = np.percentile(ms, [25, 50, 75])
    return {
        "median_ms": float(med),
        "iqr_ms": float(q75 - q25),
        "q25_ms": float(q25),
        "q75_ms": float(q75),
        "min_ms": float(ms.min()),
        "mean_ms": float(ms.mean()),
        "repeat": int(ms.size),
        "times_ms": [round(float(t), 4) for t in ms],
    }


def time_it(fn: Callable[[], Any], repeat: int = 20, warmup: int = 3) -> dict[str, Any]:
    """Call ``fn`` ``warmup`` times untimed, then ``repeat`` times timed; summarise.

    Warm-up absorbs first-call costs (page faults on fresh buffers, thread-pool start,
    lazy initialisation in OpenCV) that a long-running program pays once.

    Returns
    -------
    dict with median_ms, iqr_ms (q75 - q25), q25_ms, q75_ms, min_ms, mean_ms, repeat, times_ms.
    """
    if repeat < 1:
        raise ValueError("repeat: must be >= 1")
    for _ in range(max(0, warmup)):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter_ns()
        fn()
        times.append((time.perf_counter_ns() - t0) * 1e-9)
    return summarize(times)


def compare(
    fns: dict[str, Callable[[], Any]],
    repeat: int = 20,
    warmup: int = 3,
    budget_s: float | None = None,
    min_repeat: int = 5,
) -> dict[str, dict[str, Any]]:
    """Time several callables that do the same job, their repeats interleaved.

    Round ``r`` times every callable once, in an order rotated each round. On a shared or
    throttling machine a burst of load then hits every side about equally instead of
    whichever happened to run during it; this is the "same process, same conditions" part
    of the contract.

    Parameters
    ----------
    fns : dict name -> callable
    repeat : int
        Rounds (samples per callable).
    warmup : int
        Untimed rounds first.
    budget_s : float, optional
        Stop after this many seconds of timed rounds, once ``min_repeat`` rounds are done
        (for slow baselines; the number actually taken is reported as ``repeat``).
    """
    names = list(fns)
    for _ in range(max(0, warmup)):
        for n in names:
            fns[n]()
    times: dict[str, list[float]] = {n: [] for n in names}
    start = time.perf_counter()
    for r in range(repeat):
        order = names[r % len(names) :] + names[: r % len(names)]
        for n in order:
            t0 = time.perf_counter_ns()
            fns[n]()
            times[n].append((time.perf_counter_ns() - t0) * 1e-9)
        if budget_s is not None and r + 1 >= min_repeat and time.perf_counter() - start > budget_s:
            break
    return {n: summarize(t) for n, t in times.items()}


def format_ms(stats: dict[str, Any]) -> str:
    """``median ± IQR`` in ms with sensible digits."""
    m, i = stats["median_ms"], stats["iqr_ms"]
    digits = 3 if m < 1 else 2 if m < 10 else 1 if m < 1000 else 0
    return f"{m:.{digits}f} ± {i:.{digits}f}"


# ------------------------------------------------------------------------ bandwidth


def memcpy_bandwidth(nbytes: int = 128 << 20, repeat: int = 10, threads: int = 1) -> dict[str, Any]:
    """Copy bandwidth of this machine, measured with ``np.copyto`` in this process.

    Copies a buffer much larger than the last-level cache; bandwidth counts bytes read plus
    bytes written (``2 * nbytes / t``), the same accounting the kernels' floors use. With
    ``threads > 1`` the buffer is split into that many slices copied on Python threads
    (NumPy releases the GIL for the copy), which is what a multi-threaded kernel can reach.

    Returns
    -------
    dict with gb_per_s (from the median time), best_gb_per_s (from the fastest), nbytes,
    threads, and the time statistics.
    """
    src = np.full(nbytes, 1, np.uint8)  # written once so every page is really mapped
    dst = np.zeros_like(src)
    if threads <= 1:

        def run() -> None:
            np.copyto(dst, src)

    else:
        bounds = np.linspace(0, nbytes, threads + 1).astype(np.int64)
        parts = [(dst[a:b], src[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]

        def run() -> None:
            workers = [threading.Thread(target=np.copyto, args=p) for p in parts[1:]]
            for w in workers:
                w.start()
            np.copyto(*parts[0])
            for w in workers:
                w.join()

    stats = time_it(run, repeat=repeat, warmup=2)
    moved = 2 * nbytes
    return {
        "gb_per_s": moved / (stats["median_ms"] * 1e-3) / 1e9,
        "best_gb_per_s": moved / (stats["min_ms"] * 1e-3) / 1e9,
        "nbytes": nbytes,
        "threads": threads,
        **{k: v for k, v in stats.items() if k != "times_ms"},
    }


# ------------------------------------------------------------------------- metadata


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None  # not a checkout, or no git: the header says "unknown"


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo (Linux), else platform.processor()."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def usable_cpus() -> int:
    """CPUs this process may run on (affinity / container limits), not the host's count."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def cpu_busy_seconds() -> float | None:
    """Non-idle CPU seconds of the whole machine since boot (all CPUs), from /proc/stat."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    # user nice system idle iowait irq softirq steal ...: everything but idle and iowait.
    ticks = [int(v) for v in fields[1:9]]
    busy = ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6] + ticks[7]
    return busy / os.sysconf("SC_CLK_TCK")


class ForeignLoad:
    """CPU seconds other processes used between ``start()`` and ``stop()``.

    The machine's busy time minus this process's own CPU time: the direct measure of how
    quiet a run was (the load average lags by a minute and counts this process too).
    """

    def start(self) -> ForeignLoad:
        self._busy, self._own, self._wall = (
            cpu_busy_seconds(),
            time.process_time(),
            time.perf_counter(),
        )
        return self

    def stop(self) -> dict[str, Any]:
        busy, own, wall = cpu_busy_seconds(), time.process_time(), time.perf_counter()
        if busy is None or self._busy is None:
            return {"foreign_cpu_s": None, "wall_s": wall - self._wall}
        foreign = max(0.0, (busy - self._busy) - (own - self._own))
        capacity = (wall - self._wall) * usable_cpus()
        return {
            "foreign_cpu_s": round(foreign, 2),
            "wall_s": round(wall - self._wall, 2),
            "foreign_fraction": round(foreign / capacity, 4) if capacity > 0 else None,
        }


def run_metadata() -> dict[str, Any]:
    """Header for a run: what produced the figures and on what.

    Records the commit (and whether the tree had local changes, which the figures then
    include), CPU model and counts, library versions, the thread counts each side starts
    with, and the load average at the start (a loaded machine makes every figure noisy).
    """
    import cv2

    import facecore as fc

    commit = _git("rev-parse", "HEAD")
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "date_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "git_commit": commit or "unknown",
        "git_dirty": None if dirty is None else bool(dirty),
        "hostname": platform.node(),
        "platform": platform.platform(),
        "cpu_model": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": usable_cpus(),
        "load_average_start": load_average(),
        "python": sys.version.split()[0],
        "facecore": fc.__version__,
        "facecore_path": str(Path(fc.__file__).parent),
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "facecore_threads_default": fc.num_threads(),
        "opencv_threads_default": cv2.getNumThreads(),
        "numpy_threads": 1,  # the element-wise NumPy used here never runs in parallel
        "cuda_available": bool(fc.cuda_available()),
        "gpu": None,
    }


def format_header(meta: dict[str, Any]) -> str:
    """The metadata as the few lines printed above a table."""
    dirty = " (+ local changes)" if meta.get("git_dirty") else ""
    return "\n".join(
        [
            f"facecore {meta['facecore']}  commit {meta['git_commit'][:12]}{dirty}  {meta['date_utc']}",
            f"CPU: {meta['cpu_model']}  logical CPUs {meta['logical_cpus']} (usable {meta['usable_cpus']})"
            f"  load avg {meta['load_average_start']}",
            f"numpy {meta['numpy']}  opencv {meta['opencv']}  python {meta['python']}  GPU: {meta['gpu'] or 'none'}",
            f"threads by default: facecore {meta['facecore_threads_default']}, "
            f"OpenCV {meta['opencv_threads_default']}, NumPy 1",
        ]
    )


def save_json(
    path: str | os.PathLike, metadata: dict[str, Any], results: list[dict[str, Any]], **extra: Any
) -> Path:
    """Write ``{"metadata", "results", **extra}`` to ``path`` (via a .tmp file, then rename)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({"metadata": metadata, "results": results, **extra}, f, indent=1)
        f.write("\n")
    os.replace(tmp, p)
    return p
