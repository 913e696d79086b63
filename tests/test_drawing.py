"""facecore.draw (issue 21 item 3): labels legible, inside the frame, never covering each other."""

from __future__ import annotations

import numpy as np
import pytest
from _env import data_dir, models_dir

import facecore as fc
from facecore.drawing import label_text


def face(x, y, w, h, *, score=0.9, age=34.2, p_male=0.2):
    pts = np.array(
        [
            [x + w * 0.3, y + h * 0.4],
            [x + w * 0.7, y + h * 0.4],
            [x + w * 0.5, y + h * 0.6],
            [x + w * 0.35, y + h * 0.8],
            [x + w * 0.65, y + h * 0.8],
        ]
    )
    return fc.Face(
        box=fc.Box(x, y, w, h), landmarks=fc.Landmarks(pts), score=score, age=age, p_male=p_male
    )


def _ink(out, color=(0, 0, 0)):
    """Pixels of the label text (black on the default green label box)."""
    return np.all(out < 100, axis=2) if color == (0, 0, 0) else np.all(out == color, axis=2)


def test_label_is_one_compact_line_with_gender_and_age():
    f = face(0, 0, 50, 50)
    assert label_text(f) == "F 34"
    assert (
        label_text(f, ("index", "score", "pose", "quality"), index=3) == "#3 0.90"
    )  # no pose/quality: left out
    assert (
        label_text(face(0, 0, 9, 9, age=None, p_male=None)) == "0.90"
    )  # nothing else known: the score


def test_label_at_the_right_edge_stays_inside_the_frame():
    """A face cut by the right border: its label is shifted left, the text is not clipped."""
    img = np.full((200, 300, 3), 255, np.uint8)
    out = fc.draw(img, [face(285, 80, 40, 40)], landmarks=False)
    ys, xs = np.nonzero(_ink(out))
    assert xs.size and xs.max() < 299 and ys.min() > 0
    # the label box is filled with the label colour around the text
    assert np.all(out[ys.min() - 2, xs.min() : xs.max() + 1] == (0, 200, 0))


def test_text_is_at_least_10_px_high_on_a_640_frame():
    img = np.full((360, 640, 3), 255, np.uint8)
    out = fc.draw(img, [face(300, 150, 20, 24)], landmarks=False)  # a small face
    ys, _ = np.nonzero(_ink(out))
    assert ys.max() - ys.min() + 1 >= 10  # "F 34": cap height


def test_crowded_labels_do_not_cover_each_other():
    """Two faces side by side: the second label goes below (or is skipped), never on top."""
    img = np.full((300, 300, 3), 255, np.uint8)
    faces = [face(100, 100, 30, 30, score=0.95), face(112, 100, 30, 30, score=0.9, age=71)]
    out = fc.draw(img, faces, landmarks=False, color="white")  # white labels: only the ink shows
    ys, _xs = np.nonzero(_ink(out))
    rows = sorted({int(y) for y in ys})
    # two labels ("F 34" above the faces, "F 71" below them): ink in two separate bands of rows
    gaps = [b - a for a, b in zip(rows, rows[1:]) if b - a > 1]
    assert len(gaps) == 1 and gaps[0] > 25
    skipped = fc.draw(
        img, faces + [face(112, 120, 30, 30, score=0.5)], landmarks=False, color="white"
    )
    assert _ink(skipped).sum() > 0
    both = fc.draw(img, faces, landmarks=False, color="white", crowded="overlap", show=("age",))
    assert _ink(both).sum() > 0


def test_input_is_not_modified_and_every_layout_is_taken():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (120, 160, 3), np.uint8)
    before = img.copy()
    out = fc.draw(img, [face(40, 30, 50, 60)])
    np.testing.assert_array_equal(img, before)
    assert out.shape == img.shape and np.any(out != img)
    assert fc.draw(img[:, :, 0], []).shape == (120, 160, 3)
    assert fc.draw(np.dstack([img, img[:, :, :1]]), []).shape == (120, 160, 3)
    np.testing.assert_array_equal(fc.draw(img, []), img)


def test_bad_arguments_are_named():
    img = np.zeros((50, 50, 3), np.uint8)
    with pytest.raises(TypeError, match="^image"):
        fc.draw(img.astype(float), [])
    with pytest.raises(TypeError, match="^faces"):
        fc.draw(img, face(0, 0, 5, 5))
    with pytest.raises(TypeError, match=r"^faces\[0\]"):
        fc.draw(img, [(0, 0, 5, 5)])
    with pytest.raises(ValueError, match="^show"):
        fc.draw(img, [], show="age")
    with pytest.raises(ValueError, match="^show"):
        fc.draw(img, [], show=("size",))
    with pytest.raises(ValueError, match="^crowded"):
        fc.draw(img, [], crowded="no")
    with pytest.raises(ValueError, match="^color"):
        fc.draw(img, [], color="nocolour")


@pytest.mark.skipif(
    models_dir() is None or data_dir() is None, reason="needs the real models and ../shared/data"
)
def test_group_photo_labels_all_legible():
    """group_07.jpg (51 faces of ~25 px in a 720x478 photo): every face boxed, and at most a
    few labels left out for lack of room (docs/images/group_07_drawn.jpg is this picture)."""
    img = fc.read_image(data_dir() / "photos" / "group_07.jpg")
    fa = fc.FaceAnalyzer(embedder=False, threads=1)
    faces = fa.analyze(img)
    assert len(faces) >= 45
    labelled = [0]

    def count(f, i):
        labelled[0] += 1
        return label_text(f)

    fc.draw(img, faces, show=count)
    n_ink = _ink(fc.draw(img, faces, color="white")).sum()
    assert labelled[0] == len(faces) and n_ink > 0
