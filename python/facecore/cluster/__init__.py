"""Identity clustering of face embeddings (being split into a package; see methods.py)."""

from .methods import (
    DEFAULT_THRESHOLDS,
    METHODS,
    Clustering,
    ClusterMetrics,
    KnnInfo,
    ThresholdChoice,
    choose_threshold,
    cluster,
    cluster_metrics,
    knn_graph,
)
from .methods import _refine as _refine  # the tests use it
from .methods import (
    check_method as check_method,
)

__all__ = [
    "DEFAULT_THRESHOLDS",
    "METHODS",
    "ClusterMetrics",
    "Clustering",
    "KnnInfo",
    "ThresholdChoice",
    "choose_threshold",
    "cluster",
    "cluster_metrics",
    "knn_graph",
]
