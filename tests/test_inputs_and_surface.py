"""One input contract, one colour parser, one set of defaults, lazy submodules (issue 21,
items 3, 17 and 18). The references are independent: OpenCV's own colour conversions and
drawing, NumPy's array protocol, ``inspect`` signatures against a committed inventory."""

from __future__ import annotations

import inspect
import subprocess
import sys

import cv2
import numpy as np
import pytest
from _env import data_dir, models_dir

import facecore as fc
from facecore._validate import as_bgr, as_color

MODELS = models_dir()
DATA = data_dir()
needs_models = pytest.mark.skipif(
    MODELS is None or DATA is None,
    reason="needs the real models (../shared/models or the [models] packages) and ../shared/data",
)


# -- the colour parser ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [
        "#f00",
        "#ff0000",
        "ff0000",
        "rgb(255, 0, 0)",
        "RGB(255,0,0)",
        "red",
        " Red ",
        (0, 0, 255),
        [0, 0, 255],
        np.array([0, 0, 255]),
    ],
)
def test_every_colour_form_means_the_same_red(spec):
    assert as_color(spec) == (0, 0, 255)


def test_colour_parser_refusals_name_the_argument():
    for bad, exc in [
        ("#ff00", ValueError),
        ("rgb(256,0,0)", ValueError),
        ("nocolour", ValueError),
        ((0, 0, 300), ValueError),
        (0xFF0000, TypeError),
        ((0.5, 0, 0), TypeError),
        (None, TypeError),
    ]:
        with pytest.raises(exc, match="^colour"):
            as_color(bad, "colour")


def test_hex_agrees_with_opencv_drawing():
    """The tuple as_color returns is what cv2 drawing takes: a pixel drawn with it is #8a2be2."""
    img = np.zeros((3, 3, 3), np.uint8)
    cv2.rectangle(img, (0, 0), (2, 2), as_color("#8a2be2"), -1)
    assert img[1, 1].tolist() == [0xE2, 0x2B, 0x8A]


# -- the image contract -----------------------------------------------------------------------


def test_as_bgr_takes_every_documented_layout_and_agrees_with_opencv():
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (7, 9), np.uint8)
    bgr = rng.integers(0, 256, (7, 9, 3), np.uint8)
    bgra = np.dstack([bgr, rng.integers(0, 256, (7, 9), np.uint8)])
    np.testing.assert_array_equal(as_bgr(grey), cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))
    np.testing.assert_array_equal(as_bgr(grey[:, :, None]), cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))
    np.testing.assert_array_equal(as_bgr(bgra), cv2.cvtColor(bgra, cv2.COLOR_BGRA2BGR))
    assert as_bgr(bgr) is bgr
    for bad, exc in [
        (grey.astype(np.float32), TypeError),
        (np.zeros((7, 9, 2), np.uint8), ValueError),
    ]:
        with pytest.raises(exc, match="^image"):
            as_bgr(bad)


@needs_models
def test_analyze_takes_grey_hx_w_x1_bgr_bgra_and_a_path():
    """Item 17: analyze took (H, W) but refused (H, W, 1) and BGRA; item 18: and no path."""
    path = DATA / "photos" / "pair_04.jpg"
    fa = fc.FaceAnalyzer(embedder=False, age=False, gender=False, threads=1)
    bgr = cv2.imread(str(path))
    ref = fa.analyze(bgr)
    assert len(ref) == 2
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    bgra = cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA)
    assert [f.box for f in fa.analyze(bgra)] == [f.box for f in ref]
    assert [f.box for f in fa.analyze(str(path))] == [f.box for f in ref]
    assert [f.box for f in fa.analyze(path)] == [f.box for f in ref]
    assert len(fa.analyze(grey)) == len(fa.analyze(grey[:, :, None])) == 2
    with pytest.raises(FileNotFoundError, match="^image: no such file"):
        fa.analyze(path.with_name("nope.jpg"))


def test_recolour_defaults_agree_between_python_and_cli():
    """Item 17: the recolour strength default was 1.0 in Python and 0.8 in the CLI; the
    detector threshold default is one number everywhere."""
    from facecore.cli import build_parser
    from facecore.hair import HairRecolor
    from facecore.jobs.builder import build_dataset
    from facecore.models.detector import YuNet

    p = build_parser()
    sub = {a.dest: a for a in p._subparsers._group_actions[0].choices["recolor"]._actions}
    apply_kw = inspect.signature(HairRecolor.apply).parameters
    assert (
        sub["strength"].default == apply_kw["strength"].default == 1.0
    )  # one default (the transfer mode)
    assert sub["mode"].default == apply_kw["mode"].default == "transfer"
    thresholds = {
        inspect.signature(fc.FaceAnalyzer).parameters["det_threshold"].default,
        inspect.signature(HairRecolor).parameters["det_threshold"].default,
        inspect.signature(build_dataset).parameters["det_threshold"].default,
        inspect.signature(YuNet).parameters["score_threshold"].default,
        *(
            c._actions[[a.dest for a in c._actions].index("threshold")].default
            for n, c in p._subparsers._group_actions[0].choices.items()
            if "threshold" in [a.dest for a in c._actions]
        ),
    }
    assert thresholds == {0.7}


