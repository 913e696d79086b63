"""Choosing a clustering threshold on a labelled development set."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._common import as_embeddings, as_labels, as_threshold, read_only
from .knn import knn_graph
from .methods import METHODS, cluster
from .metrics import ClusterMetrics, cluster_metrics

__all__ = ["ThresholdChoice", "choose_threshold"]

_OBJECTIVES = ("bcubed_f", "pairwise_f", "nmi")


@dataclass(frozen=True, slots=True)
class ThresholdChoice:
    """Result of :func:`choose_threshold`.

    Attributes
    ----------
    threshold : float
        The best threshold on the development set.
    metrics : ClusterMetrics
        Its metrics there.
    method, objective : str
    thresholds : (T,) float64 read-only ndarray
        Every threshold tried.
    scores : (T,) float64 read-only ndarray
        The objective at each (``nan`` where ``min_purity`` was not met).
    sweep : tuple of ClusterMetrics
        Metrics at every threshold.
    """

    threshold: float
    metrics: ClusterMetrics
    method: str
    objective: str
    thresholds: np.ndarray
    scores: np.ndarray
    sweep: tuple[ClusterMetrics, ...] = field(repr=False)


def choose_threshold(
    embeddings: Any,
    labels: Any,
    *,
    method: str = "graph",
    thresholds: Sequence[float] | None = None,
    objective: str | Callable[[ClusterMetrics], float] = "bcubed_f",
    min_purity: float | None = None,
    k: int = 16,
    min_size: int = 2,
    backend: str = "auto",
) -> ThresholdChoice:
    """The clustering threshold that scores best on a labelled development set.

    Clusters ``embeddings`` at every threshold (one k-NN graph for all) and returns the
    one with the highest ``objective``; ties go to the higher threshold (purer clusters).

    Parameters
    ----------
    embeddings : (N, D) float array-like
    labels : (N,) array-like of int or str
        True identities (``-1``/``None``: unlabelled, counted as noise).
    method : str
        As :func:`cluster`.
    thresholds : sequence of float, optional
        Candidates (default ``0.20, 0.22, ..., 0.80``).
    objective : {"bcubed_f", "pairwise_f", "nmi"} or callable
        What to maximise; a callable takes a :class:`ClusterMetrics` and returns a float.
    min_purity : float, optional
        Only thresholds whose purity reaches this count.
    k, min_size, backend
        As :func:`cluster`.

    Returns
    -------
    ThresholdChoice

    Raises
    ------
    ValueError
        If no threshold reaches ``min_purity``, or an argument is out of range.

    Examples
    --------
    Three identities of ten noisy embeddings each: thresholds above about 0.5 split them.

    >>> import numpy as np
    >>> from facecore.cluster import choose_threshold
    >>> rng = np.random.default_rng(0)
    >>> x = np.repeat(rng.normal(size=(3, 64)), 10, axis=0) + rng.normal(size=(30, 64))
    >>> c = choose_threshold(x, np.repeat([0, 1, 2], 10))
    >>> float(c.threshold), c.metrics.n_clusters, float(c.metrics.bcubed_f)
    (0.48, 3, 1.0)
    >>> bool(c.scores[-1] < 0.5)  # at 0.80 every face is its own cluster
    True
    """
    x = as_embeddings(embeddings)
    y = as_labels(labels, "labels")
    if y.size != x.shape[0]:
        raise ValueError(f"labels: expected {x.shape[0]} labels (one per embedding); got {y.size}")
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method: expected one of {', '.join(METHODS)}; got {method!r}")
    if callable(objective):
        score_of = objective
        obj_name = getattr(objective, "__name__", "custom")
    elif isinstance(objective, str) and objective in _OBJECTIVES:
        obj_name = objective

        def score_of(m: ClusterMetrics) -> float:
            return float(getattr(m, obj_name))
    else:
        raise ValueError(
            f"objective: expected one of {', '.join(_OBJECTIVES)} or a callable; got {objective!r}"
        )
    if thresholds is None:
        ts = np.round(np.arange(0.20, 0.8001, 0.02), 4)
    else:
        if isinstance(thresholds, (str, bytes)):
            raise TypeError("thresholds: expected a sequence of floats")
        ts = np.array([as_threshold(t, "thresholds") for t in thresholds], np.float64)
        if ts.size == 0:
            raise ValueError("thresholds: expected at least one value")
    if min_purity is not None:
        min_purity = as_threshold(min_purity, "min_purity")
    graph = knn_graph(x, k, backend=backend)
    sweep = []
    scores = np.full(ts.size, np.nan)
    for i, t in enumerate(ts):
        res = cluster(x, method=method, threshold=float(t), k=k, min_size=min_size, graph=graph)
        m = cluster_metrics(y, res.labels)
        sweep.append(m)
        if min_purity is None or m.purity >= min_purity:
            scores[i] = score_of(m)
    if np.all(np.isnan(scores)):
        raise ValueError(
            f"min_purity: no threshold of {ts.min():.2f}..{ts.max():.2f} reaches purity {min_purity}"
        )
    best = max(range(ts.size), key=lambda i: (-np.inf if np.isnan(scores[i]) else scores[i], ts[i]))
    return ThresholdChoice(
        threshold=float(ts[best]),
        metrics=sweep[best],
        method=method,
        objective=obj_name,
        thresholds=read_only(ts),
        scores=read_only(scores),
        sweep=tuple(sweep),
    )
