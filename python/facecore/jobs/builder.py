"""The face training-data builder behind ``facecore build-dataset``.

Stages (each with a tqdm bar): **collect** the sources (folders recursively, videos,
URL lists) → per image or sampled video frame: hash the file, skip exact and near
duplicates, look the item up in the :class:`~facecore.jobs.store.EmbeddingStore`, and
only when it is new **detect → align → embed** (one :class:`~facecore.FaceAnalyzer`
call) and store it → **filter** faces by quality (size, blur, pose; every rejection
counted by reason) → **cluster** the embeddings (:func:`facecore.cluster.cluster`) →
**write** the output folder::

    OUT/
      identity_0000/ ...        aligned 112x112 crops of one identity, largest first,
                                plus sources.csv (crop -> source path, frame, distance)
      unassigned/               faces no cluster took
      manifest.jsonl            one line per face (and per skipped input): source, frame,
                                bbox, landmarks, pose, quality, status, cluster, distance
      report.html               contact sheet per cluster, most and least central first
      summary.json              counts, rejections by reason, errors, metrics
      .facecore/store.sqlite    the embedding store (keep it: re-runs reuse it)

Outputs are built in ``OUT/.facecore/staging-*`` and moved into place only when
complete; every file is written under a temporary name and renamed. Inputs are only read.

In code, :func:`build_dataset` is four steps: ``_collect`` -> ``_analyse_items`` (the
per-image stage of :mod:`facecore.jobs.stage`; image files through the folder pipeline of
:mod:`facecore.jobs.pipeline`, or on Ray) -> ``_cluster_faces`` -> ``_write_outputs``.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import errno
import io
import json
import logging
import os
import shutil
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._defaults import DET_THRESHOLD
from ..cluster import METHODS, Clustering, ClusterMetrics, cluster, cluster_metrics
from ..errors import OutputError
from .pipeline import Outcome, map_ordered
from .sources import (
    NearDuplicateIndex,
    Source,
    collect_sources,
    download,
    file_sha256,
    iter_video_frames,
)
from .stage import analyse_image, decode_image, input_error
from .store import EmbeddingStore, StoredFace

__all__ = ["REJECT_REASONS", "BuildResult", "build_dataset"]

logger = logging.getLogger(__name__)

#: OSError numbers that mean "the output cannot be written", never "this input is bad".
_ENV_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})


def _environment_failure(exc: BaseException, out_dir: Path) -> OutputError | None:
    """The OutputError that ``exc`` means, if it is an environment failure, else None.

    Disk full, a read-only file system and any SQLite failure of the store stop the job;
    everything else raised while processing one input is that input's failure.
    """
    if isinstance(exc, OutputError):
        return exc
    if isinstance(exc, sqlite3.Error):
        return OutputError.of(f"cannot use the embedding store in {out_dir / _STATE}: {exc}")
    if isinstance(exc, OSError) and exc.errno in _ENV_ERRNOS:
        where = f" ({exc.filename})" if exc.filename else ""
        return OutputError.of(
            f"cannot write the output in {out_dir}{where}: {exc.strerror}", exc.errno
        )
    return None


@contextlib.contextmanager
def _writing(out_dir: Path, what: str) -> Iterator[None]:
    """Any OSError/SQLite error inside is an environment failure: OutputError, cause kept."""
    try:
        yield
    except OutputError:
        raise
    except (OSError, sqlite3.Error) as exc:
        where = getattr(exc, "filename", None)
        cause = getattr(exc, "strerror", None) or str(exc)
        raise OutputError.of(
            f"cannot {what} in {out_dir}{f' ({where})' if where else ''}: {cause}",
            getattr(exc, "errno", None),
        ) from exc


#: Quality-filter reasons, in the order they are checked (a face counts under the first).
REJECT_REASONS = ("size", "blur", "pose")
_STATE = ".facecore"


@dataclass(frozen=True, slots=True)
class BuildResult:
    """Summary of one :func:`build_dataset` run (also written as ``summary.json``)."""

    out: Path
    n_inputs: int
    n_images: int
    n_frames: int
    n_duplicates: int
    n_faces: int
    n_accepted: int
    rejected: dict[str, int]
    n_embedded: int
    n_cached: int
    n_clusters: int
    n_unassigned: int
    errors: tuple[tuple[str, str], ...]
    seconds: float
    metrics: ClusterMetrics | None = None
    clustering: Clustering | None = field(default=None, repr=False)
    engine: str = "local"
    workers: int = 1
    stage_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "out": os.fspath(self.out),
            "inputs": self.n_inputs,
            "images": self.n_images,
            "video_frames": self.n_frames,
            "duplicates_skipped": self.n_duplicates,
            "faces": self.n_faces,
            "accepted": self.n_accepted,
            "rejected": dict(self.rejected),
            "embedded_this_run": self.n_embedded,
            "from_store": self.n_cached,
            "clusters": self.n_clusters,
            "unassigned": self.n_unassigned,
            "errors": [{"source": s, "error": e} for s, e in self.errors],
            "seconds": round(self.seconds, 2),
            "engine": self.engine,
            "workers": self.workers,
            "per_image_stage_seconds": round(self.stage_seconds, 2),
            "metrics": self.metrics.to_dict() if self.metrics is not None else None,
            "clustering": self.clustering.to_dict() if self.clustering is not None else None,
        }

    def summary_line(self) -> str:
        """The one-line summary ``facecore build-dataset`` prints (counts and seconds)."""
        rej = ", ".join(f"{k} {v}" for k, v in self.rejected.items())
        return (
            f"{self.n_images} images + {self.n_frames} video frames, "
            f"{self.n_duplicates} duplicates skipped, {len(self.errors)} errors; "
            f"{self.n_faces} faces ({self.n_embedded} embedded now, {self.n_cached} from the store), "
            f"{self.n_accepted} accepted (rejected: {rej}); {self.n_clusters} identities, "
            f"{self.n_unassigned} unassigned; {self.seconds:.1f} s"
            + (f" (engine ray, {self.workers} workers)" if self.engine == "ray" else "")
        )


# -- validation ------------------------------------------------------------------------------


def _num(
    x: Any, name: str, *, lo: float | None = None, hi: float | None = None, integer: bool = False
) -> Any:
    ok_types = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    if isinstance(x, bool) or not isinstance(x, ok_types):
        raise TypeError(
            f"{name}: expected {'an int' if integer else 'a number'}; got {type(x).__name__}"
        )
    v = int(x) if integer else float(x)
    if not np.isfinite(v) or (lo is not None and v < lo) or (hi is not None and v > hi):
        rng = f"[{lo if lo is not None else '-inf'}, {hi if hi is not None else 'inf'}]"
        raise ValueError(f"{name}: expected a value in {rng}; got {x!r}")
    return v


def _read_label_csv(path: Path) -> dict[str, str]:
    """``path,label`` rows (a header naming ``path``/``file`` and ``label``/``identity``/``person`` is optional)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ValueError(f"labels: cannot read {path}: {exc}") from None
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise ValueError(f"labels: {path} is empty")
    head = [h.strip().lower() for h in rows[0]]
    pcol, lcol = 0, 1
    if any(h in ("path", "file", "filename", "image") for h in head):
        pcol = next(i for i, h in enumerate(head) if h in ("path", "file", "filename", "image"))
        lcol = next(
            (i for i, h in enumerate(head) if h in ("label", "identity", "person", "name")), None
        )  # type: ignore[assignment]
        if lcol is None:
            raise ValueError(f"labels: {path} has a header but no label/identity/person column")
        rows = rows[1:]
    out: dict[str, str] = {}
    for r in rows:
        if len(r) > max(pcol, lcol) and r[pcol].strip():
            out[r[pcol].strip().replace("\\", "/")] = r[lcol].strip()
    if not out:
        raise ValueError(f"labels: {path} has no (path, label) rows")
    return out


