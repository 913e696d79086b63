"""``build-dataset --engine ray``: the per-image stage on a Ray cluster.

The driver (the process running :func:`facecore.jobs.build_dataset`) collects the
inputs, downloads URLs, and hands every image and video file to a Ray Data pipeline::

    from_items(files)                          # one row per file, N blocks
      .map_batches(_FaceStage, concurrency=W)  # actor pool: one FaceAnalyzer (onnxruntime
                                               #   sessions) per actor, built once
      .write_parquet(OUT/.facecore/parquet/run-*)   # sharded: one file per block

Each actor hashes the file (SHA-256, the store key), skips items already in the
embedding store (their keys are sent to the actors), and otherwise decodes, detects,
aligns, embeds and JPEG-encodes the chips (:func:`facecore.jobs.stage.analyse_image`, the
local engine's code). A video is sampled and near-duplicate frames are dropped inside
the actor exactly as the local engine does. The Parquet rows carry the manifest record
(JSON), the embeddings (float32 bytes) and the chips of every face of an item.

The driver then reads the shards, writes every new item into the SQLite store (so a
later run, local or Ray, skips it) and returns, per input file, what the local engine
would have computed on the driver: the key, the difference hash, the kept video frames,
or the error. The rest of the build (duplicates, quality filter, clustering, folders,
report) is the local engine's code on those results, which is why both engines give the
same manifest rows and the same clusters.

Resume: Ray retries a task whose worker died (``max_task_retries`` / ``max_restarts``
on the actors); shards of an interrupted run stay in ``OUT/.facecore/parquet`` and are
read into the store at the start of the next run, and the store's keys make the actors
skip every finished item.

Ray is imported only here, and only when ``engine="ray"`` is used.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .sources import Source, file_sha256, iter_video_frames
from .stage import analyse_image, decode_image, input_error
from .store import EmbeddingStore, StoredFace

__all__ = ["RayStageResult", "run_ray_stage"]

logger = logging.getLogger(__name__)

_DIM = 128


def _schema() -> Any:
    import pyarrow as pa

    return pa.schema(
        [
            ("src", pa.int64()),
            ("path", pa.binary()),
            ("kind", pa.string()),
            ("key", pa.string()),
            ("frame", pa.int64()),
            ("dhash", pa.int64()),
            ("dup", pa.bool_()),
            ("cached", pa.bool_()),
            ("width", pa.int64()),
            ("height", pa.int64()),
            ("error", pa.string()),
            ("records", pa.string()),
            ("embeddings", pa.binary()),
            ("chips", pa.list_(pa.binary())),
        ]
    )


def _signed(h: int) -> int:
    h = int(h) & 0xFFFFFFFFFFFFFFFF
    return h - (1 << 64) if h >= (1 << 63) else h


class _FaceStage:
    """Ray Data actor: one FaceAnalyzer per actor, a batch of files in, item rows out."""

    def __init__(
        self,
        *,
        det_threshold: float,
        threads: int,
        device: str,
        known: frozenset[str],
        video_fps: float,
        frame_dup_bits: int,
        max_side: int | None = None,
    ) -> None:
        from ..analyzer import FaceAnalyzer

        self.analyzer = FaceAnalyzer(
            age=False,
            gender=False,
            det_threshold=det_threshold,
            threads=threads,
            device=device,
            max_side=max_side,
        )
        self.known = known
        self.video_fps = video_fps
        self.frame_dup_bits = frame_dup_bits

    def _row(self, src: int, path: str, kind: str, **kw: Any) -> dict[str, Any]:
        # paths travel as the OS's bytes: Arrow strings cannot hold a non-UTF-8 file name
        row = {
            "src": src,
            "path": os.fsencode(path),
            "kind": kind,
            "key": "",
            "frame": -1,
            "dhash": 0,
            "dup": False,
            "cached": False,
            "width": 0,
            "height": 0,
            "error": "",
            "records": "[]",
            "embeddings": b"",
            "chips": [],
        }
        row.update(kw)
        return row

    def _faces(self, image: np.ndarray) -> dict[str, Any]:
        faces = analyse_image(self.analyzer, image)
        emb = (
            np.stack([f.embedding for f in faces]).astype(np.float32)
            if faces
            else np.zeros((0, _DIM), np.float32)
        )
        return {
            "records": json.dumps([f.record for f in faces]),
            "embeddings": emb.tobytes(),
            "chips": [f.chip for f in faces],
            "width": int(image.shape[1]),
            "height": int(image.shape[0]),
        }

    def _image(self, src: int, path: str) -> list[dict[str, Any]]:
        try:
            key = file_sha256(path)
        except Exception as exc:
            return [self._row(src, path, "image", error=input_error(exc))]
        if key in self.known:
            return [self._row(src, path, "image", key=key, cached=True)]
        try:
            image, h = decode_image(path)
            return [self._row(src, path, "image", key=key, dhash=_signed(h), **self._faces(image))]
        except Exception as exc:
            return [self._row(src, path, "image", key=key, error=input_error(exc))]

    def _video(self, src: int, path: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        try:
            vhash = file_sha256(path)
            for fi, frame, h, dup in iter_video_frames(
                path, fps=self.video_fps, dup_bits=self.frame_dup_bits
            ):
                if dup:
                    rows.append(self._row(src, path, "video", frame=fi, dup=True))
                    continue
                key = f"{vhash}:{fi}"
                if key in self.known:
                    rows.append(
                        self._row(
                            src, path, "video", key=key, frame=fi, dhash=_signed(h), cached=True
                        )
                    )
                else:
                    rows.append(
                        self._row(
                            src,
                            path,
                            "video",
                            key=key,
                            frame=fi,
                            dhash=_signed(h),
                            **self._faces(frame),
                        )
                    )
        except Exception as exc:
            rows.append(
                self._row(src, path, "video", frame=-2, error=input_error(exc))
            )  # frame -2: after the frames
        return rows

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        rows: list[dict[str, Any]] = []
        for src, path, kind in zip(
            batch["src"].to_pylist(), batch["path"].to_pylist(), batch["kind"].to_pylist()
        ):
            path = os.fsdecode(path)
            rows += self._video(src, path) if kind == "video" else self._image(src, path)
        return pa.Table.from_pylist(rows, schema=_schema())


class RayStageResult:
    """Per input file, what the driver needs to finish the build like the local engine.

    Attributes
    ----------
    images : dict
        ``path -> {"key", "error"}`` for image files.
    videos : dict
        ``path -> {"frames": [(frame, key, dhash, dup), ...], "error"}``.
    new_keys : set of str
        Items embedded by this run (the rest came from the store).
    seconds : float
        Wall time of the Ray stage (start-up of the actors included).
    workers : int
        Actors in the pool.
    """

    def __init__(self) -> None:
        self.images: dict[str, dict[str, Any]] = {}
        self.videos: dict[str, dict[str, Any]] = {}
        self.new_keys: set[str] = set()
        self.seconds = 0.0
        self.workers = 0


def _ingest(files: list[Path], store: EmbeddingStore, res: RayStageResult | None) -> int:
    """Read item rows from Parquet shards into the store (and ``res``); returns rows read."""
    import pyarrow.parquet as pq

    n = 0
    for f in files:
        try:
            table = pq.read_table(f)
        except Exception as exc:
            logger.warning("skipping unreadable shard %s: %s", f, exc)
            continue
        for row in table.to_pylist():
            n += 1
            key = row["key"]
            if key and not row["cached"] and not row["dup"] and not row["error"]:
                recs = json.loads(row["records"])
                emb = np.frombuffer(row["embeddings"], np.float32).reshape(len(recs), _DIM)
                faces = [StoredFace(r, e.copy(), c) for r, e, c in zip(recs, emb, row["chips"])]
                if store.get(key) is None:
                    store.put(
                        key,
                        width=row["width"],
                        height=row["height"],
                        dhash=row["dhash"],
                        faces=faces,
                    )
                if res is not None:
                    res.new_keys.add(key)
            if res is None:
                continue
            path = os.fsdecode(row["path"])
            if row["kind"] == "image":
                res.images[path] = {"key": key, "error": row["error"]}
            else:
                v = res.videos.setdefault(path, {"frames": [], "error": ""})
                if row["error"]:
                    v["error"] = row["error"]
                else:
                    v["frames"].append(
                        (row["frame"], key, row["dhash"] & 0xFFFFFFFFFFFFFFFF, row["dup"])
                    )
    if res is not None:
        for v in res.videos.values():
            v["frames"].sort()
    return n


def run_ray_stage(
    items: list[Source],
    state: Path,
    store: EmbeddingStore,
    *,
    det_threshold: float,
    max_side: int | None = None,
    video_fps: float,
    frame_dup_bits: int,
    address: str | None,
    workers: int | None,
    device: str = "cpu",
    cpus_per_worker: float = 1.0,
    batch_size: int = 4,
    progress: bool | None = None,
) -> RayStageResult:
    """Run the per-image stage for ``items`` (images and videos with local paths) on Ray.

    Parameters
    ----------
    items : list of Source
        Image and video inputs (URLs already downloaded by the caller).
    state : Path
        ``OUT/.facecore``; shards go to ``state / "parquet" / "run-*"``.
    store : EmbeddingStore
        The build's store: items in it are skipped; new items are written into it.
    det_threshold, video_fps, frame_dup_bits
        As :func:`facecore.jobs.build_dataset`.
    address : str or None
        Ray address: None starts (or reuses) a local instance, ``"auto"`` joins the
        cluster this machine belongs to, ``"ray://host:10001"`` connects a client.
    workers : int or None
        Actors (one FaceAnalyzer each); default: the cluster's CPUs (or GPUs with
        ``device="cuda"``) divided by ``cpus_per_worker``.
    device : {"cpu", "cuda"}
        ``"cuda"``: GPU actors (``num_gpus=1`` each, onnxruntime's CUDA provider).

    Returns
    -------
    RayStageResult
    """
    try:
        import ray
        import ray.data
    except ImportError:
        raise ImportError(
            'engine="ray" needs Ray Data and pyarrow; install them with: '
            'pip install "facecore[distributed]"'
        ) from None

    with warnings.catch_warnings():
        # Ray's own deprecation notices (e.g. DataContext defaults) are not the caller's to fix
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        return _run(
            ray,
            items,
            state,
            store,
            det_threshold=det_threshold,
            max_side=max_side,
            video_fps=video_fps,
            frame_dup_bits=frame_dup_bits,
            address=address,
            workers=workers,
            device=device,
            cpus_per_worker=cpus_per_worker,
            batch_size=batch_size,
            progress=progress,
        )


def _run(
    ray: Any,
    items: list[Source],
    state: Path,
    store: EmbeddingStore,
    *,
    det_threshold: float,
    max_side: int | None,
    video_fps: float,
    frame_dup_bits: int,
    address: str | None,
    workers: int | None,
    device: str,
    cpus_per_worker: float,
    batch_size: int,
    progress: bool | None,
) -> RayStageResult:
    t0 = time.perf_counter()
    started = False
    if not ray.is_initialized():
        ray.init(
            address=address,
            ignore_reinit_error=True,
            log_to_driver=False,
            include_dashboard=False,
            logging_level=logging.WARNING,
        )
        started = True
    res = RayStageResult()
    try:
        root = state / "parquet"
        root.mkdir(parents=True, exist_ok=True)
        # shards of an interrupted earlier run: into the store first
        leftovers = sorted(root.glob("run-*/*.parquet"))
        if leftovers:
            n = _ingest(leftovers, store, None)
            logger.info(
                "ray: %d items from %d shards of an interrupted run went into the store",
                n,
                len(leftovers),
            )
            for d in root.glob("run-*"):
                shutil.rmtree(d, ignore_errors=True)
        known = frozenset(store.keys())
        resources = ray.cluster_resources()
        if workers is None:
            avail = (
                resources.get("GPU", 0)
                if device == "cuda"
                else resources.get("CPU", 1) / cpus_per_worker
            )
            workers = max(1, int(avail))
        res.workers = workers
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = bool(progress) if progress is not None else False
        rows = [
            {"src": i, "path": os.fsencode(s.location), "kind": s.kind} for i, s in enumerate(items)
        ]
        out = root / f"run-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
        if rows:
            nblocks = max(1, min(len(rows), max(4 * workers, -(-len(rows) // 64))))
            ds = ray.data.from_items(rows, override_num_blocks=nblocks)
            threads = max(1, int(cpus_per_worker))
            ds = ds.map_batches(
                _FaceStage,
                fn_constructor_kwargs={
                    "det_threshold": det_threshold,
                    "max_side": max_side,
                    "threads": threads,
                    "device": device,
                    "known": known,
                    "video_fps": video_fps,
                    "frame_dup_bits": frame_dup_bits,
                },
                batch_size=batch_size,
                batch_format="pyarrow",
                concurrency=workers,
                num_cpus=cpus_per_worker,
                num_gpus=1 if device == "cuda" else None,
                max_restarts=3,
                max_task_retries=3,
            )
            ds.write_parquet(os.fspath(out))
            _ingest(sorted(out.glob("*.parquet")), store, res)
        res.seconds = time.perf_counter() - t0
        logger.info(
            "ray: %d files on %d workers in %.1f s (%d items embedded)",
            len(rows),
            workers,
            res.seconds,
            len(res.new_keys),
        )
        return res
    finally:
        if started:
            ray.shutdown()
