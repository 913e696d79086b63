"""Reading and writing images and video frames (BGR uint8, unicode paths)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

__all__ = [
    "read_image",
    "decode_image",
    "write_image",
    "iter_frames",
    "collect_inputs",
    "IMAGE_SUFFIXES",
    "VIDEO_SUFFIXES",
    "InputItem",
]

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".jp2", ".pgm", ".ppm", ".pbm", ".pnm"})
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"})


def _path(path, name: str) -> Path:
    if not isinstance(path, (str, os.PathLike)) or isinstance(path, bytes):
        raise TypeError(f"{name}: expected str or os.PathLike; got {type(path).__name__}")
    return Path(path)


def read_image(path: str | os.PathLike[str], *, grey: bool = False) -> np.ndarray:
    """Read an image file as BGR uint8 ``(H, W, 3)`` (or ``(H, W)`` with ``grey=True``).

    Unlike ``cv2.imread`` this reads non-ASCII paths on every platform (the bytes are
    decoded with ``cv2.imdecode``) and raises instead of returning ``None``.
    Grey and 16-bit files are converted to 8-bit BGR; an alpha channel is dropped.

    Parameters
    ----------
    path : str or os.PathLike
    grey : bool, optional

    Returns
    -------
    ndarray
        ``(H, W, 3)`` uint8 BGR, or ``(H, W)`` uint8 if ``grey``.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a decodable image.
    """
    p = _path(path, "path")
    try:
        data = np.fromfile(p, dtype=np.uint8)
    except FileNotFoundError:
        raise FileNotFoundError(f"path: no such file: {p}") from None
    except IsADirectoryError:
        raise ValueError(f"path: {p} is a directory, not an image") from None
    try:
        return decode_image(data, grey=grey)
    except ValueError as exc:
        if not str(exc).startswith("data: not a readable image"):  # e.g. a size limit: keep its words
            raise ValueError(f"path: {p}: {str(exc).removeprefix('data: ')}") from None
        raise ValueError(f"path: {p} is {_why_unreadable(data)}") from None


_SIGNATURES = [(b"\xff\xd8", "JPEG"), (b"\x89PNG", "PNG"), (b"GIF8", "GIF"), (b"BM", "BMP"),
               (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"), (b"\x00\x00\x00\x0cjP", "JPEG 2000")]


def _why_unreadable(data: np.ndarray) -> str:
    """Why bytes OpenCV could not decode are unreadable: empty, a damaged image, or not one."""
    if data.size == 0:
        return "an empty file (0 bytes)"
    head = data[:16].tobytes()
    for sig, fmt in _SIGNATURES:
        if head.startswith(sig):
            return f"a truncated or damaged {fmt} file ({data.size} bytes)"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return f"a truncated or damaged WebP file ({data.size} bytes)"
    return f"not an image (no known image format in its first bytes; {data.size} bytes)"


def decode_image(data: bytes | np.ndarray, *, grey: bool = False) -> np.ndarray:
    """Decode an encoded image (JPEG, PNG, BMP, WebP, TIFF, PNM, ...) held in memory.

    Parameters
    ----------
    data : bytes or (N,) uint8 ndarray
        The file's bytes.
    grey : bool, optional

    Returns
    -------
    ndarray
        ``(H, W, 3)`` uint8 BGR, or ``(H, W)`` uint8 if ``grey``.

    Raises
    ------
    TypeError
        If ``data`` is not bytes or a 1-d uint8 array.
    ValueError
        If the bytes are not a decodable image (empty, truncated headers, unknown format).

    Examples
    --------
    >>> import cv2, numpy as np
    >>> ok, buf = cv2.imencode(".png", np.zeros((2, 3, 3), np.uint8))
    >>> decode_image(buf.tobytes()).shape
    (2, 3, 3)
    """
    if isinstance(data, (bytes, bytearray, memoryview)):
        data = np.frombuffer(data, dtype=np.uint8)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 1:
        raise TypeError(f"data: expected bytes or a 1-d uint8 array; got {getattr(data, 'dtype', type(data).__name__)}")
    flag = cv2.IMREAD_GRAYSCALE if grey else cv2.IMREAD_COLOR
    try:
        img = cv2.imdecode(data, flag) if data.size else None
    except cv2.error:  # some decoders throw instead of returning None (e.g. bad TIFF tags)
        img = None
    if img is None or img.size == 0:
        raise ValueError(f"data: not a readable image ({data.size} bytes)")
    return img  # uint8: without IMREAD_ANYDEPTH OpenCV reduces 16-bit files to 8 bits


def write_image(path: str | os.PathLike[str], image: np.ndarray, *, quality: int = 90) -> Path:
    """Write a BGR uint8 image; the format comes from the suffix. Creates parent folders.

    The file is written to a temporary name beside it and renamed into place, so a reader
    (or a resumed job) never sees a half-written image.

    Parameters
    ----------
    path : str or os.PathLike
    image : (H, W, 3) or (H, W) uint8 ndarray
    quality : int, optional
        JPEG/WebP quality 1..100.

    Returns
    -------
    pathlib.Path
    """
    p = _path(path, "path")
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise TypeError(f"image: expected uint8 array of shape (H, W, 3) or (H, W); got {getattr(image, 'dtype', type(image).__name__)}")
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (3, 4))):
        raise ValueError(f"image: expected uint8 array of shape (H, W, 3) or (H, W); got {image.shape}")
    if not 1 <= int(quality) <= 100:
        raise ValueError(f"quality: expected 1..100; got {quality}")
    ext = p.suffix.lower() or ".png"
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if ext in (".jpg", ".jpeg") else []
    ok, buf = cv2.imencode(ext, image, params)
    if not ok:
        raise ValueError(f"path: cannot encode an image as {ext!r}")
    p.parent.mkdir(parents=True, exist_ok=True)
    # written whole or not at all: a kill mid-write leaves the old file (or none), never a torn one
    tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
    try:
        buf.tofile(tmp)
        os.replace(tmp, p)
    finally:
        tmp.unlink(missing_ok=True)
    return p


def iter_frames(path: str | os.PathLike[str], *, every: int = 1, max_frames: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(frame_index, frame)`` for every ``every``-th frame of a video (BGR uint8).

    Raises
    ------
    ValueError
        If ``every`` < 1 or the file cannot be opened as a video.
    """
    p = _path(path, "path")
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ValueError(f"every: expected an int >= 1; got {every!r}")
    if not p.is_file():
        raise FileNotFoundError(f"path: no such file: {p}")
    cap = cv2.VideoCapture(os.fspath(p))
    try:
        if not cap.isOpened():
            raise ValueError(f"path: {p} cannot be opened as a video")
        i, n = 0, 0
        while True:
            if i % every == 0:
                ok, frame = cap.read()
                if not ok:
                    break
                yield i, frame
                n += 1
                if max_frames is not None and n >= max_frames:
                    break
            elif not cap.grab():
                break
            i += 1
    finally:
        cap.release()


