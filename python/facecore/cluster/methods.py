"""The clustering methods on the k-NN graph and :func:`cluster`, their front end.

``graph``, ``chinese_whispers``, ``components``, ``infomap``, ``leiden`` and
``agglomerative`` (see the package docstring of :mod:`facecore.cluster`); each takes the
undirected links ``(u, v, w)`` of the thresholded graph and returns a raw label per item.
"""

from __future__ import annotations

import heapq
import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._common import as_embeddings, as_int, as_threshold, read_only
from .knn import KnnInfo, knn_graph

__all__ = ["DEFAULT_THRESHOLDS", "METHODS", "Clustering", "check_method", "cluster"]

logger = logging.getLogger(__name__)

METHODS = ("graph", "agglomerative", "chinese_whispers", "components", "infomap", "leiden")

#: Default cosine thresholds for SFace embeddings, chosen on the dev half of
#: identity/glint24 (see docs/accuracy.md, "Identity clustering").
DEFAULT_THRESHOLDS = {
    "graph": 0.40,
    "agglomerative": 0.42,
    "chinese_whispers": 0.40,
    "components": 0.58,
    "infomap": 0.40,
    "leiden": 0.40,
}
_GRAPH_SLACK = 0.1


def _edges(
    idx: np.ndarray, sim: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Undirected edges ``(u < v)`` with similarity ``>= threshold``, each once."""
    n, k = idx.shape
    u = np.repeat(np.arange(n, dtype=np.int64), k)
    v = idx.ravel()
    w = sim.ravel()
    m = (v >= 0) & (w >= threshold) & (u != v)
    u, v, w = u[m], v[m], w[m]
    a, b = np.minimum(u, v), np.maximum(u, v)
    key = a * n + b
    key, first = np.unique(key, return_index=True)
    return a[first], b[first], w[first].astype(np.float32)


def _components(n: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Connected components by min-label propagation with pointer jumping."""
    lab = np.arange(n, dtype=np.int64)
    if u.size == 0:
        return lab
    while True:
        m = np.minimum(lab[u], lab[v])
        new = lab.copy()
        np.minimum.at(new, u, m)
        np.minimum.at(new, v, m)
        while True:  # pointer jumping: follow labels to their roots
            nxt = new[new]
            if np.array_equal(nxt, new):
                break
            new = nxt
        if np.array_equal(new, lab):
            return lab
        lab = new


def _chinese_whispers(
    n: int, u: np.ndarray, v: np.ndarray, w: np.ndarray, *, iterations: int, seed: int
) -> np.ndarray:
    lab = np.arange(n, dtype=np.int64)
    if u.size == 0:
        return lab
    src = np.concatenate([u, v])
    dst = np.concatenate([v, u])
    wt = np.concatenate([w, w]).astype(np.float64)
    order = np.argsort(src, kind="stable")
    src, dst, wt = src[order], dst[order], wt[order]
    rng = np.random.default_rng(seed)
    blocks = 8
    for _ in range(iterations):
        perm = rng.permutation(n)
        changed = 0
        for part in np.array_split(perm, blocks):
            sel = np.zeros(n, bool)
            sel[part] = True
            m = sel[src]
            s, d, ww = src[m], dst[m], wt[m]
            if s.size == 0:
                continue
            nl = lab[d]
            key = s * n + nl
            uk, inv = np.unique(key, return_inverse=True)
            tot = np.bincount(inv, weights=ww)
            ks, kl = uk // n, uk % n
            # per node the label with the largest weight (ties: smallest label)
            o = np.lexsort((kl, -tot, ks))
            ks, kl = ks[o], kl[o]
            firsts = np.r_[True, ks[1:] != ks[:-1]]
            nodes, best = ks[firsts], kl[firsts]
            changed += int(np.count_nonzero(lab[nodes] != best))
            lab[nodes] = best
        if changed == 0:
            break
    return lab


_METHOD_PACKAGES = {
    "infomap": (("infomap",), "the 'infomap' package"),
    "leiden": (("leidenalg", "igraph"), "the 'leidenalg' and 'igraph' packages"),
}


def check_method(method: str) -> None:
    """Raise the ImportError :func:`cluster` would raise for ``method`` -- before any work.

    Raises
    ------
    ValueError
        If ``method`` is not one of :data:`METHODS`.
    ImportError
        If the packages ``method`` needs are not installed (``infomap``, ``leiden``).
    """
    if method not in METHODS:
        raise ValueError(f"method: expected one of {list(METHODS)}; got {method!r}")
    if method in _METHOD_PACKAGES:
        import importlib

        mods, what = _METHOD_PACKAGES[method]
        for m in mods:
            try:
                importlib.import_module(m)
            except ImportError:
                raise _missing(method, what) from None


def _missing(method: str, packages: str) -> ImportError:
    return ImportError(
        f'method={method!r} needs {packages}; install them with: pip install "facecore[cluster]"'
    )


def _infomap(
    n: int, u: np.ndarray, v: np.ndarray, w: np.ndarray, *, seed: int, trials: int
) -> np.ndarray:
    """Two-level Infomap modules of the weighted undirected graph (isolated items: own label)."""
    try:
        from infomap import Infomap
    except ImportError:
        raise _missing("infomap", "the 'infomap' package") from None
    lab = np.arange(n, dtype=np.int64)
    if u.size == 0:
        return lab
    im = Infomap(
        two_level=True, silent=True, seed=seed + 1, num_trials=trials
    )  # links are undirected
    im.add_links(zip(u.tolist(), v.tolist(), w.astype(np.float64).tolist()))
    res = im.run()
    # node id -> module id, only for nodes with links (infomap >= 2.16 returns a Result)
    mods = res.modules() if res is not None and hasattr(res, "modules") else im.get_modules()
    if mods:
        ids = np.fromiter(mods.keys(), np.int64, len(mods))
        lab[ids] = n + np.fromiter(
            mods.values(), np.int64, len(mods)
        )  # clear of the singleton labels
    return lab


def _leiden(
    n: int, u: np.ndarray, v: np.ndarray, w: np.ndarray, *, seed: int, resolution: float
) -> np.ndarray:
    """Leiden communities (CPM with ``resolution``) of the weighted undirected graph."""
    try:
        import igraph
        import leidenalg
    except ImportError:
        raise _missing("leiden", "the 'leidenalg' and 'igraph' packages") from None
    if u.size == 0:
        return np.arange(n, dtype=np.int64)
    g = igraph.Graph(n=n, edges=np.column_stack([u, v]).tolist(), directed=False)
    part = leidenalg.find_partition(
        g,
        leidenalg.CPMVertexPartition,
        weights=w.astype(np.float64).tolist(),
        resolution_parameter=resolution,
        seed=seed,
        n_iterations=2,
    )
    return np.asarray(part.membership, dtype=np.int64)


def _average_linkage(
    x: np.ndarray, u: np.ndarray, v: np.ndarray, threshold: float, init: np.ndarray | None = None
) -> np.ndarray:
    """UPGMA on cosine similarity restricted to pairs joined by a graph edge.

    ``init`` (labels ``0..M-1``, every item labelled) starts from those clusters instead
    of singletons. Returns a root id per item.
    """
    n, d = x.shape
    if init is None:
        init = np.arange(n, dtype=np.int64)
    m0 = int(init.max()) + 1 if n else 0
    sums = np.zeros((m0, d), np.float64)
    np.add.at(sums, init, x.astype(np.float64))
    size = np.bincount(init, minlength=m0).astype(np.int64)
    lab = init.copy()
    cu, cv = init[u], init[v]
    keep = cu != cv
    cu, cv = np.minimum(cu[keep], cv[keep]), np.maximum(cu[keep], cv[keep])
    if cu.size == 0:
        return lab
    pairs = np.unique(cu * m0 + cv)
    u, v = pairs // m0, pairs % m0
    n = m0
    alive = np.ones(n, bool)
    adj: list[set[int] | None] = [set() for _ in range(n)]
    for a, b in zip(u.tolist(), v.tolist()):
        adj[a].add(b)
        adj[b].add(a)
    # exact mean pairwise cosine of two clusters: sum(A) . sum(B) / (|A| |B|)
    s0 = np.einsum("ij,ij->i", sums[u], sums[v]) / (size[u] * size[v])
    heap = [(-s, a, b) for s, a, b in zip(s0.tolist(), u.tolist(), v.tolist()) if s >= threshold]
    heapq.heapify(heap)
    parent = np.arange(n, dtype=np.int64)  # union-find over original items
    while heap:
        _, a, b = heapq.heappop(heap)
        if not (alive[a] and alive[b]):
            continue
        # merge the smaller cluster into the larger (keeps adjacency unions cheap)
        if len(adj[a]) < len(adj[b]):
            a, b = b, a
        sums[a] += sums[b]
        size[a] += size[b]
        alive[b] = False
        parent[b] = a
        nb: set[int] = adj[b]
        adj[b] = None
        adj_a: set[int] = adj[a]
        adj_a |= nb
        adj_a.discard(a)
        adj_a.discard(b)
        for c in nb:
            ac = adj[c]
            if ac is not None:
                ac.discard(b)
                if c != a:
                    ac.add(a)
        if not adj_a:
            continue
        nbrs = np.fromiter(adj_a, dtype=np.int64, count=len(adj_a))
        sims = (sums[nbrs] @ sums[a]) / (size[nbrs] * size[a])
        for c, s in zip(nbrs.tolist(), sims.tolist()):
            if s >= threshold:
                heapq.heappush(heap, (-s, a, c))
    # resolve roots
    while True:
        nxt = parent[parent]
        if np.array_equal(nxt, parent):
            break
        parent = nxt
    return parent[lab]


def _centres(x: np.ndarray, lab: np.ndarray, k: int) -> np.ndarray:
    sums = np.zeros((k, x.shape[1]), np.float64)
    m = lab >= 0
    np.add.at(sums, lab[m], x[m])
    nrm = np.linalg.norm(sums, axis=1, keepdims=True)
    return (sums / np.where(nrm > 0, nrm, 1.0)).astype(np.float32)


def _relabel(lab: np.ndarray, min_size: int) -> np.ndarray:
    """Labels 0..K-1 by decreasing size (ties: smallest first member); small ones -> -1."""
    out = np.full(lab.shape, -1, np.int64)
    m = lab >= 0
    if not m.any():
        return out
    uniq, first, inv, counts = np.unique(
        lab[m], return_index=True, return_inverse=True, return_counts=True
    )
    keep = counts >= min_size
    order = np.lexsort((first, -counts))
    order = order[keep[order]]
    new = np.full(uniq.size, -1, np.int64)
    new[order] = np.arange(order.size)
    out[m] = new[inv]
    return out


# -- result and front end ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Clustering:
    """Result of :func:`cluster`.

    Attributes
    ----------
    labels : (N,) int64 read-only ndarray
        Cluster of each item, ``0 .. n_clusters-1`` by decreasing cluster size; ``-1``
        for unassigned items.
    centres : (n_clusters, D) float32 read-only ndarray
        L2-normalised mean embedding of each cluster.
    distances : (N,) float32 read-only ndarray
        Cosine distance ``1 - cos(item, centre)`` to the item's own centre; for an
        unassigned item, to the nearest centre (``nan`` when there is none).
    method : str
    threshold : float
    k : int
        Neighbours per item in the graph.
    knn : KnnInfo or None
        How the k-NN graph was searched (None when a ``graph`` was passed in).
    """

    labels: np.ndarray
    centres: np.ndarray
    distances: np.ndarray
    method: str
    threshold: float
    k: int
    knn: KnnInfo | None = None

    def __array__(self, dtype=None, copy=None):
        """``np.asarray(clustering)`` is its labels (N,) int64 (a copy when ``dtype`` differs)."""
        if copy is False and dtype is not None and np.dtype(dtype) != self.labels.dtype:
            raise ValueError("copy=False: the labels are int64")
        a = self.labels if dtype is None else self.labels.astype(dtype)
        return a.copy() if copy else a

    def __len__(self) -> int:
        return int(self.labels.size)

    @property
    def n_items(self) -> int:
        return int(self.labels.size)

    @property
    def n_clusters(self) -> int:
        return int(self.centres.shape[0])

    @property
    def n_unassigned(self) -> int:
        return int(np.count_nonzero(self.labels < 0))

    @property
    def sizes(self) -> np.ndarray:
        """(n_clusters,) int64: members per cluster."""
        return np.bincount(self.labels[self.labels >= 0], minlength=self.n_clusters)

    def members(self, label: int) -> np.ndarray:
        """Indices of the items of one cluster (``-1``: unassigned), most central first."""
        label = as_int(label, "label", -1)
        if label >= self.n_clusters:
            raise ValueError(f"label: expected -1 .. {self.n_clusters - 1}; got {label}")
        idx = np.flatnonzero(self.labels == label)
        d = np.nan_to_num(self.distances[idx], nan=np.inf)
        return idx[np.argsort(d, kind="stable")]

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "threshold": float(round(self.threshold, 6)),
            "k": self.k,
            "n_items": self.n_items,
            "n_clusters": self.n_clusters,
            "n_unassigned": self.n_unassigned,
            "sizes": self.sizes.tolist(),
            "knn": self.knn.to_dict() if self.knn is not None else None,
        }