def _label_of(src: Source, table: dict[str, str] | None) -> str | None:
    """Label of an input: its folder name (``table is None``) or a CSV entry."""
    if table is None:
        return Path(src.location).parent.name if src.kind != "url" else None
    p = Path(src.location)
    cands = [os.fspath(p.resolve()).replace("\\", "/"), src.location.replace("\\", "/")]
    if src.root is not None:
        try:
            cands.append(os.fspath(p.relative_to(src.root)).replace("\\", "/"))
        except ValueError:
            pass
    cands.append(p.name)
    for c in cands:
        if c in table:
            return table[c]
    # a CSV written relative to some parent folder: match on the path's tail
    for key, lab in table.items():
        if src.location.replace("\\", "/").endswith("/" + key):
            return lab
    return None


# -- the pipeline ----------------------------------------------------------------------------


def _config(analyzer: Any) -> str:
    det = analyzer.detector
    return json.dumps(
        {
            "det": round(float(det.score_threshold), 4),
            "nms": round(float(getattr(det, "nms_threshold", 0.3)), 4),
            "max_side": getattr(det, "max_side", None),
            "embedder": "sface",
            "chip": 112,
        },
        sort_keys=True,
    )


def _reject_reason(
    rec: dict[str, Any], *, min_face: float, min_blur: float, max_yaw: float, max_pitch: float
) -> str | None:
    box = rec["box"]
    if min(box["width"], box["height"]) < min_face:
        return "size"
    q = rec.get("quality")
    if q is not None and q["blur"] < min_blur:
        return "blur"
    pose = rec.get("pose")
    if pose is not None and (abs(pose["yaw"]) > max_yaw or abs(pose["pitch"]) > max_pitch):
        return "pose"
    return None


