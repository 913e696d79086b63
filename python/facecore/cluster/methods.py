"""Identity clustering of face embeddings, clustering metrics, and threshold selection.

Every method works on a cosine **k-nearest-neighbour graph** of the L2-normalised
embeddings: each item is linked to its ``k`` most similar items, and only links with
cosine similarity ``>= threshold`` are kept. The graph comes from FAISS when
``faiss-cpu`` is installed (exact inner-product search, ``IndexFlatIP``, up to 20,000
items; an approximate index above that: inverted lists, ``IndexIVFFlat``, by default, or
an HNSW graph, ``IndexHNSWFlat``; a GPU index where ``faiss-gpu`` finds a GPU), and
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
"""

from __future__ import annotations

import heapq
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

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
_EXACT_LIMIT = 20_000
_INDEXES = ("auto", "flat", "ivf", "hnsw")
_GRAPH_SLACK = 0.1


# -- validation ------------------------------------------------------------------------------


def _embeddings(x: Any, name: str = "embeddings") -> np.ndarray:
    if isinstance(x, (str, bytes)) or x is None:
        raise TypeError(f"{name}: expected a (N, D) float array; got {type(x).__name__}")
    try:
        a = np.asarray(x)
    except Exception:
        raise TypeError(f"{name}: expected a (N, D) float array; got {type(x).__name__}") from None
    if a.dtype.kind not in "fiu" or a.dtype == bool:
        raise TypeError(f"{name}: expected a (N, D) float array; got dtype {a.dtype}")
    if a.ndim != 2 or a.shape[1] < 1:
        raise ValueError(f"{name}: expected a (N, D) array with D >= 1; got shape {a.shape}")
    a = np.asarray(
        a, dtype=np.float64
    )  # float64: squares of 1e20 or 1e-30 neither overflow nor vanish
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name}: values must be finite")
    zero = ~np.any(a != 0, axis=1)
    if np.any(zero):
        raise ValueError(f"{name}: row {int(np.flatnonzero(zero)[0])} is a zero vector")
    a = a / np.max(
        np.abs(a), axis=1, keepdims=True
    )  # scale first (a new array: the input stays as given)
    return np.ascontiguousarray(a / np.linalg.norm(a, axis=1, keepdims=True), dtype=np.float32)


def _int(x: Any, name: str, minimum: int) -> int:
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)):
        raise TypeError(f"{name}: expected an int; got {type(x).__name__}")
    if int(x) < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}; got {x}")
    return int(x)


def _threshold(x: Any, name: str = "threshold") -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: expected a real number; got {type(x).__name__}")
    v = float(x)
    if not (math.isfinite(v) and -1.0 <= v <= 1.0):
        raise ValueError(f"{name}: expected a cosine similarity in [-1, 1]; got {x}")
    return v


def _labels(x: Any, name: str) -> np.ndarray:
    if isinstance(x, (str, bytes)) or x is None:
        raise TypeError(f"{name}: expected a 1-d array of labels; got {type(x).__name__}")
    a = np.asarray(x)
    if a.ndim != 1:
        raise ValueError(f"{name}: expected a 1-d array of labels; got shape {a.shape}")
    if a.dtype.kind == "f":
        if not np.all(np.isfinite(a)) or np.any(a != np.round(a)):
            raise TypeError(f"{name}: float labels must be whole numbers")
        if a.size and float(np.max(np.abs(a.astype(np.float64)))) >= 2.0**53:
            raise ValueError(
                f"{name}: float labels must be below 2**53 in magnitude (exact integers)"
            )
        a = a.astype(np.int64)
    if a.dtype.kind in "iu":
        return a.astype(np.int64)
    if a.dtype.kind in "UO":
        # string labels: None / "" mean unlabelled (-1)
        keys = ["" if v is None else str(v) for v in a.tolist()]
        names = sorted({k for k in keys if k not in ("", "-1")})
        index = {k: i for i, k in enumerate(names)}
        return np.array([index.get(k, -1) for k in keys], dtype=np.int64)
    raise TypeError(f"{name}: expected integer or string labels; got dtype {a.dtype}")


# -- k-NN graph ------------------------------------------------------------------------------


def _have_faiss() -> bool:
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


