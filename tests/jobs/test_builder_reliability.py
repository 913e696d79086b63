"""build-dataset under hostile inputs and reviewers (issue 13): per-input isolation, exit
statuses, non-UTF-8 and URL-hostile file names into every output, user files and review
decisions kept by a rerun, an interrupted swap completed, leftovers of a killed run removed.

Each test builds from 3 real photos (celebs13); reruns come from the embedding store."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import urllib.parse
from pathlib import Path

import cv2
import pytest

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def analyzer(models_dir):
    from facecore import FaceAnalyzer

    return FaceAnalyzer(age=False, gender=False, threads=1)


def _photos(
    data_dir: Path, folder: Path, names: list[str | bytes], person: str = "serena_williams"
) -> list[Path]:
    root = data_dir / "photos" / "celebs13" / person
    if not root.is_dir():
        pytest.skip("needs photos/celebs13")
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for n, name in enumerate(names):
        p = Path(os.fsdecode(os.path.join(os.fsencode(folder), os.fsencode(name))))
        shutil.copy(root / f"{n}.jpg", p)
        out.append(p)
    return out


def _build(src, out, analyzer, **kw):
    from facecore.jobs import build_dataset

    return build_dataset(
        [src], out, analyzer=analyzer, progress=False, image_dup_bits=-1, min_size=1, **kw
    )


def _tree(root: Path) -> dict[str, str]:
    return {
        os.fspath(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file() and ".facecore" not in p.parts
    }


# -- 2: per-input isolation ------------------------------------------------------------------


def test_any_exception_for_one_input_is_recorded_and_the_job_goes_on(tmp_path, data_dir, analyzer):
    """A cv2.error (the solvePnP crash of the issue) or any other exception inside one input's
    analysis is that input's error row; the other inputs are processed; a rerun finishes."""
    src = tmp_path / "in" / "p"
    paths = _photos(data_dir, src, ["a.jpg", "b.jpg", "c.jpg"])
    real = analyzer.analyze
    bad_shape = cv2.imread(str(paths[1])).shape

    def analyze(image, **kw):
        if image.shape == bad_shape:
            raise cv2.error(
                "OpenCV(4.x) solvepnp.cpp: error: (-215:Assertion failed) in function 'solvePnP'"
            )
        return real(image, **kw)

    analyzer.analyze = analyze
    try:
        r = _build(src.parent, tmp_path / "out", analyzer)
    finally:
        del analyzer.analyze
    assert len(r.errors) == 1
    ((where, why),) = r.errors
    assert where.endswith("b.jpg") and why.startswith("cv2.error: ") and "solvePnP" in why
    rows = [json.loads(x) for x in (tmp_path / "out" / "manifest.jsonl").read_text().splitlines()]
    assert next(x for x in rows if x.get("status") == "error")["source"].endswith("b.jpg")
    assert sum("box" in x for x in rows) == r.n_faces >= 2
    report = (tmp_path / "out" / "report.html").read_text()
    assert "b.jpg" in report and "solvePnP" in report
    # the failure is not stored: the next run retries that input (and now succeeds)
    r2 = _build(src.parent, tmp_path / "out", analyzer)
    assert not r2.errors and r2.n_images == 3


def test_ray_actor_records_any_exception_as_an_error_row(tmp_path, data_dir, analyzer):
    pytest.importorskip("pyarrow", reason="engine='ray' rows are Arrow tables")
    from facecore.jobs.ray_engine import _FaceStage

    paths = _photos(data_dir, tmp_path, ["a.jpg", b"\xff\xfe_latin1_\xe9.jpg"])
    stage = _FaceStage.__new__(_FaceStage)
    stage.analyzer, stage.known, stage.video_fps, stage.frame_dup_bits = (
        analyzer,
        frozenset(),
        1.0,
        6,
    )

    class Boom:
        def analyze(self, image, **kw):
            raise cv2.error("solvePnP failed")

    import pyarrow as pa

    good = stage(pa.table({"src": [0], "path": [os.fsencode(paths[1])], "kind": ["image"]}))
    assert good.column("error").to_pylist() == [""] and os.fsdecode(
        good.column("path")[0].as_py()
    ) == str(paths[1])
    stage.analyzer = Boom()
    bad = stage(
        pa.table(
            {"src": [0, 1], "path": [os.fsencode(p) for p in paths], "kind": ["image", "image"]}
        )
    )
    assert all("solvePnP failed" in e for e in bad.column("error").to_pylist())


