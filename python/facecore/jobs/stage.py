"""The per-image stage of the builder, shared by the local and the Ray engine.

One image (or sampled video frame) in, the faces to store out: detect, align and embed
through one :class:`~facecore.FaceAnalyzer` call, then the aligned 112x112 chips from
:meth:`FaceAnalyzer.crops <facecore.FaceAnalyzer.crops>` (the pixels the embedder saw),
JPEG-encoded for the store. :func:`input_error` is the one line either engine reports for
an input that failed. Nothing here writes files: the engines own the store and the output.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .sources import dhash
from .store import StoredFace

__all__ = ["CHIP_SHAPE", "analyse_image", "decode_image", "input_error", "stored_faces"]

#: Side of the aligned chips the builder stores and writes (the embedder's input size).
CHIP_SHAPE = 112


def input_error(exc: BaseException) -> str:
    """One line for the report: the message, with the type when it is not ours."""
    msg = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, (OSError, ValueError)) and type(exc).__module__ in (
        "builtins",
        "facecore.errors",
    ):
        return msg
    t = type(exc)
    name = (
        t.__qualname__
        if t.__module__ == "builtins"
        else f"{t.__module__.split('.')[0]}.{t.__qualname__}"
    )
    return f"{name}: {msg}"


def decode_image(path: str | Path) -> tuple[np.ndarray, int]:
    """The image at ``path`` (BGR uint8) and its 64-bit difference hash."""
    from ..io import read_image

    image = read_image(path)
    return image, dhash(image)


def analyse_image(analyzer: Any, image: np.ndarray) -> list[StoredFace]:
    """Every face of one image as the store keeps it: record, embedding, JPEG chip.

    Parameters
    ----------
    analyzer : FaceAnalyzer
        With an embedder; its :meth:`~facecore.FaceAnalyzer.analyze` is called once.
    image : (H, W, 3) or (H, W) uint8 ndarray
        BGR or grey.

    Returns
    -------
    list of StoredFace
        Highest detector score first; empty when there is no face.

    Examples
    --------
    >>> import facecore as fc
    >>> from importlib.resources import files
    >>> from facecore.jobs.stage import analyse_image
    >>> image = fc.read_image(files("facecore") / "data" / "astronaut.jpg")
    >>> stored = analyse_image(fc.FaceAnalyzer(), image)  # doctest: +MODELS
    >>> len(stored), stored[0].embedding.shape, stored[0].chip[:2] == b"\\xff\\xd8"  # a JPEG
    (1, (128,), True)
    """
    img = image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    faces = analyzer.analyze(img)
    if not faces:
        return []
    chips = analyzer.crops(img, faces, shape=CHIP_SHAPE)
    return stored_faces(faces, chips)


def stored_faces(faces: Any, chips: np.ndarray) -> list[StoredFace]:
    """``StoredFace`` rows of analysed faces and their aligned uint8 chips (JPEG 95)."""
    out = []
    for f, chip in zip(faces, chips):
        ok, buf = cv2.imencode(".jpg", chip, [cv2.IMWRITE_JPEG_QUALITY, 95])
        if not ok:  # pragma: no cover - encoding a uint8 chip does not fail
            raise ValueError("cannot encode a face chip")
        out.append(
            StoredFace(
                f.to_dict(embedding=False), np.asarray(f.embedding, np.float32), buf.tobytes()
            )
        )
    return out
