"""The command line, run as users run it: ``python -m facecore ...`` in a subprocess."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from _env import data_dir, models_dir, no_models_env

REPO = Path(__file__).resolve().parents[1]
MODELS = models_dir() or REPO.parent / "shared" / "models"
DATA = data_dir() or REPO.parent / "shared" / "data"
needs_models = pytest.mark.skipif(
    not (MODELS / "face_detection_yunet_2023mar_int8bq.onnx").is_file(),
    reason="needs ../shared/models (or $FACECORE_MODEL_DIR)",
)


def run(*args, env_extra=None, cwd=None):
    env = dict(os.environ)
    env["FACECORE_MODEL_DIR"] = str(MODELS)
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "facecore", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )


@needs_models
def test_demo(tmp_path):
    out = tmp_path / "demo.jpg"
    r = run("demo", "--out", str(out), "--threads", "2")
    assert r.returncode == 0, r.stderr
    assert "found 1 face(s)" in r.stdout and "female" in r.stdout
    img = cv2.imread(str(out))
    assert img is not None and img.shape == (512, 512, 3)


def test_demo_without_models_says_how_to_install(tmp_path):
    r = run("demo", "--out", str(tmp_path / "x.jpg"), env_extra=no_models_env(tmp_path))
    assert r.returncode == 2
    # one line: what is missing and the command that installs it for this installation
    from facecore.models.zoo import install_hint

    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "not found" in lines[0] and install_hint() in lines[0], r.stderr
    assert "Traceback" not in r.stderr


@needs_models
def test_analyze_folder_video_and_bad_files(tmp_path):
    if not (DATA / "photos").is_dir():
        pytest.skip("needs ../shared/data/photos")
    src = tmp_path / "in"
    src.mkdir()
    for name in ("pair_02.jpg", "noface_01.jpg"):
        shutil.copy(DATA / "photos" / name, src / name)
    (src / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    frame = cv2.imread(str(DATA / "photos" / "single_04.jpg"))
    frame = cv2.resize(frame, (320, 568))
    video = src / "clip.avi"
    vw = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 5, (320, 568))
    if not vw.isOpened():
        pytest.skip("this OpenCV build cannot write MJPG video")
    for _ in range(6):
        vw.write(frame)
    vw.release()
    out_json, draw = tmp_path / "out.json", tmp_path / "draw"
    r = run(
        "analyze",
        str(src),
        str(tmp_path / "missing.png"),
        "--json",
        str(out_json),
        "--draw",
        str(draw),
        "--every",
        "2",
        "-q",
        "--threads",
        "2",
    )
    assert r.returncode == 1, r.stderr  # some inputs were skipped
    doc = json.loads(out_json.read_text())
    by_name = {}
    for e in doc["results"]:
        by_name.setdefault(Path(e["path"]).name, []).append(e)
    assert len(by_name["pair_02.jpg"][0]["faces"]) == 2
    assert by_name["noface_01.jpg"][0]["faces"] == []
    assert [e["frame"] for e in by_name["clip.avi"]] == [0, 2, 4]
    assert all(len(e["faces"]) == 1 for e in by_name["clip.avi"])
    errs = {Path(e["path"]).name for e in doc["errors"]}
    assert errs == {"broken.jpg", "missing.png"}
    assert len(list(draw.glob("*.jpg"))) == 5
    assert "embedding" not in by_name["pair_02.jpg"][0]["faces"][0]


@needs_models
def test_analyze_prints_and_embeddings_to_stdout(tmp_path):
    img = tmp_path / "a.png"
    cv2.imwrite(str(img), np.zeros((64, 64, 3), np.uint8))
    r = run("analyze", str(img), "--json", "-", "--embeddings", "-q")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["results"][0]["faces"] == []


def test_usage_errors(tmp_path):
    assert run().returncode == 2
    r = run("analyze", str(tmp_path), "--every", "0")
    assert r.returncode == 2 and "--every" in r.stderr
    r = run("analyze", str(tmp_path), "--threshold", "3")
    assert r.returncode == 2 and "--threshold" in r.stderr
    r = run("analyze", str(tmp_path))  # an empty folder
    assert r.returncode == 2


@needs_models
def test_models_listing():
    r = run("models")
    assert r.returncode == 0
    assert "yunet" in r.stdout and "NOT FOUND" not in r.stdout


@needs_models
def test_demo_runs_without_the_model_packages(tmp_path):
    """Only YuNet and SFace outside the package: age/gender come from facecore's own
    ``agegender`` model, which ships inside the package (dlib's pair is not needed)."""
    only = tmp_path / "models"
    only.mkdir()
    for f in (
        "face_detection_yunet_2023mar_int8bq.onnx",
        "face_recognition_sface_2021dec_int8bq.onnx",
    ):
        shutil.copy(MODELS / f, only / f)
    r = run(
        "demo",
        "--out",
        str(tmp_path / "d.jpg"),
        env_extra={**no_models_env(tmp_path), "FACECORE_MODEL_DIR": str(only)},
    )
    assert r.returncode == 0, r.stderr
    assert "age/gender skipped" not in r.stdout and "found 1 face(s)" in r.stdout
    assert "age=" in r.stdout and re.search(
        r"\b(fe)?male [01]\.\d\d\b", r.stdout
    )  # gender with its own confidence