def cluster(
    embeddings: Any,
    *,
    method: str = "graph",
    threshold: float | None = None,
    k: int = 16,
    min_size: int = 2,
    backend: str = "auto",
    iterations: int = 20,
    seed: int = 0,
    graph: tuple[np.ndarray, np.ndarray] | None = None,
    index: str = "auto",
    resolution: float = 0.05,
    trials: int = 1,
) -> Clustering:
    """Cluster face embeddings into identities.

    Parameters
    ----------
    embeddings : (N, D) float array-like
        Identity embeddings (e.g. ``Face.embedding``); L2-normalised here on a copy.
    method : {"graph", "agglomerative", "chinese_whispers", "components", "infomap", "leiden"}
        See the module docstring (``infomap`` and ``leiden`` need ``facecore[cluster]``).
    threshold : float, optional
        Cosine similarity in [-1, 1] below which two faces (or, for average linkage, two
        clusters) are not joined. Default: :data:`DEFAULT_THRESHOLDS` for ``method``
        (measured for SFace; choose your own with :func:`choose_threshold`).
    k : int
        Neighbours per item in the k-NN graph (default 16).
    min_size : int
        Smallest cluster kept; items of smaller clusters get label ``-1`` (default 2:
        singletons are unassigned). ``1`` keeps singletons as clusters.
    backend : {"auto", "faiss", "numpy"}
        k-NN search (see :func:`knn_graph`).
    iterations : int
        Chinese Whispers sweeps (stops early when nothing changes).
    seed : int
        Chinese Whispers visiting order.
    graph : (indices, similarities), optional
        A k-NN graph from :func:`knn_graph` of the same embeddings, to reuse.
    index : {"auto", "flat", "ivf", "hnsw"}
        FAISS index of the k-NN search (see :func:`knn_graph`); its :class:`KnnInfo`
        (recall of an approximate index included) is ``Clustering.knn``.
    resolution : float
        Leiden's CPM resolution (> 0; higher: smaller communities; default 0.05, the
        best BCubed F on glint24 and on 100k synthetic faces of 0.01, 0.05, 0.1, 0.2).
    trials : int
        Infomap trials (the best partition is kept).

    Returns
    -------
    Clustering

    Raises
    ------
    TypeError, ValueError
        Naming the argument that is wrong.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1, 0], [0.99, 0.1], [0, 1], [0.1, 0.99], [-1, 0]], np.float32)
    >>> cluster(x, method="agglomerative", threshold=0.9, k=4).labels.tolist()
    [0, 0, 1, 1, -1]
    """
    x = as_embeddings(embeddings)
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method: expected one of {', '.join(METHODS)}; got {method!r}")
    thr = DEFAULT_THRESHOLDS[method] if threshold is None else as_threshold(threshold)
    k = as_int(k, "k", 1)
    min_size = as_int(min_size, "min_size", 1)
    iterations = as_int(iterations, "iterations", 1)
    seed = as_int(seed, "seed", 0)
    if isinstance(resolution, bool) or not isinstance(
        resolution, (int, float, np.integer, np.floating)
    ):
        raise TypeError(f"resolution: expected a positive number; got {type(resolution).__name__}")
    if not (math.isfinite(float(resolution)) and resolution > 0):
        raise ValueError(f"resolution: expected a positive number; got {resolution}")
    trials = as_int(trials, "trials", 1)
    n = x.shape[0]
    info = None
    if graph is None:
        idx, sim, info = knn_graph(x, k, backend=backend, index=index, return_info=True)
    else:
        idx, sim = _check_graph(graph, n)
    u, v, w = _edges(idx, sim, thr)
    if method == "components":
        raw = _components(n, u, v)
    elif method == "infomap":
        raw = _infomap(n, u, v, w, seed=seed, trials=trials)
    elif method == "leiden":
        raw = _leiden(n, u, v, w, seed=seed, resolution=float(resolution))
    elif method == "chinese_whispers":
        raw = _chinese_whispers(n, u, v, w, iterations=iterations, seed=seed)
    elif method == "agglomerative":
        raw = _average_linkage(x, u, v, thr)
    else:
        cw = _chinese_whispers(n, u, v, w, iterations=iterations, seed=seed)
        _, cw = np.unique(cw, return_inverse=True)
        raw = _average_linkage(x, u, v, thr, init=cw.astype(np.int64))
    lab = _relabel(raw, min_size)
    if method == "graph":
        # members whose cosine to their centre is far below the threshold joined only by chaining
        c = _centres(x, lab, int(lab.max()) + 1 if lab.size and lab.max() >= 0 else 0)
        m = lab >= 0
        cos = np.einsum("ij,ij->i", x[m], c[lab[m]])
        drop = np.flatnonzero(m)[cos < thr - _GRAPH_SLACK]
        if drop.size:
            raw = lab.copy()
            raw[drop] = -1
            lab = _relabel(raw, min_size)
    nk = int(lab.max()) + 1 if lab.size and lab.max() >= 0 else 0
    centres = _centres(x, lab, nk)
    dist = np.full(n, np.nan, np.float32)
    if nk:
        m = lab >= 0
        dist[m] = 1.0 - np.einsum("ij,ij->i", x[m], centres[lab[m]])
        un = np.flatnonzero(~m)
        for s in range(0, un.size, 4096):
            part = un[s : s + 4096]
            dist[part] = 1.0 - (x[part] @ centres.T).max(axis=1)
    logger.debug(
        "cluster: %s threshold=%.3f -> %d clusters, %d unassigned of %d",
        method,
        thr,
        nk,
        int(np.count_nonzero(lab < 0)),
        n,
    )
    return Clustering(
        labels=read_only(lab),
        centres=read_only(centres),
        distances=read_only(dist),
        method=method,
        threshold=thr,
        k=k,
        knn=info,
    )


def _check_graph(graph: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(graph, tuple) or len(graph) != 2:
        raise TypeError("graph: expected the (indices, similarities) tuple of knn_graph")
    idx, sim = np.asarray(graph[0]), np.asarray(graph[1])
    if idx.ndim != 2 or idx.shape[0] != n or sim.shape != idx.shape:
        raise ValueError(f"graph: expected two ({n}, k) arrays; got {idx.shape} and {sim.shape}")
    if idx.dtype.kind not in "iu":
        raise TypeError(f"graph: indices must be integers; got {idx.dtype}")
    if idx.size and (idx.max() >= n or idx.min() < -1):
        raise ValueError(f"graph: indices must be in -1 .. {n - 1}")
    return idx.astype(np.int64), sim.astype(np.float32)
