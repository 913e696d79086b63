"""Aligned training chips for the age/gender model, cut the way the pipeline cuts them.

    python -m training.agegender.prepare [--data ../shared/data] [--cache /work/cache/agegender]

Faces (``../shared/data/age``, see its READMEs):

* ``extra``: the 19,310 UTKFace crops of ``utkface_extra_train/`` (96x96), training only;
* ``train`` / ``val`` / ``test``: the 200x200 crops of ``utkface/`` by its split files.

Landmarks: each crop is padded by half its side with black on every side (as
``scripts/eval_accuracy.py`` does for the test split) and YuNet (score 0.6) runs on it; the
detection nearest the centre gives the 5 landmarks. Where YuNet finds nothing, the mean
layout of the detected faces of the same set (relative to the crop side) is used and the
face is flagged (``detected = False``).

Chips: the dlib-style chip of :mod:`facecore.models.attributes` (least-squares similarity
from the 5 landmarks to ``DLIB_CHIP_TEMPLATE * 64``, sampled through dlib's image pyramid
exactly as :func:`facecore.models.attributes.chip_tensor` does) but with an 8-pixel margin
on every side: an 80x80 BGR uint8 chip whose centre 64x64 is the pipeline's input. The margin
lets training jitter scale and shift. A second chip per face wears a synthetic occluder
drawn by :func:`facecore.occlusion.synthesize` on the chip from the chip's landmarks (85 % face
masks of all styles, 10 % hands, 5 % sunglasses).

Outputs (in ``--cache``, outside the repository): ``chips_<set>.npz`` with ``chips``
(N, 80, 80, 3) uint8, ``masked`` (N, 80, 80, 3) uint8, ``age`` (N,) int, ``male`` (N,) bool,
``detected`` (N,) bool, ``landmarks`` (N, 5, 2) float32 (in the crop's own pixels) and
``files``.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

import cv2
import numpy as np

CHIP = 64
MARGIN = 8
FULL = CHIP + 2 * MARGIN
STYLES = ("surgical_blue", "surgical_white", "cloth", "patterned")

log = logging.getLogger("agegender.prepare")


def data_dir(path: str | None) -> Path:
    if path:
        return Path(path)
    if os.environ.get("FACECORE_DATA_DIR"):
        return Path(os.environ["FACECORE_DATA_DIR"])
    return Path(__file__).resolve().parents[3] / "shared" / "data"


def list_set(data: Path, name: str) -> list[tuple[Path, int, bool]]:
    """(image path, age, male) of one set."""
    if name == "extra":
        root = data / "age" / "utkface_extra_train"
        rows = [ln.split(",") for ln in (root / "labels.csv").read_text().splitlines()[1:] if ln]
        return [(root / "images" / f, int(a), g == "0") for f, a, g, _ in rows]
    root = data / "age" / "utkface"
    lab = {}
    for ln in (root / "labels.csv").read_text().splitlines()[1:]:
        f, a, g, _ = ln.split(",")
        lab[f] = (int(a), g == "0")
    return [(root / "images" / f, *lab[f]) for f in (root / f"{name}.txt").read_text().split()]


def chip_matrices_margin(landmarks: np.ndarray) -> np.ndarray:
    """(N, 2, 3) frame -> 80x80 chip maps: the pipeline's 64-px chip map shifted by the margin."""
    from facecore.models.attributes import chip_matrices

    m = chip_matrices(landmarks, CHIP).copy()
    m[:, :, 2] += MARGIN
    return m


