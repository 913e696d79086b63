"""Aligned chips, synthetic masks and the frozen SFace's outputs, cached once.

    python -m training.maskembed.prepare [--data ../shared/data] [--cache /work/cache/maskembed]
        [--landmarks-from /work/cache/agegender]

Faces: UTKFace only (``age/utkface_extra_train`` 19,310 96x96 crops: set ``extra``; and the
2,500 200x200 crops of ``age/utkface``: set ``utk``, whose ``test.txt`` part is held out for
validation). glint24 (the verification evaluation set) is never read here.

Landmarks: YuNet on the crop padded by half its side (as ``training.agegender.prepare``),
or read from that script's cache (``--landmarks-from``: ``chips_<set>.npz``'s
``landmarks``, the same procedure) to save the detection time.

Per face: the ArcFace-112 chip (the embedder's alignment, ``cv2.warpAffine`` bilinear), a
copy wearing a synthetic face mask drawn on the chip from the template points
(:func:`facecore.occlusion.synthesize`: style drawn from the four mask styles, jitter
U(0.5, 2), shading U(0.3, 0.9), seeded per face), and the frozen SFace (onnxruntime, the
shipped int8bq graph with the library's in-memory repairs) on both: ``fc1`` (the teacher
embedding, raw) and ``conv_13_relu`` (N, 1024, 7, 7), the input of the trainable tail, in
float16.

Outputs in ``--cache`` (memory-mapped .npy, resumable: ``done_<set>.txt`` counts the rows
written): ``chips_<set>.npy`` / ``masked_<set>.npy`` uint8 (N, 112, 112, 3);
``feat_u_<set>.npy`` / ``feat_m_<set>.npy`` float16 (N, 1024, 7, 7); ``emb_u_<set>.npy`` /
``emb_m_<set>.npy`` float32 (N, 128); ``meta_<set>.npz`` (files, test flag).
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

import cv2
import numpy as np

FEATURE = "conv_13_relu"
STYLES = ("surgical_blue", "surgical_white", "cloth", "patterned")
log = logging.getLogger("maskembed.prepare")


def data_dir(path: str | None) -> Path:
    if path:
        return Path(path)
    if os.environ.get("FACECORE_DATA_DIR"):
        return Path(os.environ["FACECORE_DATA_DIR"])
    return Path(__file__).resolve().parents[3] / "shared" / "data"


#: Other face sets (real backgrounds, celebrity photos like glint24's): folder of images.
PHOTO_SETS = {
    "lfw": "hair/lfw_parts/images",
    "celebahq": "hair/celeba_hq/images",
    "celebamask": "parsing/celebamask/images",
}


def glint24_names(data: Path) -> set[str]:
    root = data / "identity" / "glint24"
    return {p.name for p in root.iterdir() if p.is_dir()} if root.is_dir() else set()


def list_set(data: Path, name: str) -> tuple[list[Path], np.ndarray]:
    """Image paths of a set and a held-out flag (``utk``'s test split).

    ``lfw`` leaves out every image of a person who is one of glint24's 24 identities (LFW
    file names carry the name), so no evaluation identity is trained on by name."""
    if name in PHOTO_SETS:
        files = sorted((data / PHOTO_SETS[name]).glob("*.jpg"))
        if name == "lfw":
            skip = glint24_names(data)
            files = [f for f in files if f.stem.rsplit("_", 1)[0] not in skip]
        return files, np.zeros(len(files), bool)
    if name == "extra":
        root = data / "age" / "utkface_extra_train"
        rows = [ln.split(",")[0] for ln in (root / "labels.csv").read_text().splitlines()[1:] if ln]
        return [root / "images" / f for f in rows], np.zeros(len(rows), bool)
    root = data / "age" / "utkface"
    paths, test = [], []
    for split in ("train", "val", "test"):
        for f in (root / f"{split}.txt").read_text().split():
            paths.append(root / "images" / f)
            test.append(split == "test")
    return paths, np.array(test)


def detect_landmarks(paths: list[Path]) -> np.ndarray:
    """YuNet landmarks (N, 5, 2) of crops padded by half their side; the mean layout where
    nothing is found (the procedure of training.agegender.prepare)."""
    from facecore.models import load

    det = load("yunet", score_threshold=0.6, threads=1)
    lms = np.zeros((len(paths), 5, 2), np.float32)
    found = np.zeros(len(paths), bool)
    sides = np.zeros(len(paths))
    for i, p in enumerate(paths):
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
    rel = (lms[found] / sides[found, None, None]).mean(axis=0)
    lms[~found] = rel[None] * sides[~found, None, None]
    return lms


def landmarks_for(name: str, paths: list[Path], src: Path | None) -> np.ndarray:
    if src is not None and name not in PHOTO_SETS:
        if name == "extra":
            z = np.load(src / "chips_extra.npz")
            files = [str(f) for f in z["files"]]
            if files != [p.name for p in paths]:
                raise ValueError("--landmarks-from: chips_extra.npz lists other files")
            return z["landmarks"].astype(np.float32)
        parts = []
        for split in ("train", "val", "test"):
            parts.append(np.load(src / f"chips_{split}.npz")["landmarks"])
        lms = np.concatenate(parts).astype(np.float32)
        if len(lms) != len(paths):
            raise ValueError("--landmarks-from: utkface split sizes differ")
        return lms
    return detect_landmarks(paths)


def mask_chip(chip: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    from facecore.align import ARCFACE_112
    from facecore.occlusion import synthesize

    style = STYLES[int(rng.integers(len(STYLES)))]
    return synthesize(
        chip,
        ARCFACE_112,
        style=style,
        seed=int(rng.integers(2**31)),
        jitter=float(rng.uniform(0.5, 2.0)),
        shading=float(rng.uniform(0.3, 0.9)),
    )[0]


def feature_session(model_dir: Path):
    """onnxruntime session of the repaired SFace with ``conv_13_relu`` as a second output."""
    import onnx

    from facecore.models.embedder import repair_sface
    from facecore.models.session import make_session

    m = repair_sface(onnx.load(str(model_dir / "face_recognition_sface_2021dec_int8bq.onnx")))
    vi = onnx.helper.make_tensor_value_info(FEATURE, onnx.TensorProto.FLOAT, None)
    m.graph.output.append(vi)
    sess = make_session(m, threads=1)
    return sess, sess.get_inputs()[0].name


def run_features(sess, inp: str, chips: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fc1 (N, 128) float32, conv_13_relu (N, 1024, 7, 7) float32) of BGR uint8 chips."""
    x = np.ascontiguousarray(chips[..., ::-1].transpose(0, 3, 1, 2), dtype=np.float32)
    e, f = sess.run(["fc1", FEATURE], {inp: x})
    return e, f


