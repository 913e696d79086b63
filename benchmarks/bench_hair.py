"""The hair-recolour effect vs the onnxruntime + NumPy/OpenCV code a user would write.

Cases (same models, same process, same threads):

* ``apply 1080p``: ``HairRecolor("dense").apply(image, color)`` (this release: person
  regions, prior and gates, colour transfer) on a 1920x1080 photo with one face
  (``single_04.jpg``, the ``obama-1080p`` frame, brought back to 1920x1080), in the same run
  as the previous release's path (one 128 px head crop, Lab a/b; rebuilt from the same
  pieces) and the user's own code for that algorithm: the same YuNet detections (on a copy with longer side 640, both), ``cv2.warpAffine`` head crop, NumPy normalise,
  ``session.run``, ``cv2.warpAffine(WARP_INVERSE_MAP)`` paste-back, NumPy sharpen +
  ``cv2.filter2D`` (the 3x3 "LBP" kernel, replicate border), and the Lab recolour with
  ``cv2.cvtColor`` on float32 + a NumPy blend. Detection is inside both timings.
* ``patch stride s`` (s = 1, 2, 4, 8): the patch classifier over every window of a 256x256
  crop (plus a 15-pixel margin, so every crop pixel is a window centre), facecore's
  ``probability_map`` (windows straight into model batches, scores interpolated between
  window centres) against ``numpy.lib.stride_tricks.sliding_window_view`` + copy + normalise
  in batches of 4096 + ``session.run`` + ``cv2.resize`` of the score grid.

Same result first: the maps must agree (max |difference| <= 0.02 on the crop's interior for
the patch path, <= 0.02 on the dense map between the previous release's path and the user's
code; this release computes a different, larger map, so it has no equal to check against)
and the recoloured images within 2 levels
on 99.9 % of pixels (OpenCV's float Lab and facecore's agree to rounding), or the case is
not timed and the script exits 1.

Usage: ``python benchmarks/bench_hair.py [--quick] [--json out.json] [--threads N] [--repeat R]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from functools import partial
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("FACECORE_DATA_DIR") or REPO.parent / "shared" / "data")


def time_it(fn, repeat, warmup=1):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return {"median_ms": 1000 * statistics.median(ts), "min_ms": 1000 * min(ts), "repeat": repeat}


def user_session(path, threads):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def user_apply(img, det, sess, color_bgr, strength, head_matrix):
    """The dense path written with onnxruntime + NumPy/OpenCV."""
    H, W = img.shape[:2]
    d = det.detect(img)
    prob = np.zeros((H, W), np.float32)
    for lm in d.landmarks[:1]:
        M = head_matrix(lm, 128, scale=1.15)
        crop = cv2.warpAffine(img, M, (128, 128), flags=cv2.INTER_LINEAR, borderValue=0)
        x = ((crop.astype(np.float32) - 127.5) / 64).transpose(2, 0, 1)[None]
        p = sess.run(None, {"input": np.ascontiguousarray(x)})[0][0, 0]
        back = cv2.warpAffine(
            p, M, (W, H), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderValue=0
        )
        prob = np.maximum(prob, back)
    s = 1 - (1 - np.clip(prob, 0, 1)) ** 2
    k = np.array([[1, 1, 1], [1, 8, 1], [1, 1, 1]], np.float32) / 16
    a = np.clip(cv2.filter2D(s, -1, k, borderType=cv2.BORDER_REPLICATE), 0, 1)
    f = img.astype(np.float32) / 255
    lab = cv2.cvtColor(f, cv2.COLOR_BGR2Lab)
    tgt = cv2.cvtColor(np.array([[color_bgr]], np.float32) / 255, cv2.COLOR_BGR2Lab)[0, 0]
    lab[..., 1:] += strength * (tgt[1:] - lab[..., 1:])
    rec = cv2.cvtColor(lab, cv2.COLOR_Lab2BGR) * 255
    out = (1 - a)[..., None] * img + a[..., None] * rec
    return np.clip(np.floor(out + 0.5), 0, 255).astype(np.uint8), prob


def previous_release_probability(hr, img):
    """0.1's map: one 128 px head crop per face (largest first), pasted back, merged by max."""
    from facecore import kernels
    from facecore.hair import head_matrix

    d = hr._detector.detect(img)
    H, W = img.shape[:2]
    out = np.zeros((H, W), np.float32)
    if not len(d):
        return out
    order = np.argsort(-(d.boxes[:, 2] * d.boxes[:, 3]))[: hr.max_faces]
    mats = np.stack([head_matrix(d.landmarks[i], 128, scale=1.15) for i in order])
    for M, p in zip(mats, hr.crop_probability(img, mats)):
        np.maximum(
            out, kernels.warp_affine(np.ascontiguousarray(p), M, (H, W), inverse=True), out=out
        )
    return out


