"""Issue 13, finding 1: no thread setting and no refused thread start may abort the process.

Each case runs in a subprocess (an abort would take pytest down with it) and checks exit 0,
the capped count and a kernel result equal to the serial one.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

CHILD = textwrap.dedent("""
    import sys, numpy as np, facecore as fc
    img = np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    M = np.array([[[0.7, 0.1, -5.0], [-0.1, 0.7, -3.0]]] * 64)
    p = np.random.default_rng(1).random((512, 512), dtype=np.float32)
    n = int(sys.argv[1])
    fc.set_num_threads(1)
    want = (fc.kernels.warp_crops(img, M, 64).tobytes(), fc.kernels.refine_map(p, iterations=2).tobytes())
    fc.set_num_threads(n)
    got = (fc.kernels.warp_crops(img, M, 64).tobytes(), fc.kernels.refine_map(p, iterations=2).tobytes())
    assert got == want, "results changed with the thread count"
    print(fc.num_threads(), fc._core.pool_threads())
""")


def _run(args, env=None, preexec=None):
    e = dict(os.environ, OMP_NUM_THREADS="1")
    e.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", CHILD, *args],
        capture_output=True,
        text=True,
        env=e,
        timeout=120,
        preexec_fn=preexec,
    )


def test_set_num_threads_2000_is_capped_and_does_not_abort():
    r = _run(["2000"])
    assert r.returncode == 0, r.stderr[-2000:]
    configured, started = map(int, r.stdout.split())
    assert configured == 256 and 1 <= started <= 256


def test_env_num_threads_3000_is_capped_and_does_not_abort():
    r = _run(["0"], env={"FACECORE_NUM_THREADS": "3000"})
    assert r.returncode == 0, r.stderr[-2000:]
    assert int(r.stdout.split()[0]) == 256


AS_CHILD = textwrap.dedent("""
    import resource, sys, numpy as np, facecore as fc
    img = np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    M = np.array([[[0.7, 0.1, -5.0], [-0.1, 0.7, -3.0]]] * 64)
    fc.set_num_threads(1)
    want = fc.kernels.warp_crops(img, M, 64).tobytes()
    with open("/proc/self/statm") as f:
        vm = int(f.read().split()[0]) * resource.getpagesize()
    # room for the kernel's output and about 3 thread stacks (8 MiB each), not for 63
    resource.setrlimit(resource.RLIMIT_AS, (vm + 40 * 2**20, resource.RLIM_INFINITY))
    fc.set_num_threads(64)
    got = fc.kernels.warp_crops(img, M, 64).tobytes()
    assert got == want
    print(fc.num_threads(), fc._core.pool_threads())
""")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc (Linux)")
def test_refused_thread_starts_degrade_to_fewer_threads():
    """The system refuses thread stacks after a few (RLIMIT_AS; ``ulimit -u`` acts alike but
    does not bind root): the pool runs on the threads it got instead of std::terminate."""
    r = subprocess.run(
        [sys.executable, "-c", AS_CHILD],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )
    assert r.returncode == 0, r.stderr[-2000:]
    configured, started = map(int, r.stdout.split())
    assert configured == 64 and 1 <= started < 64