def cut(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """80x80 uint8 chips of one frame, dlib pyramid sampling as ``chip_tensor``.

    Sampled with ``cv2.warpAffine`` (bilinear, constant 0 border), which facecore's warp
    kernel matches (tests/test_kernels_warp.py) and which is faster for one small chip.
    """
    from facecore.models._warp import Pyramid
    from facecore.models.attributes import pyramid_levels

    m = chip_matrices_margin(landmarks)
    out = np.zeros((m.shape[0], FULL, FULL, 3), np.uint8)
    pyr = Pyramid(image)
    levels = pyramid_levels(m)  # the scale is the 64-chip's: the margin is a translation only
    for lv in np.unique(levels):
        idx = np.flatnonzero(levels == lv)
        ml = m[idx].copy()
        ml[:, :, :2] *= 2.0 ** int(lv)
        src = pyr[int(lv)]
        for k, mk in zip(idx, ml):
            out[k] = cv2.warpAffine(
                src,
                mk,
                (FULL, FULL),
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_CONSTANT,
                borderValue=0,
            )
    return out


def prepare(data: Path, cache: Path, name: str, *, seed: int = 0) -> Path:
    from facecore import occlusion
    from facecore.models import load

    det = load("yunet", score_threshold=0.6, threads=1)
    items = list_set(data, name)
    rng = np.random.default_rng([seed, sum(map(ord, name))])
    n = len(items)
    lms = np.zeros((n, 5, 2), np.float32)
    found = np.zeros(n, bool)
    sides = np.zeros(n, np.int32)
    t0 = time.time()
    for i, (p, _, _) in enumerate(items):
        img = cv2.imread(str(p))
        side = img.shape[0]
        sides[i] = side
        pad = side // 2
        big = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
        d = det.detect(big)
        if len(d):
            c = np.array([big.shape[1] / 2, big.shape[0] / 2])
            j = int(np.argmin(np.linalg.norm(d.boxes[:, :2] + d.boxes[:, 2:] / 2 - c, axis=1)))
            lms[i] = d.landmarks[j] - pad
            found[i] = True
        if i % 2000 == 0:
            log.info("%s: detect %d/%d (%.0f s)", name, i, n, time.time() - t0)
    rel = (lms[found] / sides[found, None, None]).mean(axis=0)
    lms[~found] = rel[None] * sides[~found, None, None]
    log.info(
        "%s: YuNet found %d of %d faces; %d use the mean layout",
        name,
        found.sum(),
        n,
        (~found).sum(),
    )
    chips = np.zeros((n, FULL, FULL, 3), np.uint8)
    masked = np.zeros_like(chips)
    for i, (p, _, _) in enumerate(items):
        img = cv2.imread(str(p))
        pad = img.shape[0] // 2
        big = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
        lm = lms[i] + pad
        chips[i] = cut(big, lm[None])[0]
        u = rng.random()
        style = (
            "hand"
            if u < 0.10
            else "sunglasses"
            if u < 0.15
            else STYLES[int(rng.integers(len(STYLES)))]
        )
        m = chip_matrices_margin(lm[None])[0]
        lc = np.c_[lm, np.ones(5)] @ m.T  # the landmarks in the chip
        try:
            masked[i] = occlusion.synthesize(
                chips[i], lc, style=style, seed=int(rng.integers(1 << 31))
            )[0]
        except ValueError:
            masked[i] = chips[i]
        if i % 2000 == 0:
            log.info("%s: chips %d/%d (%.0f s)", name, i, n, time.time() - t0)
    out = cache / f"chips_{name}.npz"
    np.savez(
        out,
        chips=chips,
        masked=masked,
        age=np.array([a for _, a, _ in items]),
        male=np.array([m for _, _, m in items]),
        detected=found,
        landmarks=lms,
        files=np.array([p.name for p, _, _ in items]),
    )
    log.info("%s: wrote %s (%.0f s)", name, out, time.time() - t0)
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data")
    ap.add_argument("--cache", default="/work/cache/agegender")
    ap.add_argument("--sets", nargs="+", default=["val", "test", "train", "extra"])
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    for s in args.sets:
        if (cache / f"chips_{s}.npz").is_file():
            log.info("%s: cached", s)
            continue
        prepare(data_dir(args.data), cache, s)


if __name__ == "__main__":
    main()