def _faiss_gpus(faiss: Any) -> int:
    """GPUs faiss can use (0 for faiss-cpu, which has no ``StandardGpuResources``)."""
    if not hasattr(faiss, "StandardGpuResources"):
        return 0
    try:
        return int(faiss.get_num_gpus())
    except Exception:
        return 0


@dataclass(frozen=True, slots=True)
class KnnInfo:
    """How a k-NN graph was searched (see :func:`knn_graph`).

    Attributes
    ----------
    index : str
        ``"flat"`` (exact FAISS), ``"ivf"``, ``"hnsw"`` (approximate FAISS) or
        ``"numpy"`` (exact blockwise matrix product).
    exact : bool
        Whether the search was exhaustive.
    device : str
        ``"cpu"`` or ``"cuda"`` (a faiss-gpu index).
    n_items, k : int
    recall : float
        Mean recall@k of the graph against exact search on ``recall_queries`` sampled
        items (``|approx ∩ exact| / k`` per query); 1.0 for an exact search.
    recall_queries : int
        Queries in the recall sample (0 for an exact search, or when switched off, in
        which case ``recall`` is ``nan``).
    edge_recall : float
        On the same sample, the share of the exact links ``(i, j)`` with cosine
        ``>= 0.3`` (those any useful face threshold keeps) that the graph has in either
        direction (``j`` among ``i``'s neighbours or ``i`` among ``j``'s). Every method
        uses the graph undirected, so this is the recall that bears on clustering.
    seconds : float
        Wall time of the search (index build + queries), recall sample excluded.
    params : dict
        Index parameters (``nlist``/``nprobe`` for IVF, ``M``/``ef_construction``/
        ``ef_search`` for HNSW).
    """

    index: str
    exact: bool
    device: str
    n_items: int
    k: int
    recall: float
    recall_queries: int
    seconds: float
    params: dict[str, Any] = field(default_factory=dict)
    edge_recall: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "exact": self.exact,
            "device": self.device,
            "n_items": self.n_items,
            "k": self.k,
            "recall": None if math.isnan(self.recall) else round(self.recall, 6),
            "recall_queries": self.recall_queries,
            "edge_recall": None if math.isnan(self.edge_recall) else round(self.edge_recall, 6),
            "seconds": round(self.seconds, 3),
            "params": dict(self.params),
        }


