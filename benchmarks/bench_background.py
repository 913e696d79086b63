"""Background replacement, end to end, vs the onnxruntime + NumPy/OpenCV code a user would write.

Frames are in memory (decode excluded): data/photos/pair_01.jpg cropped to 16:9 and resized
to 640x360 and 1280x720. Both sides use the same converted MediaPipe model (the landscape
144x256 one), the same onnxruntime settings and 2 threads (facecore, OpenCV, onnxruntime).

* facecore: ``BackgroundReplacer(background=image).apply(frame)``: INTER_AREA resize +
  model + temporal EMA + guided-filter upsampling (C++) + blend kernel.
* user: ``cv2.resize`` (INTER_AREA) + normalise + ``session.run`` + ``cv2.resize``
  (INTER_LINEAR) of the alpha + the NumPy composite
  ``(a * frame + (1 - a) * bg).astype(np.uint8)``.
* blur mode: facecore's ``fast_blur`` (downscale, Gaussian, upscale) against the user's
  ``cv2.GaussianBlur(frame, (0, 0), 25)``; also ``cv2.stackBlur`` alone.
* the matting model (MODNet, when fetched) end to end.

Printed: median ± IQR wall ms, frames/s, speed-up = user / facecore (higher is better for
facecore), and CPU ms per frame (process time over all threads: the figure that survives a
machine loaded by other processes; 2000 / CPU ms is the frame rate two idle cores would give
if both were kept busy, 1000 / CPU ms the single-core rate).

Same result first: the model's low-resolution output must agree (max |diff| <= 1e-4) and
the user's composite with facecore's alpha must equal facecore's output within 1 level,
or the script exits 1.

Usage: ``python benchmarks/bench_background.py [--quick] [--json out.json] [--threads 2]``
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from functools import partial
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import compare, format_header, format_ms, load_average, run_metadata, save_json

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("FACECORE_DATA_DIR") or REPO.parent / "shared" / "data")


def frames(shape):
    img = cv2.imread(str(DATA / "photos" / "pair_01.jpg"))
    if img is None:  # no data: a synthetic frame keeps the timing honest, not the quality
        img = np.random.default_rng(0).integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    H, W = img.shape[:2]
    h = int(W * 9 / 16)
    y0 = max(0, (H - h) // 2)
    base = cv2.resize(img[y0 : y0 + h], (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(0)
    out = []
    for _ in range(8):
        dx, dy = rng.normal(0, 0.7, 2)
        out.append(
            cv2.warpAffine(
                base,
                np.float32([[1, 0, dx], [0, 1, dy]]),
                (shape[1], shape[0]),
                borderMode=cv2.BORDER_REFLECT,
            )
        )
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args()

    import onnxruntime as ort

    import facecore as fc
    from facecore.background import BackgroundReplacer, fast_blur
    from facecore.models import zoo

    fc.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    meta = run_metadata()
    print(format_header(meta))
    repeat = 5 if args.quick else args.repeat
    shapes = [(360, 640)] if args.quick else [(360, 640), (720, 1280)]
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(
        str(zoo.find("selfie_segmentation_landscape")), so, providers=["CPUExecutionProvider"]
    )
    bg_src = cv2.imread(str(DATA / "photos" / "group_01.jpg"))
    if bg_src is None:
        bg_src = np.full((500, 700, 3), 90, np.uint8)
    results = []
    ok = True
    print(
        f"\n{'case':34s} {'facecore ms':>14s} {'user ms':>14s} {'fc fps':>7s} {'user fps':>8s} {'speed-up':>8s}"
    )

    def one_shape(shape: tuple[int, int]) -> bool:
        # one function call per shape, so the timed closures below bind this call's frames,
        # replacer and background (no loop variable captured late)
        fr = frames(shape)
        H, W = shape
        bg = cv2.resize(bg_src, (W, H), interpolation=cv2.INTER_AREA)
        rep = BackgroundReplacer(background=bg, threads=args.threads)
        state = {"i": 0}

        def user(frame, blur=False):
            small = cv2.resize(frame, (256, 144), interpolation=cv2.INTER_AREA)
            x = (
                np.ascontiguousarray(small[:, :, ::-1].transpose(2, 0, 1)[None], dtype=np.float32)
                / 255
            )
            low = sess.run(None, {"input": x})[0][0, 0]
            a = cv2.resize(low, (W, H), interpolation=cv2.INTER_LINEAR)[..., None]
            back = cv2.GaussianBlur(frame, (0, 0), 25) if blur else bg
            return (a * frame + (1 - a) * back).astype(np.uint8), low

        # same result first
        rep.temporal = False
        out, m = rep.apply(fr[0], return_matte=True)
        _, low_u = user(fr[0])
        d_low = float(np.abs(low_u - m.low).max())
        a = np.clip(m.alpha, 0, 1)[..., None]
        mine = np.floor(a * fr[0].astype(np.float32) + (1 - a) * bg.astype(np.float32) + 0.5)
        d_out = int(np.abs(mine.astype(int) - out.astype(int)).max())
        same = d_low <= 1e-4 and d_out <= 1
        print(
            f"check {W}x{H}: model output max |diff| {d_low:.1e}, composite max |diff| {d_out} "
            f"-> {'same' if same else 'DIFFERENT'}"
        )
        if not same:
            return False
        rep.temporal = True

        def fc_replace():
            state["i"] += 1
            rep.apply(fr[state["i"] % len(fr)])

        def user_replace():
            state["i"] += 1
            user(fr[state["i"] % len(fr)])

        rb = BackgroundReplacer(threads=args.threads, blur=25)

        def fc_blur():
            state["i"] += 1
            rb.apply(fr[state["i"] % len(fr)])

        def user_blur():
            state["i"] += 1
            user(fr[state["i"] % len(fr)], blur=True)

        cases = [("replace", fc_replace, user_replace)]
        if not args.quick:
            cases.append(("blur 25", fc_blur, user_blur))
        for name, f_fc, f_user in cases:
            st = compare(
                {"facecore": f_fc, "user": f_user},
                repeat=repeat,
                warmup=2,
                budget_s=3 if args.quick else 60,
            )
            f, u = st["facecore"]["median_ms"], st["user"]["median_ms"]
            # CPU time per frame (all threads of the process): robust to other processes' load
            cpu = {}
            for side, fn in (("facecore", f_fc), ("user", f_user)):
                n = max(3, repeat // 3)
                c0 = time.process_time()
                for _ in range(n):
                    fn()
                cpu[side] = 1000 * (time.process_time() - c0) / n
            print(
                f"{name + f' {W}x{H}':34s} {format_ms(st['facecore']):>14s} {format_ms(st['user']):>14s} "
                f"{1000 / f:7.1f} {1000 / u:8.1f} {u / f:8.2f}   CPU ms/frame: facecore "
                f"{cpu['facecore']:.1f}, user {cpu['user']:.1f}"
            )
            results.append(
                {
                    "case": f"{name} {W}x{H}",
                    "facecore": st["facecore"],
                    "user": st["user"],
                    "facecore_fps": 1000 / f,
                    "user_fps": 1000 / u,
                    "speedup": u / f,
                    "facecore_cpu_ms_per_frame": cpu["facecore"],
                    "user_cpu_ms_per_frame": cpu["user"],
                }
            )
        # components (facecore's path), to say what limits it
        small = cv2.resize(fr[0], (256, 144), interpolation=cv2.INTER_AREA)
        x = np.ascontiguousarray(small[:, :, ::-1].transpose(2, 0, 1)[None], dtype=np.float32) / 255
        alpha = m.alpha
        comps = {
            "resize to 256x144": lambda: cv2.resize(
                fr[0], (256, 144), interpolation=cv2.INTER_AREA
            ),
            "model (onnxruntime)": lambda: sess.run(None, {"input": x}),
            "guided upsample (C++)": lambda: fc.kernels.guided_upsample(fr[0], m.low, radius=2),
            "bilinear upsample (cv2)": lambda: cv2.resize(
                m.low, (W, H), interpolation=cv2.INTER_LINEAR
            ),
            "blend kernel (C++)": lambda: fc.kernels.blend(bg, fr[0], alpha),
            "NumPy composite": lambda: (
                alpha[..., None] * fr[0] + (1 - alpha[..., None]) * bg
            ).astype(np.uint8),
        }
        if not args.quick:
            comps.update(
                {
                    "fast_blur sigma 25": lambda: fast_blur(fr[0], 25),
                    "cv2.GaussianBlur sigma 25": lambda: cv2.GaussianBlur(fr[0], (0, 0), 25),
                    "cv2.stackBlur 101x101": lambda: cv2.stackBlur(fr[0], (101, 101)),
                }
            )
        st = compare(comps, repeat=repeat, warmup=1, budget_s=2 if args.quick else 40)
        for k, v in st.items():
            print(f"  {k + f' {W}x{H}':32s} {format_ms(v):>14s}")
            results.append({"case": f"component {k} {W}x{H}", "facecore": v})
        return True

    for shape in shapes:
        ok &= one_shape(shape)
    mpath = None
    if not args.quick:
        try:
            mpath = zoo.find("modnet")
        except Exception:
            print("matting: MODNet not fetched (facecore models fetch modnet); skipped")
    if mpath is not None:
        for shape in shapes:
            fr = frames(shape)
            rm = BackgroundReplacer("matting", threads=args.threads)
            st = compare(
                {"matting": partial(rm.apply, fr[0])},
                repeat=max(3, repeat // 5),
                warmup=1,
                budget_s=60,
            )
            v = st["matting"]
            print(
                f"{'matting ' + f'{shape[1]}x{shape[0]}':34s} {format_ms(v):>14s} {'':>14s} "
                f"{1000 / v['median_ms']:7.1f}"
            )
            results.append(
                {
                    "case": f"matting {shape[1]}x{shape[0]}",
                    "facecore": v,
                    "facecore_fps": 1000 / v["median_ms"],
                }
            )
    print(f"load average at the end: {load_average()}")
    if args.json:
        save_json(args.json, meta, results, load_average_end=load_average())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
