"""facecore.cluster at scale: approximate k-NN (IVF, HNSW) against exact search and the recall
it reports, Infomap and Leiden against known structure (blobs; glint24 SFace embeddings),
and the errors when an optional package is missing."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

from facecore.cluster import METHODS, KnnInfo, cluster, cluster_metrics, knn_graph


def _mixture(n_ids=60, n_per=50, dim=64, spread=0.8, seed=0):
    """Identities as in scripts/scale_cluster.py: unit centres, within-identity cosine ~0.6."""
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((n_ids, dim)) / math.sqrt(dim)
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    y = np.repeat(np.arange(n_ids), n_per)
    x = c[y] + spread * rng.standard_normal((y.size, dim)) / math.sqrt(dim)
    return x.astype(np.float32), y


def _recall(approx, exact):
    return float(
        np.mean([len(set(a) & set(e)) / len(e) for a, e in zip(approx.tolist(), exact.tolist())])
    )


@pytest.mark.parametrize(("index", "floor"), [("ivf", 0.90), ("hnsw", 0.95)])
def test_approximate_index_recall_vs_exact(index, floor):
    pytest.importorskip(
        "faiss", reason="approximate k-NN needs faiss: pip install 'facecore[cluster]'"
    )
    x, _ = _mixture()
    exact, _esim = knn_graph(x, 10, backend="numpy")
    idx, sim, info = knn_graph(x, 10, index=index, recall_sample=x.shape[0], return_info=True)
    assert isinstance(info, KnnInfo) and info.index == index and not info.exact
    assert info.n_items == x.shape[0] and info.k == 10 and info.recall_queries == x.shape[0]
    full = _recall(idx, exact)
    # measured on this mixture: IVF (nlist 77, nprobe 8) 0.99+, HNSW (M 32, ef 64) 1.0
    assert full >= floor
    # the reported recall, with every item sampled, is the true recall of the graph
    assert info.recall == pytest.approx(full, abs=1e-9)
    # the strong links (cosine >= 0.3) in either direction, what clustering uses: at least as good
    assert info.edge_recall >= full and info.to_dict()["edge_recall"] == pytest.approx(
        info.edge_recall, abs=1e-6
    )
    # similarities of the neighbours found are the true cosines, most similar first
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    ok = idx >= 0
    np.testing.assert_allclose(
        sim[ok], np.einsum("ij,ij->i", np.repeat(xn, 10, 0)[ok.ravel()], xn[idx[ok]]), atol=1e-4
    )
    assert np.all(np.diff(np.where(ok, sim, -np.inf), axis=1) <= 1e-6)
    # a sample estimates it
    _, _, info2 = knn_graph(x, 10, index=index, recall_sample=500, return_info=True)
    assert info2.recall_queries == 500 and abs(info2.recall - full) < 0.05


@pytest.mark.parametrize("store", ["numpy", "faiss"])
def test_refinement_raises_recall(store):
    from facecore.cluster.knn import _refine

    flat = None
    if store == "faiss":  # the cosines from the index's stored vectors, not a gathered copy
        faiss = pytest.importorskip("faiss", reason="needs faiss: pip install 'facecore[cluster]'")
    x, _ = _mixture()
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    exact, _ = knn_graph(x, 10, backend="numpy")
    # an approximate graph: 40 % of the links replaced by random items (one row with a -1)
    rng = np.random.default_rng(3)
    idx = exact.copy()
    bad = rng.random(idx.shape) < 0.4
    idx[bad] = rng.integers(0, len(x), int(bad.sum()))
    idx[idx == np.arange(len(x))[:, None]] = (
        np.arange(len(x))[:, None].repeat(10, 1)[idx == np.arange(len(x))[:, None]] + 1
    ) % len(x)
    idx[0, -1] = -1
    sim = np.einsum("id,ikd->ik", xn, xn[np.maximum(idx, 0)]).astype(np.float32)
    sim[idx < 0] = -np.inf
    if store == "faiss":
        flat = faiss.IndexFlatIP(xn.shape[1])
        flat.add(xn.astype(np.float32))
    recalls = [_recall(idx, exact)]
    for _ in range(2):
        idx, sim = _refine(xn.astype(np.float32), idx, sim, 10, block=700, flat=flat)
        assert np.all(idx != np.arange(len(x))[:, None])  # never itself
        assert all(len(set(r[r >= 0])) == int((r >= 0).sum()) for r in idx)  # no repeats
        assert np.all(np.diff(sim, axis=1) <= 1e-6)  # most similar first
        ok = idx >= 0  # the similarities are the true cosines (NumPy reference)
        np.testing.assert_allclose(
            sim[ok], np.einsum("ij,ij->i", np.repeat(xn, 10, 0)[ok.ravel()], xn[idx[ok]]), atol=1e-5
        )
        recalls.append(_recall(idx, exact))
    # measured: 0.60 -> 0.87 -> 0.96
    assert recalls[0] < 0.65 and recalls[1] >= 0.82 and recalls[2] >= 0.92


def test_auto_index_switches_at_exact_limit():
    pytest.importorskip("faiss", reason="needs faiss: pip install 'facecore[cluster]'")
    x, _ = _mixture(n_ids=20, n_per=40)
    *_, small = knn_graph(x, 5, return_info=True)
    assert (
        small.index == "flat" and small.exact and small.recall == 1.0 and small.recall_queries == 0
    )
    *_, big = knn_graph(x, 5, exact_limit=500, return_info=True)
    assert big.index == "hnsw" and not big.exact and 0.9 <= big.recall <= 1.0
    r = cluster(x, method="components", threshold=0.5, k=5)
    assert r.knn is not None and r.knn.index == "flat" and r.to_dict()["knn"]["index"] == "flat"


def test_exact_numpy_info():
    x, _ = _mixture(n_ids=5, n_per=10)
    idx, _sim, info = knn_graph(x, 4, backend="numpy", return_info=True)
    assert info.index == "numpy" and info.exact and info.recall == 1.0 and idx.shape == (50, 4)


@pytest.mark.parametrize(
    ("kwargs", "exc", "name"),
    [
        ({"index": "lsh"}, ValueError, "index"),
        ({"index": "ivf", "backend": "numpy"}, ValueError, "index"),
        ({"device": "tpu"}, ValueError, "device"),
        ({"recall_sample": -1}, ValueError, "recall_sample"),
        ({"nprobe": 0}, ValueError, "nprobe"),
        ({"ef_construction": 0}, ValueError, "ef_construction"),
        ({"exact_limit": 1.5}, TypeError, "exact_limit"),
        ({"return_info": 1}, TypeError, "return_info"),
    ],
)
def test_knn_bad_arguments(kwargs, exc, name):
    with pytest.raises(exc, match=name):
        knn_graph(np.eye(4, dtype=np.float32), 2, **kwargs)


def test_cuda_index_without_faiss_gpu_says_so():
    faiss = pytest.importorskip("faiss", reason="needs faiss")
    if hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0:
        pytest.skip("a faiss GPU is present")
    from facecore.errors import CudaUnavailableError

    with pytest.raises(CudaUnavailableError, match="faiss-gpu"):
        knn_graph(np.eye(4, dtype=np.float32), 2, device="cuda")


# -- Infomap and Leiden ----------------------------------------------------------------------


_NEEDS = {"infomap": ("infomap",), "leiden": ("leidenalg", "igraph")}


def _need(method):
    for mod in _NEEDS[method]:
        pytest.importorskip(
            mod, reason=f"method={method!r} needs {mod}: pip install 'facecore[cluster]'"
        )


@pytest.mark.parametrize("method", ["infomap", "leiden"])
def test_community_methods_recover_mixture(method):
    _need(method)
    x, y = _mixture()
    r = cluster(x, method=method, threshold=0.35, k=16)
    m = cluster_metrics(y, r.labels)
    # 60 identities of 50; measured: purity 1.0, BCubed F 1.0 for both
    assert m.purity >= 0.99 and m.bcubed_f >= 0.98
    assert abs(r.n_clusters - 60) <= 2
    # deterministic for a seed
    assert np.array_equal(r.labels, cluster(x, method=method, threshold=0.35, k=16).labels)


@pytest.mark.parametrize("method", ["infomap", "leiden"])
def test_community_methods_edge_cases(method):
    _need(method)
    # no edge above the threshold: everything unassigned
    x = np.eye(6, dtype=np.float32)
    r = cluster(x, method=method, threshold=0.5, k=3)
    assert r.n_clusters == 0 and np.all(r.labels == -1)
    # two disconnected pairs
    x = np.array([[1, 0, 0], [0.99, 0.1, 0], [0, 1, 0], [0, 0.99, 0.1]], np.float32)
    r = cluster(x, method=method, threshold=0.9, k=3)
    assert r.labels.tolist() in ([0, 0, 1, 1], [1, 1, 0, 0])


def test_leiden_resolution_validated_and_used():
    _need("leiden")
    with pytest.raises(ValueError, match="resolution"):
        cluster(np.eye(4, dtype=np.float32), method="leiden", resolution=0)
    with pytest.raises(TypeError, match="resolution"):
        cluster(np.eye(4, dtype=np.float32), method="leiden", resolution="high")
    x, _ = _mixture(n_ids=10, n_per=30)
    # the 10 identities at the default CPM resolution; a huge one splits them into singletons
    lo = cluster(x, method="leiden", threshold=0.2, k=16, min_size=1).n_clusters
    hi = cluster(x, method="leiden", threshold=0.2, k=16, min_size=1, resolution=50.0).n_clusters
    assert lo == 10 and hi > 100


@pytest.mark.parametrize(
    ("method", "module"), [("infomap", "infomap"), ("leiden", "leidenalg"), ("leiden", "igraph")]
)
def test_missing_package_error_names_the_extra(monkeypatch, method, module):
    monkeypatch.setitem(sys.modules, module, None)  # import raises ImportError
    with pytest.raises(ImportError, match=r"facecore\[cluster\]") as e:
        cluster(np.eye(4, dtype=np.float32) + 0.5, method=method, threshold=0.1, k=2)
    assert method in str(e.value)


def test_missing_faiss_for_approximate_index(monkeypatch):
    monkeypatch.setitem(sys.modules, "faiss", None)
    with pytest.raises(ImportError, match=r"facecore\[cluster\]"):
        knn_graph(np.eye(4, dtype=np.float32), 2, index="hnsw")
    # the default still works (exact NumPy)
    idx, _ = knn_graph(np.eye(4, dtype=np.float32), 2)
    assert idx.shape == (4, 2)


# -- real embeddings -------------------------------------------------------------------------

# glint_subset: tests/conftest.py


@pytest.mark.data
@pytest.mark.parametrize("method", ["infomap", "leiden"])
def test_community_methods_on_glint24(glint_subset, method):
    _need(method)
    x, y = glint_subset
    m = cluster_metrics(y, cluster(x, method=method).labels)  # default (glint24-tuned) threshold
    # measured on this subset: purity 1.0, BCubed F >= 0.95 for both
    assert m.purity >= 0.97 and m.bcubed_f >= 0.9
    assert m.compactness <= 1.5 * m.ideal_compactness + 1e-9


def test_methods_tuple():
    assert METHODS[-2:] == ("infomap", "leiden")