def test_cli_exit_statuses_tell_skipped_inputs_from_failures(
    tmp_path, data_dir, models_dir, monkeypatch, capsys
):
    """1: some inputs skipped; 3: the output cannot be written (one line, real cause); 70: a bug."""
    from facecore import cli
    from facecore.jobs import builder, store

    src = tmp_path / "in" / "p"
    _photos(data_dir, src, ["a.jpg", "b.jpg"])
    (src / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    args = ["build-dataset", str(src.parent), "-o", str(tmp_path / "out"), "-q", "--min-size", "1"]
    assert cli.main(args) == 1

    def full(self, *a, **k):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(store.EmbeddingStore, "put", full)
    shutil.copy(
        data_dir / "photos" / "celebs13" / "roger_federer" / "0.jpg", src / "c.jpg"
    )  # a new item to store
    capsys.readouterr()
    assert cli.main(args) == cli.EXIT_OUTPUT
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "database or disk is full" in err[0] and "Traceback" not in err[0]
    monkeypatch.undo()

    def bug(*a, **k):
        raise RuntimeError("a bug outside any one input")

    monkeypatch.setattr(builder, "cluster", bug)
    assert cli.main(args) == cli.EXIT_INTERNAL
    assert "a bug outside any one input" in capsys.readouterr().err


def test_disk_full_while_writing_outputs_is_one_line_and_keeps_the_old_output(
    tmp_path, data_dir, analyzer, monkeypatch
):
    from facecore.errors import OutputError
    from facecore.jobs import builder

    src = tmp_path / "in" / "p"
    _photos(data_dir, src, ["a.jpg", "b.jpg"])
    out = tmp_path / "out"
    _build(src.parent, out, analyzer)
    before = _tree(out)
    real = builder.write_report if hasattr(builder, "write_report") else None  # noqa: F841

    def enospc(*a, **k):
        raise OSError(
            28, "No space left on device", str(out / ".facecore" / "staging-1" / "report.html")
        )

    import facecore.jobs.report as report

    monkeypatch.setattr(report, "write_report", enospc)
    with pytest.raises(OutputError, match="No space left on device") as ei:
        _build(src.parent, out, analyzer, min_face=1.0)
    assert "\n" not in str(ei.value)
    monkeypatch.undo()
    assert _tree(out) == before  # the earlier output stays whole
    _build(
        src.parent, out, analyzer, min_face=1.0
    )  # and the next run completes (leftovers cleaned)
    assert not list((out / ".facecore").glob("staging-*"))


# -- 4, 11: hostile names ----------------------------------------------------------------------

HOSTILE = [b"\xff\xfe_latin1_\xe9.jpg", "a#b?c%41 d.jpg", "new\nline.jpg", "q'\"<&>.jpg"]


@pytest.mark.skipif(os.name == "nt", reason="POSIX file names (bytes) only")
def test_hostile_file_names_round_trip_into_every_output(tmp_path, data_dir, analyzer):
    src = tmp_path / "in" / b"\xe9t\xe9".decode("utf-8", "surrogateescape")
    paths = _photos(data_dir, src, HOSTILE)
    want = {os.fsencode(p) for p in paths}
    out = tmp_path / "out"
    r = _build(src.parent, out, analyzer, labels="folders")
    assert not r.errors and r.n_images == 4
    # manifest (JSON): every source name is the OS's bytes again
    rows = [
        json.loads(x) for x in (out / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert {os.fsencode(x["source"]) for x in rows} == want
    crops = [x["crop"] for x in rows if x.get("crop")]
    assert crops and all((out / x).is_file() for x in crops)
    # sources.csv: the raw bytes of each name, read back with the OS's decoding
    got = set()
    for f in out.glob("*/sources.csv"):
        for row in list(csv.reader(io.StringIO(f.read_bytes().decode("utf-8", "surrogateescape"))))[
            1:
        ]:
            got.add(os.fsencode(row[1]))
            assert (f.parent / row[0]).is_file()
    assert got == {os.fsencode(x["source"]) for x in rows if x.get("crop")}
    # summary.json is valid JSON; the report's links are URL-encoded and lead to the crops
    json.loads((out / "summary.json").read_text(encoding="utf-8"))
    html = (out / "report.html").read_text(encoding="utf-8")
    links = re.findall(r'<img loading="lazy" src="([^"]*)"', html)
    assert links and all(re.fullmatch(r"[A-Za-z0-9_.~/%-]+", u) for u in links)
    assert {urllib.parse.unquote_to_bytes(u) for u in links} == {os.fsencode(c) for c in crops}
    # a rerun (from the store) gives the same files
    before = _tree(out)
    _build(src.parent, out, analyzer, labels="folders")
    counts = ("summary.json", "report.html")  # they say "from the store" now
    assert {k: v for k, v in _tree(out).items() if k not in counts} == {
        k: v for k, v in before.items() if k not in counts
    }


def test_a_file_named_twice_is_one_input(tmp_path, data_dir, monkeypatch):
    from facecore.jobs.sources import collect_sources

    src = tmp_path / "ksrc"
    _photos(data_dir, src, ["a.jpg", "b.jpg"])
    monkeypatch.chdir(tmp_path)
    items, problems = collect_sources(
        ["ksrc", str(tmp_path / "ksrc"), "ksrc/a.jpg", "./ksrc/../ksrc/b.jpg"]
    )
    assert not problems and sorted(Path(s.location).name for s in items) == ["a.jpg", "b.jpg"]


# -- 5, 10: user files, review decisions, interrupted runs -------------------------------------


def test_rerun_keeps_user_files_and_review_decisions(tmp_path, data_dir, analyzer):
    src = tmp_path / "in"
    _photos(data_dir, src / "serena", ["0.jpg", "1.jpg", "2.jpg"])
    _photos(data_dir, src / "roger", ["0.jpg", "1.jpg", "2.jpg"], person="roger_federer")
    out = tmp_path / "out"
    r = _build(src, out, analyzer)
    assert r.n_clusters == 2
    (out / "NOTES.txt").write_text("my notes")
    (out / "identity_0000" / "NOTES.txt").write_text("checked")
    (out / "later").mkdir()
    (out / "later" / "x.txt").write_text("mine")
    crops0 = sorted(p for p in (out / "identity_0000").glob("*.jpg"))
    crops1 = sorted(p for p in (out / "identity_0001").glob("*.jpg"))
    moved = out / "identity_0001" / crops0[0].name
    shutil.move(crops0[0], moved)  # a reviewer's fix: this face belongs to the other identity
    crops1[0].unlink()  # and this one is no good
    moved_bytes = moved.read_bytes()
    user = {
        k: v
        for k, v in _tree(out).items()
        if k.endswith(".txt") or k == os.fspath(moved.relative_to(out))
    }

    _build(src, out, analyzer, min_face=1.0)  # a rerun with other settings rewrites everything else
    after = _tree(out)
    assert all(after.get(k) == v for k, v in user.items()), "a user file changed"
    assert moved.read_bytes() == moved_bytes and not crops0[0].exists() and not crops1[0].exists()
    rows = [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]
    review = {x["review"]: x["crop"] for x in rows if "review" in x}
    assert review == {"moved": os.fspath(moved.relative_to(out)), "removed": None}
    csv1 = (out / "identity_0001" / "sources.csv").read_text()
    assert moved.name in csv1 and crops1[0].name not in csv1
    # the decisions hold on the next run too
    _build(src, out, analyzer)
    assert moved.is_file() and not crops0[0].exists() and not crops1[0].exists()
    assert (out / "NOTES.txt").read_text() == "my notes"


def test_an_edited_output_is_refused_not_overwritten(tmp_path, data_dir, analyzer):
    src = tmp_path / "in" / "p"
    _photos(data_dir, src, ["a.jpg", "b.jpg"])
    out = tmp_path / "out"
    _build(src.parent, out, analyzer)
    (out / "report.html").write_text("my annotated report")
    with pytest.raises(ValueError, match=r"out: report\.html .* never overwrites"):
        _build(src.parent, out, analyzer)
    assert (out / "report.html").read_text() == "my annotated report"


def test_leftovers_of_a_killed_run_are_removed_and_an_interrupted_swap_completed(
    tmp_path, data_dir, analyzer, monkeypatch, caplog
):
    from facecore.jobs import builder

    src = tmp_path / "in" / "p"
    _photos(data_dir, src, ["a.jpg", "b.jpg", "c.jpg"])
    out = tmp_path / "out"
    _build(src.parent, out, analyzer)
    (out / "identity_0000" / "NOTES.txt").write_text("keep")
    for d in ("staging-99999", "trash-99999"):  # what a SIGKILLed older version left
        (out / ".facecore" / d / "identity_0000").mkdir(parents=True)
    want_user = _tree(out)["identity_0000/NOTES.txt"]

    class Kill(BaseException):
        pass

    real_replace, n = os.replace, [0]

    def replace(a, b):
        n[0] += 1
        if n[0] == 3 and ".facecore" in os.fspath(a) and "staging" in os.fspath(a):
            raise Kill()
        return real_replace(a, b)

    monkeypatch.setattr(builder.os, "replace", replace)
    with pytest.raises(Kill):
        _build(src.parent, out, analyzer, min_face=1.0)
    monkeypatch.undo()
    assert (
        out / ".facecore" / "swap.json"
    ).is_file()  # killed mid-swap: the journal says what to finish
    with caplog.at_level("WARNING", logger="facecore.jobs.builder"):
        _build(src.parent, out, analyzer, min_face=1.0)
    msgs = " ".join(r.getMessage() for r in caplog.records)
    assert (
        "completed the output swap of an interrupted run" in msgs
        and "removed staging-99999" in msgs
    )
    assert not list((out / ".facecore").glob("staging-*")) and not list(
        (out / ".facecore").glob("trash-*")
    )
    assert not (out / ".facecore" / "swap.json").exists()
    assert _tree(out)["identity_0000/NOTES.txt"] == want_user
    rows = [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]
    crops = {x["crop"] for x in rows if x.get("crop")}
    on_disk = {os.fspath(p.relative_to(out)) for p in out.glob("*/*.jpg")}
    assert crops == on_disk and len(crops) >= 3