def build_dataset(
    sources: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    method: str = "graph",
    threshold: float | None = None,
    k: int = 16,
    min_size: int = 2,
    labels: str | os.PathLike[str] | None = None,
    min_face: float = 32.0,
    min_blur: float = 15.0,
    max_yaw: float = 50.0,
    max_pitch: float = 45.0,
    det_threshold: float = DET_THRESHOLD,
    max_side: int | None = 4096,
    video_fps: float = 1.0,
    frame_dup_bits: int = 6,
    image_dup_bits: int = 3,
    url_timeout: float = 10.0,
    url_max_bytes: int = 20_000_000,
    analyzer: Any = None,
    progress: bool | None = None,
    engine: str = "local",
    address: str | None = None,
    workers: int | None = None,
) -> BuildResult:
    """Build per-identity folders of aligned face crops from images, videos and URL lists.

    Parameters
    ----------
    sources : sequence of str or os.PathLike
        Image files, folders (recursive), video files, URL-list files (``.txt``,
        ``.urls``, ``.lst``; one ``http(s)://`` URL a line) or single URLs.
    out : str or os.PathLike
        Output folder (created). An existing folder must be empty or an earlier output.
    method, threshold, k, min_size
        Clustering (see :func:`facecore.cluster.cluster`).
    labels : "folders", path to a CSV, or None
        True identities for metrics: each image's folder name, or ``path,label`` rows.
        In an image with several accepted faces the largest is labelled and the others
        count as noise.
    min_face : float
        Smallest face, shorter box side in source pixels.
    min_blur : float
        Smallest variance of the Laplacian of the aligned 112x112 grey crop.
    max_yaw, max_pitch : float
        Largest absolute head yaw / pitch in degrees.
    det_threshold : float
        Detector score threshold in [0, 1] (part of the store key).
    max_side : int or None
        Detect on a copy downscaled to this longer side (part of the store key; default
        4096, about 0.7 GB at most for the detector; None: full resolution). Used for the
        default analyzer and the Ray actors.
    video_fps : float
        Frames sampled per second of video.
    frame_dup_bits, image_dup_bits : int
        A video frame within ``frame_dup_bits`` (of 64) difference-hash bits of the
        last kept frame, or an image within ``image_dup_bits`` of an earlier image, is
        skipped as a near duplicate (``-1`` switches the check off).
    url_timeout, url_max_bytes
        Per-URL download limits.
    analyzer : FaceAnalyzer, optional
        Default: ``FaceAnalyzer(age=False, gender=False, det_threshold=det_threshold,
        max_side=max_side, threads=1)`` (the folder pipeline runs images on several threads).
    progress : bool or None
        tqdm bars (``None``: only on a terminal).
    engine : {"local", "ray"}
        Where the per-image stage (hash, decode, detect, align, embed) runs: in this
        process, or as Ray Data ``map_batches`` over an actor pool with one
        FaceAnalyzer per actor, results as sharded Parquet in ``OUT/.facecore/parquet``
        (:mod:`facecore.jobs.ray_engine`; needs ``facecore[distributed]``). Both give
        the same manifest rows and clusters.
    address : str, optional
        Ray only: the cluster to use (``"auto"``, ``"ray://host:10001"``); default: the
        running Ray instance of this process, else a new local one.
    workers : int, optional
        Ray only: actors in the pool (default: the cluster's CPUs).

    Returns
    -------
    BuildResult

    Raises
    ------
    TypeError, ValueError
        For a bad argument (named in the message). Unreadable inputs are not errors:
        they are reported in the manifest and the summary and skipped.
    """
    from ..analyzer import FaceAnalyzer

    t0 = time.perf_counter()
    opts = _check_options(
        sources,
        out,
        method=method,
        threshold=threshold,
        k=k,
        min_size=min_size,
        labels=labels,
        min_face=min_face,
        min_blur=min_blur,
        max_yaw=max_yaw,
        max_pitch=max_pitch,
        det_threshold=det_threshold,
        max_side=max_side,
        video_fps=video_fps,
        frame_dup_bits=frame_dup_bits,
        image_dup_bits=image_dup_bits,
        url_timeout=url_timeout,
        url_max_bytes=url_max_bytes,
        analyzer=analyzer,
        engine=engine,
        address=address,
        workers=workers,
    )
    # The output folder is checked before any model is loaded: a wrong folder fails at once.
    out_dir = Path(out)
    state = out_dir / _STATE
    _check_out_dir(out_dir, state)
    if analyzer is None:
        # one onnxruntime thread per model: the folder pipeline's threads use the cores
        analyzer = FaceAnalyzer(
            age=False,
            gender=False,
            det_threshold=opts.det_threshold,
            max_side=opts.max_side,
            threads=1,
        )
    elif not isinstance(analyzer, FaceAnalyzer):
        raise TypeError(f"analyzer: expected a FaceAnalyzer; got {type(analyzer).__name__}")
    elif analyzer.embedder is None:
        raise ValueError("analyzer: needs an embedder (embedder=False was given)")
    _open_state(out_dir, state)
    disable = None if progress is None else not progress

    items, errors, manifest_extra = _collect(sources, out_dir)
    done = _analyse_items(
        opts, items, out_dir, state, analyzer, errors, manifest_extra, progress, disable
    )
    grouped = _cluster_faces(opts, done.faces, done.embs)

    result = BuildResult(
        out=out_dir,
        n_inputs=len(items),
        n_images=done.n_images,
        n_frames=done.n_frames,
        n_duplicates=done.n_dup,
        n_faces=len(done.faces),
        n_accepted=grouped.n_accepted,
        rejected=grouped.rejected,
        n_embedded=done.n_embedded,
        n_cached=done.n_cached,
        n_clusters=grouped.clustering.n_clusters if grouped.clustering else 0,
        n_unassigned=grouped.n_unassigned,
        errors=tuple(errors),
        seconds=0.0,
        metrics=grouped.metrics,
        clustering=grouped.clustering,
        engine=opts.engine,
        workers=done.workers,
        stage_seconds=done.stage_seconds,
    )
    result = dataclasses.replace(result, seconds=time.perf_counter() - t0)
    with _writing(out_dir, "write the output folder"):
        _write_outputs(out_dir, state, done.faces, done.chips, manifest_extra, result, disable)
    logger.info("build-dataset: %s", result.summary_line())
    return result


# -- the four steps: collect -> analyse -> cluster -> write ----------------------------------


@dataclass(frozen=True, slots=True)
class _Options:
    """The checked options of one build (what the steps below read)."""

    method: str
    threshold: float | None
    k: int
    min_size: int
    use_labels: bool
    label_table: dict[str, str] | None
    min_face: float
    min_blur: float
    max_yaw: float
    max_pitch: float
    det_threshold: float
    max_side: int | None
    video_fps: float
    frame_dup_bits: int
    image_dup_bits: int
    url_timeout: float
    url_max_bytes: int
    engine: str
    address: str | None
    workers: int | None


def _check_options(
    sources: Any,
    out: Any,
    *,
    method: Any,
    threshold: Any,
    k: Any,
    min_size: Any,
    labels: Any,
    min_face: Any,
    min_blur: Any,
    max_yaw: Any,
    max_pitch: Any,
    det_threshold: Any,
    max_side: Any,
    video_fps: Any,
    frame_dup_bits: Any,
    image_dup_bits: Any,
    url_timeout: Any,
    url_max_bytes: Any,
    analyzer: Any,
    engine: Any,
    address: Any,
    workers: Any,
) -> _Options:
    """Every argument of :func:`build_dataset` checked (named in the message) before any work."""
    if isinstance(sources, (str, bytes, os.PathLike)) or not isinstance(sources, Sequence):
        raise TypeError(f"sources: expected a sequence of paths; got {type(sources).__name__}")
    if len(sources) == 0:
        raise ValueError("sources: expected at least one path")
    if not isinstance(out, (str, os.PathLike)) or isinstance(out, bytes):
        raise TypeError(f"out: expected str or os.PathLike; got {type(out).__name__}")
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method: expected one of {', '.join(METHODS)}; got {method!r}")
    if threshold is not None:
        threshold = _num(threshold, "threshold", lo=-1.0, hi=1.0)
    k = _num(k, "k", lo=1, integer=True)
    min_size = _num(min_size, "min_size", lo=1, integer=True)
    min_face = _num(min_face, "min_face", lo=0.0)
    min_blur = _num(min_blur, "min_blur", lo=0.0)
    max_yaw = _num(max_yaw, "max_yaw", lo=0.0, hi=180.0)
    max_pitch = _num(max_pitch, "max_pitch", lo=0.0, hi=180.0)
    det_threshold = _num(det_threshold, "det_threshold", lo=0.0, hi=1.0)
    if max_side is not None:
        max_side = _num(max_side, "max_side", lo=32, integer=True)
    video_fps = _num(video_fps, "video_fps", lo=1e-3)
    frame_dup_bits = _num(frame_dup_bits, "frame_dup_bits", lo=-1, hi=64, integer=True)
    image_dup_bits = _num(image_dup_bits, "image_dup_bits", lo=-1, hi=64, integer=True)
    url_timeout = _num(url_timeout, "url_timeout", lo=0.001)
    url_max_bytes = _num(url_max_bytes, "url_max_bytes", lo=1, integer=True)
    if not isinstance(engine, str) or engine not in ("local", "ray"):
        raise ValueError(f"engine: expected 'local' or 'ray'; got {engine!r}")
    if address is not None:
        if not isinstance(address, str) or not address:
            raise TypeError(f"address: expected a Ray address string; got {type(address).__name__}")
        if engine != "ray":
            raise ValueError("address: only used with engine='ray'")
    if workers is not None:
        workers = _num(workers, "workers", lo=1, integer=True)
        if engine != "ray":
            raise ValueError(
                "workers: only used with engine='ray' (the local engine runs in this process)"
            )
    if engine == "ray" and analyzer is not None:
        raise ValueError(
            "analyzer: engine='ray' builds one FaceAnalyzer per actor; pass det_threshold instead"
        )
    label_table: dict[str, str] | None = None
    if labels is not None:
        if not isinstance(labels, (str, os.PathLike)) or isinstance(labels, bytes):
            raise TypeError(
                f"labels: expected 'folders' or a CSV path; got {type(labels).__name__}"
            )
        if os.fspath(labels) != "folders":
            lp = Path(labels)
            if not lp.is_file():
                raise ValueError(
                    f"labels: expected 'folders' or an existing CSV file; got {os.fspath(labels)!r}"
                )
            label_table = _read_label_csv(lp)
    return _Options(
        method=method,
        threshold=threshold,
        k=k,
        min_size=min_size,
        use_labels=labels is not None,
        label_table=label_table,
        min_face=min_face,
        min_blur=min_blur,
        max_yaw=max_yaw,
        max_pitch=max_pitch,
        det_threshold=det_threshold,
        max_side=max_side,
        video_fps=video_fps,
        frame_dup_bits=frame_dup_bits,
        image_dup_bits=image_dup_bits,
        url_timeout=url_timeout,
        url_max_bytes=url_max_bytes,
        engine=engine,
        address=address,
        workers=workers,
    )