def test_hair_recolor_takes_grey_and_keeps_bgra_alpha():
    """Item 17: HairRecolor.apply refused grey; BGRA keeps its alpha (documented)."""
    hr = fc.HairRecolor("dense", detect=False, threads=1)
    rng = np.random.default_rng(1)
    bgr = rng.integers(0, 256, (64, 64, 3), np.uint8)
    alpha = np.zeros((64, 64), np.float32)
    alpha[10:30, 10:30] = 1.0
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    out = hr.apply(grey, "#f00", alpha=alpha)
    assert out.shape == (64, 64, 3)
    np.testing.assert_array_equal(
        out[alpha == 0], cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)[alpha == 0]
    )
    bgra = np.dstack([bgr, np.full((64, 64), 77, np.uint8)])
    out4 = hr.apply(bgra, (0, 0, 255), alpha=alpha)
    assert out4.shape == (64, 64, 4) and (out4[..., 3] == 77).all()
    np.testing.assert_array_equal(out4[..., :3], hr.apply(bgr, "red", alpha=alpha))


@needs_models
def test_hair_on_a_photo_without_a_face_is_unchanged_unless_whole_image():
    """Item 6 in Python: no face found -> map all zero -> image unchanged; detect=False
    (whole-image mode) still segments."""
    img = fc.read_image(DATA / "photos" / "noface_01.jpg")
    hr = fc.HairRecolor("dense", threads=1)
    assert hr.matrices(img).shape == (0, 2, 3)
    np.testing.assert_array_equal(hr.apply(img, "red"), img)


# -- the public surface -----------------------------------------------------------------------


def test_submodules_load_on_first_access_in_a_fresh_interpreter():
    """Item 18: fc.cluster and fc.hair raised AttributeError until imported explicitly."""
    code = (
        "import facecore as fc; print(fc.cluster.cluster.__name__, fc.hair.HairRecolor.__name__, "
        "fc.HairRecolor is fc.hair.HairRecolor, fc.drawing.draw.__name__, callable(fc.draw))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["cluster", "HairRecolor", "True", "draw", "True"]


def test_dir_shows_only_the_public_names():
    names = dir(fc)
    assert "np" not in names and "Any" not in names and not any(n.startswith("as_") for n in names)
    assert not [n for n in names if n.startswith("_") and n != "__version__"]
    assert set(fc.__all__) <= set(names)


def test_box_unpacks_as_corners():
    """Item 18: `x1, y1, x2, y2 = face.box` raised TypeError."""
    x1, y1, x2, y2 = fc.Box(10, 20, 30, 40)
    assert (x1, y1, x2, y2) == (10, 20, 40, 60)
    assert np.asarray(fc.Box(1, 2, 3, 4)).tolist() == [1, 2, 4, 6]


def test_clustering_converts_to_its_labels():
    """Item 18: np.asarray(cluster(x)) was a 0-d object array."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 16))
    x = np.concatenate([c + 0.05 * rng.normal(size=(10, 16)) for c in centres]).astype(np.float32)
    res = fc.cluster.cluster(x, k=5)
    a = np.asarray(res)
    assert a.shape == (30,) and a.dtype == np.int64
    np.testing.assert_array_equal(a, res.labels)
    assert len(set(a[:10].tolist())) == 1 and len(set(a.tolist())) == 3


@needs_models
def test_verify_takes_two_images(tmp_path):
    """Item 18: verify took Face objects only. Two photos of one person match, and the
    similarity equals the one computed from the largest faces' embeddings."""
    root = DATA / "photos" / "celebs13" / "lionel_messi"
    other = DATA / "photos" / "celebs13" / "maria_sharapova"
    if not root.is_dir() or not other.is_dir():
        pytest.skip("needs photos/celebs13")
    a, b, c = root / "0.jpg", root / "1.jpg", other / "0.jpg"
    fa = fc.FaceAnalyzer(age=False, gender=False, threads=1)
    same = fc.verify(a, b, analyzer=fa)
    largest = [max(fa.analyze(p), key=lambda f: f.box.area) for p in (a, b)]
    assert same.similarity == pytest.approx(
        float(largest[0].embedding @ largest[1].embedding), abs=1e-5
    )
    assert same.is_same and not fc.verify(a, c, analyzer=fa).is_same
    with pytest.raises(ValueError, match="^face_b: no face"):
        fc.verify(a, np.zeros((64, 64, 3), np.uint8), analyzer=fa)


def test_occlusion_takes_the_same_layouts():
    """Item 17: occlusion.synthesize refused grey; now grey, (H, W, 1) and BGRA give what the
    BGR image OpenCV converts them to gives."""
    from facecore import occlusion
    from facecore.align import arcface_template

    rng = np.random.default_rng(2)
    grey = rng.integers(0, 256, (112, 112), np.uint8)
    lm = arcface_template(112)
    ref_img, ref_mask = occlusion.synthesize(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR), lm, seed=0)
    for img in (grey, grey[:, :, None], cv2.cvtColor(grey, cv2.COLOR_GRAY2BGRA)):
        out, mask = occlusion.synthesize(img, lm, seed=0)
        np.testing.assert_array_equal(out, ref_img)
        np.testing.assert_array_equal(mask, ref_mask)
