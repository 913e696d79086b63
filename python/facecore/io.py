"""Reading and writing images and video frames (BGR uint8, unicode paths)."""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

__all__ = [
    "IMAGE_SUFFIXES",
    "MAX_PIXELS",
    "VIDEO_SUFFIXES",
    "InputItem",
    "VideoOut",
    "collect_inputs",
    "decode_image",
    "ffmpeg_exe",
    "iter_frames",
    "mux_audio",
    "probe_size",
    "read_image",
    "write_image",
]

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset(
    {
        ".jpg",
        ".jpeg",
        ".png",
        ".bmp",
        ".webp",
        ".tif",
        ".tiff",
        ".jp2",
        ".pgm",
        ".ppm",
        ".pbm",
        ".pnm",
    }
)
VIDEO_SUFFIXES = frozenset(
    {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"}
)


def _path(path, name: str) -> Path:
    if not isinstance(path, (str, os.PathLike)) or isinstance(path, bytes):
        raise TypeError(f"{name}: expected str or os.PathLike; got {type(path).__name__}")
    return Path(path)


def read_image(
    path: str | os.PathLike[str], *, grey: bool = False, max_pixels: int | None = None
) -> np.ndarray:
    """Read an image file as BGR uint8 ``(H, W, 3)`` (or ``(H, W)`` with ``grey=True``).

    Unlike ``cv2.imread`` this reads non-ASCII paths on every platform (the bytes are
    decoded with ``cv2.imdecode``) and raises instead of returning ``None``.
    Grey and 16-bit files are converted to 8-bit BGR; an alpha channel is dropped.
    Only regular files are read (a FIFO would block forever, a device never end), and the
    header's width x height is checked against ``max_pixels`` before anything is decoded,
    so a small file that claims 30000 x 30000 pixels costs nothing.

    Parameters
    ----------
    path : str or os.PathLike
    grey : bool, optional
    max_pixels : int, optional
        Largest width x height decoded (default :data:`MAX_PIXELS`, 2**27, or
        ``$FACECORE_MAX_IMAGE_PIXELS``).

    Returns
    -------
    ndarray
        ``(H, W, 3)`` uint8 BGR, or ``(H, W)`` uint8 if ``grey``.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a regular file, not a decodable image, or larger than
        ``max_pixels`` ("W x H ... exceeds the limit").
    """
    p = _path(path, "path")
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise FileNotFoundError(f"path: no such file: {p}") from None
    if stat.S_ISDIR(st.st_mode):
        raise ValueError(f"path: {p} is a directory, not an image")
    if not stat.S_ISREG(st.st_mode):
        raise ValueError(
            f"path: {p} is not a regular file (a FIFO, socket or device); only files are read"
        )
    # O_NONBLOCK: if the name was swapped for a FIFO after the stat, open does not wait for a writer
    fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise ValueError(
                f"path: {p} is not a regular file (a FIFO, socket or device); only files are read"
            )
        data = np.frombuffer(f.read(), dtype=np.uint8)
    try:
        return decode_image(data, grey=grey, max_pixels=max_pixels)
    except ValueError as exc:
        if not str(exc).startswith(
            "data: not a readable image"
        ):  # e.g. a size limit: keep its words
            raise ValueError(f"path: {p}: {str(exc).removeprefix('data: ')}") from None
        raise ValueError(f"path: {p} is {_why_unreadable(data)}") from None


_SIGNATURES = [
    (b"\xff\xd8", "JPEG"),
    (b"\x89PNG", "PNG"),
    (b"GIF8", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"\x00\x00\x00\x0cjP", "JPEG 2000"),
]


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


def decode_image(
    data: bytes | np.ndarray, *, grey: bool = False, max_pixels: int | None = None
) -> np.ndarray:
    """Decode an encoded image (JPEG, PNG, BMP, WebP, TIFF, PNM, ...) held in memory.

    The header's width x height (:func:`probe_size`) is checked against ``max_pixels``
    first: a decompression bomb is refused before the decoder allocates anything.

    Parameters
    ----------
    data : bytes or (N,) uint8 ndarray
        The file's bytes.
    grey : bool, optional
    max_pixels : int, optional
        Largest width x height decoded (default :data:`MAX_PIXELS`, 2**27, or
        ``$FACECORE_MAX_IMAGE_PIXELS``).

    Returns
    -------
    ndarray
        ``(H, W, 3)`` uint8 BGR, or ``(H, W)`` uint8 if ``grey``.

    Raises
    ------
    TypeError
        If ``data`` is not bytes or a 1-d uint8 array.
    ValueError
        If the bytes are not a decodable image (empty, truncated headers, unknown format),
        or the image is larger than ``max_pixels``.

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
        raise TypeError(
            f"data: expected bytes or a 1-d uint8 array; got {getattr(data, 'dtype', type(data).__name__)}"
        )
    if max_pixels is None:
        max_pixels = _default_max_pixels()
    elif isinstance(max_pixels, bool) or not isinstance(max_pixels, (int, np.integer)):
        raise TypeError(f"max_pixels: expected an int; got {type(max_pixels).__name__}")
    elif max_pixels < 1:
        raise ValueError(f"max_pixels: expected >= 1; got {max_pixels}")
    if data.size:
        _check_pixels(data, int(max_pixels))
    flag = cv2.IMREAD_GRAYSCALE if grey else cv2.IMREAD_COLOR
    try:
        img = cv2.imdecode(data, flag) if data.size else None
    except cv2.error:  # some decoders throw instead of returning None (e.g. bad TIFF tags)
        img = None
    if img is None or img.size == 0:
        raise ValueError(f"data: not a readable image ({data.size} bytes)")
    if img.shape[0] * img.shape[1] > max_pixels:  # a format whose header said otherwise
        raise ValueError(
            f"data: a {img.shape[1]} x {img.shape[0]} image exceeds the limit of {max_pixels:,} pixels"
        )
    if img.dtype != np.uint8:  # not seen with these flags; keep the contract if a codec differs
        img = cv2.convertScaleAbs(img, alpha=255.0 if img.dtype.kind == "f" else 1.0)
    # the documented layout whatever the codec did: OpenCV 5 returns a grey PFM ("Pf") as
    # (H, W) even with IMREAD_COLOR (found by the decode fuzz target)
    if grey and img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2GRAY if img.shape[2] == 4 else cv2.COLOR_BGR2GRAY)
    elif not grey and img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    elif not grey and img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
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

    Raises
    ------
    facecore.errors.OutputError
        (an ``OSError``) if the file cannot be written: the message names the path and
        the real cause (read-only folder, disk full); no temporary file is left.
    """
    p = _path(path, "path")
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise TypeError(
            f"image: expected uint8 array of shape (H, W, 3) or (H, W); got {getattr(image, 'dtype', type(image).__name__)}"
        )
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (3, 4))):
        raise ValueError(
            f"image: expected uint8 array of shape (H, W, 3) or (H, W); got {image.shape}"
        )
    if not 1 <= int(quality) <= 100:
        raise ValueError(f"quality: expected 1..100; got {quality}")
    ext = p.suffix.lower() or ".png"
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if ext in (".jpg", ".jpeg") else []
    ok, buf = cv2.imencode(ext, image, params)
    if not ok:
        raise ValueError(f"path: cannot encode an image as {ext!r}")
    # written whole or not at all: a kill mid-write leaves the old file (or none), never a torn one
    tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        buf.tofile(tmp)
        os.replace(tmp, p)
    except OSError as exc:
        # the cleanup must not replace the real cause (a read-only folder refuses the unlink too)
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        from .errors import OutputError

        raise OutputError.of(f"path: cannot write {p}: {exc.strerror or exc}", exc.errno) from exc
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise
    return p