def _check_out_dir(out_dir: Path, state: Path) -> None:
    """``out`` must be new, empty, or an earlier build-dataset output."""
    if out_dir.exists():
        if not out_dir.is_dir():
            raise ValueError(f"out: {out_dir} exists and is not a folder")
        if any(out_dir.iterdir()) and not state.is_dir():
            raise ValueError(
                f"out: {out_dir} is not empty and not an earlier build-dataset output; "
                "choose an empty or new folder"
            )


def _open_state(out_dir: Path, state: Path) -> None:
    """Create the state folder, finish what a killed run left, refuse edited outputs."""
    with _writing(out_dir, "create the job's state folder"):
        state.mkdir(parents=True, exist_ok=True)
        for line in _cleanup_interrupted(out_dir, state):
            logger.warning("build-dataset: %s", line)
    # a tool-written file someone edited would be overwritten by this run: refuse before any work
    _refuse_edited(
        out_dir, _edited_outputs(out_dir, _load_listing(out_dir, state), _scan_tree(out_dir))
    )


def _collect(
    sources: Sequence[str | os.PathLike[str]], out_dir: Path
) -> tuple[list[Source], list[tuple[str, str]], list[dict[str, Any]]]:
    """Step 1: the inputs, the source arguments that failed, and their manifest rows."""
    items, problems = collect_sources(list(sources), exclude=out_dir)
    errors: list[tuple[str, str]] = list(problems)
    manifest_extra: list[dict[str, Any]] = [
        {"source": s, "status": "error", "error": e} for s, e in problems
    ]
    logger.info("build-dataset: %d inputs from %d source argument(s)", len(items), len(sources))
    return items, errors, manifest_extra


@dataclass
class _Analysed:
    """What step 2 found: one entry per face (record, embedding, JPEG chip) and counts."""

    faces: list[dict[str, Any]] = field(default_factory=list)
    embs: list[np.ndarray] = field(default_factory=list)
    chips: list[bytes] = field(default_factory=list)
    n_images: int = 0
    n_frames: int = 0
    n_dup: int = 0
    n_embedded: int = 0
    n_cached: int = 0
    stage_seconds: float = 0.0
    workers: int = 1


def _analyse_items(
    opts: _Options,
    items: list[Source],
    out_dir: Path,
    state: Path,
    analyzer: Any,
    errors: list[tuple[str, str]],
    manifest_extra: list[dict[str, Any]],
    progress: bool | None,
    disable: bool | None,
) -> _Analysed:
    """Step 2: per input, hash, skip duplicates, and detect + align + embed what is new.

    Known items come from the embedding store; new ones are analysed (here, or first on
    Ray with ``engine="ray"``) and stored. A failing input is recorded in ``errors`` and
    ``manifest_extra`` and skipped; an environment failure (disk full, store) stops the job.
    """

    with _writing(out_dir, "open the embedding store"):
        store = EmbeddingStore(state / "store.sqlite", config=_config(analyzer))
    # engine="ray": the per-image stage runs on the Ray cluster first; the loop below then
    # finds every analysed item in the store and only does the driver's bookkeeping
    t_stage = time.perf_counter()
    pre = None
    if opts.engine == "ray":
        from .ray_engine import run_ray_stage

        # URLs are downloaded (and analysed) by the loop below, on the driver
        remote = [src for src in items if src.kind != "url"]
        try:
            pre = run_ray_stage(
                remote,
                state,
                store,
                det_threshold=opts.det_threshold,
                max_side=opts.max_side,
                video_fps=opts.video_fps,
                frame_dup_bits=opts.frame_dup_bits,
                address=opts.address,
                workers=opts.workers,
                progress=progress,
            )
        except BaseException:
            store.close()
            raise
    try:
        with _writing(out_dir, "read the embedding store"):
            loop = _ItemLoop(
                opts, out_dir, state, analyzer, store, pre, errors, manifest_extra, disable
            )
    except BaseException:
        store.close()
        raise
    loop.done.workers = pre.workers if pre is not None else 1
    loop.run(items)  # closes the store
    loop.done.stage_seconds = time.perf_counter() - t_stage
    return loop.done


