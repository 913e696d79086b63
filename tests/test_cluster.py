"""facecore.cluster: metric formulas against hand-computed cases and brute-force references,
the methods on synthetic and real (glint24, SFace) embeddings, and bad arguments."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from facecore.cluster import METHODS, choose_threshold, cluster, cluster_metrics, knn_graph

# -- brute-force references (pair loops, no sklearn) ---------------------------------------------


def _singletons(a):
    a = list(a)
    nxt = max([v for v in a if v >= 0], default=-1) + 1
    out = []
    for v in a:
        if v < 0:
            out.append(nxt)
            nxt += 1
        else:
            out.append(v)
    return out


def ref_metrics(true, pred):
    t, p = _singletons(true), _singletons(pred)
    n = len(t)
    tp = fp = fn = 0
    for i, j in itertools.combinations(range(n), 2):
        same_t, same_p = t[i] == t[j], p[i] == p[j]
        tp += same_t and same_p
        fp += (not same_t) and same_p
        fn += same_t and not same_p
    pw_p = tp / (tp + fp) if tp + fp else 1.0
    pw_r = tp / (tp + fn) if tp + fn else 1.0
    bp = np.mean(
        [
            sum(p[j] == p[i] and t[j] == t[i] for j in range(n))
            / sum(p[j] == p[i] for j in range(n))
            for i in range(n)
        ]
    )
    br = np.mean(
        [
            sum(p[j] == p[i] and t[j] == t[i] for j in range(n))
            / sum(t[j] == t[i] for j in range(n))
            for i in range(n)
        ]
    )
    purity = (
        sum(
            max(sum(1 for i in range(n) if p[i] == c and t[i] == k) for k in set(t)) for c in set(p)
        )
        / n
    )

    def h(lab):
        return -sum(lab.count(v) / n * math.log(lab.count(v) / n) for v in set(lab))

    mi = 0.0
    for a in set(t):
        for b in set(p):
            nab = sum(1 for i in range(n) if t[i] == a and p[i] == b)
            if nab:
                mi += nab / n * math.log(nab * n / (t.count(a) * p.count(b)))
    ht, hp = h(t), h(p)
    nmi = 1.0 if ht + hp == 0 else 2 * mi / (ht + hp)
    return dict(
        purity=purity,
        compactness=len(set(p)) / n,
        pairwise_precision=pw_p,
        pairwise_recall=pw_r,
        bcubed_precision=bp,
        bcubed_recall=br,
        nmi=nmi,
    )


def test_metrics_hand_computed():
    # classes A={0,1,2}, B={3,4}; clusters {0,1}, {2,3,4}
    m = cluster_metrics([0, 0, 0, 1, 1], [0, 0, 1, 1, 1])
    assert m.purity == pytest.approx(4 / 5)
    assert m.compactness == pytest.approx(2 / 5) and m.ideal_compactness == pytest.approx(2 / 5)
    # same-cluster pairs: 1 + 3 = 4, of which right: (0,1), (3,4) -> P = 2/4; same-class pairs 3 + 1 = 4 -> R = 2/4
    assert m.pairwise_precision == pytest.approx(0.5) and m.pairwise_recall == pytest.approx(0.5)
    # BCubed P: items 0,1 -> 1; item 2 -> 1/3; items 3,4 -> 2/3  => (2 + 1/3 + 4/3) / 5
    assert m.bcubed_precision == pytest.approx((2 + 1 / 3 + 4 / 3) / 5)
    # BCubed R: items 0,1 -> 2/3; item 2 -> 1/3; items 3,4 -> 1 => (4/3 + 1/3 + 2) / 5
    assert m.bcubed_recall == pytest.approx((4 / 3 + 1 / 3 + 2) / 5)
    assert m.pairwise_f == pytest.approx(0.5)


def test_metrics_perfect_and_unassigned():
    m = cluster_metrics(["a", "a", "b", "b"], [5, 5, 7, 7])
    assert (m.purity, m.pairwise_f, m.bcubed_f, m.nmi) == (1.0, 1.0, 1.0, 1.0)
    # every item unassigned: each its own cluster -> purity 1, recall low, compactness 1
    m = cluster_metrics([0, 0, 1, 1], [-1, -1, -1, -1])
    assert m.purity == 1.0 and m.compactness == 1.0 and m.n_unassigned == 4
    assert m.pairwise_recall == 0.0 and m.bcubed_recall == pytest.approx(0.5)
    # an unlabelled stranger put into a cluster costs purity
    m = cluster_metrics([0, 0, -1], [0, 0, 0])
    assert m.purity == pytest.approx(2 / 3)


@pytest.mark.parametrize("seed", range(6))
def test_metrics_match_bruteforce(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 30))
    t = rng.integers(-1, 4, n)
    p = rng.integers(-1, 5, n)
    m = cluster_metrics(t, p)
    ref = ref_metrics(t.tolist(), p.tolist())
    for key, v in ref.items():
        assert getattr(m, key) == pytest.approx(v, abs=1e-9), key


def test_knn_numpy_exact_and_faiss_agree():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((300, 16)).astype(np.float32)
    before = x.copy()
    i1, s1 = knn_graph(x, 5, backend="numpy", block_size=64)
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    S = xn @ xn.T
    np.fill_diagonal(S, -np.inf)
    ref = np.argsort(-S, axis=1)[:, :5]
    np.testing.assert_array_equal(np.sort(i1, axis=1), np.sort(ref, axis=1))
    np.testing.assert_allclose(s1, np.take_along_axis(S, i1, 1), atol=1e-5)
    np.testing.assert_array_equal(x, before)  # input untouched
    pytest.importorskip("faiss")
    _i2, s2 = knn_graph(x, 5, backend="faiss")
    np.testing.assert_allclose(s1, s2, atol=1e-5)


def _blobs(n_per=30, n_ids=6, dim=32, noise=0.25, seed=0):
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((n_ids, dim))
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    x = np.repeat(c, n_per, 0) + noise * rng.standard_normal((n_ids * n_per, dim)) / math.sqrt(dim)
    return x.astype(np.float32), np.repeat(np.arange(n_ids), n_per)


@pytest.mark.parametrize("method", METHODS)
def test_methods_recover_blobs(method):
    for mod in {"infomap": ("infomap",), "leiden": ("leidenalg", "igraph")}.get(method, ()):
        pytest.importorskip(
            mod, reason=f"method={method!r} needs {mod}: pip install 'facecore[cluster]'"
        )
    x, y = _blobs()
    out = np.concatenate(
        [x, np.random.default_rng(9).standard_normal((3, x.shape[1])).astype(np.float32)]
    )
    r = cluster(out, method=method, threshold=0.6, k=10)
    assert r.labels.shape == (out.shape[0],) and not r.labels.flags.writeable
    m = cluster_metrics(np.r_[y, [-1, -1, -1]], r.labels)
    assert m.purity == 1.0 and r.n_clusters == 6
    assert set(r.labels[-3:].tolist()) == {-1}  # random outliers stay unassigned
    assert np.all(np.diff(r.sizes) <= 0)  # numbered by decreasing size
    members = r.members(0)
    assert np.all(np.diff(r.distances[members]) >= 0)


def test_doc_example_and_min_size():
    x = np.array([[1, 0], [0.99, 0.1], [0, 1], [0.1, 0.99], [-1, 0]], np.float32)
    assert cluster(x, method="agglomerative", threshold=0.9, k=4).labels.tolist() == [
        0,
        0,
        1,
        1,
        -1,
    ]
    assert cluster(x, method="components", threshold=0.9, k=4, min_size=1).n_clusters == 3


@pytest.mark.parametrize(
    ("kwargs", "exc", "name"),
    [
        ({"embeddings": "abc"}, TypeError, "embeddings"),
        ({"embeddings": np.zeros((3,))}, ValueError, "embeddings"),
        ({"embeddings": np.zeros((3, 4))}, ValueError, "embeddings"),  # zero vectors
        ({"method": "kmeans"}, ValueError, "method"),
        ({"threshold": 2.0}, ValueError, "threshold"),
        ({"threshold": "0.5"}, TypeError, "threshold"),
        ({"k": 0}, ValueError, "k"),
        ({"k": 2.5}, TypeError, "k"),
        ({"min_size": 0}, ValueError, "min_size"),
        ({"backend": "gpu"}, ValueError, "backend"),
        ({"graph": (np.zeros((2, 2), int), np.zeros((2, 2)))}, ValueError, "graph"),
    ],
)
def test_bad_arguments(kwargs, exc, name):
    args = {"embeddings": np.eye(4, dtype=np.float32)} | kwargs
    e = args.pop("embeddings")
    with pytest.raises(exc, match=name):
        cluster(e, **args)


def test_bad_metric_and_choice_arguments():
    with pytest.raises(ValueError, match="true, pred"):
        cluster_metrics([0, 1], [0])
    with pytest.raises(ValueError, match="pred"):
        cluster_metrics([0, 1], [[0, 1]])
    x, y = _blobs(n_per=5, n_ids=3)
    with pytest.raises(ValueError, match="labels"):
        choose_threshold(x, y[:-1])
    with pytest.raises(ValueError, match="objective"):
        choose_threshold(x, y, objective="accuracy")
    with pytest.raises(ValueError, match="min_purity"):
        choose_threshold(x, np.arange(len(y)), thresholds=[-1.0], min_purity=1.0)


# -- real embeddings ------------------------------------------------------------------------------

# glint_subset: tests/conftest.py


@pytest.mark.data
def test_glint24_default_graph_is_pure_and_compact(glint_subset):
    x, y = glint_subset
    r = cluster(x)  # defaults: graph, threshold 0.40
    m = cluster_metrics(y, r.labels)
    # measured 1.0 / 8 clusters on this subset; the aim of the issue is >= 0.97 at <= 1.2x ideal
    assert m.purity >= 0.97
    assert m.compactness <= 1.2 * m.ideal_compactness + 1e-9
    assert m.bcubed_f >= 0.95


@pytest.mark.data
def test_choose_threshold_on_glint24(glint_subset):
    x, y = glint_subset
    dev = y % 2 == 0
    ch = choose_threshold(
        x[dev], y[dev], method="chinese_whispers", thresholds=np.arange(0.3, 0.7, 0.05)
    )
    assert ch.thresholds.size == ch.scores.size == len(ch.sweep) == 8
    assert ch.metrics.bcubed_f == pytest.approx(np.nanmax(ch.scores))
    test = cluster_metrics(
        y[~dev], cluster(x[~dev], method="chinese_whispers", threshold=ch.threshold).labels
    )
    assert test.purity >= 0.97 and test.bcubed_f >= 0.9