def iter_frames(
    path: str | os.PathLike[str], *, every: int = 1, max_frames: int | None = None
) -> Iterator[tuple[int, np.ndarray]]:
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


def collect_inputs(
    paths: Iterable[str | os.PathLike[str]], *, recursive: bool = True
) -> tuple[list[InputItem], list[tuple[str, str]]]:
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
            kind = (
                "video"
                if suf in VIDEO_SUFFIXES
                else "image"
                if suf in IMAGE_SUFFIXES
                else "unknown"
            )
            items.append(InputItem(p, kind))
        else:
            problems.append((os.fspath(p), "no such file or folder"))
    return items, problems


# -- header probe: the pixel count before any decoder allocates ------------------------------

#: Default largest image (width x height) that ``read_image``/``decode_image`` decode: 2**27
#: pixels (134 megapixels, 384 MiB as BGR uint8), above the largest phone photos (108 MP) and
#: 8x below OpenCV's own 1-gigapixel limit. ``FACECORE_MAX_IMAGE_PIXELS`` overrides it.
MAX_PIXELS = 1 << 27


def _default_max_pixels() -> int:
    env = os.environ.get("FACECORE_MAX_IMAGE_PIXELS")
    if env:
        try:
            v = int(env)
        except ValueError:
            raise ValueError(f"FACECORE_MAX_IMAGE_PIXELS: expected an int; got {env!r}") from None
        if v > 0:
            return v
    return MAX_PIXELS


