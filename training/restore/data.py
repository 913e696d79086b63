"""Restorer data: aligned face chips of UTKFace with synthetic occlusion masks.

Splits (``../shared/data/age/utkface``, see its README): the restorer **trains on
``train.txt``** (1,498 faces) and chooses its checkpoint on a fixed quarter of ``val.txt``
(every 4th name, 126 faces); ``test.txt`` (501 faces) is never seen in training and is the
held-out part the occlusion study (scripts/occlusion_study.py) measures on.

Landmarks: UTKFace has none, so each 200x200 crop is padded by half its size with black on
every side (as scripts/eval_accuracy.py does) and YuNet's detection nearest the centre gives
the 5 landmarks; for the few faces YuNet misses, the mean layout of the detected faces of the
same split is used. Landmarks are cached in ``<cache>/landmarks_<split>.npz``.

Chips: ``size`` x ``size`` (default 128), aligned by the least-squares similarity from the 5
landmarks to :data:`facecore.occlusion.RESTORE_CHIP_UNIT` (what :func:`facecore.occlusion.restore`
uses at inference), cut from the padded image with a black border. Images are BGR uint8.

Masks: drawn by :func:`facecore.occlusion.synthesize` itself, on the chip, from the chip's
landmarks: 75 % face masks (all four styles), 10 % hands, 5 % sunglasses, 10 % a face mask
plus a random free-form stroke, so the network also learns to fill holes it was not drawn for.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from facecore import occlusion


def data_root(path: str | None = None) -> Path:
    """``<path or $FACECORE_DATA_DIR or ../shared/data>/age/utkface``."""
    if path:
        p = Path(path)
    elif os.environ.get("FACECORE_DATA_DIR"):
        p = Path(os.environ["FACECORE_DATA_DIR"])
    else:
        p = Path(__file__).resolve().parents[3] / "shared" / "data"
    for cand in (p, p / "utkface", p / "age" / "utkface"):
        if (cand / "labels.csv").is_file():
            return cand
    raise FileNotFoundError(f"UTKFace data not found under {p}: set FACECORE_DATA_DIR")


def split_names(root: Path, split: str) -> list[str]:
    """File names of ``train``, ``val`` (every 4th of val.txt: our checkpoint set), ``val_all`` or ``test``."""
    if split == "val":
        return (root / "val.txt").read_text().split()[::4]
    if split == "val_all":
        split = "val"
    return (root / f"{split}.txt").read_text().split()


def labels(root: Path) -> dict[str, tuple[int, int]]:
    """file -> (age, gender) with gender 0 = male, 1 = female (UTKFace)."""
    out = {}
    for line in (root / "labels.csv").read_text().splitlines()[1:]:
        f, a, g, _ = line.split(",")
        out[f] = (int(a), int(g))
    return out


def padded(img: np.ndarray) -> tuple[np.ndarray, int]:
    pad = img.shape[0] // 2
    return cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0), pad


def detect_landmarks(root: Path, names: list[str], cache: Path | None = None, *, detector=None):
    """(N, 5, 2) float64 landmarks in the *padded* image, and a (N,) bool 'detected'."""
    if cache is not None and cache.is_file():
        z = np.load(cache, allow_pickle=False)
        if list(z["names"]) == list(names):
            return z["landmarks"], z["detected"]
    if detector is None:
        import facecore.models as fm

        detector = fm.load("yunet", score_threshold=0.6, nms_threshold=0.3, threads=1)
    lms = np.zeros((len(names), 5, 2))
    found = np.zeros(len(names), bool)
    for k, n in enumerate(names):
        big, _ = padded(cv2.imread(str(root / "images" / n)))
        det = detector.detect(big)
        if len(det) == 0:
            continue
        c = np.array([big.shape[1] / 2, big.shape[0] / 2])
        i = int(np.argmin(np.linalg.norm(det.boxes[:, :2] + det.boxes[:, 2:] / 2 - c, axis=1)))
        lms[k] = det.landmarks[i]
        found[k] = True
    if found.any():
        lms[~found] = lms[found].mean(axis=0)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, names=np.array(names), landmarks=lms, detected=found)
    return lms, found


def chip_matrix(landmarks: np.ndarray, size: int) -> np.ndarray:
    return occlusion.restore_chip_matrix(landmarks, size)


def load_chips(
    root: Path, split: str, size: int, cache_dir: Path
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(N, size, size, 3) uint8 BGR chips, (N, 5, 2) chip landmarks, names."""
    names = split_names(root, split)
    lms, _ = detect_landmarks(root, names, cache_dir / f"landmarks_{split}.npz")
    X = np.empty((len(names), size, size, 3), np.uint8)
    L = np.empty((len(names), 5, 2))
    for k, n in enumerate(names):
        big, _ = padded(cv2.imread(str(root / "images" / n)))
        m = chip_matrix(lms[k], size)
        X[k] = cv2.warpAffine(
            big,
            m,
            (size, size),
            flags=cv2.INTER_AREA if m[0, 0] < 0.7 else cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
        L[k] = lms[k] @ m[:, :2].T + m[:, 2]
    return X, L, names


def _stroke(rng: np.random.Generator, size: int) -> np.ndarray:
    m = np.zeros((size, size), np.uint8)
    p = rng.uniform(0.2, 0.8, 2) * size
    for _ in range(int(rng.integers(2, 6))):
        ang = rng.uniform(0, 2 * np.pi)
        q = np.clip(
            p + rng.uniform(0.1, 0.3) * size * np.array([np.cos(ang), np.sin(ang)]), 0, size - 1
        )
        cv2.line(m, tuple(int(v) for v in p), tuple(int(v) for v in q), 1, int(rng.integers(4, 12)))
        p = q
    return m.astype(bool)


def random_mask(chip: np.ndarray, lm: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A (size, size) bool occlusion mask for one chip (see the module notes for the mix)."""
    r = rng.random()
    if r < 0.75:
        style = occlusion.MASK_STYLES[int(rng.integers(4))]
    elif r < 0.85:
        style = "hand"
    elif r < 0.90:
        style = "sunglasses"
    else:
        style = "surgical_blue"
    jitter = float(rng.uniform(0.5, 2.0))
    _, m = occlusion.synthesize(chip, lm, style=style, seed=int(rng.integers(2**31)), jitter=jitter)
    if r >= 0.90:
        m |= _stroke(rng, chip.shape[0])
    return m


class Augment:
    """Random flip (landmarks mirrored), small colour/brightness change. BGR uint8 in and out."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng

    def __call__(self, chip: np.ndarray, lm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rng = self.rng
        size = chip.shape[1]
        if rng.random() < 0.5:
            chip = chip[:, ::-1]
            lm = lm.copy()
            lm[:, 0] = size - 1 - lm[:, 0]
            lm = lm[[1, 0, 2, 4, 3]]
        x = chip.astype(np.float32)
        x = x * rng.uniform(0.85, 1.15) + rng.uniform(-12, 12) + rng.normal(0, 4, 3)
        return np.clip(x, 0, 255).astype(np.uint8), lm