@dataclass(frozen=True, slots=True)
class InputItem:
    """One input the CLI will process: an image file, or a video with a frame step."""

    path: Path
    kind: str  # "image" | "video" | "unknown"


def collect_inputs(paths: Iterable[str | os.PathLike[str]], *, recursive: bool = True) -> tuple[list[InputItem], list[tuple[str, str]]]:
    """Expand files and folders into image/video inputs, sorted within each folder.

    Returns
    -------
    items : list of InputItem
    problems : list of (path, reason)
        Paths that do not exist (reported, not fatal).
    """
    items: list[InputItem] = []
    problems: list[tuple[str, str]] = []
    for raw in paths:
        p = _path(raw, "paths")
        if p.is_dir():
            it = p.rglob("*") if recursive else p.glob("*")
            for f in sorted(x for x in it if x.is_file()):
                suf = f.suffix.lower()
                if suf in IMAGE_SUFFIXES:
                    items.append(InputItem(f, "image"))
                elif suf in VIDEO_SUFFIXES:
                    items.append(InputItem(f, "video"))
        elif p.is_file():
            suf = p.suffix.lower()
            kind = "video" if suf in VIDEO_SUFFIXES else "image" if suf in IMAGE_SUFFIXES else "unknown"
            items.append(InputItem(p, kind))
        else:
            problems.append((os.fspath(p), "no such file or folder"))
    return items, problems