class _ItemLoop:
    """Step 2's per-input loop and its state (duplicates seen, the store, the counts).

    :meth:`one_input` is the whole work for one input, one after the other. The folder
    pipeline (local engine): a run of local image files goes through two thread pools --
    hash + decode + difference hash (:class:`_Prepared`), then detect + align + embed --
    while this thread takes every decision (:meth:`decide`: duplicates, store, near
    duplicates) and applies every result (:meth:`_Step.apply`) in input order, exactly as
    :meth:`one_input` does for one file after the other. Exact and near duplicates are
    decided before any analysis, so they are never analysed.
    """

    def __init__(
        self,
        opts: _Options,
        out_dir: Path,
        state: Path,
        analyzer: Any,
        store: EmbeddingStore,
        pre: Any,
        errors: list[tuple[str, str]],
        manifest_extra: list[dict[str, Any]],
        disable: bool | None,
    ) -> None:
        self.opts, self.out_dir, self.state, self.analyzer = opts, out_dir, state, analyzer
        self.store, self.pre, self.disable = store, pre, disable
        self.errors, self.manifest_extra = errors, manifest_extra
        self.done = _Analysed()
        self.seen_hash: dict[str, str] = {}
        self.near = NearDuplicateIndex(opts.image_dup_bits)
        self.known = frozenset(store.keys()) if pre is None else frozenset()
        self.bar: Any = None

    def add_item(
        self,
        key: str,
        src: Source,
        frame: int | None,
        image: np.ndarray | None,
        h: int | None,
        analysed: tuple[list[StoredFace], tuple[int, int]] | None = None,
    ) -> None:
        """One item's faces: from the store, or analysed (here, or ``analysed`` by the
        pipeline) and stored; then recorded with their source, frame and label."""
        got = self.store.get(key)
        if got is None:
            if analysed is not None:  # by the folder pipeline's threads
                stored, (height, width) = analysed
            elif image is None:
                raise ValueError("internal: no pixels for a new item")  # pragma: no cover
            else:
                stored, (height, width) = analyse_image(self.analyzer, image), image.shape[:2]
            self.store.put(
                key,
                width=width,
                height=height,
                dhash=h if h is not None else 0,
                faces=stored,
            )
            self.done.n_embedded += len(stored)
        else:
            stored = got[1]
            if self.pre is not None and key in self.pre.new_keys:
                self.done.n_embedded += len(stored)
            else:
                self.done.n_cached += len(stored)
        label = _label_of(src, self.opts.label_table) if self.opts.use_labels else None
        for i, sf in enumerate(stored):
            self.done.faces.append(
                {"source": src.location, "frame": frame, "face": i, "label": label, **sf.record}
            )
            self.done.embs.append(sf.embedding)
            self.done.chips.append(sf.chip)

    def one_input(self, src: Source) -> None:
        """The whole work for one input (download, video frames, duplicates, analysis)."""
        path = src.location
        if src.kind == "url":
            path = os.fspath(
                download(
                    src.location,
                    self.state / "downloads",
                    timeout=self.opts.url_timeout,
                    max_bytes=self.opts.url_max_bytes,
                )
            )
        if src.kind == "video":
            if self.pre is not None and src.location in self.pre.videos:
                v = self.pre.videos[src.location]
                for fi, key, h, dup in v["frames"]:
                    if dup:
                        self.done.n_dup += 1
                        continue
                    self.done.n_frames += 1
                    self.add_item(key, src, fi, None, h)
                if v["error"]:
                    raise ValueError(v["error"])
                return
            vhash = file_sha256(path)
            for fi, frame, h, dup in iter_video_frames(
                path, fps=self.opts.video_fps, dup_bits=self.opts.frame_dup_bits
            ):
                if dup:
                    self.done.n_dup += 1
                    continue
                self.done.n_frames += 1
                self.add_item(f"{vhash}:{fi}", src, fi, frame, h)
            return
        r = self.pre.images.get(src.location) if self.pre is not None else None
        if r is not None and not r["key"]:
            raise OSError(r["error"])  # the file could not be read on the worker
        fh = r["key"] if r is not None else file_sha256(path)
        if fh in self.seen_hash:
            self.done.n_dup += 1
            self.manifest_extra.append(
                {"source": src.location, "status": "duplicate", "duplicate_of": self.seen_hash[fh]}
            )
            return
        self.seen_hash[fh] = src.location
        got = self.store.get(fh)
        image = None
        if got is None and r is not None and r["error"]:
            raise ValueError(r["error"])  # the worker could not decode it
        if got is None:
            image, h = decode_image(path)
        else:
            h = int(got[0]["dhash"]) & 0xFFFFFFFFFFFFFFFF
        other = self.near.find(h)
        if other is not None:
            self.done.n_dup += 1
            self.manifest_extra.append(
                {"source": src.location, "status": "near_duplicate", "duplicate_of": other}
            )
            return
        self.near.add(h, src.location)
        self.done.n_images += 1
        self.add_item(fh, src, None, image, h)

    def decide(self, src: Source, prep: _Prepared) -> _Step:
        """one_input's decisions for a prepared local image; its effects come as a step."""
        try:
            if prep.key_error is not None:
                raise prep.key_error
            fh = prep.key
            if fh in self.seen_hash:
                self.done.n_dup += 1
                row = {
                    "source": src.location,
                    "status": "duplicate",
                    "duplicate_of": self.seen_hash[fh],
                }
                return _Step(src, effect=lambda _: self.manifest_extra.append(row))
            self.seen_hash[fh] = src.location
            got = self.store.get(fh)
            image = None
            if got is None and prep.decode_error is not None:
                raise prep.decode_error
            if got is None and prep.image is not None:
                image, h = prep.image, prep.dhash
            elif got is None:  # pragma: no cover - only an item the store lost since the start
                image, h = decode_image(src.location)
            else:
                h = int(got[0]["dhash"]) & 0xFFFFFFFFFFFFFFFF
            other = self.near.find(h)
            if other is not None:
                self.done.n_dup += 1
                row = {"source": src.location, "status": "near_duplicate", "duplicate_of": other}
                return _Step(src, effect=lambda _: self.manifest_extra.append(row))
            self.near.add(h, src.location)
            self.done.n_images += 1
        except Exception as exc:
            return _Step(src, error=exc)
        if image is None:
            return _Step(src, effect=lambda _: self.add_item(fh, src, None, None, h))
        shape = (int(image.shape[0]), int(image.shape[1]))
        return _Step(
            src,
            image=image,
            effect=lambda stored: self.add_item(fh, src, None, None, h, (stored, shape)),
        )

    def decisions(self, prepared: Iterator[Outcome[Source, _Prepared]]) -> Iterator[_Step]:
        for o in prepared:
            yield (
                _Step(o.item, error=o.error)
                if o.error is not None
                else self.decide(o.item, o.get())
            )

    def analyse(self, step: _Step) -> list[StoredFace] | None:
        return analyse_image(self.analyzer, step.image) if step.image is not None else None

    def guarded(self, src: Source, fn: Callable[[], None]) -> None:
        """Run one input's work; its failure is its error row (environment failures stop)."""
        self.bar.update(1)
        try:
            fn()
        except Exception as exc:
            env = _environment_failure(exc, self.out_dir)
            if env is not None:
                raise env from exc
            reason = input_error(exc)
            if not isinstance(
                exc, (OSError, ValueError)
            ):  # a bug or a library's error: keep the trace
                logger.debug("input %s failed", src.location, exc_info=True)
            self.errors.append((src.location, reason))
            self.manifest_extra.append({"source": src.location, "status": "error", "error": reason})
            # once: on the progress output, or in the log when there is no bar (-q, libraries)
            if self.disable is not True:
                self.bar.write(f"skipped {src.location}: {reason}", file=sys.stderr)
            else:
                logger.info("skipped %s: %s", src.location, reason)

    def run(self, items: list[Source]) -> None:
        """Every input in order: runs of local image files through the folder pipeline,
        the others one by one; the store is closed at the end (also on an exception)."""
        from tqdm.auto import tqdm

        self.bar = tqdm(
            items,
            desc="detect+embed" if self.pre is None else "collect",
            unit="file",
            disable=self.disable,
        )
        try:
            for parallel, run in _runs(items, lambda s: self.pre is None and s.kind == "image"):
                if not parallel:
                    for src in run:
                        self.guarded(src, lambda src=src: self.one_input(src))  # type: ignore[misc]
                    continue
                prepared = map_ordered(lambda s: _Prepared.of(s.location, self.known), run)
                analysed = map_ordered(self.analyse, self.decisions(prepared))
                try:
                    for o in analysed:
                        step = o.item
                        self.guarded(step.src, lambda step=step, o=o: step.apply(o))  # type: ignore[misc]
                finally:
                    analysed.close()  # stop the pipeline's threads before the store goes
                    prepared.close()
        finally:
            self.bar.close()
            self.store.close()


