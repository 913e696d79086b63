"""FaceAnalyzer vs the per-face loop a user would write, same models, same process.

Work per image: detect (YuNet), then for every face an identity embedding (SFace), age
and gender (dlib's models, named ``age`` / ``gender`` in the zoo, on 64/32 chips with dlib's
pyramid sampling; the default ``agegender`` model is timed in ``scripts/eval_agegender.py``).

* ``facecore``: ``FaceAnalyzer(pose=False, quality=False).analyze(image)`` -- one detector
  call, one fused batch warp per model input, one onnxruntime call per model for all faces.
* ``loop (user)``: ``cv2.FaceDetectorYN`` on the original file, then per face
  ``cv2.warpAffine`` + NumPy normalise/transpose + one onnxruntime call per model, on the
  model files with only the repair they need to run at all (SFace's unread inputs dropped).
* ``loop (facecore sessions)``: the same per-face loop, but on facecore's detector and its
  repaired onnxruntime sessions -- isolates what batching and the fused warp bring from
  what the in-memory repairs (folded DequantizeLinear) bring.

Before timing, every baseline is checked to compute the same thing: same faces, cosine
of embeddings > 0.999, ages within 0.5 years, P(male) within 0.02.

Usage: ``python benchmarks/bench_pipeline.py [--quick] [--json out.json] [--threads N]``
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, compare, format_header, format_ms, run_metadata, save_json

FILES = {
    "yunet": "face_detection_yunet_2023mar_int8bq.onnx",
    "sface": "face_recognition_sface_2021dec_int8bq.onnx",
    "age": "age-v1.onnx",
    "gender": "gender-v1.onnx",
}
ARCFACE = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ]
)
DLIB_UNIT = np.array(
    [[0.289, 0.271], [0.685, 0.277], [0.470, 0.505], [0.314, 0.683], [0.658, 0.694]]
)
MEAN_RGB = np.array([122.781998, 117.000999, 104.297997], np.float32)
AGE_W = np.concatenate([[0.25], np.arange(1, 81)]).astype(np.float32)


def umeyama(src, dst):
    """Least-squares similarity src -> dst (what skimage's SimilarityTransform / norm_crop use)."""
    ms, md = src.mean(0), dst.mean(0)
    sc, dc = src - ms, dst - md
    u, d, vt = np.linalg.svd(dc.T @ sc / len(src))
    s = np.diag([1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt)) or 1.0])
    r = u @ s @ vt
    scale = (d * np.diag(s)).sum() / ((sc**2).sum() / len(src))
    return np.hstack([scale * r, (md - scale * r @ ms)[:, None]])


def invert(m):
    a = np.linalg.inv(m[:, :2])
    return np.hstack([a, -(a @ m[:, 2:])])


class Loop:
    """The per-face baseline: one cv2.warpAffine and one onnxruntime call per face and model."""

    def __init__(self, detect, sface, age, gender):
        self.detect, self.sface, self.age, self.gender = detect, sface, age, gender
        self.names = {
            k: (s.get_inputs()[0].name, s.get_outputs()[0].name)
            for k, s in (("sface", sface), ("age", age), ("gender", gender))
        }

    def _run(self, key, sess, x):
        i, o = self.names[key]
        return sess.run([o], {i: x})[0]

    def __call__(self, img):
        rows = self.detect(img)
        pyr = [img]
        out = []
        for row in rows:
            lm = row[4:14].reshape(5, 2).astype(np.float64)
            chip = cv2.warpAffine(img, umeyama(lm, ARCFACE), (112, 112), flags=cv2.INTER_LINEAR)
            x = np.ascontiguousarray(chip[:, :, ::-1].transpose(2, 0, 1)[None], np.float32)
            emb = self._run("sface", self.sface, x)[0]
            res = [emb / np.linalg.norm(emb)]
            for key, sess, size in (("age", self.age, 64), ("gender", self.gender, 32)):
                m = invert(umeyama(DLIB_UNIT * size, lm))
                ratio, level = 1.0 / np.sqrt(abs(np.linalg.det(m[:, :2]))), 0
                while ratio >= 2.0:
                    ratio, level = ratio / 2, level + 1
                while len(pyr) <= level:
                    pyr.append(cv2.pyrDown(pyr[-1]))
                ml = m.copy()
                ml[:, :2] *= 2.0**level
                c = cv2.warpAffine(pyr[level], ml, (size, size), flags=cv2.INTER_LINEAR)
                x = ((c[:, :, ::-1].astype(np.float32) - MEAN_RGB) / 256.0).transpose(2, 0, 1)[None]
                p = self._run(key, sess, np.ascontiguousarray(x))[0]
                res.append(float(p @ AGE_W) if key == "age" else float(p[1]))
            out.append(res)
        return out


