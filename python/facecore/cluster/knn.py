"""The cosine k-nearest-neighbour graph every clustering method works on.

Backends: FAISS (exact ``IndexFlatIP`` up to ``exact_limit`` items, then an approximate
index, HNSW by default or inverted lists, followed by neighbour-of-neighbour refinement; a GPU index
with faiss-gpu) or an exact blockwise NumPy product. :class:`KnnInfo` says what was used
and, for an approximate index, its recall against exact search on a sample.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._common import as_embeddings, as_int

__all__ = ["KnnInfo", "knn_graph"]

logger = logging.getLogger(__name__)

_EXACT_LIMIT = 20_000
_INDEXES = ("auto", "flat", "ivf", "hnsw")
#: IVF: about this many items per inverted list by default (see _auto_nlist)
_LIST_SIZE = 64
#: k-means training samples per list, and its iterations
_TRAIN_PER_LIST = 4
_KMEANS_ITERATIONS = 4


def _auto_nlist(n: int) -> int:
    """Default IVF lists: ``N / 64``, so a list holds about as many faces as an identity
    of a large collection has, and an item's neighbours sit in a few lists (measured on
    synthetic faces calibrated to SFace: docs/scale.md); at least ``sqrt(N)``."""
    return max(1, min(n, max(n // _LIST_SIZE, int(math.sqrt(n)))))


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
    nlist: int | None = None,
    nprobe: int = 16,
    hnsw_m: int = 32,
    ef_construction: int | None = None,
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
        ``"ivf"``: inverted lists (``IndexIVFFlat``, ``nlist`` spherical k-means cells of
        about 64 items each, ``nprobe`` probed per item; one exhaustive BLAS search of the
        centroids assigns every item for the add and the search alike: about
        ``O(N (nlist + 64 nprobe) D)``, i.e. ``O(N^2 D / 64)``, with a recall that does not
        fall with ``N`` because every list keeps its size). ``"hnsw"``: a navigable
        small-world graph (``IndexHNSWFlat``, ``hnsw_m`` links per node, ``ef_construction``
        candidates while building, ``ef_search`` while searching; about ``O(N log N)``;
        every item is a node of the graph, so its search starts at level 0 from the item
        itself instead of descending from the top: half the search's CPU and a higher
        recall, 0.99 at 200k synthetic faces at efSearch 16).
        ``"auto"``: ``"flat"`` up to ``exact_limit`` items, ``"hnsw"`` above (docs/scale.md
        compares the two at 100k and 1M).
    exact_limit : int
        Largest ``N`` searched exactly by ``index="auto"`` (default 20,000).
    block_size : int
        Rows per NumPy block (memory ``block_size * N * 4`` bytes).
    nlist : int, optional
        Inverted lists (IVF; default ``max(N // 64, sqrt(N))``: at a million faces 15,625
        lists, trained by 4 k-means iterations on 4 samples per list).
    nprobe : int
        Inverted lists probed per query (IVF; default 16).
    hnsw_m : int
        Links per node (HNSW; memory about ``N * hnsw_m * 8`` bytes on top of the vectors).
    ef_construction : int, optional
        HNSW build breadth (default ``2 * hnsw_m``); the build is most of the cost at a
        million faces (docs/scale.md).
    ef_search : int, optional
        HNSW search breadth (default ``max(24, 1.5 k)``: 24 for ``k = 16``, recall@16
        0.962 at a million synthetic faces after one refinement round, 0.965 at 32 for
        a third more search CPU; docs/scale.md).
    refine : int
        Rounds of neighbour-of-neighbour refinement after an approximate search (as in
        NN-descent): each item's candidates become its neighbours and their neighbours
        (``k + k^2``), compared exactly, the best ``k`` kept. One round costs
        ``O(N k^2 D)`` (the cosines by FAISS on the stored vectors, threaded) and raised
        recall@16 from 0.88 to 0.96 after IVF on 100k synthetic faces. 0 switches it off;
        ignored for exact search.
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
    x = as_embeddings(embeddings)
    k = as_int(k, "k", 1)
    if backend not in ("auto", "faiss", "numpy"):
        raise ValueError(f"backend: expected 'auto', 'faiss' or 'numpy'; got {backend!r}")
    if not isinstance(index, str) or index not in _INDEXES:
        raise ValueError(f"index: expected one of {', '.join(_INDEXES)}; got {index!r}")
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device: expected 'auto', 'cpu' or 'cuda'; got {device!r}")
    exact_limit = as_int(exact_limit, "exact_limit", 1)
    block_size = as_int(block_size, "block_size", 1)
    if nlist is not None:
        nlist = as_int(nlist, "nlist", 1)
    nprobe = as_int(nprobe, "nprobe", 1)
    hnsw_m = as_int(hnsw_m, "hnsw_m", 2)
    refine = as_int(refine, "refine", 0)
    if ef_construction is not None:
        ef_construction = as_int(ef_construction, "ef_construction", 1)
    if ef_search is not None:
        ef_search = as_int(ef_search, "ef_search", 1)
    recall_sample = as_int(recall_sample, "recall_sample", 0)
    seed = as_int(seed, "seed", 0)
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
        kind = index if index != "auto" else ("flat" if n <= exact_limit else "hnsw")
        idx, sim, dev, params, hnsw = _knn_faiss(
            x,
            k,
            kind,
            nlist=nlist,
            nprobe=nprobe,
            hnsw_m=hnsw_m,
            ef_construction=ef_construction,
            ef_search=ef_search,
            device=device,
            seed=seed,
        )
        if kind != "flat" and refine:
            import faiss

            if hnsw is not None:  # the vectors the HNSW index holds (``hnsw`` keeps them alive)
                store = faiss.downcast_index(hnsw.storage)
            else:
                store = faiss.IndexFlatIP(x.shape[1])
                store.add(x)
            for _ in range(refine):
                idx, sim = _refine(x, idx, sim, k, flat=store)
            del store
            params = {**params, "refine": refine}
        del hnsw
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
    x: np.ndarray,
    idx: np.ndarray,
    sim: np.ndarray,
    k: int,
    block: int = 8192,
    *,
    flat: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """One round of neighbour-of-neighbour refinement: the best ``k`` of each item's
    neighbours and their neighbours, by exact cosine (never worse than the input).

    ``flat``: a FAISS flat inner-product index holding the rows of ``x`` (the HNSW index's
    own storage): its ``compute_distance_subset`` (OpenMP threads, SIMD, no gathered copy of
    the candidates) computes the cosines; without it a NumPy ``einsum`` over the gathered
    candidates (one thread, ``block * (k + k^2) * D * 4`` bytes a block)."""
    n = x.shape[0]
    out_i = np.empty_like(idx)
    out_s = np.empty_like(sim)
    if flat is None:
        block = min(block, 1024)
    else:
        import faiss
    for s in range(0, n, block):
        e = min(n, s + block)
        nb = idx[s:e]
        nn = idx[np.maximum(nb, 0)].reshape(e - s, -1)
        nn[np.repeat(nb < 0, k, axis=1)] = -1
        cand = np.concatenate([nb, nn], axis=1)
        cand[cand == np.arange(s, e)[:, None]] = -1
        cand.sort(axis=1)
        cand[:, 1:][cand[:, 1:] == cand[:, :-1]] = -1  # each candidate once
        if flat is None:
            v = np.einsum("bd,bcd->bc", x[s:e], x[np.maximum(cand, 0)]).astype(np.float32)
            v[cand < 0] = -np.inf
        else:
            v = np.empty(cand.shape, np.float32)  # -inf where cand is -1
            flat.compute_distance_subset(
                e - s,
                faiss.swig_ptr(np.ascontiguousarray(x[s:e])),
                cand.shape[1],
                faiss.swig_ptr(v),
                faiss.swig_ptr(cand),
            )
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
    nlist: int | None,
    nprobe: int,
    hnsw_m: int,
    ef_construction: int | None,
    ef_search: int | None,
    device: str,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, str, dict[str, Any], Any]:
    """The FAISS search, and the HNSW index when one was built (its flat storage of the
    vectors then serves the refinement's exact cosines)."""
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
    index: Any  # IndexFlatIP, IndexIVFFlat, IndexHNSWFlat or a GPU index
    if kind == "flat":
        index = faiss.IndexFlatIP(d)
    elif kind == "ivf":
        nl = _auto_nlist(n) if nlist is None else min(nlist, n)
        quant = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFFlat(quant, d, nl, faiss.METRIC_INNER_PRODUCT)
        index.cp.niter = _KMEANS_ITERATIONS
        index.cp.seed = seed
        index.cp.spherical = (
            True  # unit centroids: inner-product assignment is then cosine assignment
        )
        index.cp.min_points_per_centroid = 1  # no warning for few samples per cell
        params = {"nlist": nl, "nprobe": min(nprobe, nl), "train": min(n, nl * _TRAIN_PER_LIST)}
    else:
        index = faiss.IndexHNSWFlat(d, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        efc = ef_construction if ef_construction is not None else 2 * hnsw_m
        index.hnsw.efConstruction = efc
        ef = ef_search if ef_search is not None else max(24, k + k // 2)
        params = {"M": hnsw_m, "ef_construction": efc, "ef_search": ef}
    if on_gpu:  # pragma: no cover - needs faiss-gpu and a GPU
        res = faiss.StandardGpuResources()
        index = faiss.index_cpu_to_gpu(res, 0, index)
    if kind == "ivf":
        rng = np.random.default_rng(seed)
        index.train(x[np.sort(rng.choice(n, size=params["train"], replace=False))])
    sims = np.empty((n, k + 1), np.float32)
    ids = np.empty((n, k + 1), np.int64)
    step = 65536  # bounded result buffers per call
    if kind == "ivf" and not on_gpu:
        # the queries are the items: one coarse search (nprobe nearest centroids, an
        # exhaustive BLAS product) serves both the add (its first list) and the search
        index.nprobe = params["nprobe"]
        cq = np.empty((n, params["nprobe"]), np.int64)
        cd = np.empty((n, params["nprobe"]), np.float32)
        for s in range(0, n, step):
            cd[s : s + step], cq[s : s + step] = quant.search(x[s : s + step], params["nprobe"])
        first = np.ascontiguousarray(cq[:, 0])  # held: swig_ptr keeps no reference
        index.add_core(n, faiss.swig_ptr(x), None, faiss.swig_ptr(first))
        for s in range(0, n, step):
            sims[s : s + step], ids[s : s + step] = index.search_preassigned(
                x[s : s + step], k + 1, cq[s : s + step], cd[s : s + step]
            )
        del cq, cd, first
    else:
        index.add(x)
        if kind == "ivf":  # pragma: no cover - needs faiss-gpu and a GPU
            faiss.GpuParameterSpace().set_index_parameter(index, "nprobe", params["nprobe"])
        if kind == "hnsw":
            # the queries are the items, and every item is a node of the graph: each
            # search starts at level 0 from the item itself (search_level_0) instead of
            # descending from the top entry point, which got lost on outlying faces
            # and cost the upper levels' hops (docs/scale.md: half the CPU, higher recall)
            index.hnsw.efSearch = params["ef_search"]
            start = np.arange(n, dtype=np.int32)
            start_d = np.full(n, -1.0, np.float32)  # HNSW's inner-product distance: -cos
            for s in range(0, n, step):
                e = min(n, s + step)
                index.search_level_0(
                    e - s,
                    faiss.swig_ptr(x[s:e]),
                    k + 1,
                    faiss.swig_ptr(start[s:e]),
                    faiss.swig_ptr(start_d[s:e]),
                    faiss.swig_ptr(sims[s:e]),
                    faiss.swig_ptr(ids[s:e]),
                    1,
                    1,
                )
        else:
            for s in range(0, n, step):
                sims[s : s + step], ids[s : s + step] = index.search(x[s : s + step], k + 1)
    sims = np.where(ids < 0, -np.inf, sims).astype(np.float32)
    idx, sim = _drop_self(ids, sims, k)
    return idx, sim, "cuda" if on_gpu else "cpu", params, index if kind == "hnsw" else None