@dataclass
class _Prepared:
    """A local image file hashed, and decoded unless the store has it (the pipeline's first
    stage). Each step's failure is kept, to be raised where one_input would have met it
    (a duplicate of an unreadable file is still a duplicate, not an error)."""

    key: str = ""
    key_error: Exception | None = None
    image: np.ndarray | None = None
    dhash: int = 0
    decode_error: Exception | None = None

    @classmethod
    def of(cls, path: str, known: frozenset[str]) -> _Prepared:
        prep = cls()
        try:
            prep.key = file_sha256(path)
        except Exception as exc:
            prep.key_error = exc
            return prep
        if prep.key in known:  # in the store: no pixels needed
            return prep
        try:
            prep.image, prep.dhash = decode_image(path)
        except Exception as exc:
            prep.decode_error = exc
        return prep


@dataclass
class _Step:
    """One input's decided work: an image to analyse (or None) and its effect, applied in
    input order with the analysis result; or the error to report for it."""

    src: Source
    image: np.ndarray | None = None
    effect: Callable[[Any], None] | None = None
    error: BaseException | None = None

    def apply(self, analysed: Outcome[_Step, list[StoredFace] | None]) -> None:
        if self.error is not None:
            raise self.error
        if self.effect is not None:
            self.effect(analysed.get() if self.image is not None else None)


def _runs(
    items: list[Source], parallel: Callable[[Source], bool]
) -> Iterator[tuple[bool, list[Source]]]:
    """Consecutive items grouped by ``parallel(item)``, in order."""
    run: list[Source] = []
    for src in items:
        if run and parallel(src) != parallel(run[0]):
            yield parallel(run[0]), run
            run = []
        run.append(src)
    if run:
        yield parallel(run[0]), run


@dataclass(frozen=True)
class _Clustered:
    """What step 3 decided (the face entries carry status, cluster and distance)."""

    n_accepted: int
    rejected: dict[str, int]
    clustering: Clustering | None
    metrics: ClusterMetrics | None
    n_unassigned: int


def _cluster_faces(
    opts: _Options, faces: list[dict[str, Any]], embs: list[np.ndarray]
) -> _Clustered:
    """Step 3: quality filter, true labels for the metrics, clustering; sets each face's
    ``status``, ``cluster``, ``distance`` (and ``labelled``) in place."""
    rejected: Counter[str] = Counter({r: 0 for r in REJECT_REASONS})
    accepted = []
    for i, f in enumerate(faces):
        reason = _reject_reason(
            f,
            min_face=opts.min_face,
            min_blur=opts.min_blur,
            max_yaw=opts.max_yaw,
            max_pitch=opts.max_pitch,
        )
        f["status"] = "ok" if reason is None else f"rejected:{reason}"
        f["cluster"], f["distance"] = None, None
        if reason is None:
            accepted.append(i)
        else:
            rejected[reason] += 1

    # labels for metrics: the largest accepted face of each labelled image/frame
    true = None
    if opts.use_labels:
        best: dict[tuple[str, Any], int] = {}
        for i in accepted:
            f = faces[i]
            if f["label"] is None:
                continue
            key2 = (f["source"], f["frame"])
            area = f["box"]["width"] * f["box"]["height"]
            if (
                key2 not in best
                or area > faces[best[key2]]["box"]["width"] * faces[best[key2]]["box"]["height"]
            ):
                best[key2] = i
        chosen = set(best.values())
        true = np.array([faces[i]["label"] if i in chosen else "" for i in accepted], dtype=object)

    clustering = None
    metrics = None
    labels_acc = np.full(len(accepted), -1, np.int64)
    dist_acc = np.full(len(accepted), np.nan, np.float32)
    if len(accepted) >= 2:
        logger.info("clustering %d faces (%s)", len(accepted), opts.method)
        clustering = cluster(
            np.stack([embs[i] for i in accepted]),
            method=opts.method,
            threshold=opts.threshold,
            k=opts.k,
            min_size=opts.min_size,
        )
        labels_acc, dist_acc = np.asarray(clustering.labels), np.asarray(clustering.distances)
        if true is not None and np.any(true != ""):
            metrics = cluster_metrics(true, labels_acc)
    for j, i in enumerate(accepted):
        faces[i]["cluster"] = int(labels_acc[j])
        faces[i]["distance"] = None if np.isnan(dist_acc[j]) else round(float(dist_acc[j]), 5)
        if true is not None:
            faces[i]["labelled"] = bool(true[j] != "")
    return _Clustered(
        n_accepted=len(accepted),
        rejected=dict(rejected),
        clustering=clustering,
        metrics=metrics,
        n_unassigned=int(np.count_nonzero(labels_acc < 0)),
    )


