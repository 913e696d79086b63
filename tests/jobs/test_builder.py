"""build-dataset on real photos (celebs13 subset) and a video made from them: outputs,
resume after an interruption (nothing lost, nothing re-embedded), bad inputs, bad arguments."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

REPO = Path(__file__).resolve().parents[2]


def _tree_hash(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def analyzer_cls(models_dir):
    from facecore import FaceAnalyzer

    class SimulatedKill(BaseException):
        """Not an Exception: per-input isolation must not swallow it (as it does not swallow SIGKILL)."""

    class Counting(FaceAnalyzer):
        """Counts analyze() calls; raises on call number ``fail_at`` (a simulated kill)."""

        calls = 0
        fail_at: int | None = None

        def analyze(self, image, **kw):
            type(self).calls += 1
            if self.fail_at is not None and type(self).calls >= self.fail_at:
                raise SimulatedKill("simulated crash")
            return super().analyze(image, **kw)

    return Counting


@pytest.fixture()
def sources(tmp_path, data_dir, make_sources):
    src = make_sources(data_dir, tmp_path / "in", hold=10)
    (tmp_path / "urls.txt").write_text("# offline\nhttp://127.0.0.1:9/nothing.jpg\n")
    return src


@pytest.mark.data
def test_build_resume_outputs(sources, tmp_path, analyzer_cls):
    from facecore.jobs import build_dataset

    before = _tree_hash(sources)
    out = tmp_path / "out"
    fa = analyzer_cls(age=False, gender=False, threads=1)
    analyzer_cls.calls, fa.fail_at = 0, 6
    with pytest.raises(BaseException, match="simulated crash"):
        build_dataset([sources], out, analyzer=fa, progress=False, video_fps=5.0, url_timeout=2)
    assert not (out / "manifest.jsonl").exists()  # nothing half-written in place

    analyzer_cls.calls, fa.fail_at = 0, None
    urls = (
        sources.parent / "urls.txt"
    )  # a URL list is named on the command line, not found in folders
    r = build_dataset(
        [sources, urls],
        out,
        analyzer=fa,
        progress=False,
        video_fps=5.0,
        labels="folders",
        url_timeout=2,
    )
    # 12 images + 2 distinct video frames; the 5 analysed before the crash are not analysed again
    assert r.n_images == 12 and r.n_frames == 2
    assert analyzer_cls.calls == 14 - 5
    assert r.n_cached > 0 and r.n_embedded + r.n_cached == r.n_faces
    assert r.n_duplicates == 1 + 18  # the copied file; 9 repeated frames per photo in the video
    errs = dict(r.errors)
    assert any("broken.jpg" in s for s in errs) and any("127.0.0.1" in s for s in errs)
    assert "download failed" in next(e for s, e in errs.items() if "127.0.0.1" in s)

    # clusters: the three people, the video's faces with Elon Musk's photos
    assert r.metrics is not None and r.metrics.purity >= 0.97, r.metrics
    assert r.n_clusters == 3
    lines = [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]
    faces = [x for x in lines if "box" in x]
    assert len(faces) == r.n_faces
    video = [f for f in faces if f["frame"] is not None and f["status"] == "ok"]
    elon = {f["cluster"] for f in faces if "/elon_musk/" in f["source"] and f.get("labelled")}
    assert len(video) == 2 and {f["cluster"] for f in video} == elon
    for f in faces:
        assert set(f) >= {
            "source",
            "frame",
            "box",
            "landmarks",
            "quality",
            "status",
            "cluster",
            "distance",
        }
        if f["status"] == "ok":
            crop = out / f["crop"]
            assert crop.is_file() and cv2.imread(str(crop)).shape == (112, 112, 3)
    assert any(x.get("status") == "error" for x in lines) and any(
        x.get("status") == "duplicate" for x in lines
    )
    report = (out / "report.html").read_text()
    assert "identity_0000" in report and "purity" in report and "download failed" in report
    summary = json.loads((out / "summary.json").read_text())
    assert (
        summary["clusters"] == 3 and sum(summary["rejected"].values()) == r.n_faces - r.n_accepted
    )
    assert _tree_hash(sources) == before  # inputs untouched

    # a third run: everything from the store, same result
    analyzer_cls.calls = 0
    r3 = build_dataset([sources], out, analyzer=fa, progress=False, video_fps=5.0, url_timeout=2)
    assert analyzer_cls.calls == 0 and r3.n_embedded == 0 and r3.n_cached == r.n_faces
    assert r3.n_clusters == r.n_clusters
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == sorted(
        [f"identity_{i:04d}" for i in range(3)]
        + ["manifest.jsonl", "report.html", "summary.json"]
        + (["unassigned"] if r3.n_unassigned else [])
    )


@pytest.mark.parametrize(
    ("kwargs", "exc", "name"),
    [
        ({"sources": "folder"}, TypeError, "sources"),
        ({"sources": []}, ValueError, "sources"),
        ({"method": "kmeans"}, ValueError, "method"),
        ({"threshold": 3}, ValueError, "threshold"),
        ({"k": 0}, ValueError, "k"),
        ({"min_face": -1}, ValueError, "min_face"),
        ({"min_blur": "x"}, TypeError, "min_blur"),
        ({"max_yaw": 500}, ValueError, "max_yaw"),
        ({"video_fps": 0}, ValueError, "video_fps"),
        ({"labels": "no/such.csv"}, ValueError, "labels"),
        ({"analyzer": object()}, TypeError, "analyzer"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, exc, name):
    from facecore.jobs import build_dataset

    args = {"sources": [str(tmp_path)], "out": tmp_path / "out"} | kwargs
    with pytest.raises(exc, match=name):
        build_dataset(args.pop("sources"), args.pop("out"), **args)


def test_refuses_foreign_nonempty_out(tmp_path):
    from facecore.jobs import build_dataset

    out = tmp_path / "out"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    with pytest.raises(ValueError, match="out"):
        build_dataset([str(tmp_path)], out, analyzer=None, progress=False)
    assert (out / "precious.txt").read_text() == "keep me"


@pytest.mark.data
def test_cli_build_dataset(tmp_path, data_dir, models_dir):
    src = tmp_path / "in" / "serena_williams"
    src.mkdir(parents=True)
    for n in range(3):
        shutil.copy(
            data_dir / "photos" / "celebs13" / "serena_williams" / f"{n}.jpg", src / f"{n}.jpg"
        )
    env = dict(os.environ, FACECORE_MODEL_DIR=str(models_dir))
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "facecore",
            "build-dataset",
            str(tmp_path / "in"),
            "-o",
            str(tmp_path / "out"),
            "--labels",
            "folders",
            "-q",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out" / "identity_0000").is_dir() and (
        tmp_path / "out" / "report.html"
    ).is_file()
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "facecore",
            "build-dataset",
            str(tmp_path / "in"),
            "-o",
            str(tmp_path / "out"),
            "--k",
            "0",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert r.returncode == 2 and "k:" in r.stderr
