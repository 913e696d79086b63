"""`facecore analyze` over the real photos, through the CLI, without an exception (issue 21).

The slow test takes all 28 scene photos and every file of photos/celebs13; the fast one, in
the default run, the hardest few: the crowd (faces of 11-16 px whose pose crashed solvePnP),
the grey photo, the face cut by the border, masks, and a no-face photo.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _env import data_dir, models_dir

MODELS = models_dir()
DATA = data_dir()
PHOTOS = DATA / "photos" if DATA is not None else None
pytestmark = pytest.mark.skipif(
    MODELS is None or PHOTOS is None or not (PHOTOS / "crowd_01.jpg").is_file(),
    reason="needs the real models and ../shared/data/photos",
)
HARD = ["crowd_01.jpg", "single_07_gray.jpg", "partial_01.jpg", "masked_02.jpg", "noface_04.jpg"]


def analyze(paths, tmp_path, *extra):
    out = tmp_path / "out.jsonl"
    env = dict(os.environ, FACECORE_MODEL_DIR=str(MODELS), OMP_NUM_THREADS="1")
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "facecore",
            "analyze",
            *map(str, paths),
            "--jsonl",
            str(out),
            "-q",
            "--threads",
            "1",
            *extra,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
    )
    rows = [json.loads(x) for x in out.read_text().splitlines()] if out.exists() else []
    return r, [x for x in rows if "faces" in x], [x for x in rows if "error" in x]


def check(r, results, errors, paths):
    assert r.returncode == 0 and not errors and "Traceback" not in r.stderr, (r.stderr, errors)
    assert {Path(x["path"]).resolve() for x in results} == {Path(p).resolve() for p in paths}
    for x in results:
        for f in x["faces"]:
            assert f["pose"] is None or set(f["pose"]) >= {"pitch", "yaw", "roll"}


def test_hardest_photos(tmp_path):
    paths = [PHOTOS / n for n in HARD]
    r, results, errors = analyze(paths, tmp_path, "--no-embedding")
    check(r, results, errors, paths)
    n = {Path(x["path"]).name: len(x["faces"]) for x in results}
    assert n["crowd_01.jpg"] > 150 and n["noface_04.jpg"] == 0 and n["single_07_gray.jpg"] == 1


@pytest.mark.slow
def test_all_scene_photos_and_celebs13(tmp_path):
    paths = sorted(PHOTOS.glob("*.jpg")) + sorted((PHOTOS / "celebs13").glob("*/*.jpg"))
    assert len(paths) >= 28 + 170
    r, results, errors = analyze(paths, tmp_path)
    check(r, results, errors, paths)
