"""Draw faces on a picture: boxes, landmarks and one compact, legible label per face.

What ``facecore analyze --draw`` and ``facecore demo`` write. Labels sit on a filled box in
the face's colour, inside the frame, sized to the face and the picture (never smaller than
about 10 px of text), and are moved below the face, inside it, or left out (``crowded``)
where they would cover another label.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import cv2
import numpy as np

from ._validate import as_bgr, as_color
from .types import Face

__all__ = ["FIELDS", "draw", "label_text"]

#: What a label can show, in this order: ``index`` (#3), ``score`` (0.93), ``gender`` (F/M),
#: ``age`` (34), ``pose`` (yaw+12), ``quality`` (q0.81), ``expression`` (happy),
#: ``attributes`` (the single attribute label, e.g. Sunglasses; Normal is not printed).
FIELDS = ("index", "score", "gender", "age", "pose", "quality", "expression", "attributes")
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def label_text(face: Face, show: Sequence[str] = ("gender", "age"), *, index: int = 0) -> str:
    """The one-line label of a face, e.g. ``"F 34"`` or ``"#3 0.93 yaw+12"``.

    Parameters
    ----------
    face : Face
    show : sequence of str
        Fields from :data:`FIELDS`, printed in that order; fields the face lacks (no age
        model, pose undefined) are left out. With none available the score is shown.
    index : int
        The number ``"index"`` prints.

    Examples
    --------
    >>> import numpy as np, facecore as fc
    >>> f = fc.Face(box=fc.Box(0, 0, 10, 10), landmarks=fc.Landmarks(np.zeros((5, 2))), score=0.93, age=33.6, p_male=0.1)
    >>> label_text(f), label_text(f, ("index", "score"), index=2)
    ('F 34', '#2 0.93')
    """
    if isinstance(show, str) or any(s not in FIELDS for s in show):
        raise ValueError(f"show: expected a sequence of {list(FIELDS)}; got {show!r}")
    bits = []
    for k in FIELDS:
        if k not in show:
            continue
        if k == "index":
            bits.append(f"#{index}")
        elif k == "score":
            bits.append(f"{face.score:.2f}")
        elif k == "gender" and face.p_male is not None:
            bits.append("M" if face.p_male >= 0.5 else "F")
        elif k == "age" and face.age is not None:
            bits.append(f"{face.age:.0f}")
        elif k == "pose" and face.pose is not None:
            bits.append(f"yaw{face.pose.yaw:+.0f}")
        elif k == "quality" and face.quality is not None:
            bits.append(f"q{face.quality.score:.2f}")
        elif k == "expression" and face.expression is not None:
            bits.append(face.expression.label)
        elif (
            k == "attributes" and face.attributes is not None and face.attributes.label != "Normal"
        ):
            bits.append(face.attributes.label)
    if not bits and show:
        bits.append(f"{face.score:.2f}")
    return " ".join(bits)


def _overlaps(r: tuple[int, int, int, int], placed: list[tuple[int, int, int, int]]) -> bool:
    x1, y1, x2, y2 = r
    return any(x1 < b[2] and b[0] < x2 and y1 < b[3] and b[1] < y2 for b in placed)


def draw(
    image: Any,
    faces: Sequence[Face],
    *,
    show: Sequence[str] | Callable[[Face, int], str] = ("gender", "age"),
    landmarks: bool = True,
    color: Any = (0, 200, 0),
    text_height: int | None = None,
    thickness: int | None = None,
    crowded: str = "skip",
) -> np.ndarray:
    """A copy of ``image`` with each face's box, landmarks and a one-line label drawn on it.

    Parameters
    ----------
    image : uint8 ndarray (H, W), (H, W, 1), (H, W, 3) or (H, W, 4)
        BGR (grey is drawn on in colour; the alpha of BGRA is dropped). Not modified.
    faces : sequence of Face
        What :meth:`facecore.FaceAnalyzer.analyze` returns.
    show : sequence of str or callable
        Fields of the label (see :data:`FIELDS`; default gender and age, ``"F 34"``; the
        score when neither is known), ``()`` for boxes only, or ``show(face, i) -> str``.
    landmarks : bool
        Draw the 5 landmarks (eyes red) on faces wide enough to show them (>= 24 px).
    color : colour
        Box and label colour (anything ``as_color`` takes; BGR tuple, name, ``#rrggbb``).
    text_height : int, optional
        Cap height of the label text in pixels (default: a quarter of the face height,
        between ``max(10, short side / 64)`` and ``short side / 22``).
    thickness : int, optional
        Box line width (default ``max(1, short side / 400)``).
    crowded : {"skip", "overlap"}
        A label that would cover an earlier one (highest score first) is left out
        (``"skip"``, default; its box is still drawn) or drawn anyway (``"overlap"``).

    Returns
    -------
    (H, W, 3) uint8 ndarray
        BGR.

    Raises
    ------
    TypeError, ValueError
        Naming the bad argument.

    Examples
    --------
    >>> import numpy as np, facecore as fc
    >>> f = fc.Face(box=fc.Box(20, 30, 60, 70), landmarks=fc.Landmarks(np.full((5, 2), 50.0)), score=0.9)
    >>> out = fc.draw(np.zeros((200, 300), np.uint8), [f])
    >>> out.shape, out.dtype.name, int(out.max()) > 0
    ((200, 300, 3), 'uint8', True)
    """
    out = as_bgr(image, "image").copy()
    if isinstance(faces, Face) or not isinstance(faces, Sequence):
        raise TypeError(f"faces: expected a sequence of Face; got {type(faces).__name__}")
    for i, f in enumerate(faces):
        if not isinstance(f, Face):
            raise TypeError(f"faces[{i}]: expected a Face; got {type(f).__name__}")
    if not callable(show) and (
        isinstance(show, str)
        or not isinstance(show, Sequence)
        or any(s not in FIELDS for s in show)
    ):
        raise ValueError(f"show: expected a sequence of {list(FIELDS)} or a callable; got {show!r}")
    if crowded not in ("skip", "overlap"):
        raise ValueError(f"crowded: expected 'skip' or 'overlap'; got {crowded!r}")
    bgr = as_color(color, "color")
    H, W = out.shape[:2]
    short = min(H, W)
    t = max(1, round(short / 400)) if thickness is None else int(thickness)
    if t < 1:
        raise ValueError(f"thickness: must be >= 1; got {thickness}")
    if text_height is not None and int(text_height) < 4:
        raise ValueError(f"text_height: must be >= 4; got {text_height}")
    # dark text on a light box colour, white on a dark one
    ink = (0, 0, 0) if 0.114 * bgr[0] + 0.587 * bgr[1] + 0.299 * bgr[2] > 110 else (255, 255, 255)
    lo, hi = max(10.0, short / 64), max(10.0, short / 22)
    order = sorted(range(len(faces)), key=lambda k: -faces[k].score)
    # boxes first, so no box line is drawn over a label
    for k in order:
        f = faces[k]
        x1, y1, x2, y2 = (int(round(v)) for v in f.box.xyxy)
        cv2.rectangle(out, (x1, y1), (x2, y2), bgr, t, cv2.LINE_AA)
        if landmarks and f.box.width >= 24:
            r = max(1, round(f.box.width / 40))
            for j, (px, py) in enumerate(f.landmarks.points):
                cv2.circle(
                    out,
                    (int(round(px)), int(round(py))),
                    r,
                    (0, 0, 255) if j < 2 else bgr,
                    -1,
                    cv2.LINE_AA,
                )
    placed: list[tuple[int, int, int, int]] = []
    for k in order:
        f = faces[k]
        text = show(f, k) if callable(show) else label_text(f, show, index=k)
        if not text:
            continue
        th = float(text_height) if text_height is not None else min(hi, max(lo, f.box.height / 4))
        scale = th / 20.0  # Hershey simplex: cap height 20 px at scale 1 (measured)
        tt = max(1, round(th / 12))
        (tw, tht), base = cv2.getTextSize(text, _FONT, scale, tt)
        pad = max(2, round(th / 5))
        bw, bh = tw + 2 * pad, tht + base + 2 * pad
        x1, y1, x2, y2 = (int(round(v)) for v in f.box.xyxy)
        cands = [(x1, y1 - bh), (x1, y2 + 1), (x1, y1 + t)]  # above, below, inside the top edge
        spot: tuple[int, int, int, int] | None = None
        for cx, cy in cands:
            cx = min(max(0, cx), max(0, W - bw))
            cy = min(max(0, cy), max(0, H - bh))
            rect = (cx, cy, cx + bw, cy + bh)
            if not _overlaps(rect, placed):
                spot = rect
                break
        if spot is None:
            if crowded == "skip":
                continue
            cx, cy = min(max(0, x1), max(0, W - bw)), min(max(0, y1 - bh), max(0, H - bh))
            spot = (cx, cy, cx + bw, cy + bh)
        placed.append(spot)
        cv2.rectangle(out, spot[:2], (spot[2] - 1, spot[3] - 1), bgr, -1)
        cv2.putText(
            out, text, (spot[0] + pad, spot[1] + pad + tht), _FONT, scale, ink, tt, cv2.LINE_AA
        )
    return out
