"""Batch jobs under failure: a killed analyze run resumes without losing finished results,
a torn results file is repaired, outputs are written whole and never over an input."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from facecore.io import read_image, write_image
from facecore.jobs.resultlog import ResultLog


def _lines(p: Path) -> list[dict]:
    return [json.loads(x) for x in p.read_text(encoding="utf-8").splitlines() if x.strip()]


def test_resultlog_drops_torn_tail_and_unfinished_input(tmp_path):
    p = tmp_path / "r.jsonl"
    done = [{"path": "a.jpg", "frame": None, "faces": []}, {"done": "a.jpg"}]
    half = [{"path": "v.mp4", "frame": 0, "faces": []}, {"path": "v.mp4", "frame": 10, "faces": []}]
    p.write_text("".join(json.dumps(r) + "\n" for r in done + half) + '{"path": "v.mp4", "fr')
    log = ResultLog(p)
    assert log.done == {"a.jpg"}
    assert log.kept == 1
    # the file now holds exactly the finished input, ready to be appended to
    assert _lines(p) == done
    log.write({"path": "v.mp4", "frame": 0, "faces": []})
    log.mark_done("v.mp4")
    log.close()
    assert ResultLog(p).done == {"a.jpg", "v.mp4"}
    assert [r["path"] for r in ResultLog(p).records()] == ["a.jpg", "v.mp4"]


def test_resultlog_bad_input(tmp_path):
    with pytest.raises(TypeError, match="path"):
        ResultLog(b"x.jsonl")
    with pytest.raises(ValueError, match="path"):
        ResultLog(tmp_path)


def test_write_image_is_atomic(tmp_path, monkeypatch):
    dst = tmp_path / "out.png"
    old = np.full((4, 5, 3), 7, np.uint8)
    write_image(dst, old)

    def dies_before_rename(src, dst):  # the new bytes are written; the process dies here
        assert Path(src).stat().st_size > 0 and Path(src).parent == tmp_path
        raise OSError("killed")

    monkeypatch.setattr(os, "replace", dies_before_rename)
    with pytest.raises(OSError, match="killed"):
        write_image(dst, np.zeros((4, 5, 3), np.uint8))
    monkeypatch.undo()
    np.testing.assert_array_equal(read_image(dst), old)
    assert sorted(x.name for x in tmp_path.iterdir()) == ["out.png"]  # no temporary left behind


@pytest.fixture()
def photo_folder(tmp_path, data_dir):
    root = data_dir / "photos" / "celebs13"
    if not root.is_dir():
        pytest.skip("needs photos/celebs13")
    src = tmp_path / "in"
    src.mkdir()
    for k, f in enumerate(sorted(root.rglob("*.jpg"))[:12]):
        shutil.copy(f, src / f"{k:02d}.jpg")
    (src / "99_corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return src


def _analyze(*args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "facecore",
        "analyze",
        *args,
        "-q",
        "--threads",
        "1",
        "--no-embedding",
    ]


def test_analyze_killed_mid_run_resumes(photo_folder, tmp_path, models_dir):
    out = tmp_path / "res.jsonl"
    env = dict(os.environ, FACECORE_MODEL_DIR=str(models_dir))
    proc = subprocess.Popen(_analyze(str(photo_folder), "--jsonl", str(out)), env=env)
    # kill it (no chance to clean up) once at least two inputs are reported done
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if out.exists() and out.read_text().count('"done"') >= 2:
            break
        time.sleep(0.02)
    killed = proc.poll() is None
    if killed:
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = _lines(out)
    finished = [r["done"] for r in before if "done" in r]
    assert len(finished) >= 2
    # the rerun keeps every line reported done and adds the rest, each input exactly once
    r = subprocess.run(
        _analyze(str(photo_folder), "--jsonl", str(out)), env=env, capture_output=True, text=True
    )
    assert r.returncode == 1, r.stderr  # 1: the corrupt file was skipped and reported
    after = _lines(out)
    kept = [x for x in before if x.get("path", x.get("done")) in finished]
    assert after[: len(kept)] == kept
    done = [x["done"] for x in after if "done" in x]
    inputs = sorted(os.fspath(p) for p in photo_folder.iterdir())
    assert sorted(done) == inputs
    results = [x for x in after if "done" not in x]
    assert sorted(x["path"] for x in results) == inputs
    bad = [x for x in results if "error" in x]
    assert [Path(x["path"]).name for x in bad] == ["99_corrupt.jpg"]
    assert all(len(x["faces"]) >= 1 for x in results if "error" not in x)
    if killed:
        assert "resuming" not in r.stderr  # -q keeps it quiet


def test_analyze_refuses_to_overwrite_an_input(photo_folder, models_dir):
    env = dict(os.environ, FACECORE_MODEL_DIR=str(models_dir))
    target = photo_folder / "00.jpg"
    before = target.read_bytes()
    for flag in ("--json", "--jsonl"):
        r = subprocess.run(
            _analyze(str(photo_folder), flag, str(target)), env=env, capture_output=True, text=True
        )
        assert r.returncode == 2 and "overwrite" in r.stderr
    # --draw into the input folder writes beside the inputs, never over them
    r = subprocess.run(
        _analyze(str(target), "--draw", str(photo_folder)), env=env, capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    assert target.read_bytes() == before
    assert (photo_folder / "00_2.jpg").is_file()


def test_write_image_failure_shows_the_real_cause(tmp_path, monkeypatch):
    """Issue 13, finding 9: a failed write is one OutputError (an OSError) naming the path and
    the real cause; the cleanup's own failure (a read-only folder refuses the unlink too)
    must not replace it, and no temporary file is left."""
    import errno
    from pathlib import Path

    from facecore import io as fio
    from facecore.errors import OutputError

    img = np.zeros((4, 4, 3), np.uint8)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(
        OutputError, match=r"path: cannot write .*file/out\.png: .*(Not a directory|File exists)"
    ):
        fio.write_image(blocker / "out.png", img)

    def rofs(a, b):
        raise OSError(errno.EROFS, "Read-only file system", str(b))

    def unlink_refused(self, missing_ok=False):
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr(fio.os, "replace", rofs)
    monkeypatch.setattr(Path, "unlink", unlink_refused)
    with pytest.raises(OutputError, match="Read-only file system") as ei:
        fio.write_image(tmp_path / "out.png", img)
    assert (
        isinstance(ei.value, OSError)
        and ei.value.errno == errno.EROFS
        and "\n" not in str(ei.value)
    )
    monkeypatch.undo()
    for t in tmp_path.glob(".out.png.*.tmp"):  # the refused unlink (simulated) left it
        t.unlink()
    monkeypatch.setattr(fio.os, "replace", rofs)
    with pytest.raises(OutputError, match="Read-only file system"):
        fio.write_image(tmp_path / "out.png", img)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # no temporary file left


def test_cli_recolor_unwritable_output_is_one_line(tmp_path):
    """recolor -o under a regular file: exit 3 and one line with the cause, not a traceback."""
    import subprocess
    import sys

    import cv2

    src = tmp_path / "in.png"
    cv2.imwrite(str(src), np.full((64, 64, 3), 120, np.uint8))
    (tmp_path / "file").write_text("x")
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "facecore",
            "recolor",
            str(src),
            "-o",
            str(tmp_path / "file" / "o.png"),
            "--color",
            "red",
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 3, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot write" in lines[0] and "Traceback" not in r.stderr, r.stderr
