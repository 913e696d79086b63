"""Issue 13, findings 6 and 12: the bytes a session runs are the bytes that were hashed (no
metadata-keyed hash cache, one read), and a bad model file is one of the documented errors."""

from __future__ import annotations

import builtins
import os
import shutil

import onnx
import pytest
from onnx import TensorProto, helper

import facecore.models as fm
from facecore.errors import ModelIntegrityError
from facecore.models import zoo
from facecore.models.hair import open_hair_model

YUNET = "face_detection_yunet_2023mar_int8bq.onnx"


@pytest.fixture
def one_dir(monkeypatch, tmp_path, model_dir):
    d = tmp_path / "models"
    d.mkdir()
    shutil.copy(model_dir / YUNET, d / YUNET)
    monkeypatch.setenv("FACECORE_MODEL_DIR", str(d))
    monkeypatch.setenv("FACECORE_DEV_MODELS", "0")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return d / YUNET


def test_same_size_tamper_with_restored_mtime_is_caught(one_dir):
    assert isinstance(fm.load("yunet", threads=1), fm.YuNet)
    st = os.stat(one_dir)
    data = bytearray(one_dir.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size
    one_dir.write_bytes(bytes(data))
    os.utime(one_dir, ns=(st.st_atime_ns, st.st_mtime_ns))  # and the old mtime
    with pytest.raises(ModelIntegrityError, match="sha256"):
        zoo.find_bytes("yunet")
    with pytest.raises(ModelIntegrityError, match="sha256"):
        fm.load("yunet")
    with pytest.raises(ModelIntegrityError):
        zoo.find("yunet")


def test_the_model_file_is_read_once_and_the_session_gets_those_bytes(one_dir, monkeypatch):
    """A swap between the hash and the load cannot happen: one open, then bytes only."""
    opened = []
    real_open = builtins.open

    def counting_open(file, *a, **k):
        if os.fspath(file) == os.fspath(one_dir) if isinstance(file, (str, os.PathLike)) else False:
            opened.append(file)
        return real_open(file, *a, **k)

    def no_path_load(*a, **k):
        raise AssertionError("onnx.load reopened the file by path")

    monkeypatch.setattr(builtins, "open", counting_open)
    monkeypatch.setattr(onnx, "load", no_path_load)
    import onnxruntime as ort

    real_session = ort.InferenceSession
    given = []

    def session(data, *a, **k):
        given.append(type(data))
        return real_session(data, *a, **k)

    monkeypatch.setattr(ort, "InferenceSession", session)
    det = fm.load("yunet", threads=1)
    assert isinstance(det, fm.YuNet) and len(opened) == 1 and given == [bytes]


def _graph_model(op="Relu"):
    g = helper.make_graph(
        [helper.make_node(op, ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 64, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 81])],
    )
    return helper.make_model(g)


def test_bad_model_files_raise_the_documented_errors(tmp_path, model_dir):
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x08\x07not a protobuf at all \xff\xff\xff")
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes((model_dir / YUNET).read_bytes()[:5000])
    unknown_op = tmp_path / "unknown_op.onnx"
    unknown_op.write_bytes(_graph_model("NoSuchOp").SerializeToString())
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    for p in (garbage, truncated, empty):
        with pytest.raises(ValueError, match="model: .*not an ONNX model"):
            fm.load(p)
        with pytest.raises(ValueError, match="model"):
            open_hair_model(p)
    with pytest.raises(ValueError, match="model: onnxruntime cannot load it"):
        fm.load(unknown_op, kind="age")  # a graph onnxruntime refuses (its Fail/InvalidGraph)
    # a zoo file name with foreign bytes is an integrity error, before any parsing
    fake = tmp_path / YUNET
    fake.write_bytes(b"garbage")
    with pytest.raises(ModelIntegrityError):
        fm.load(fake)