def _u16(b: bytes, i: int, order: str = ">") -> int:
    return int.from_bytes(b[i : i + 2], "big" if order == ">" else "little")


def _u32(b: bytes, i: int, order: str = ">") -> int:
    return int.from_bytes(b[i : i + 4], "big" if order == ">" else "little")


def _pnm_tokens(b: bytes, start: int, n: int) -> list[int]:
    """The first ``n`` integer tokens of a PNM/PFM header (``#`` comments skipped)."""
    out: list[int] = []
    i = start
    while len(out) < n and i < len(b) and i < 4096:
        c = b[i : i + 1]
        if c == b"#":
            j = b.find(b"\n", i)
            i = len(b) if j < 0 else j + 1
        elif c.isspace():
            i += 1
        else:
            j = i
            while j < len(b) and not b[j : j + 1].isspace() and b[j : j + 1] != b"#":
                j += 1
            tok = b[i:j]
            if not tok.isdigit():
                raise ValueError("bad PNM header")
            out.append(int(tok))
            i = j
    if len(out) < n:
        raise ValueError("truncated PNM header")
    return out


def _tiff_size(b: bytes) -> tuple[int, int]:
    order = "<" if b[:2] == b"II" else ">"
    big = _u16(b, 2, order) == 43
    off = int.from_bytes(b[8:16], "big" if order == ">" else "little") if big else _u32(b, 4, order)
    if big:
        n = int.from_bytes(b[off : off + 8], "big" if order == ">" else "little")
        base, step = off + 8, 20
    else:
        n = _u16(b, off, order)
        base, step = off + 2, 12
    w = h = None
    for k in range(min(n, 4096)):
        e = base + k * step
        if e + step > len(b):
            break
        tag, typ = _u16(b, e, order), _u16(b, e + 2, order)
        val = (
            _u16(b, e + (12 if big else 8), order)
            if typ == 3
            else _u32(b, e + (12 if big else 8), order)
        )
        if tag == 256:
            w = val
        elif tag == 257:
            h = val
    if w is None or h is None:
        raise ValueError("no ImageWidth/ImageLength in the first TIFF directory")
    return w, h


def _jpeg_size(b: bytes) -> tuple[int, int]:
    i = 2
    while i + 4 <= len(b):
        if b[i] != 0xFF:
            raise ValueError("bad JPEG marker")
        m = b[i + 1]
        if m == 0xFF:  # fill byte
            i += 1
            continue
        if m in (0xD8, 0x01) or 0xD0 <= m <= 0xD7:
            i += 2
            continue
        seg = _u16(b, i + 2)
        if m in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
            if i + 9 > len(b):
                break
            return _u16(b, i + 7), _u16(b, i + 5)
        if m == 0xDA or seg < 2:
            break
        i += 2 + seg
    raise ValueError("no JPEG frame header")


def _isobmff_size(b: bytes) -> tuple[int, int]:
    """AVIF/HEIF: the largest ``ispe`` (image spatial extents) property."""
    best = None
    i = b.find(b"ispe")
    while i >= 0 and i + 16 <= len(b):
        w, h = _u32(b, i + 8), _u32(b, i + 12)
        if best is None or w * h > best[0] * best[1]:
            best = (w, h)
        i = b.find(b"ispe", i + 4)
    if best is None:
        raise ValueError("no ispe box")
    return best


def _head(data: bytes | np.ndarray, n: int) -> bytes:
    """The first ``n`` bytes of an encoded file given as bytes or as a NumPy buffer."""
    if isinstance(data, bytes):
        return data[:n]
    return np.ascontiguousarray(data).reshape(-1).view(np.uint8)[:n].tobytes()


