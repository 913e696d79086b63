"""The folder pipeline (issue 19): ``map_ordered`` keeps input order, bounds the items in
flight and isolates failures; ``facecore analyze`` and ``build-dataset`` over a folder give
exactly what the plain per-image loop gives, on real photos."""

from __future__ import annotations

import json
import shutil
import threading
import time

import pytest

from facecore.jobs.pipeline import default_workers, map_ordered


def test_map_ordered_keeps_input_order_whatever_finishes_first():
    delays = [0.03, 0.0, 0.02, 0.0, 0.01, 0.0]

    def slow(i):
        time.sleep(delays[i])
        return i * i

    got = [(o.item, o.get()) for o in map_ordered(slow, range(6), workers=3)]
    assert got == [(i, i * i) for i in range(6)]


def test_map_ordered_isolates_failures_and_bounds_the_window():
    lock, live, most = threading.Lock(), [0], [0]

    def fn(i):
        with lock:
            live[0] += 1
            most[0] = max(most[0], live[0])
        time.sleep(0.002)
        with lock:
            live[0] -= 1
        if i % 5 == 3:
            raise ValueError(f"bad {i}")
        return i

    pulled = []

    def items():
        for i in range(40):
            pulled.append(i)
            yield i

    seen = 0
    for o in map_ordered(fn, items(), workers=2):
        seen += 1
        # lazily consumed: never more than 2 * workers items in flight beside this one
        assert len(pulled) - seen <= 4
        if o.item % 5 == 3:
            assert isinstance(o.error, ValueError) and o.value is None
            with pytest.raises(ValueError, match=f"bad {o.item}"):
                o.get()
        else:
            assert o.error is None and o.get() == o.item
    assert seen == 40 and most[0] <= 2


def test_map_ordered_arguments():
    assert default_workers() >= 2
    assert [o.get() for o in map_ordered(str, [1, 2], workers=1)] == ["1", "2"]
    for bad in (0, True, 1.5):
        with pytest.raises(ValueError, match="workers"):
            list(map_ordered(str, [1], workers=bad))


def _folder(data_dir, tmp_path):
    root = data_dir / "photos" / "celebs13"
    if not root.is_dir():
        pytest.skip("needs photos/celebs13")
    src = tmp_path / "in"
    src.mkdir()
    for person in ("elon_musk", "maria_sharapova"):
        for n in range(3):
            shutil.copy(root / person / f"{n}.jpg", src / f"{person}_{n}.jpg")
    shutil.copy(data_dir / "photos" / "pair_03.jpg", src / "pair_03.jpg")  # two faces
    (src / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    return src


@pytest.mark.data
def test_analyze_folder_equals_the_per_image_loop(tmp_path, data_dir, models_dir):
    """``facecore analyze FOLDER`` (the pipeline: threads, one onnxruntime thread per model)
    against what a user writes: a default FaceAnalyzer called on one image after the other.
    Every face record, embedding included, is identical; the broken file is skipped."""
    import facecore as fc
    from facecore import cli

    src = _folder(data_dir, tmp_path)
    out = tmp_path / "out.json"
    assert cli.main(["analyze", str(src), "--json", str(out), "--embeddings", "-q"]) == 1
    doc = json.loads(out.read_text())
    got = {r["path"]: r["faces"] for r in doc["results"]}
    assert [e["path"] for e in doc["errors"]] == [str(src / "broken.jpg")]
    fa = fc.FaceAnalyzer()
    want = {
        str(p): [f.to_dict(embedding=True) for f in fa.analyze(fc.read_image(p))]
        for p in sorted(src.glob("*.jpg"))
        if p.name != "broken.jpg"
    }
    assert list(got) == list(want)  # input order
    assert sum(len(v) for v in want.values()) >= 7
    assert json.loads(json.dumps(want)) == got


@pytest.mark.data
def test_build_dataset_with_the_pipeline_equals_the_plain_loop(
    tmp_path, data_dir, models_dir, monkeypatch
):
    """The builder's look-ahead threads change nothing: manifest rows and crop bytes of a run
    with the pipeline equal those of a run with one worker (the sequential loop)."""
    from facecore import FaceAnalyzer
    from facecore.jobs import build_dataset, pipeline

    src = _folder(data_dir, tmp_path)
    shutil.copy(src / "elon_musk_0.jpg", src / "zz_copy.jpg")  # an exact duplicate
    fa = FaceAnalyzer(age=False, gender=False, threads=1)

    def run(out):
        r = build_dataset([src], out, analyzer=fa, progress=False, min_size=1)
        rows = (out / "manifest.jsonl").read_text().splitlines()
        crops = {p.name: p.read_bytes() for p in out.rglob("*.jpg")}
        return r, rows, crops

    r2, rows2, crops2 = run(tmp_path / "threads")
    monkeypatch.setattr(pipeline, "default_workers", lambda: 1)
    r1, rows1, crops1 = run(tmp_path / "loop")
    assert rows1 == rows2 and crops1 == crops2
    assert r1.n_faces == r2.n_faces >= 7 and r1.n_duplicates == r2.n_duplicates == 1
    assert len(r1.errors) == len(r2.errors) == 1