def prepare(data: Path, cache: Path, model_dir: Path, name: str, lm_src: Path | None, seed: int):
    from facecore.align import arcface_matrices

    paths, test = list_set(data, name)
    n = len(paths)
    cache.mkdir(parents=True, exist_ok=True)
    done_f = cache / f"done_{name}.txt"
    arrays = {
        "chips": ((n, 112, 112, 3), np.uint8),
        "masked": ((n, 112, 112, 3), np.uint8),
        "feat_u": ((n, 1024, 7, 7), np.float16),
        "feat_m": ((n, 1024, 7, 7), np.float16),
        "emb_u": ((n, 128), np.float32),
        "emb_m": ((n, 128), np.float32),
    }
    done = int(done_f.read_text()) if done_f.is_file() else 0
    mm = {}
    for k, (shape, dt) in arrays.items():
        f = cache / f"{k}_{name}.npy"
        if done and f.is_file():
            mm[k] = np.load(f, mmap_mode="r+")
        else:
            mm[k] = np.lib.format.open_memmap(f, mode="w+", dtype=dt, shape=shape)
            done = 0
    np.savez(cache / f"meta_{name}.npz", files=np.array([p.name for p in paths]), test=test)
    if done >= n:
        log.info("%s: already prepared (%d)", name, n)
        return
    lms = landmarks_for(name, paths, lm_src)
    mats = arcface_matrices(lms)
    sess, inp = feature_session(model_dir)
    t0 = time.time()
    batch = 64
    for s in range(done, n, batch):
        idx = range(s, min(n, s + batch))
        chips = np.stack(
            [
                cv2.warpAffine(
                    cv2.imread(str(paths[i])),
                    mats[i],
                    (112, 112),
                    flags=cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_CONSTANT,
                )
                for i in idx
            ]
        )
        masked = np.stack(
            [mask_chip(c, np.random.default_rng([seed, i])) for c, i in zip(chips, idx)]
        )
        eu, fu = run_features(sess, inp, chips)
        em, fm = run_features(sess, inp, masked)
        sl = slice(s, s + len(idx))
        mm["chips"][sl], mm["masked"][sl] = chips, masked
        mm["feat_u"][sl], mm["feat_m"][sl] = fu.astype(np.float16), fm.astype(np.float16)
        mm["emb_u"][sl], mm["emb_m"][sl] = eu, em
        for a in mm.values():
            a.flush()
        done_f.write_text(str(sl.stop))
        if (s // batch) % 10 == 0:
            el = time.time() - t0
            log.info(
                "%s: %d/%d (%.0f s, %.1f ms/face)",
                name,
                sl.stop,
                n,
                el,
                1e3 * el / (sl.stop - done),
            )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data")
    ap.add_argument("--models", default=os.environ.get("FACECORE_MODEL_DIR"))
    ap.add_argument("--cache", default="/work/cache/maskembed")
    ap.add_argument("--landmarks-from", help="training.agegender.prepare's cache folder")
    ap.add_argument("--sets", default="utk,extra")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    data = data_dir(args.data)
    models = Path(args.models) if args.models else data.parent / "models"
    lm = Path(args.landmarks_from) if args.landmarks_from else None
    for name in args.sets.split(","):
        prepare(data, Path(args.cache), models, name, lm, args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