def probe_size(data: bytes | np.ndarray) -> tuple[int, int] | None:
    """``(width, height)`` read from an encoded image's header, without decoding it.

    Covers every format this OpenCV decodes: JPEG, PNG, WebP, AVIF, GIF, BMP, TIFF (and
    BigTIFF), JPEG 2000 (JP2 and raw codestream), PNM/PAM, PFM, Radiance HDR and Sun
    raster. Returns None for an unknown signature (OpenCV then finds no decoder either).

    Raises
    ------
    ValueError
        If the signature is known but the header is cut short or malformed.

    Examples
    --------
    >>> import cv2, numpy as np
    >>> ok, buf = cv2.imencode(".png", np.zeros((2, 3, 3), np.uint8))
    >>> probe_size(buf.tobytes())
    (3, 2)
    """
    b = _head(data, 65536)
    try:
        if b[:3] == b"\xff\xd8\xff":
            return _jpeg_size(b)
        if b[:8] == b"\x89PNG\r\n\x1a\n":
            if b[12:16] != b"IHDR":
                raise ValueError("no IHDR")
            return _u32(b, 16), _u32(b, 20)
        if b[:4] == b"RIFF" and b[8:12] == b"WEBP":
            kind = b[12:16]
            if kind == b"VP8 ":
                return _u16(b, 26, "<") & 0x3FFF, _u16(b, 28, "<") & 0x3FFF
            if kind == b"VP8L":
                v = _u32(b, 21, "<")
                return (v & 0x3FFF) + 1, ((v >> 14) & 0x3FFF) + 1
            if kind == b"VP8X":
                return (
                    int.from_bytes(b[24:27], "little") + 1,
                    int.from_bytes(b[27:30], "little") + 1,
                )
            raise ValueError("unknown WebP chunk")
        if b[4:8] == b"ftyp":
            return _isobmff_size(b if len(data) <= 65536 else _head(data, 1 << 20))
        if b[:6] in (b"GIF87a", b"GIF89a"):
            return _u16(b, 6, "<"), _u16(b, 8, "<")
        if b[:2] == b"BM":
            if _u32(b, 14, "<") == 12:
                return _u16(b, 18, "<"), _u16(b, 20, "<")
            w = int.from_bytes(b[18:22], "little", signed=True)
            h = int.from_bytes(b[22:26], "little", signed=True)
            return abs(w), abs(h)
        if b[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
            return _tiff_size(b if len(data) <= 65536 else _head(data, 1 << 20))
        if b[:12] == b"\x00\x00\x00\x0cjP  \r\n\x87\n":
            i = b.find(b"ihdr")
            if i < 0:
                raise ValueError("no ihdr box")
            return _u32(b, i + 8), _u32(b, i + 4)
        if b[:4] == b"\xff\x4f\xff\x51":
            xs, ys, xo, yo = (_u32(b, 8 + 4 * k) for k in range(4))
            return max(0, xs - xo), max(0, ys - yo)
        if b[:1] == b"P" and b[1:2] in b"1234567" and len(b) > 2 and b[2:3].isspace():
            if b[1:2] == b"7":  # PAM: WIDTH / HEIGHT lines
                head = b[: b.find(b"ENDHDR") if b"ENDHDR" in b else 4096]
                vals = dict(
                    line.split(None, 1)
                    for line in head.splitlines()[1:]
                    if len(line.split(None, 1)) == 2
                )
                return int(vals[b"WIDTH"]), int(vals[b"HEIGHT"])
            w, h = _pnm_tokens(b, 2, 2)
            return w, h
        if b[:2] in (b"PF", b"Pf") and b[2:3].isspace():
            w, h = _pnm_tokens(b, 2, 2)
            return w, h
        if b[:2] == b"#?":
            for line in b.split(b"\n\n", 1)[1].split(b"\n", 1)[:1] if b"\n\n" in b else []:
                t = line.split()
                if len(t) == 4 and t[0] in (b"-Y", b"+Y") and t[2] in (b"+X", b"-X"):
                    return int(t[3]), int(t[1])
                if len(t) == 4 and t[0] in (b"-X", b"+X") and t[2] in (b"+Y", b"-Y"):
                    return int(t[1]), int(t[3])
            raise ValueError("no Radiance resolution line")
        if b[:4] == b"\x59\xa6\x6a\x95":
            return _u32(b, 4), _u32(b, 8)
    except (IndexError, KeyError, ValueError, OverflowError) as exc:
        raise ValueError(f"malformed image header ({exc})") from None
    return None


def _check_pixels(data: np.ndarray, max_pixels: int) -> None:
    try:
        size = probe_size(data)
    except ValueError as exc:
        raise ValueError(f"data: not a readable image ({data.size} bytes): {exc}") from None
    if size is not None and size[0] * size[1] > max_pixels:
        w, h = size
        raise ValueError(
            f"data: a {w} x {h} image ({w * h:,} pixels) exceeds the limit of {max_pixels:,} pixels "
            "(max_pixels=, or FACECORE_MAX_IMAGE_PIXELS)"
        )


# -- audio of written videos ----------------------------------------------------------------


def ffmpeg_exe() -> str | None:
    """The ``ffmpeg`` program: on PATH, else the binary of the optional ``imageio-ffmpeg``
    package (``facecore[video]``), else None."""
    import shutil

    exe = shutil.which("ffmpeg")
    if exe:
        return exe
    try:  # imageio-ffmpeg ships a static binary
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:
        return None


def mux_audio(
    video_only: str | os.PathLike[str], src: str | os.PathLike[str], dst: str | os.PathLike[str]
) -> str:
    """Move a written (silent) video to ``dst`` with ``src``'s audio track muxed in, if any.

    OpenCV writes frames only; the video effects (hair recolour, background) write their
    frames to ``video_only`` and call this to keep the sound: the video stream is copied as
    written, the audio re-encoded to AAC, with ``ffmpeg`` (:func:`ffmpeg_exe`). Without ffmpeg,
    or when it fails, ``video_only`` is moved to ``dst`` as it is. ``video_only`` is gone
    afterwards either way.

    Returns
    -------
    str
        What happened to the audio: ``"kept"``, ``"none in the input"`` or
        ``"dropped: <why>"`` (no ffmpeg, or ffmpeg's last error line).
    """
    import subprocess

    video_only, src, dst = os.fspath(video_only), os.fspath(src), os.fspath(dst)
    exe = ffmpeg_exe()
    if exe is None:
        os.replace(video_only, dst)
        return "dropped: no ffmpeg on PATH (pip install imageio-ffmpeg to keep it)"
    try:
        probe = subprocess.run(
            [exe, "-hide_banner", "-i", src], capture_output=True, text=True, timeout=60
        )
        if "Audio:" not in probe.stderr:
            os.replace(video_only, dst)
            return "none in the input"
        cmd = [
            exe,
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-i",
            video_only,
            "-i",
            src,
            "-map",
            "0:v:0",
            "-map",
            "1:a:0",
            "-c:v",
            "copy",
            "-c:a",
            "aac",
            "-shortest",
            dst,
        ]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    except (OSError, subprocess.SubprocessError) as exc:
        os.replace(video_only, dst)
        return f"dropped: ffmpeg failed ({exc})"
    if r.returncode != 0:
        os.replace(video_only, dst)
        return f"dropped: ffmpeg failed ({r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode})"
    os.unlink(video_only)
    return "kept"


class VideoOut:
    """Frames written to a video file beside ``dst`` and moved into place when closed.

    The one writer of the video effects (hair recolour, background): ``mp4v`` for
    ``.mp4``/``.m4v``/``.mov``, ``MJPG`` otherwise, opened on the first frame (its size);
    the file is written under a temporary name in ``dst``'s folder, so ``dst`` never holds a
    half-written video; :meth:`close` moves it into place with ``audio_from``'s audio track
    (:func:`mux_audio`); an exception inside ``with`` removes it. No frame written: no file.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp()) / "out.avi"
    >>> with VideoOut(d, 10.0) as vo:
    ...     for _ in range(3):
    ...         vo.write(np.zeros((32, 48, 3), np.uint8))
    >>> vo.frames, d.is_file(), vo.audio
    (3, True, None)
    """

    def __init__(
        self,
        dst: str | os.PathLike[str],
        fps: float,
        *,
        audio_from: str | os.PathLike[str] | None = None,
    ):
        import tempfile

        self.dst = Path(os.fspath(dst))
        self.fps = float(fps)
        self.audio_from = audio_from
        self.frames = 0
        #: what happened to the audio (:func:`mux_audio`), None without ``audio_from``
        self.audio: str | None = None
        self.dst.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            suffix=self.dst.suffix or ".mp4", prefix=".facecore-", dir=os.fspath(self.dst.parent)
        )
        os.close(fd)
        self._tmp = Path(tmp)
        self._writer: cv2.VideoWriter | None = None

    def write(self, frame: np.ndarray) -> None:
        """Append one BGR uint8 frame (every frame the size of the first)."""
        if self._writer is None:
            fourcc = cv2.VideoWriter.fourcc(
                *("mp4v" if self.dst.suffix.lower() in (".mp4", ".m4v", ".mov") else "MJPG")
            )
            self._writer = cv2.VideoWriter(
                os.fspath(self._tmp), fourcc, self.fps, (frame.shape[1], frame.shape[0])
            )
            if not self._writer.isOpened():
                self.abort()
                raise ValueError(f"dst: cannot write a video to {self.dst}")
        self._writer.write(frame)
        self.frames += 1

    def close(self) -> None:
        """Finish the file and move it to ``dst`` (with the audio, when asked)."""
        if self._writer is None:
            self._tmp.unlink(missing_ok=True)
            return
        self._writer.release()
        self._writer = None
        if self.audio_from is None:
            os.replace(self._tmp, self.dst)
        else:
            self.audio = mux_audio(self._tmp, self.audio_from, self.dst)

    def abort(self) -> None:
        """Drop what was written (``dst`` is not touched)."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> VideoOut:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