def check_same(fc_faces, loop_out, label):
    if len(fc_faces) != len(loop_out):
        raise SystemExit(
            f"{label}: {len(fc_faces)} faces vs {len(loop_out)}: baselines disagree, not timing"
        )
    for f, (e, a, g) in zip(fc_faces, loop_out):
        cos = float(f.embedding @ e)
        if cos < 0.999 or abs(f.age - a) > 0.5 or abs(f.p_male - g) > 0.02:
            raise SystemExit(
                f"{label}: results differ (cos {cos:.4f}, age {f.age:.2f} vs {a:.2f}, "
                f"p_male {f.p_male:.3f} vs {g:.3f}); not timing"
            )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="FaceAnalyzer vs a per-face loop")
    ap.add_argument("--quick", action="store_true", help="few repeats (CI)")
    ap.add_argument("--json", help="write results here")
    ap.add_argument(
        "--threads", type=int, default=None, help="onnxruntime intra-op threads for every session"
    )
    ap.add_argument(
        "--models",
        default=os.environ.get("FACECORE_MODEL_DIR") or str(REPO.parent / "shared" / "models"),
    )
    ap.add_argument(
        "--data",
        default=os.environ.get("FACECORE_DATA_DIR") or str(REPO.parent / "shared" / "data"),
    )
    ap.add_argument(
        "--images",
        nargs="*",
        default=None,
        help="photos/ names (default: group_07, group_02, single_04; --quick: group_02)",
    )
    args = ap.parse_args(argv)
    models, photos = Path(args.models), Path(args.data) / "photos"
    if not all((models / f).is_file() for f in FILES.values()) or not photos.is_dir():
        print(f"bench_pipeline: needs the models in {models} and photos in {photos}; skipped")
        return 0
    os.environ["FACECORE_MODEL_DIR"] = str(models)
    import onnx
    import onnxruntime as ort

    from facecore.analyzer import FaceAnalyzer
    from facecore.models import repair

    threads = args.threads
    # dlib's age/gender pair on both sides (the default is now facecore's own agegender model,
    # which the user's loop below does not reproduce)
    fa = FaceAnalyzer(
        device="cpu",
        threads=threads,
        pose=False,
        quality=False,
        det_threshold=0.6,
        age="age",
        gender="gender",
    )

    def plain_session(model):
        so = ort.SessionOptions()
        so.log_severity_level = 3
        if threads:
            so.intra_op_num_threads = threads
        return ort.InferenceSession(
            model.SerializeToString(), so, providers=["CPUExecutionProvider"]
        )

    user_sface = plain_session(repair.drop_unread_inputs(onnx.load(models / FILES["sface"])))
    user_age = plain_session(onnx.load(models / FILES["age"]))
    user_gender = plain_session(onnx.load(models / FILES["gender"]))
    cv_dets: dict[tuple[int, int], cv2.FaceDetectorYN] = {}

    def cv_detect(img):
        h, w = img.shape[:2]
        if (w, h) not in cv_dets:
            cv_dets[(w, h)] = cv2.FaceDetectorYN.create(
                str(models / FILES["yunet"]), "", (w, h), 0.6, 0.3, 5000
            )
        _, rows = cv_dets[(w, h)].detect(img)
        return [] if rows is None else rows

    user = Loop(cv_detect, user_sface, user_age, user_gender)
    same_sessions = Loop(
        lambda img: fa.detector.detect(img).rows(),
        fa.embedder.session,
        fa.age.session,
        fa.gender.session,
    )

    meta = run_metadata()
    meta["onnxruntime"] = ort.__version__
    meta["onnxruntime_threads"] = threads or "default"
    print(format_header(meta))
    print(f"onnxruntime {ort.__version__}, intra-op threads per session: {threads or 'default'}")
    print()
    repeat, warmup = (3, 1) if args.quick else (15, 2)
    images = args.images or (
        ["group_02.jpg"] if args.quick else ["group_07.jpg", "group_02.jpg", "single_04.jpg"]
    )
    header = f"{'image':16s} {'faces':>5s} {'facecore ms':>14s} {'loop (user) ms':>16s} {'ratio':>6s} {'loop (fc sessions) ms':>22s} {'ratio':>6s}"
    print(header)
    results = []
    for name in images:
        img = cv2.imread(str(photos / name))
        if img is None:
            print(f"{name}: missing, skipped")
            continue
        faces = fa.analyze(img)
        check_same(faces, user(img), f"{name} loop (user)")
        check_same(faces, same_sessions(img), f"{name} loop (facecore sessions)")
        stats = compare(
            {
                "facecore": lambda: fa.analyze(img),
                "loop_user": lambda: user(img),
                "loop_fc_sessions": lambda: same_sessions(img),
            },
            repeat=repeat,
            warmup=warmup,
            budget_s=20 if args.quick else 120,
        )
        r_user = stats["loop_user"]["median_ms"] / stats["facecore"]["median_ms"]
        r_same = stats["loop_fc_sessions"]["median_ms"] / stats["facecore"]["median_ms"]
        print(
            f"{name:16s} {len(faces):5d} {format_ms(stats['facecore']):>14s} {format_ms(stats['loop_user']):>16s} "
            f"{r_user:5.2f}x {format_ms(stats['loop_fc_sessions']):>22s} {r_same:5.2f}x"
        )
        results.append(
            {
                "image": name,
                "shape": list(img.shape),
                "faces": len(faces),
                "speedup_vs_user_loop": r_user,
                "speedup_vs_loop_on_facecore_sessions": r_same,
                **{
                    k: {kk: vv for kk, vv in v.items() if kk != "times_ms"}
                    | {"times_ms": v["times_ms"]}
                    for k, v in stats.items()
                },
            }
        )
    print("\nratio = loop median / facecore median (higher: facecore faster)")
    if args.json:
        save_json(args.json, meta, results, suite="pipeline")
    return 0


if __name__ == "__main__":
    sys.exit(main())
