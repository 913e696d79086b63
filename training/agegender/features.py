"""Augmented chips -> the frozen front's activations (128 x 7 x 7, float16), computed once.

    python -m training.agegender.features [--cache /work/cache/agegender] [--models ../shared/models]

Per training face (``extra`` + ``train``) four variants, each a 64x64 chip taken from the
80x80 margin chip of :mod:`training.agegender.prepare`:

0. the plain centre chip (exactly the pipeline's input);
1. a geometric jitter (scale 0.9-1.1, rotation +-8 degrees, shift +-4 px, horizontal flip
   half the time) with mild photometric noise;
2. the synthetic-occluder chip with the same kind of jitter;
3. jitter with strong photometric degradations: Gaussian blur (sigma 0.5-1.6, p 0.4), a
   downscale-upscale (p 0.3), JPEG quality 25-75 (p 0.4), grey (p 0.2), brightness and
   contrast +-25 %.

``val`` and ``test`` get the plain chip and the occluder chip (variants 0 and 2 without
jitter). The front runs in onnxruntime (1 thread) on the sub-graph of ``age-v1.onnx`` up to
``layer_22_relu``. Output: ``feats_<set>.npy`` (V, N, 128, 7, 7) float16.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

import cv2
import numpy as np

from .models import CUT, MEAN
from .prepare import CHIP, MARGIN

log = logging.getLogger("agegender.features")


def jitter(chip80: np.ndarray, rng: np.random.Generator, *, strength: float = 1.0) -> np.ndarray:
    """A 64x64 chip from an 80x80 margin chip under a random similarity (and flip)."""
    s = 1.0 + rng.uniform(-0.1, 0.1) * strength
    a = np.deg2rad(rng.uniform(-8, 8) * strength)
    t = rng.uniform(-4, 4, 2) * strength
    c80 = (CHIP + 2 * MARGIN - 1) / 2
    c64 = (CHIP - 1) / 2
    r = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) * s
    m = np.concatenate([r, (np.array([c64, c64]) + t - r @ np.array([c80, c80]))[:, None]], axis=1)
    out = cv2.warpAffine(
        chip80, m, (CHIP, CHIP), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101
    )
    if rng.random() < 0.5:
        out = out[:, ::-1]
    return np.ascontiguousarray(out)


def photometric(chip: np.ndarray, rng: np.random.Generator, *, strong: bool) -> np.ndarray:
    x = chip
    if strong:
        if rng.random() < 0.4:
            x = cv2.GaussianBlur(x, (0, 0), rng.uniform(0.5, 1.6))
        if rng.random() < 0.3:
            f = rng.uniform(0.35, 0.7)
            small = cv2.resize(x, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
            x = cv2.resize(small, (CHIP, CHIP), interpolation=cv2.INTER_LINEAR)
        if rng.random() < 0.4:
            _ok, buf = cv2.imencode(
                ".jpg", x, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(25, 76))]
            )
            x = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        if rng.random() < 0.2:
            x = cv2.cvtColor(cv2.cvtColor(x, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    k = 0.25 if strong else 0.12
    c, b = 1 + rng.uniform(-k, k), rng.uniform(-k, k) * 80
    return np.clip(x.astype(np.float32) * c + b + (1 - c) * 128, 0, 255).astype(np.uint8)


def variants(
    chips: np.ndarray, masked: np.ndarray, rng: np.random.Generator, *, train: bool
) -> np.ndarray:
    """(V, N, 64, 64, 3) uint8 BGR chips."""
    m0, m1 = MARGIN, MARGIN + CHIP
    if not train:
        return np.stack([chips[:, m0:m1, m0:m1], masked[:, m0:m1, m0:m1]])
    n = len(chips)
    out = np.empty((4, n, CHIP, CHIP, 3), np.uint8)
    out[0] = chips[:, m0:m1, m0:m1]
    for i in range(n):
        out[1, i] = photometric(jitter(chips[i], rng), rng, strong=False)
        out[2, i] = photometric(jitter(masked[i], rng), rng, strong=False)
        out[3, i] = photometric(jitter(chips[i], rng), rng, strong=True)
    return out


def normalise(chips_bgr: np.ndarray) -> np.ndarray:
    """(N, 64, 64, 3) uint8 BGR -> (N, 3, 64, 64) float32, the age model's input."""
    x = chips_bgr[..., ::-1].astype(np.float32)
    x = (x - np.asarray(MEAN, np.float32)) / 256.0
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def front_session(models: Path):
    import onnx
    import onnxruntime as ort
    from onnx.utils import Extractor

    m = onnx.load(str(models / "age-v1.onnx"))
    sub = Extractor(m).extract_model([m.graph.input[0].name], [CUT])
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    return ort.InferenceSession(sub.SerializeToString(), so, providers=["CPUExecutionProvider"])


def compute(cache: Path, models: Path, name: str, *, seed: int = 0, batch: int = 256) -> Path:
    z = np.load(cache / f"chips_{name}.npz")
    train = name in ("extra", "train")
    rng = np.random.default_rng([seed, sum(map(ord, name))])
    sess = front_session(models)
    inp = sess.get_inputs()[0].name
    n = len(z["age"])
    nv = 4 if train else 2
    out = np.lib.format.open_memmap(
        cache / f"feats_{name}.tmp.npy", mode="w+", dtype=np.float16, shape=(nv, n, 128, 7, 7)
    )
    t0 = time.time()
    for s in range(0, n, batch):
        v = variants(z["chips"][s : s + batch], z["masked"][s : s + batch], rng, train=train)
        for k in range(nv):
            out[k, s : s + batch] = sess.run(None, {inp: normalise(v[k])})[0].astype(np.float16)
        if (s // batch) % 10 == 0:
            log.info("%s: %d/%d (%.0f s)", name, s, n, time.time() - t0)
    out.flush()
    del out
    final = cache / f"feats_{name}.npy"
    os.replace(cache / f"feats_{name}.tmp.npy", final)
    log.info("%s: wrote %s (%.0f s)", name, final, time.time() - t0)
    return final


def models_dir(path: str | None) -> Path:
    if path:
        return Path(path)
    if os.environ.get("FACECORE_MODEL_DIR"):
        return Path(os.environ["FACECORE_MODEL_DIR"].split(os.pathsep)[0])
    return Path(__file__).resolve().parents[3] / "shared" / "models"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default="/work/cache/agegender")
    ap.add_argument("--models")
    ap.add_argument("--sets", nargs="+", default=["val", "test", "train", "extra"])
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    for s in args.sets:
        if not (Path(args.cache) / f"feats_{s}.npy").is_file():
            compute(Path(args.cache), models_dir(args.models), s)


if __name__ == "__main__":
    main()
