"""The HTML review report of ``build-dataset``: a contact sheet per cluster.

Each cluster shows its most central faces first (what the identity looks like) and then
its least central ones (where mistakes are), so a reviewer can check a cluster at a
glance and fix it by moving files between the identity folders. The page uses the crops
in the output folder by relative path and has no scripts or external resources.
"""

from __future__ import annotations

import html
import os
import urllib.parse
from pathlib import Path
from typing import Any

__all__ = ["write_report"]

_N_CENTRAL = 12
_N_OUTLIERS = 12
_N_UNASSIGNED = 120

_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:right}
th{text-align:left;background:#f4f4f4}
.sheet{display:flex;flex-wrap:wrap;gap:3px;align-items:flex-start}
.sheet figure{margin:0;width:84px;font-size:10px;text-align:center}
.sheet img{width:84px;height:84px;display:block}
.sep{width:14px;align-self:stretch;border-left:2px dashed #c33;margin:0 4px}
h2{margin-top:1.4em;font-size:1.1em}.muted{color:#777}
"""


def _url(rel: str) -> str:
    """A relative link to a file in the output folder: the OS's bytes of the name, %-encoded.

    ``#``, ``?``, ``%``, spaces, newlines and non-UTF-8 bytes would otherwise end or change
    the URL; the result is also HTML-safe (no quotes, ``<``, ``&`` survive quoting).
    """
    return urllib.parse.quote(os.fsencode(rel), safe="/")


def _text(s: str) -> str:
    """A name as HTML text: undecodable bytes shown as U+FFFD, then escaped."""
    return html.escape(s.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))


def _fig(f: dict[str, Any]) -> str:
    src = f["source"] + ("" if f["frame"] is None else f" [frame {f['frame']}]")
    d = "" if f.get("distance") is None else f"{f['distance']:.3f}"
    return (
        f'<figure><a href="{_url(f["crop"])}"><img loading="lazy" src="{_url(f["crop"])}" '
        f'title="{_text(src)}&#10;distance {d}" alt=""></a><figcaption>{d}</figcaption></figure>'
    )


def write_report(path: Path, faces: list[dict[str, Any]], result: Any) -> None:
    """Write ``report.html`` for the faces of one build (``crop`` paths relative to it)."""
    by: dict[int, list[dict[str, Any]]] = {}
    for f in faces:
        if f.get("status") == "ok" and f.get("crop"):
            # a crop a reviewer moved is shown where it is now
            folder = f["crop"].rsplit("/", 1)[0] if f.get("review") == "moved" else None
            label = (
                int(folder[9:])
                if folder and folder.startswith("identity_") and folder[9:].isdigit()
                else (-1 if folder == "unassigned" else int(f["cluster"]))
            )
            by.setdefault(label, []).append(f)
    s = result.to_dict()
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>facecore build-dataset report</title>"
        f"<style>{_CSS}</style></head><body><h1>Face dataset: {result.n_clusters} identities</h1>"
    ]
    rows = (
        [
            ("inputs", s["inputs"]),
            ("images", s["images"]),
            ("video frames", s["video_frames"]),
            ("duplicates skipped", s["duplicates_skipped"]),
            ("errors", len(s["errors"])),
            ("faces", s["faces"]),
            ("accepted", s["accepted"]),
        ]
        + [(f"rejected: {k}", v) for k, v in s["rejected"].items()]
        + [
            ("identities", s["clusters"]),
            ("unassigned", s["unassigned"]),
            ("embedded this run", s["embedded_this_run"]),
            ("from the store", s["from_store"]),
        ]
    )
    parts.append(
        "<table>"
        + "".join(f"<tr><th>{html.escape(a)}</th><td>{b}</td></tr>" for a, b in rows)
        + "</table>"
    )
    if result.clustering is not None:
        c = result.clustering
        parts.append(
            f"<p class='muted'>clustering: {html.escape(c.method)}, threshold {c.threshold:.3f}, k {c.k}</p>"
        )
    if result.metrics is not None:
        m = result.metrics.to_dict()
        keys = [
            "purity",
            "compactness",
            "ideal_compactness",
            "pairwise_precision",
            "pairwise_recall",
            "pairwise_f",
            "bcubed_precision",
            "bcubed_recall",
            "bcubed_f",
            "nmi",
            "n_items",
            "n_classes",
            "n_clusters",
        ]
        parts.append(
            "<h2>Metrics against the given labels</h2><p class='muted'>Unassigned faces and unlabelled "
            "faces count as singletons (see facecore.cluster.cluster_metrics).</p><table>"
            + "".join(f"<tr><th>{k}</th><td>{m[k]}</td></tr>" for k in keys)
            + "</table>"
        )
    if s["errors"]:
        parts.append(
            "<h2>Inputs skipped</h2><table>"
            + "".join(
                f"<tr><th>{_text(e['source'])}</th><td style='text-align:left'>{_text(e['error'])}</td></tr>"
                for e in s["errors"]
            )
            + "</table>"
        )
    for label in sorted(k for k in by if k >= 0):
        fs = sorted(by[label], key=lambda f: f["distance"] if f["distance"] is not None else 9.0)
        folder = f"identity_{label:04d}"
        head = fs[:_N_CENTRAL]
        tail = fs[_N_CENTRAL:][-_N_OUTLIERS:][::-1]  # least central first
        parts.append(
            f"<h2 id='{folder}'><a href='{folder}/'>{folder}</a> &middot; {len(fs)} faces "
            f"<span class='muted'>(most central &rarr; | least central &rarr;; number = cosine distance "
            f"to the centre)</span></h2><div class='sheet'>" + "".join(_fig(f) for f in head)
        )
        if tail:
            parts.append("<div class='sep'></div>" + "".join(_fig(f) for f in tail))
        parts.append("</div>")
    un = by.get(-1, [])
    if un:
        un = sorted(un, key=lambda f: f["distance"] if f["distance"] is not None else 9.0)
        parts.append(
            f"<h2 id='unassigned'><a href='unassigned/'>unassigned</a> &middot; {len(un)} faces "
            f"<span class='muted'>(nearest to some cluster first)</span></h2><div class='sheet'>"
            + "".join(_fig(f) for f in un[:_N_UNASSIGNED])
            + "</div>"
        )
    parts.append("</body></html>\n")
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text("".join(parts), encoding="utf-8")  # _text/_url leave no lone surrogates
    os.replace(tmp, path)