def knn_graph(
    embeddings: Any,
    k: int = 16,
    *,
    backend: str = "auto",
    index: str = "auto",
    exact_limit: int = _EXACT_LIMIT,
    block_size: int = 2048,
    nprobe: int = 8,
    hnsw_m: int = 32,
    ef_search: int | None = None,
    refine: int = 1,
    recall_sample: int = 1000,
    device: str = "auto",
    seed: int = 0,
    return_info: bool = False,
) -> Any:
    """The ``k`` most cosine-similar other items of every item.

    Parameters
    ----------
    embeddings : (N, D) float array-like
        Rows are L2-normalised here (a copy; the input is not modified).
    k : int
        Neighbours per item (clipped to ``N - 1``).
    backend : {"auto", "faiss", "numpy"}
        ``"auto"``: FAISS when installed, else NumPy. NumPy is always exact: blocks of
        ``block_size`` rows times all rows (``O(N^2 D)`` flops).
    index : {"auto", "flat", "ivf", "hnsw"}
        FAISS index. ``"flat"``: exact inner-product search (``IndexFlatIP``, ``O(N^2 D)``).
        ``"ivf"``: inverted lists (``IndexIVFFlat``, ``nlist = 4 sqrt(N)`` k-means cells
        trained on ``40 nlist`` samples, ``nprobe`` probed per query; about
        ``O(N (nlist + nprobe N / nlist) D)``). ``"hnsw"``: a navigable small-world graph
        (``IndexHNSWFlat``, ``hnsw_m`` links per node, ``ef_search`` candidates; about
        ``O(N log N)``). ``"auto"``: ``"flat"`` up to ``exact_limit`` items, ``"ivf"``
        above.
    exact_limit : int
        Largest ``N`` searched exactly by ``index="auto"`` (default 20,000).
    block_size : int
        Rows per NumPy block (memory ``block_size * N * 4`` bytes).
    nprobe : int
        Inverted lists probed per query (IVF).
    hnsw_m : int
        Links per node (HNSW; memory about ``N * hnsw_m * 8`` bytes on top of the vectors).
    ef_search : int, optional
        HNSW search breadth (default ``max(64, 2 k)``; ``ef_construction`` is ``2 hnsw_m``).
    refine : int
        Rounds of neighbour-of-neighbour refinement after an approximate search (as in
        NN-descent): each item's candidates become its neighbours and their neighbours
        (``k + k^2``), compared exactly, the best ``k`` kept. One round costs
        ``O(N k^2 D)`` and raised recall@16 from 0.88 to 0.96 on 100k synthetic faces for
        about half the IVF search's time. 0 switches it off; ignored for exact search.
    recall_sample : int
        For an approximate index, the recall@k against exact search is measured on this
        many sampled items (``O(recall_sample N D)`` flops; 0 switches it off).
    device : {"auto", "cpu", "cuda"}
        ``"auto"`` uses a faiss-gpu index (flat or IVF; HNSW stays on the CPU) when
        faiss-gpu is installed and sees a GPU; ``"cuda"`` requires one.
    seed : int
        Seeds the IVF training sample and the recall sample.
    return_info : bool
        Also return a :class:`KnnInfo` (index used, recall, time).

    Returns
    -------
    indices : (N, k) int64 ndarray
        Neighbour indices, most similar first; ``-1`` where an approximate search found
        fewer than ``k``.
    similarities : (N, k) float32 ndarray
        Their cosine similarities (``-inf`` where the index is ``-1``).
    info : KnnInfo
        Only with ``return_info=True``.

    Raises
    ------
    ImportError
        ``backend="faiss"`` (or ``index`` other than ``"auto"``/``"flat"`` with
        ``backend="auto"``) without faiss installed, naming the extra to install.
    facecore.errors.CudaUnavailableError
        ``device="cuda"`` without a faiss GPU.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1, 0], [0.9, 0.1], [0, 1]], np.float32)
    >>> idx, sim, info = knn_graph(x, 1, return_info=True)
    >>> idx[:, 0].tolist(), info.exact, info.recall
    ([1, 0, 1], True, 1.0)
    """
    x = _embeddings(embeddings)
    k = _int(k, "k", 1)
    if backend not in ("auto", "faiss", "numpy"):
        raise ValueError(f"backend: expected 'auto', 'faiss' or 'numpy'; got {backend!r}")
    if not isinstance(index, str) or index not in _INDEXES:
        raise ValueError(f"index: expected one of {', '.join(_INDEXES)}; got {index!r}")
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device: expected 'auto', 'cpu' or 'cuda'; got {device!r}")
    exact_limit = _int(exact_limit, "exact_limit", 1)
    block_size = _int(block_size, "block_size", 1)
    nprobe = _int(nprobe, "nprobe", 1)
    hnsw_m = _int(hnsw_m, "hnsw_m", 2)
    refine = _int(refine, "refine", 0)
    if ef_search is not None:
        ef_search = _int(ef_search, "ef_search", 1)
    recall_sample = _int(recall_sample, "recall_sample", 0)
    seed = _int(seed, "seed", 0)
    if not isinstance(return_info, bool):
        raise TypeError(f"return_info: expected a bool; got {type(return_info).__name__}")
    n = x.shape[0]
    k = min(k, n - 1)
    t0 = time.perf_counter()
    if backend == "numpy" and index in ("ivf", "hnsw"):
        raise ValueError(
            f"index: {index!r} needs backend 'faiss' or 'auto'; backend 'numpy' is exact only"
        )
    need_faiss = backend == "faiss" or index in ("ivf", "hnsw")
    have = _have_faiss()
    if need_faiss and backend != "numpy" and not have:
        raise ImportError(
            f"knn_graph: index={index!r} / backend={backend!r} needs faiss; "
            'install it with: pip install "facecore[cluster]" (or faiss-gpu for a GPU index)'
        )
    use_faiss = backend == "faiss" or (backend == "auto" and have)
    if k <= 0:
        idx, sim = np.zeros((n, 0), np.int64), np.zeros((n, 0), np.float32)
        info = KnnInfo("flat" if use_faiss else "numpy", True, "cpu", n, 0, 1.0, 0, 0.0, {})
    elif use_faiss:
        kind = index if index != "auto" else ("flat" if n <= exact_limit else "ivf")
        idx, sim, dev, params = _knn_faiss(
            x, k, kind, nprobe=nprobe, hnsw_m=hnsw_m, ef_search=ef_search, device=device, seed=seed
        )
        if kind != "flat" and refine:
            for _ in range(refine):
                idx, sim = _refine(x, idx, sim, k)
            params = {**params, "refine": refine}
        secs = time.perf_counter() - t0
        recall, edge, nq = 1.0, 1.0, 0
        if kind != "flat":
            recall, edge, nq = (
                _sample_recall(x, idx, k, recall_sample, seed)
                if recall_sample
                else (math.nan, math.nan, 0)
            )
        info = KnnInfo(kind, kind == "flat", dev, n, k, recall, nq, secs, params, edge)
    else:
        if device == "cuda":
            from ..errors import CudaUnavailableError

            raise CudaUnavailableError("device: 'cuda' k-NN needs faiss-gpu with a visible GPU")
        idx, sim = _knn_numpy(x, k, block_size)
        info = KnnInfo(
            "numpy", True, "cpu", n, k, 1.0, 0, time.perf_counter() - t0, {"block_size": block_size}
        )
    if not info.exact:
        logger.info(
            "knn_graph: %s index over %d items, k=%d, %.1f s, recall@k %.4f on %d queries",
            info.index,
            n,
            k,
            info.seconds,
            info.recall,
            info.recall_queries,
        )
    if return_info:
        return idx, sim, info
    return idx, sim


