"""Identity clustering of face embeddings, clustering metrics, and threshold selection.

Every method works on a cosine **k-nearest-neighbour graph** of the L2-normalised
embeddings: each item is linked to its ``k`` most similar items, and only links with
cosine similarity ``>= threshold`` are kept. The graph comes from FAISS when
``faiss-cpu`` is installed (exact inner-product search, ``IndexFlatIP``, up to 20,000
items; an approximate index above that: an HNSW graph, ``IndexHNSWFlat``, by default, or
inverted lists, ``IndexIVFFlat``; a GPU index where ``faiss-gpu`` finds a GPU), and
otherwise from an exact blockwise NumPy matrix product (``O(N^2 D)`` flops in bounded
memory). An approximate graph gets one round of neighbour-of-neighbour refinement, and
its recall against exact search is measured on a sample of queries and reported in
:class:`KnnInfo` (``knn_graph(..., return_info=True)``
and ``Clustering.knn``).

Methods
-------
``"graph"`` (default)
    Chinese Whispers on the graph (small, pure clusters), then average linkage over
    those clusters at the same threshold (joins the fragments of one identity), then
    every member re-checked: one whose cosine to its cluster centre is below
    ``threshold - 0.1`` (joined only by chaining) is moved to ``unassigned``. The best
    purity for its compactness on the face sets in ``docs/accuracy.md``.
``"agglomerative"``
    Average linkage (UPGMA) on cosine similarity: repeatedly merge the two clusters
    with the highest mean pairwise cosine until it falls below ``threshold``. For unit
    vectors the mean pairwise cosine of clusters ``A`` and ``B`` is
    ``sum(A) . sum(B) / (|A| |B|)``, so a cluster is kept as its sum vector and a merge
    costs ``O(D)`` per neighbouring cluster. Only pairs joined by at least one graph link
    are candidates (pairs without one have a mean cosine far below any useful threshold).
``"chinese_whispers"``
    Chinese Whispers (Biemann 2006, as in dlib): every item starts in its own cluster
    and repeatedly takes the label with the largest total link weight among its
    neighbours; items are visited in a seeded random order, in 8 blocks per sweep.
``"components"``
    Connected components of the graph (single linkage cut at ``threshold``).
``"infomap"``
    Infomap (Rosvall and Bergstrom 2008; the ``infomap`` package): the two-level
    partition that minimises the description length of a random walk on the weighted,
    undirected graph. The method of the MS1M clustering benchmarks (pairwise F 94.0).
``"leiden"``
    Leiden (Traag et al. 2019; ``leidenalg`` on an ``igraph`` graph; communities are
    guaranteed connected) optimising the Constant Potts Model: a community ``c`` with
    ``n_c`` members and internal link weight ``w_c`` scores ``w_c - resolution * n_c^2 / 2``,
    so two groups merge only when the cosine weight between them exceeds
    ``resolution * n_a * n_b`` (default 0.05). CPM has no resolution limit; modularity
    does, and merged the small identities of 100k synthetic faces (purity 0.48 there).

``infomap`` and ``leiden`` need ``pip install "facecore[cluster]"``; without the
packages they raise an :class:`ImportError` that says so, and the other methods work.

Clusters with fewer than ``min_size`` members (default 2) are not forced on anyone:
their items get the label ``-1`` (unassigned).

Layout: :mod:`~facecore.cluster.knn` (the k-NN graph: backends, recall),
:mod:`~facecore.cluster.methods` (the methods and :func:`cluster`),
:mod:`~facecore.cluster.metrics` (:func:`cluster_metrics`) and
:mod:`~facecore.cluster.thresholds` (:func:`choose_threshold`); every public name is
importable from ``facecore.cluster`` itself.
"""

from __future__ import annotations

from .knn import KnnInfo, knn_graph
from .methods import DEFAULT_THRESHOLDS, METHODS, Clustering, cluster
from .methods import (
    check_method as check_method,
)  # public, used by the CLI; not in __all__ (as before)
from .metrics import ClusterMetrics, cluster_metrics
from .thresholds import ThresholdChoice, choose_threshold

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
