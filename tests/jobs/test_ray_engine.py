"""build-dataset --engine ray on a local Ray instance (ray.init(num_cpus=2)) against the local
engine on the same celebs13 subset: identical manifest rows (up to order) and clusters; the
store shared between engines (resume: items already stored are skipped by the actors);
shards of an interrupted run read back; and the local engine never imports Ray."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip(
        "ray", reason="engine='ray' needs Ray: pip install 'facecore[distributed]'"
    )
    pytest.importorskip(
        "ray.data", reason="engine='ray' needs Ray Data: pip install 'facecore[distributed]'"
    )
    pytest.importorskip(
        "pyarrow", reason="engine='ray' needs pyarrow: pip install 'facecore[distributed]'"
    )
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def sources(tmp_path_factory, data_dir, make_sources):
    # two photos held for 5 frames each: 2 kept frames, 8 near-duplicates
    return make_sources(data_dir, tmp_path_factory.mktemp("ray") / "in", hold=5)


def _manifest(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]


def _canon(rows: list[dict]) -> list[str]:
    return sorted(json.dumps(r, sort_keys=True) for r in rows)


@pytest.fixture(scope="module")
def local_build(sources, tmp_path_factory, models_dir):
    from facecore.jobs import build_dataset

    out = tmp_path_factory.mktemp("local") / "out"
    r = build_dataset([sources], out, labels="folders", video_fps=5.0, progress=False)
    return r, out


@pytest.mark.data
def test_ray_engine_matches_local(ray_local, sources, local_build, tmp_path):
    from facecore.jobs import build_dataset

    rl, out_l = local_build
    out_r = tmp_path / "ray"
    rr = build_dataset(
        [sources], out_r, labels="folders", video_fps=5.0, progress=False, engine="ray", workers=2
    )
    assert rr.engine == "ray" and rr.workers == 2 and rl.engine == "local"
    # the same counts, errors, clusters and metrics
    for f in (
        "n_inputs",
        "n_images",
        "n_frames",
        "n_duplicates",
        "n_faces",
        "n_accepted",
        "rejected",
        "n_clusters",
        "n_unassigned",
        "errors",
    ):
        assert getattr(rr, f) == getattr(rl, f), f
    assert rr.n_embedded == rl.n_embedded == rl.n_faces and rr.n_cached == 0
    assert (
        rl.n_images == 12 and rl.n_frames == 2 and rl.n_duplicates == 1 + 8 and rl.n_clusters == 3
    )
    assert any("broken.jpg" in s for s, _ in rr.errors)
    assert rr.metrics == rl.metrics and rl.metrics.purity >= 0.97
    np.testing.assert_array_equal(rr.clustering.labels, rl.clustering.labels)
    # identical manifest rows (up to order) and identical crop files
    ml, mr = _manifest(out_l), _manifest(out_r)
    assert _canon(mr) == _canon(ml)
    for f in ml:
        if f.get("crop"):
            assert (out_r / f["crop"]).read_bytes() == (out_l / f["crop"]).read_bytes()
    # the per-image stage's output: sharded Parquet with embeddings and manifest records
    import pyarrow.parquet as pq

    shards = sorted((out_r / ".facecore" / "parquet").glob("run-*/*.parquet"))
    assert shards
    table = pq.read_table(shards[0])
    assert {"key", "path", "records", "embeddings", "chips"} <= set(table.column_names)


@pytest.mark.data
def test_ray_engine_resumes_from_the_store(ray_local, sources, local_build, tmp_path):
    """A store that already holds every item (an earlier run, of either engine): the actors
    analyse nothing, and the result is the same; leftover shards are read back, not redone."""
    from facecore.jobs import build_dataset

    rl, out_l = local_build
    out = tmp_path / "resume"
    shutil.copytree(out_l / ".facecore", out / ".facecore")  # the local run's store
    r = build_dataset(
        [sources], out, labels="folders", video_fps=5.0, progress=False, engine="ray", workers=1
    )
    assert r.n_embedded == 0 and r.n_cached == rl.n_faces
    assert _canon(_manifest(out)) == _canon(_manifest(out_l))
    rows = [
        row
        for s in (out / ".facecore" / "parquet").glob("run-*/*.parquet")
        for row in __import__("pyarrow.parquet").parquet.read_table(s).to_pylist()
    ]
    assert rows and all(row["cached"] or row["dup"] or row["error"] for row in rows)


@pytest.mark.data
def test_leftover_shards_of_an_interrupted_run_go_into_the_store(
    ray_local, sources, tmp_path, models_dir
):
    from facecore.jobs import build_dataset
    from facecore.jobs.ray_engine import run_ray_stage
    from facecore.jobs.sources import collect_sources
    from facecore.jobs.store import EmbeddingStore

    out = tmp_path / "crash"
    state = out / ".facecore"
    items, _ = collect_sources([sources / "maria_sharapova"])
    from facecore import FaceAnalyzer
    from facecore.jobs.builder import _config

    cfg = _config(FaceAnalyzer(age=False, gender=False, det_threshold=0.6))
    # a run whose driver died after the Ray stage wrote its shards: the store is empty
    with EmbeddingStore(tmp_path / "elsewhere.sqlite", config=cfg) as other:
        run_ray_stage(
            items,
            state,
            other,
            det_threshold=0.6,
            video_fps=1.0,
            frame_dup_bits=6,
            address=None,
            workers=1,
        )
    assert list((state / "parquet").glob("run-*/*.parquet"))
    r = build_dataset([sources / "maria_sharapova"], out, progress=False, engine="ray", workers=1)
    assert r.n_images == 4 and r.n_embedded == 0 and r.n_cached == r.n_faces > 0


def test_local_engine_never_imports_ray(tmp_path, data_dir, models_dir):
    img = data_dir / "photos" / "celebs13" / "elon_musk" / "0.jpg"
    code = (
        "import sys, facecore, facecore.cluster, facecore.jobs\n"
        "from facecore.jobs import build_dataset\n"
        f"r = build_dataset([{str(img)!r}], {str(tmp_path / 'o')!r}, progress=False)\n"
        "assert r.n_images == 1, r\n"
        "bad = sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.') or m == 'pyarrow')\n"
        "assert not bad, bad\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]


@pytest.mark.parametrize(
    ("kwargs", "exc", "name"),
    [
        ({"engine": "spark"}, ValueError, "engine"),
        ({"address": "auto"}, ValueError, "address"),
        ({"engine": "ray", "address": 5}, TypeError, "address"),
        ({"workers": 2}, ValueError, "workers"),
        ({"engine": "ray", "workers": 0}, ValueError, "workers"),
    ],
)
def test_bad_engine_arguments(tmp_path, kwargs, exc, name):
    from facecore.jobs import build_dataset

    with pytest.raises(exc, match=name):
        build_dataset([tmp_path], tmp_path / "o", **kwargs)


def test_missing_ray_says_which_extra(monkeypatch, tmp_path):
    from facecore.jobs.ray_engine import run_ray_stage
    from facecore.jobs.store import EmbeddingStore

    monkeypatch.setitem(sys.modules, "ray", None)
    with (
        EmbeddingStore(tmp_path / "s.sqlite", config="x") as store,
        pytest.raises(ImportError, match=r"facecore\[distributed\]"),
    ):
        run_ray_stage(
            [],
            tmp_path,
            store,
            det_threshold=0.6,
            video_fps=1.0,
            frame_dup_bits=6,
            address=None,
            workers=1,
        )


def test_cli_engine_flags_are_validated(tmp_path):
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "facecore",
            "build-dataset",
            str(tmp_path),
            "-o",
            str(tmp_path / "o"),
            "--workers",
            "2",
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 2 and "workers" in res.stderr
    res = subprocess.run(
        [sys.executable, "-m", "facecore", "build-dataset", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "--engine" in res.stdout and "--address" in res.stdout and "--workers" in res.stdout


@pytest.mark.data
def test_ray_engine_takes_non_utf8_names(ray_local, tmp_path, data_dir, models_dir):
    """Issue 13, finding 4: a file name that is not UTF-8 cannot be an Arrow string; paths
    travel as the OS's bytes and come back into the manifest unchanged."""
    import os

    from facecore.jobs import build_dataset

    src = tmp_path / "in"
    src.mkdir()
    name = os.fsdecode(os.path.join(os.fsencode(src), b"\xff\xfe_latin1_\xe9.jpg"))
    shutil.copy(data_dir / "photos" / "celebs13" / "serena_williams" / "0.jpg", name)
    shutil.copy(data_dir / "photos" / "celebs13" / "serena_williams" / "1.jpg", src / "plain.jpg")
    out = tmp_path / "out"
    r = build_dataset([src], out, engine="ray", workers=1, progress=False, min_size=1)
    assert not r.errors and r.n_images == 2
    sources = {os.fsencode(x["source"]) for x in _manifest(out)}
    assert os.fsencode(name) in sources