def previous_release_apply(hr, img, color):
    from facecore import kernels

    return kernels.recolor(
        img, hr.refine(previous_release_probability(hr, img)), color, mode="lab", strength=1.0
    )


def user_patch_map(img, sess, window, stride, batch=4096):
    """The patch path written with sliding_window_view + onnxruntime + cv2.resize."""
    v = np.lib.stride_tricks.sliding_window_view(img, (window, window), axis=(0, 1))[
        ::stride, ::stride
    ]
    gh, gw = v.shape[:2]
    flat = v.reshape(gh * gw, 3, window, window)
    scores = np.empty(gh * gw, np.float32)
    for i in range(0, gh * gw, batch):
        x = (flat[i : i + batch].astype(np.float32) - 127.5) / 64
        scores[i : i + batch] = sess.run(None, {"input": x})[0].reshape(-1)
    grid = scores.reshape(gh, gw)
    # bilinear between window centres, edges replicated (what reduce="centre" computes)
    r = window // 2
    H, W = img.shape[:2]
    ys = np.clip((np.arange(H) - r) / stride, 0, gh - 1)
    xs = np.clip((np.arange(W) - r) / stride, 0, gw - 1)
    return cv2.remap(
        grid,
        np.tile(xs.astype(np.float32), (H, 1)),
        np.tile(ys.astype(np.float32)[:, None], (1, W)),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--quick", action="store_true", help="strides 4 and 8, few repeats (CI, < 30 s)"
    )
    ap.add_argument("--json", default=None, help="write the results as JSON")
    ap.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads for facecore and onnxruntime (default: all)",
    )
    ap.add_argument("--repeat", type=int, default=None)
    args = ap.parse_args(argv)

    import facecore as fc
    from facecore.hair import HairRecolor, head_matrix
    from facecore.models import zoo

    threads = args.threads or len(os.sched_getaffinity(0))
    fc.set_num_threads(threads)
    cv2.setNumThreads(threads)
    repeat = args.repeat or (2 if args.quick else 7)
    strides = (4, 8) if args.quick else (1, 2, 4, 8)
    photo = DATA / "photos" / "single_04.jpg"
    if not photo.is_file():
        print(f"bench_hair: {photo} not found (set FACECORE_DATA_DIR)", file=sys.stderr)
        return 2
    img = cv2.resize(cv2.imread(str(photo)), (1920, 1080), interpolation=cv2.INTER_LINEAR)
    results, failed = [], False
    print(
        f"# bench_hair: {platform.processor() or platform.machine()}, {threads} threads, facecore {fc.__version__}, "
        f"load {os.getloadavg()[0]:.1f}"
    )
    print(f"{'case':<22}{'facecore ms':>13}{'user ms':>11}{'ratio':>8}   check")

    # -- apply on a 1080p photo -------------------------------------------------------------
    hr = HairRecolor("dense", threads=threads)
    det = hr._detector  # the same YuNet session and settings (longer side 640) for both paths
    sess = user_session(zoo.find("hair_dense"), threads)
    color = "#7b3f00"
    bgr = fc._validate.as_color(color)
    theirs, p_user = user_apply(img, det, sess, bgr, 1.0, head_matrix)
    # the previous release's path (0.1): one 128 px head crop per face, Lab a/b recolour
    prev = previous_release_apply(hr, img, color)
    p_prev = previous_release_probability(hr, img)
    dmap = float(np.abs(p_prev - p_user).max())
    dimg = np.abs(prev.astype(int) - theirs.astype(int))
    ok = dmap <= 0.02 and float((dimg > 2).mean()) <= 1e-3
    row = {
        "case": "apply 1080p (dense, 1 face)",
        "check": {"map_max_abs": dmap, "pixels_over_2": float((dimg > 2).mean())},
    }
    if ok:
        # one run, three paths: this release (person regions + prior + gates + colour transfer),
        # the previous release (head crop + Lab), and the user's own code (= the previous
        # release's algorithm with onnxruntime + NumPy/OpenCV, checked equal above)
        a = time_it(lambda: hr.apply(img, color, strength=1.0), repeat)
        p = time_it(lambda: previous_release_apply(hr, img, color), repeat)
        b = time_it(lambda: user_apply(img, det, sess, bgr, 1.0, head_matrix), repeat)
        row.update(
            facecore=a,
            previous=p,
            user=b,
            ratio=b["median_ms"] / a["median_ms"],
            ratio_previous=p["median_ms"] / a["median_ms"],
        )
        print(
            f"{'apply 1080p':<22}{a['median_ms']:>13.1f}{b['median_ms']:>11.1f}{row['ratio']:>7.2f}x   ok (map {dmap:.1e})"
            f"; previous release {p['median_ms']:.1f} ms"
        )
        parts = {
            "detect": time_it(lambda: det.detect(img), repeat),
            "probability": time_it(lambda: hr.probability(img), repeat),
        }
        pr = hr.probability(img)
        parts["refine"] = time_it(lambda: hr.refine(pr), repeat)
        al = hr.refine(pr)
        parts["recolor"] = time_it(
            lambda: fc.kernels.recolor(img, al, color, mode="transfer"), repeat
        )
        row["parts"] = parts
        print("    parts: " + ", ".join(f"{k} {v['median_ms']:.1f} ms" for k, v in parts.items()))
    else:
        failed = True
        print(
            f"{'apply 1080p':<22}{'CHECK FAILED':>32}   map {dmap:.3g}, pixels>2 {float((dimg > 2).mean()):.3g}"
        )
    results.append(row)

    # -- the patch path over a 256x256 crop ---------------------------------------------------
    hp = HairRecolor("patch", detect=False, threads=threads, batch_size=4096)
    psess = user_session(zoo.find("hair_patch"), threads)
    d0 = det.detect(img)
    M = head_matrix(d0.landmarks[0], 256, scale=1.15)
    M[:, 2] += 15
    crop = fc.kernels.warp_crops(img, M[None], 256 + 30)[0]
    for s in strides:
        ours = hp.patch_map(crop, stride=s)
        theirs = user_patch_map(crop, psess, 31, s)
        inner = (slice(15, 15 + 256), slice(15, 15 + 256))
        diff = float(np.abs(ours[inner] - theirs[inner]).max())
        n_win = fc.kernels.window_grid(crop.shape, 31, stride=s)
        row = {
            "case": f"patch stride {s}",
            "windows": int(n_win[0] * n_win[1]),
            "check": {"map_max_abs": diff},
        }
        if diff <= 0.02:
            r = max(1, repeat // (4 if s == 1 else 1))
            a = time_it(partial(hp.patch_map, crop, stride=s), r, warmup=0 if s == 1 else 1)
            b = time_it(partial(user_patch_map, crop, psess, 31, s), r, warmup=0 if s == 1 else 1)
            row.update(facecore=a, user=b, ratio=b["median_ms"] / a["median_ms"])
            print(
                f"{'patch stride ' + str(s):<22}{a['median_ms']:>13.1f}{b['median_ms']:>11.1f}{row['ratio']:>7.2f}x   "
                f"ok ({row['windows']} windows, {row['windows'] / a['median_ms']:.0f}/ms)"
            )
        else:
            failed = True
            print(f"{'patch stride ' + str(s):<22}{'CHECK FAILED':>32}   max diff {diff:.3g}")
        results.append(row)
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "suite": "hair",
                    "threads": threads,
                    "quick": args.quick,
                    "load": os.getloadavg(),
                    "machine": platform.machine(),
                    "python": platform.python_version(),
                    "facecore": fc.__version__,
                    "results": results,
                },
                indent=2,
            )
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
