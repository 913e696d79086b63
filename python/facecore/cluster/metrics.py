"""Agreement of a clustering with the true identities: purity, pairwise and BCubed F, NMI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._common import as_labels

__all__ = ["ClusterMetrics", "cluster_metrics"]


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
    t = as_labels(true, "true")
    p = as_labels(pred, "pred")
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