# -- writing ---------------------------------------------------------------------------------


def _atomic_write(path: Path, text: str | bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        if isinstance(text, bytes):
            tmp.write_bytes(text)
        else:
            tmp.write_text(text, encoding="utf-8", errors="surrogateescape")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _folder(label: int) -> str:
    return "unassigned" if label < 0 else f"identity_{label:04d}"


# -- what the tool wrote, what the reviewer changed -------------------------------------------
#
# OUT/.facecore/written.json lists every file build-dataset put in OUT (relative path ->
# sha256 of the bytes written), the folders it made, and the reviewer's decisions so far
# (crop sha256 -> "moved" | "removed"). A file is replaced or deleted by a rerun only if it is
# listed there *and* still has the listed content; anything else is the user's and is never
# touched. A crop the tool wrote that now lives elsewhere in OUT (same bytes, its old place
# gone) was moved by a reviewer: it stays where it is and the manifest says so; a crop that
# is gone was removed by a reviewer and is not written again.
#
# The swap from OUT/.facecore/staging-<pid> into OUT is journaled in OUT/.facecore/swap.json
# before its first step; each step is idempotent (delete only if the content is still the
# listed one; move only if the target is absent or ours), so a run killed mid-swap is rolled
# forward by the next run, which says so.

_LISTING = "written.json"
_JOURNAL = "swap.json"
_TOP_FILES = ("manifest.jsonl", "report.html", "summary.json")


def _rel(p: Path, root: Path) -> str:
    return os.fspath(p.relative_to(root)).replace(os.sep, "/")


def _scan_tree(out_dir: Path) -> dict[str, Path]:
    """Every file under OUT except the state folder, by relative path."""
    found: dict[str, Path] = {}
    if not out_dir.is_dir():
        return found
    for dirpath, dirnames, filenames in os.walk(out_dir):
        if Path(dirpath) == out_dir and _STATE in dirnames:
            dirnames.remove(_STATE)
        for fn in filenames:
            p = Path(dirpath) / fn
            if p.is_file() and not p.is_symlink():
                found[_rel(p, out_dir)] = p
    return found


def _load_listing(out_dir: Path, state: Path) -> dict[str, Any]:
    """``{"files": {rel: sha}, "dirs": [...], "reviews": {sha: decision}}`` (empty if none).

    The first listing format (a list of the top-level names the tool moved in) is read as:
    the top-level files, the crops the old manifest names and each folder's sources.csv,
    with their present content (the best knowledge there is of what the tool wrote).
    """
    listing = state / _LISTING
    empty: dict[str, Any] = {"files": {}, "dirs": [], "reviews": {}}
    if not listing.is_file():
        return empty
    data = json.loads(listing.read_text(encoding="utf-8"))
    if isinstance(data, dict):
        return {**empty, **data}
    files: dict[str, str] = {}
    names = set(data)
    cands = [n for n in names if n in _TOP_FILES]
    man = out_dir / "manifest.jsonl"
    if man.is_file():
        for line in man.read_text(encoding="utf-8", errors="surrogateescape").splitlines():
            with contextlib.suppress(ValueError):
                crop = json.loads(line).get("crop")
                if crop:
                    cands.append(crop)
    cands += [f"{n}/sources.csv" for n in names if n not in _TOP_FILES]
    for rel in cands:
        p = out_dir / rel
        if p.is_file():
            files[rel] = file_sha256(p)
    return {
        "files": files,
        "dirs": sorted(n for n in names if (out_dir / n).is_dir()),
        "reviews": {},
    }


def _edited_outputs(out_dir: Path, listing: dict[str, Any], tree: dict[str, Path]) -> list[str]:
    """Tool-written files that a rerun would replace but that were changed by someone."""
    bad = []
    for rel, sha in listing["files"].items():
        if (
            rel in tree
            and (rel in _TOP_FILES or rel.endswith("/sources.csv"))
            and file_sha256(tree[rel]) != sha
        ):
            bad.append(rel)
    # a user's own file where the tool writes its top-level outputs
    bad += [n for n in _TOP_FILES if n in tree and n not in listing["files"]]
    return sorted(bad)


def _refuse_edited(out_dir: Path, bad: list[str]) -> None:
    if bad:
        raise ValueError(
            f"out: {', '.join(bad)} in {out_dir} changed after build-dataset wrote "
            f"{'it' if len(bad) == 1 else 'them'} (or {'is' if len(bad) == 1 else 'are'} not "
            "the tool's); facecore never overwrites a file it did not write: move "
            f"{'it' if len(bad) == 1 else 'them'} out of the folder and run again"
        )


def _cleanup_interrupted(out_dir: Path, state: Path) -> list[str]:
    """Finish a swap a killed run left half-done; remove its staging/trash folders.

    Returns one line per thing done, for the log.
    """
    done = []
    journal = state / _JOURNAL
    if journal.is_file():
        try:
            plan = json.loads(journal.read_text(encoding="utf-8"))
        except ValueError:
            plan = None  # torn journal: it was being written, so no step had started
        if plan is not None:
            _apply_swap(out_dir, state, plan)
            done.append(
                f"completed the output swap of an interrupted run (staging {plan['staging']})"
            )
        journal.unlink(missing_ok=True)
    leftovers = [d for d in state.glob("staging-*")] + [d for d in state.glob("trash-*")]
    for d in leftovers:
        if d.is_dir():
            shutil.rmtree(d, ignore_errors=True)
            done.append(f"removed {d.name}, left by an interrupted run")
    for t in state.glob(".*.tmp-*"):
        t.unlink(missing_ok=True)
    return done


def _apply_swap(out_dir: Path, state: Path, plan: dict[str, Any]) -> None:
    """Carry out a journaled swap; every step may run twice."""
    staging = state / plan["staging"]
    for rel, sha in plan["remove"]:
        p = out_dir / rel
        if p.is_file() and not p.is_symlink() and file_sha256(p) == sha:
            p.unlink()
    for rel, replaces in plan["move"]:
        src, dst = staging / rel, out_dir / rel
        if not src.is_file():
            continue  # moved already
        if dst.exists() and (replaces is None or not dst.is_file() or file_sha256(dst) != replaces):
            if dst.is_file() and file_sha256(dst) == file_sha256(src):
                src.unlink()
                continue
            # never happens without a user racing the swap: keep theirs, ours goes beside it
            dst = dst.with_name(f"{dst.stem}.facecore-{os.getpid()}{dst.suffix}")
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dst)
    for d in sorted(plan["rmdirs"], key=len, reverse=True):
        with contextlib.suppress(OSError):  # only empty folders go, and only ours
            (out_dir / d).rmdir()
    _atomic_write(state / _LISTING, json.dumps(plan["listing"], indent=0))
    shutil.rmtree(staging, ignore_errors=True)
    (state / _JOURNAL).unlink(missing_ok=True)


