"""Inputs shared by the builder tests: a celebs13 subset with a video, a broken file and a
duplicate, as a person's photo folder would have them."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

PEOPLE = ("elon_musk", "maria_sharapova", "roger_federer")


def _make_sources(data_dir: Path, src: Path, *, hold: int) -> Path:
    """Copy 4 photos of each of PEOPLE into ``src/<person>/``, add ``elon_musk/clip.avi`` made of
    two more of his photos each held for ``hold`` frames (near-duplicate frames), a broken JPEG
    and an exact duplicate photo. Skips the test when celebs13 is absent."""
    root = data_dir / "photos" / "celebs13"
    if not root.is_dir():
        pytest.skip("needs photos/celebs13")
    for person in PEOPLE:
        (src / person).mkdir(parents=True)
        for n in range(4):
            shutil.copy(root / person / f"{n}.jpg", src / person / f"{n}.jpg")
    vid = src / "elon_musk" / "clip.avi"  # labelled by its folder like the photos
    w = cv2.VideoWriter(str(vid), cv2.VideoWriter_fourcc(*"MJPG"), 5.0, (480, 360))
    for n in (4, 5):
        img = cv2.imread(str(root / "elon_musk" / f"{n}.jpg"))
        h, wd = img.shape[:2]
        s = min(480 / wd, 360 / h)
        canvas = np.zeros((360, 480, 3), np.uint8)
        small = cv2.resize(img, (round(wd * s), round(h * s)))
        canvas[: small.shape[0], : small.shape[1]] = small
        for _ in range(hold):
            w.write(canvas)
    w.release()
    (src / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    shutil.copy(src / "elon_musk" / "0.jpg", src / "elon_musk" / "0_copy.jpg")  # exact duplicate
    return src


@pytest.fixture(scope="session")
def make_sources():
    """The builder of the shared inputs (a fixture, so test modules need no import path)."""
    return _make_sources
