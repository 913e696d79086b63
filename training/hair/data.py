"""Hair data: the three sets of ``$FACECORE_DATA_DIR/hair`` as in-memory arrays, and augmentation.

Sets (see ``../shared/data/hair/README.md``):

- ``celeba_hq``: ``train.txt`` / ``val.txt``, masks 0/255;
- ``lfw_parts``: ``train.txt`` / ``val.txt``, masks 0/1/2 (2 = hair);
- ``figaro``: ``train.txt`` only. Our fixed split: ids sorted, every 5th id (index % 5 == 0)
  is **figaro-holdout** (the val split used for all choices and numbers), the rest trains.
  Hairstyle classes follow frame numbers, so this takes 20 % of each class.

Images are BGR uint8 (as OpenCV reads them, and as facecore's public API takes them);
masks are float32 {0, 1} hair. Non-square images (figaro) are letterboxed to a square with
black borders (mask: 0 there), as :mod:`facecore.hair`'s whole-image path and its head crops
(``warp_crops`` with its default constant border 0) see them.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

SETS = ("celeba_hq", "lfw_parts", "figaro")
HAIR_VALUE = {"celeba_hq": 255, "lfw_parts": 2, "figaro": 255}


def data_root(path: str | None = None) -> Path:
    """``<path or $FACECORE_DATA_DIR or ../shared/data>/hair``."""
    if path:
        p = Path(path)
    elif os.environ.get("FACECORE_DATA_DIR"):
        p = Path(os.environ["FACECORE_DATA_DIR"])
    else:
        p = Path(__file__).resolve().parents[3] / "shared" / "data"
    if (p / "hair").is_dir():
        p = p / "hair"
    if not (p / "celeba_hq").is_dir():
        raise FileNotFoundError(f"hair data not found under {p}: set FACECORE_DATA_DIR")
    return p


def split_ids(root: Path, name: str, split: str) -> list[str]:
    """Ids of ``name``'s ``split`` ("train" or "val"; figaro's val is our holdout)."""
    if name == "figaro":
        ids = sorted((root / "figaro" / "train.txt").read_text().split())
        if split == "val":
            return [i for k, i in enumerate(ids) if k % 5 == 0]
        return [i for k, i in enumerate(ids) if k % 5 != 0]
    return (root / name / f"{split}.txt").read_text().split()


def read_pair(root: Path, name: str, id_: str) -> tuple[np.ndarray, np.ndarray]:
    """(image BGR uint8 (H, W, 3), hair mask uint8 {0, 1} (H, W)) at the stored size."""
    img = cv2.imread(str(root / name / "images" / f"{id_}.jpg"), cv2.IMREAD_COLOR)
    m = cv2.imread(str(root / name / "masks" / f"{id_}.png"), cv2.IMREAD_UNCHANGED)
    if img is None or m is None:
        raise FileNotFoundError(f"{name}/{id_}")
    return img, (m == HAIR_VALUE[name]).astype(np.uint8)


def letterbox_matrix(h: int, w: int, size: int) -> np.ndarray:
    """Forward 2x3 matrix: an (h, w) image centred in a size x size square, aspect kept."""
    s = size / max(h, w)
    tx = (size - s * w) / 2 + 0.5 * s - 0.5
    ty = (size - s * h) / 2 + 0.5 * s - 0.5
    return np.array([[s, 0, tx], [0, s, ty]], np.float64)


def load_split(root: Path, name: str, split: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    """All images of a split letterboxed to ``size``: (N, size, size, 3) uint8, (N, size, size) uint8."""
    ids = split_ids(root, name, split)
    X = np.empty((len(ids), size, size, 3), np.uint8)
    Y = np.empty((len(ids), size, size), np.uint8)
    for k, i in enumerate(ids):
        img, m = read_pair(root, name, i)
        M = letterbox_matrix(*m.shape, size)
        interp = cv2.INTER_AREA if max(m.shape) > size else cv2.INTER_LINEAR
        X[k] = cv2.warpAffine(img, M, (size, size), flags=interp, borderValue=0)
        Y[k] = (
            cv2.warpAffine(m * 255, M, (size, size), flags=cv2.INTER_LINEAR, borderValue=0) >= 128
        )
    return X, Y


class Augment:
    """Random similarity warp (scale, rotation, shift, flip) and photometric jitter, in NumPy/OpenCV."""

    def __init__(self, rng: np.random.Generator, *, scale=(0.75, 1.25), rotate=20.0, shift=0.12):
        self.rng, self.scale, self.rotate, self.shift = rng, scale, rotate, shift

    def geometry(self, size: int) -> np.ndarray:
        r = self.rng
        s = r.uniform(*self.scale)
        a = np.deg2rad(r.uniform(-self.rotate, self.rotate))
        c = (size - 1) / 2
        M = np.array([[s * np.cos(a), -s * np.sin(a), 0], [s * np.sin(a), s * np.cos(a), 0]])
        M[:, 2] = c - M[:, :2] @ [c, c] + r.uniform(-self.shift, self.shift, 2) * size
        if r.random() < 0.5:
            M[0] = -M[0]
            M[0, 2] += size - 1
        return M

    def photometric(self, img: np.ndarray) -> np.ndarray:
        r = self.rng
        x = img.astype(np.float32)
        if r.random() < 0.5:  # hue / saturation in HSV (hair colours vary)
            hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV).astype(np.float32)
            hsv[..., 0] = (hsv[..., 0] + r.uniform(-12, 12)) % 180
            hsv[..., 1] *= r.uniform(0.6, 1.4)
            x = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2BGR).astype(
                np.float32
            )
        x = x * r.uniform(0.7, 1.3) + r.uniform(-25, 25)  # contrast, brightness
        mean = x.mean()
        x = (x - mean) * r.uniform(0.8, 1.2) + mean
        if r.random() < 0.2:
            x = cv2.GaussianBlur(x, (0, 0), r.uniform(0.3, 1.2))
        if r.random() < 0.2:
            x = x + r.normal(0, r.uniform(2, 8), x.shape)
        if r.random() < 0.1:
            x = np.repeat(x.mean(axis=2, keepdims=True), 3, axis=2)
        return np.clip(x, 0, 255).astype(np.uint8)

    def __call__(
        self, img: np.ndarray, mask: np.ndarray, size: int
    ) -> tuple[np.ndarray, np.ndarray]:
        M = self.geometry(size)
        im = cv2.warpAffine(img, M, (size, size), flags=cv2.INTER_LINEAR, borderValue=0)
        mk = cv2.warpAffine(
            mask.astype(np.float32), M, (size, size), flags=cv2.INTER_LINEAR, borderValue=0
        )
        return self.photometric(im), mk