def _write_outputs(
    out_dir: Path,
    state: Path,
    faces: list[dict[str, Any]],
    chips: list[bytes],
    extra: list[dict[str, Any]],
    result: BuildResult,
    disable: bool | None,
) -> None:
    import hashlib

    from tqdm.auto import tqdm

    from .report import write_report

    listing = _load_listing(out_dir, state)
    tree = _scan_tree(out_dir)
    _refuse_edited(out_dir, _edited_outputs(out_dir, listing, tree))
    ours = listing["files"]
    tree_sha = {rel: file_sha256(p) for rel, p in tree.items()}
    ours_now = {rel for rel, sha in ours.items() if tree_sha.get(rel) == sha}  # ours, untouched
    foreign_by_sha: dict[str, list[str]] = {}
    for rel, sha in tree_sha.items():
        if rel not in ours_now:
            foreign_by_sha.setdefault(sha, []).append(rel)
    gone = {sha for rel, sha in ours.items() if rel not in tree}  # ours, vanished
    # vanished from a folder that is still there: a reviewer's removal (a whole folder or
    # output deleted, or a state folder copied elsewhere, is regenerated instead)
    gone_in_place = {
        sha
        for rel, sha in ours.items()
        if rel not in tree and "/" in rel and (out_dir / rel).parent.is_dir()
    }
    untouched = {ours[r] for r in ours_now}
    reviews: dict[str, str] = dict(listing["reviews"])

    staging = state / f"staging-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    new_files: dict[str, str] = {}
    sources_rows: dict[str, list[list[Any]]] = {}
    for gi, f in enumerate(tqdm(faces, desc="write", unit="face", disable=disable)):
        if f["status"] != "ok":
            f["crop"] = None
            continue
        sha = hashlib.sha256(chips[gi]).hexdigest()
        placed = foreign_by_sha.get(sha, [])
        if sha in reviews or (
            sha in gone and sha not in untouched and (placed or sha in gone_in_place)
        ):
            # a reviewer's decision: the crop lives where they put it, or nowhere
            if placed:
                reviews[sha] = "moved"
                f["crop"], f["review"] = placed[0], "moved"
                folder = placed[0].rsplit("/", 1)[0] if "/" in placed[0] else ""
                sources_rows.setdefault(folder, []).append(
                    [placed[0].rsplit("/", 1)[-1], f["source"], f["frame"], f["distance"]]
                )
            else:
                reviews[sha] = "removed"
                f["crop"], f["review"] = None, "removed"
            continue
        folder = _folder(f["cluster"])
        stem = Path(f["source"]).stem[:40] or "face"
        frame = "" if f["frame"] is None else f"_f{f['frame']:06d}"
        name = f"{stem}{frame}_{f['face']}_{sha[:8]}.jpg"
        rel = f"{folder}/{name}"
        if rel in tree and rel not in ours_now and tree_sha[rel] != sha:
            name = (
                f"{stem}{frame}_{f['face']}_{sha[:16]}.jpg"  # a user's file has that name: keep it
            )
            rel = f"{folder}/{name}"
        (staging / folder).mkdir(exist_ok=True)
        (staging / rel).write_bytes(chips[gi])
        new_files[rel] = sha
        f["crop"] = rel
        sources_rows.setdefault(folder, []).append([name, f["source"], f["frame"], f["distance"]])
    our_dirs = (
        set(listing["dirs"])
        | {_folder(-1)}
        | {d for d in sources_rows if d.startswith("identity_")}
    )
    for folder, rows in sources_rows.items():
        if folder not in our_dirs:
            continue  # a folder the reviewer made: no file of ours goes in it
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["crop", "source", "frame", "distance"])
        w.writerows(rows)
        (staging / folder).mkdir(exist_ok=True)
        # names are the OS's bytes (surrogateescape): a non-UTF-8 name is written as it is on disk
        (staging / folder / "sources.csv").write_text(
            buf.getvalue(), encoding="utf-8", errors="surrogateescape"
        )
        new_files[f"{folder}/sources.csv"] = ""
    with open(staging / "manifest.jsonl", "w", encoding="utf-8") as fh:
        for f in faces:
            rec = {k: v for k, v in f.items() if k != "label"}
            if f.get("label") is not None:
                rec["label"] = f["label"]
            fh.write(json.dumps(rec) + "\n")  # ensure_ascii: any name survives as \udcXX escapes
        for e in extra:
            fh.write(json.dumps(e) + "\n")
    write_report(staging / "report.html", faces, result)
    (staging / "summary.json").write_text(
        json.dumps(result.to_dict(), indent=1) + "\n", encoding="utf-8"
    )
    for n in (*_TOP_FILES, *[r for r in new_files if r.endswith("/sources.csv")]):
        new_files[n] = file_sha256(staging / n)

    # the plan, journaled before its first step
    remove = [[rel, ours[rel]] for rel in sorted(ours_now) if rel not in new_files]
    move = [[rel, ours[rel] if rel in ours_now else None] for rel in sorted(new_files)]
    dirs = sorted(our_dirs | {r.rsplit("/", 1)[0] for r in new_files if "/" in r})
    plan = {
        "staging": staging.name,
        "remove": remove,
        "move": move,
        "rmdirs": dirs,
        "listing": {"version": 2, "files": new_files, "dirs": dirs, "reviews": reviews},
    }
    _atomic_write(state / _JOURNAL, json.dumps(plan))
    _apply_swap(out_dir, state, plan)
