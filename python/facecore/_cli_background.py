"""``facecore background``: replace, blur or colour the background of a photo, a video or a camera.

Kept apart from cli.py (which only registers it) so the subcommand is one file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

__all__ = ["add_parser"]

_PROG = "facecore background"


def _err(msg: str) -> None:
    print(f"{_PROG}: {msg}", file=sys.stderr)


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "background", help="replace, blur or colour the background of a photo, video or camera"
    )
    p.add_argument(
        "input", nargs="?", help="image or video file (never overwritten); omit with --camera"
    )
    p.add_argument("-o", "--out", help="output image or video (for --camera: record to this file)")
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--blur",
        type=float,
        default=None,
        metavar="SIGMA",
        help="blur the background, Gaussian sigma in pixels (the default, 25)",
    )
    g.add_argument(
        "--image", metavar="BG", help="replace the background by this image (resized to fill)"
    )
    g.add_argument(
        "--color", metavar="COLOR", help="fill the background with a colour name or #rrggbb"
    )
    p.add_argument(
        "--model",
        choices=("fast", "matting"),
        default="fast",
        help="fast: MediaPipe selfie segmentation (default); matting: MODNet (fetched once)",
    )
    p.add_argument(
        "--camera", type=int, default=None, metavar="N", help="live: read camera N (OpenCV)"
    )
    p.add_argument(
        "--max-frames",
        dest="max_frames",
        type=int,
        default=None,
        metavar="N",
        help="video/camera: stop after N frames",
    )
    p.add_argument(
        "--no-audio", dest="audio", action="store_false", help="video: do not copy the audio"
    )
    p.add_argument(
        "--no-temporal",
        dest="temporal",
        action="store_false",
        help="video: no temporal smoothing of the mask",
    )
    p.add_argument(
        "--save-mask", dest="save_mask", metavar="MASK.png", help="photo: write the alpha (0..255)"
    )
    p.add_argument(
        "--force", action="store_true", help="photo: write a result even when no person is found"
    )
    p.add_argument("--threads", type=int, default=None, help="onnxruntime threads")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from . import background as B
    from . import io as fio

    if args.blur is not None and not args.blur > 0:
        _err("--blur: expected a sigma > 0")
        return 2
    if args.threads is not None and args.threads < 1:
        _err("--threads: expected >= 1")
        return 2
    bg: object = None
    if args.color is not None:
        bg = args.color
    elif args.image is not None:
        bpath = Path(args.image)
        if not bpath.is_file():
            _err(f"--image: {bpath}: no such file")
            return 1
        try:
            bg = fio.read_image(bpath)
        except (ValueError, OSError) as exc:
            _err(f"--image: {bpath}: cannot be read as an image ({exc})")
            return 1
    try:
        rep = B.BackgroundReplacer(
            args.model,
            background=bg,
            blur=args.blur or 25.0,
            temporal=args.temporal,
            threads=args.threads,
        )
    except (TypeError, ValueError) as exc:
        _err(str(exc).replace("background:", "--color/--image:", 1))
        return 2
    if args.camera is not None:
        return _camera(args, rep)
    if not args.input:
        _err("give an input file, or --camera N")
        return 2
    if not args.out:
        _err("-o/--out is required")
        return 2
    src, dst = Path(args.input), Path(args.out)
    if not src.is_file():
        _err(f"{src}: no such file")
        return 1
    if dst.exists() and dst.resolve() == src.resolve():
        _err(f"{dst}: would overwrite the input; choose another output")
        return 2
    if src.suffix.lower() in fio.VIDEO_SUFFIXES:
        try:
            res = B.replace_video(
                src, dst, rep, progress=not args.quiet, audio=args.audio, max_frames=args.max_frames
            )
        except (ValueError, OSError) as exc:
            _err(str(exc).replace("src: ", "", 1))
            return 1
        if not args.quiet:
            print(
                f"{dst}: {res.frames} frames at {res.fps:.3g} fps; audio {res.audio}",
                file=sys.stderr,
            )
        return 0
    try:
        image = fio.read_image(src)
    except (ValueError, OSError) as exc:
        _err(f"{src}: cannot be read as an image or video ({exc})")
        return 1
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    rep.temporal = False
    out, m = rep.apply(image, return_matte=True)
    if not args.force:
        faces = B._faces(image, {"threads": args.threads})
        if m.person_fraction < 0.005 or faces == 0:
            why = (
                "no face detected"
                if faces == 0
                else f"person pixels {100 * m.person_fraction:.2f}%"
            )
            _err(f"{src}: no person found ({why}); nothing written (--force writes it anyway)")
            return 1
    fio.write_image(dst, out)
    if args.save_mask:
        fio.write_image(args.save_mask, np.round(m.alpha * 255).astype(np.uint8))
    if not args.quiet:
        print(
            f"{dst}: person {m.person_fraction:.1%} of the image ({rep.mode}, {rep.model_name})",
            file=sys.stderr,
        )
    return 0


def _camera(args: argparse.Namespace, rep) -> int:
    import cv2

    cap = cv2.VideoCapture(args.camera)
    if not cap.isOpened():
        cap.release()
        _err(
            f"--camera {args.camera}: no camera found (OpenCV could not open device {args.camera})"
        )
        return 1
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    writer = None
    show = args.out is None
    n = 0
    try:
        while args.max_frames is None or n < args.max_frames:
            ok, frame = cap.read()
            if not ok:
                break
            out = rep.apply(frame)
            if show:
                try:
                    cv2.imshow("facecore background (q quits)", out)
                    if cv2.waitKey(1) & 0xFF == ord("q"):
                        break
                except cv2.error:
                    _err("this OpenCV build cannot open a window; record with -o out.mp4 instead")
                    return 1
            else:
                if writer is None:
                    writer = cv2.VideoWriter(
                        args.out,
                        cv2.VideoWriter.fourcc(*"mp4v"),
                        fps,
                        (frame.shape[1], frame.shape[0]),
                    )
                writer.write(out)
            n += 1
    except KeyboardInterrupt:
        pass
    finally:
        cap.release()
        if writer is not None:
            writer.release()
        if show:
            try:
                cv2.destroyAllWindows()
            except cv2.error:
                pass
    if not args.quiet:
        print(f"camera {args.camera}: {n} frames", file=sys.stderr)
    return 0