def _drop_self(idx: np.ndarray, sim: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Remove each row's own index (or, when absent, the last column)."""
    n = idx.shape[0]
    own = idx == np.arange(n)[:, None]
    has = own.any(axis=1)
    own[~has, -1] = True  # drop the weakest where self was not returned (duplicates)
    keep = ~own
    # exactly one True per row in own -> k columns remain
    out_i = idx[keep].reshape(n, k)
    out_s = sim[keep].reshape(n, k)
    return out_i.astype(np.int64), out_s.astype(np.float32)


def _topk_numpy(q: np.ndarray, x: np.ndarray, kk: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``kk`` inner products of the rows of ``q`` against ``x``, most similar first."""
    n = x.shape[0]
    S = q @ x.T
    if kk < n:
        p = np.argpartition(S, n - kk, axis=1)[:, n - kk :]
    else:
        p = np.broadcast_to(np.arange(n), S.shape).copy()
    v = np.take_along_axis(S, p, axis=1)
    order = np.argsort(-v, axis=1, kind="stable")
    return np.take_along_axis(p, order, axis=1), np.take_along_axis(v, order, axis=1)


def _knn_numpy(x: np.ndarray, k: int, block: int) -> tuple[np.ndarray, np.ndarray]:
    n = x.shape[0]
    kk = k + 1
    idx = np.empty((n, kk), np.int64)
    sim = np.empty((n, kk), np.float32)
    for s in range(0, n, block):
        e = min(n, s + block)
        idx[s:e], sim[s:e] = _topk_numpy(x[s:e], x, kk)
    return _drop_self(idx, sim, k)


def _refine(
    x: np.ndarray, idx: np.ndarray, sim: np.ndarray, k: int, block: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """One round of neighbour-of-neighbour refinement: the best ``k`` of each item's
    neighbours and their neighbours, by exact cosine (never worse than the input)."""
    n = x.shape[0]
    out_i = np.empty_like(idx)
    out_s = np.empty_like(sim)
    for s in range(0, n, block):
        e = min(n, s + block)
        nb = idx[s:e]
        nn = idx[np.maximum(nb, 0)].reshape(e - s, -1)
        nn[np.repeat(nb < 0, k, axis=1)] = -1
        cand = np.concatenate([nb, nn], axis=1)
        cand[cand == np.arange(s, e)[:, None]] = -1
        cand = np.sort(cand, axis=1)
        cand[:, 1:][cand[:, 1:] == cand[:, :-1]] = -1  # each candidate once
        v = np.einsum("bd,bcd->bc", x[s:e], x[np.maximum(cand, 0)]).astype(np.float32)
        v[cand < 0] = -np.inf
        p = np.argpartition(-v, k - 1, axis=1)[:, :k]
        pv = np.take_along_axis(v, p, axis=1)
        o = np.argsort(-pv, axis=1, kind="stable")
        ci = np.take_along_axis(np.take_along_axis(cand, p, axis=1), o, axis=1)
        cv = np.take_along_axis(pv, o, axis=1)
        ci[~np.isfinite(cv)] = -1
        out_i[s:e], out_s[s:e] = ci, cv
    return out_i, out_s


def _sample_recall(
    x: np.ndarray, idx: np.ndarray, k: int, sample: int, seed: int, strong: float = 0.3
) -> tuple[float, float, int]:
    """Mean recall@k of ``idx`` against exact search on ``sample`` random items, and the
    recall of the exact links with cosine ``>= strong`` in either direction."""
    n = x.shape[0]
    rng = np.random.default_rng(seed + 1)
    q = np.sort(rng.choice(n, size=min(sample, n), replace=False))
    block = max(1, min(q.size, (1 << 26) // max(n, 1)))  # <= 256 MB of similarities per block
    hits = strong_n = strong_hits = 0
    for s in range(0, q.size, block):
        qq = q[s : s + block]
        ex, exs = _topk_numpy(x[qq], x, k + 1)
        for row, e, es in zip(qq.tolist(), ex.tolist(), exs.tolist()):
            pairs = [(j, v) for j, v in zip(e, es) if j != row][:k]
            got = set(idx[row].tolist())
            hits += sum(j in got for j, _ in pairs)
            strong_n += sum(v >= strong for _, v in pairs)
            strong_hits += sum((j in got or row in idx[j]) for j, v in pairs if v >= strong)
    return hits / (q.size * k), (strong_hits / strong_n if strong_n else 1.0), int(q.size)


def _knn_faiss(
    x: np.ndarray,
    k: int,
    kind: str,
    *,
    nprobe: int,
    hnsw_m: int,
    ef_search: int | None,
    device: str,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, str, dict[str, Any]]:
    import faiss

    n, d = x.shape
    gpus = _faiss_gpus(faiss)
    if device == "cuda" and gpus == 0:
        from ..errors import CudaUnavailableError

        raise CudaUnavailableError(
            "device: 'cuda' k-NN needs faiss-gpu with a visible GPU "
            "(faiss-cpu is installed, or no GPU is visible)"
        )
    on_gpu = gpus > 0 and device != "cpu" and kind in ("flat", "ivf")
    params: dict[str, Any] = {}
    if kind == "flat":
        index = faiss.IndexFlatIP(d)
    elif kind == "ivf":
        # 2 sqrt(N) cells balance the coarse search (nlist dots per query, a BLAS product)
        # against the list scan (nprobe N / nlist dots); k-means on 32 samples per cell
        nlist = max(1, min(int(2 * math.sqrt(n)), n // 32))
        quant = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFFlat(quant, d, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.niter = 8
        index.cp.seed = seed
        index.cp.spherical = (
            True  # unit centroids: inner-product assignment is then cosine assignment
        )
        index.cp.min_points_per_centroid = 1  # no warning for 32 per cell
        params = {"nlist": nlist, "nprobe": min(nprobe, nlist), "train": min(n, nlist * 32)}
    else:
        index = faiss.IndexHNSWFlat(d, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 2 * hnsw_m
        ef = ef_search if ef_search is not None else max(64, 2 * k)
        params = {"M": hnsw_m, "ef_construction": 2 * hnsw_m, "ef_search": ef}
    if on_gpu:  # pragma: no cover - needs faiss-gpu and a GPU
        res = faiss.StandardGpuResources()
        index = faiss.index_cpu_to_gpu(res, 0, index)
    if kind == "ivf":
        rng = np.random.default_rng(seed)
        index.train(x[np.sort(rng.choice(n, size=params["train"], replace=False))])
    index.add(x)
    if kind == "ivf":
        if on_gpu:  # pragma: no cover
            faiss.GpuParameterSpace().set_index_parameter(index, "nprobe", params["nprobe"])
        else:
            index.nprobe = params["nprobe"]
    elif kind == "hnsw":
        index.hnsw.efSearch = params["ef_search"]
    sims = np.empty((n, k + 1), np.float32)
    ids = np.empty((n, k + 1), np.int64)
    step = 65536  # bounded result buffers per call
    for s in range(0, n, step):
        sims[s : s + step], ids[s : s + step] = index.search(x[s : s + step], k + 1)
    sims = np.where(ids < 0, -np.inf, sims).astype(np.float32)
    idx, sim = _drop_self(ids, sims, k)
    return idx, sim, "cuda" if on_gpu else "cpu", params


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


# -- methods ---------------------------------------------------------------------------------


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
        adj[a].add(b)  # type: ignore[union-attr]
        adj[b].add(a)  # type: ignore[union-attr]
    # exact mean pairwise cosine of two clusters: sum(A) . sum(B) / (|A| |B|)
    s0 = np.einsum("ij,ij->i", sums[u], sums[v]) / (size[u] * size[v])
    heap = [(-s, a, b) for s, a, b in zip(s0.tolist(), u.tolist(), v.tolist()) if s >= threshold]
    heapq.heapify(heap)
    parent = np.arange(n, dtype=np.int64)  # union-find over original items
    while heap:
        negs, a, b = heapq.heappop(heap)
        if not (alive[a] and alive[b]):
            continue
        # merge the smaller cluster into the larger (keeps adjacency unions cheap)
        if len(adj[a]) < len(adj[b]):  # type: ignore[arg-type]
            a, b = b, a
        sums[a] += sums[b]
        size[a] += size[b]
        alive[b] = False
        parent[b] = a
        nb: set[int] = adj[b]  # type: ignore[assignment]
        adj[b] = None
        adj_a: set[int] = adj[a]  # type: ignore[assignment]
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


# -- result ----------------------------------------------------------------------------------


def _ro(a: np.ndarray) -> np.ndarray:
    a = np.array(a, copy=True)
    a.flags.writeable = False
    return a


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
        label = _int(label, "label", -1)
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
    x = _embeddings(embeddings)
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method: expected one of {', '.join(METHODS)}; got {method!r}")
    thr = DEFAULT_THRESHOLDS[method] if threshold is None else _threshold(threshold)
    k = _int(k, "k", 1)
    min_size = _int(min_size, "min_size", 1)
    iterations = _int(iterations, "iterations", 1)
    seed = _int(seed, "seed", 0)
    if isinstance(resolution, bool) or not isinstance(
        resolution, (int, float, np.integer, np.floating)
    ):
        raise TypeError(f"resolution: expected a positive number; got {type(resolution).__name__}")
    if not (math.isfinite(float(resolution)) and resolution > 0):
        raise ValueError(f"resolution: expected a positive number; got {resolution}")
    trials = _int(trials, "trials", 1)
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
        labels=_ro(lab),
        centres=_ro(centres),
        distances=_ro(dist),
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


# -- metrics ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClusterMetrics:
    """Agreement of a clustering with the true identities (see :func:`cluster_metrics`)."""

    n_items: int
    n_classes: int
    n_clusters: int
    n_unassigned: int
    purity: float
    compactness: float
    ideal_compactness: float
    pairwise_precision: float
    pairwise_recall: float
    pairwise_f: float
    bcubed_precision: float
    bcubed_recall: float
    bcubed_f: float
    nmi: float

    def to_dict(self) -> dict[str, Any]:
        return {
            f: (
                round(getattr(self, f), 6)
                if isinstance(getattr(self, f), float)
                else getattr(self, f)
            )
            for f in self.__dataclass_fields__
        }


def _f(p: float, r: float) -> float:
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def _singletons(a: np.ndarray) -> np.ndarray:
    """-1 entries become their own (new) labels."""
    neg = a < 0
    # dense 0..K-1 first: labels may be any int64 (2**63 - 1 has no "next" label)
    a = np.unique(np.where(neg, -1, a), return_inverse=True)[1].reshape(-1) - int(neg.any())
    if neg.any():
        a[neg] = int(a.max(initial=-1)) + 1 + np.arange(int(neg.sum()))
    return a


def cluster_metrics(true: Any, pred: Any) -> ClusterMetrics:
    """Purity, compactness, pairwise and BCubed precision/recall/F, and NMI.

    Unassigned items (``pred == -1``) count as singleton clusters and unlabelled items
    (``true == -1``, e.g. a stranger in the background) as singleton classes, so neither
    leaving faces out nor mixing a stranger into a cluster is free. With ``N`` items,
    ``n_ij`` items of class ``i`` in cluster ``j``, class sizes ``a_i`` and cluster sizes
    ``b_j``:

    * purity ``= (1/N) sum_j max_i n_ij``
    * compactness ``= K / N`` (``K`` clusters, singletons included); ideal ``= C / N``
      for ``C`` classes
    * pairwise precision ``= sum_ij C(n_ij, 2) / sum_j C(b_j, 2)``, recall
      ``= sum_ij C(n_ij, 2) / sum_i C(a_i, 2)`` (1 when the denominator is 0)
    * BCubed precision ``= (1/N) sum_ij n_ij^2 / b_j``, recall
      ``= (1/N) sum_ij n_ij^2 / a_i`` (Bagga and Baldwin 1998; Amigo et al. 2009)
    * F ``= 2 P R / (P + R)``
    * NMI ``= 2 I(T; P) / (H(T) + H(P))`` (arithmetic normalisation; 1 when both
      entropies are 0)

    Parameters
    ----------
    true, pred : (N,) array-like of int or str
        True identities and cluster labels (``-1``, ``None`` or ``""``: none).

    Returns
    -------
    ClusterMetrics

    Examples
    --------
    >>> m = cluster_metrics([0, 0, 0, 1, 1], [0, 0, 1, 1, 1])
    >>> round(m.purity, 3), round(m.pairwise_precision, 3), round(m.bcubed_recall, 3)
    (0.8, 0.5, 0.733)
    """
    t = _labels(true, "true")
    p = _labels(pred, "pred")
    if t.size != p.size:
        raise ValueError(f"true, pred: expected the same length; got {t.size} and {p.size}")
    if t.size == 0:
        raise ValueError("true: expected at least one item")
    n_unassigned = int(np.count_nonzero(p < 0))
    t, p = _singletons(t), _singletons(p)
    _, ti = np.unique(t, return_inverse=True)
    _, pj = np.unique(p, return_inverse=True)
    n = t.size
    nc, nk = int(ti.max()) + 1, int(pj.max()) + 1
    # sparse contingency: (class, cluster) pairs that occur
    key = ti.astype(np.int64) * nk + pj
    cells, nij = np.unique(key, return_counts=True)
    ci, cj = cells // nk, cells % nk
    a = np.bincount(ti, minlength=nc).astype(np.float64)
    b = np.bincount(pj, minlength=nk).astype(np.float64)
    nij = nij.astype(np.float64)
    best = np.zeros(nk)
    np.maximum.at(best, cj, nij)
    purity = float(best.sum() / n)

    def pairs(c: np.ndarray) -> float:
        return float((c * (c - 1) / 2).sum())

    tp, pp, tpairs = pairs(nij), pairs(b), pairs(a)
    pw_p = tp / pp if pp else 1.0
    pw_r = tp / tpairs if tpairs else 1.0
    bc_p = float((nij**2 / b[cj]).sum() / n)
    bc_r = float((nij**2 / a[ci]).sum() / n)
    ht = -float(np.sum(a / n * np.log(a / n)))
    hp = -float(np.sum(b / n * np.log(b / n)))
    mi = float(np.sum(nij / n * np.log(nij * n / (a[ci] * b[cj]))))
    nmi = 1.0 if ht + hp == 0 else max(0.0, min(1.0, 2 * mi / (ht + hp)))
    return ClusterMetrics(
        n_items=n,
        n_classes=nc,
        n_clusters=nk,
        n_unassigned=n_unassigned,
        purity=purity,
        compactness=nk / n,
        ideal_compactness=nc / n,
        pairwise_precision=pw_p,
        pairwise_recall=pw_r,
        pairwise_f=_f(pw_p, pw_r),
        bcubed_precision=bc_p,
        bcubed_recall=bc_r,
        bcubed_f=_f(bc_p, bc_r),
        nmi=nmi,
    )


# -- threshold selection ---------------------------------------------------------------------

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
    """
    x = _embeddings(embeddings)
    y = _labels(labels, "labels")
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
        ts = np.array([_threshold(t, "thresholds") for t in thresholds], np.float64)
        if ts.size == 0:
            raise ValueError("thresholds: expected at least one value")
    if min_purity is not None:
        min_purity = _threshold(min_purity, "min_purity")
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
        thresholds=_ro(ts),
        scores=_ro(scores),
        sweep=tuple(sweep),
    )
