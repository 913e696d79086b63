"""Training data framed like ``facecore recolor``'s person regions (what the dense model sees on photos).

Every training image goes through YuNet once, as :class:`facecore.hair.HairRecolor` runs it;
the largest face gives the forward matrix of its person region (2 x 2.5 head crops, 320 x 256
at the 128 px head-crop scale: long hair down to the chest, torso and background around the
head). Images with no face (Figaro's back views and close-ups) are letterboxed into the
region instead, so the model still sees their hair. The matrices are cached in a ``.npz``.

Sets: the ``train`` splits of ``hair/celeba_hq``, ``hair/lfw_parts`` and ``hair/figaro`` minus
the figaro-holdout (see :mod:`training.hair.data`), plus the hair class (mask value 13) of
``parsing/celebamask``'s train part (the 600 ids after the first 200 of
``default_rng(23).permutation``, the split ``scripts/eval_parsing.py`` holds out).

Augmentation composes a random similarity with the region matrix (scale, rotation, shift,
mirror about the region's centre line), then the photometric jitter of
:class:`training.hair.data.Augment`.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from .data import SETS, Augment, read_pair, split_ids

#: CelebAMask-HQ's own mask order (``scripts/eval_parsing.py``, ``MASK_ORDER``): 13 = hair
CELEBAMASK_HAIR = 13


def celebamask_ids(root: Path, split: str) -> list[str]:
    """``parsing/celebamask`` ids: val = the first 200 of ``default_rng(23).permutation``."""
    ids = (root / "ids.txt").read_text().split()
    perm = np.random.default_rng(23).permutation(len(ids))
    keep = perm[:200] if split == "val" else perm[200:]
    return [ids[i] for i in keep]


def load_images(hair_root: Path, split: str, *, celebamask: bool = True) -> list[tuple]:
    """``[(set, id, image BGR uint8, mask uint8 {0,1})]`` at the stored sizes."""
    out = []
    for s in SETS:
        for i in split_ids(hair_root, s, split):
            img, m = read_pair(hair_root, s, i)
            out.append((s, i, img, m))
    cm = hair_root.parent / "parsing" / "celebamask"
    if celebamask and split == "train" and cm.is_dir():
        for i in celebamask_ids(cm, split):
            img = cv2.imread(str(cm / "images" / f"{i}.jpg"), cv2.IMREAD_COLOR)
            m = cv2.imread(str(cm / "masks" / f"{i}.png"), cv2.IMREAD_UNCHANGED)
            if img is None or m is None:
                continue
            m = m if m.ndim == 2 else m[..., 0]
            if m.shape != img.shape[:2]:
                m = cv2.resize(m, img.shape[1::-1], interpolation=cv2.INTER_NEAREST)
            out.append(("celebamask", i, img, (m == CELEBAMASK_HAIR).astype(np.uint8)))
    return out


def region_matrices(
    items: list[tuple], cache: Path, *, crop: int = 128
) -> tuple[np.ndarray, np.ndarray]:
    """Per item: the forward (2, 3) matrix of its largest face's person region, and whether a
    face was found (else a letterbox into the region). Cached in ``cache`` (keyed by set/id)."""
    from facecore.hair import HairRecolor

    keys = [f"{s}/{i}" for s, i, _, _ in items]
    if cache.exists():
        z = np.load(cache, allow_pickle=False)
        if list(z["keys"]) == keys:
            return z["mats"], z["face"]
    hr = HairRecolor("dense", crop=crop, threads=1)
    h, w = hr.region_shape
    mats = np.zeros((len(items), 2, 3))
    face = np.zeros(len(items), bool)
    for k, (_, _, img, _) in enumerate(items):
        m = hr.matrices(img)
        if len(m):
            mats[k], face[k] = m[0], True
        else:
            H, W = img.shape[:2]
            s = min(w / W, h / H)
            mats[k] = [[s, 0, (w - s * W) / 2], [0, s, (h - s * H) / 2]]
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, keys=np.array(keys), mats=mats, face=face)
    return mats, face


class RegionAugment(Augment):
    """Random similarity about the region's centre composed with each item's region matrix."""

    def __init__(self, rng, *, scale=(0.8, 1.25), rotate=15.0, shift=0.06):
        super().__init__(rng, scale=scale, rotate=rotate, shift=shift)

    def matrix(self, M: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        r = self.rng
        h, w = shape
        s = r.uniform(*self.scale)
        a = math.radians(r.uniform(-self.rotate, self.rotate))
        cx, cy = (w - 1) / 2, (h - 1) / 2
        A = np.array(
            [[s * math.cos(a), -s * math.sin(a), 0], [s * math.sin(a), s * math.cos(a), 0]]
        )
        A[:, 2] = [cx, cy] - A[:, :2] @ [cx, cy] + r.uniform(-self.shift, self.shift, 2) * [w, h]
        if r.random() < 0.5:
            A[0] = -A[0]
            A[0, 2] += w - 1
        return A[:, :2] @ M[:, :2], A[:, :2] @ M[:, 2] + A[:, 2]

    def sample(self, img, mask, M, shape, *, augment=True):
        if augment:
            R, t = self.matrix(M, shape)
            M = np.hstack([R, t[:, None]])
        h, w = shape
        im = cv2.warpAffine(img, M, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
        mk = cv2.warpAffine(
            mask.astype(np.float32), M, (w, h), flags=cv2.INTER_LINEAR, borderValue=0
        )
        return (self.photometric(im) if augment else im), mk
