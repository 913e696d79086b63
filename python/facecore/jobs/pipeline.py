"""The folder pipeline: decode and analyse several images at once, results in input order.

``facecore analyze`` and ``build-dataset`` over a folder spend their time in three stages
per image: decode (OpenCV), detection (onnxruntime) and the per-face models (onnxruntime,
after the batch warp kernel). Each of them releases the GIL, so a small pool of threads,
each taking the next image through decode -> detect -> models, keeps every core busy
while the caller consumes the results one by one, **in input order**, exactly as a
per-image loop would have produced them (the same function runs on each item).

The window of items in flight is bounded (``2 * workers``), so memory stays that of a few
decoded images whatever the folder's size. A failure of one item is that item's result
(the exception travels with it), never the pipeline's.

Measured on ``photos/celebs13`` against the plain per-image loop in
``benchmarks/bench_pipeline.py`` (folder part); see docs/benchmarks.md.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

__all__ = ["Outcome", "default_workers", "map_ordered"]

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    """Threads for the pipeline: the CPUs this process may use, at least 2, at most 8."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        n = os.cpu_count() or 2
    return max(2, min(8, n))


class Outcome(Generic[T, R]):
    """One item's result: ``value`` or the ``error`` it raised (then ``value`` is None)."""

    __slots__ = ("error", "item", "value")

    def __init__(self, item: T, value: R | None, error: BaseException | None) -> None:
        self.item = item
        self.value = value
        self.error = error

    def get(self) -> R:
        """The value, or raise the item's exception."""
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]


def _call(fn: Callable[[T], R], item: T) -> tuple[R | None, BaseException | None]:
    try:
        return fn(item), None
    except Exception as exc:  # the item's failure, reported with it
        return None, exc


def map_ordered(
    fn: Callable[[T], R], items: Iterable[T], *, workers: int | None = None
) -> Generator[Outcome[T, R], None, None]:
    """``fn`` over ``items`` on a thread pool, yielding each item's outcome in input order.

    Parameters
    ----------
    fn : callable
        Run once per item in a worker thread; it should spend its time in code that
        releases the GIL (decoding, onnxruntime, facecore's kernels).
    items : iterable
        Consumed lazily: at most ``2 * workers`` items are in flight.
    workers : int, optional
        Threads (default :func:`default_workers`); ``1`` runs ``fn`` in the calling thread,
        a plain loop.

    Yields
    ------
    Outcome
        ``(item, value, error)`` per item, in the order of ``items``. An ``Exception``
        raised by ``fn`` is the item's ``error``; ``KeyboardInterrupt`` and other
        ``BaseException`` stop the pipeline.

    Examples
    --------
    >>> from facecore.jobs.pipeline import map_ordered
    >>> [o.get() for o in map_ordered(lambda x: 10 // x, [1, 2, 5], workers=2)]
    [10, 5, 2]
    >>> [type(o.error).__name__ for o in map_ordered(lambda x: 1 // x, [1, 0])]
    ['NoneType', 'ZeroDivisionError']
    """
    if workers is None:
        workers = default_workers()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers: expected an int >= 1; got {workers!r}")
    if workers == 1:
        for item in items:
            value, error = _call(fn, item)
            yield Outcome(item, value, error)
        return
    window: deque[tuple[T, Future[tuple[R | None, BaseException | None]]]] = deque()
    it = iter(items)
    ex = ThreadPoolExecutor(workers, thread_name_prefix="facecore-pipeline")
    try:
        for item in it:
            window.append((item, ex.submit(_call, fn, item)))
            if len(window) >= 2 * workers:
                break
        while window:
            item, fut = window.popleft()
            value, error = fut.result()
            for nxt in it:  # keep the window full before handing the result out
                window.append((nxt, ex.submit(_call, fn, nxt)))
                break
            yield Outcome(item, value, error)
    finally:
        for _, fut in window:
            fut.cancel()
        ex.shutdown(wait=True, cancel_futures=True)
