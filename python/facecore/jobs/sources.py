"""Inputs of the dataset builder: image files, folders (recursive), videos, URL lists."""

from __future__ import annotations

import hashlib
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..io import IMAGE_SUFFIXES, VIDEO_SUFFIXES

__all__ = [
    "URL_LIST_SUFFIXES",
    "NearDuplicateIndex",
    "Source",
    "collect_sources",
    "dhash",
    "download",
    "file_sha256",
    "hamming",
    "iter_video_frames",
]

logger = logging.getLogger(__name__)

URL_LIST_SUFFIXES = frozenset({".txt", ".urls", ".lst"})


@dataclass(frozen=True, slots=True)
class Source:
    """One input: ``kind`` is "image", "video" or "url"; ``root`` the folder it was found in."""

    kind: str
    location: str
    root: str | None = None


def _is_url(s: str) -> bool:
    return s.startswith(("http://", "https://"))


def collect_sources(
    paths: list[str | os.PathLike[str]], *, exclude: Path | None = None
) -> tuple[list[Source], list[tuple[str, str]]]:
    """Expand the command line's SOURCES into inputs; missing paths are reported, not fatal.

    A folder is searched recursively for images and videos (``exclude``, the output
    folder, is skipped); a ``.txt``/``.urls``/``.lst`` file is a list of URLs, one a line
    (``#`` comments allowed); an ``http(s)://`` argument is one URL.
    """
    out: list[Source] = []
    problems: list[tuple[str, str]] = []
    ex = exclude.resolve() if exclude is not None else None
    seen: set[str] = (
        set()
    )  # resolved paths: a file named twice (ksrc/a.jpg, $PWD/ksrc/a.jpg) is one input

    def add(kind: str, loc: str, root: str | None) -> None:
        key = os.fspath(Path(loc).resolve()) if kind != "url" else loc
        if key not in seen:
            seen.add(key)
            out.append(Source(kind, loc, root))

    for raw in paths:
        if not isinstance(raw, (str, os.PathLike)) or isinstance(raw, bytes):
            raise TypeError(f"sources: expected str or os.PathLike items; got {type(raw).__name__}")
        s = os.fspath(raw)
        if _is_url(s):
            add("url", s, None)
            continue
        p = Path(s)
        if p.is_dir():
            for f in sorted(x for x in p.rglob("*") if x.is_file()):
                if ex is not None and (f.resolve() == ex or ex in f.resolve().parents):
                    continue
                suf = f.suffix.lower()
                if suf in IMAGE_SUFFIXES:
                    add("image", os.fspath(f), os.fspath(p))
                elif suf in VIDEO_SUFFIXES:
                    add("video", os.fspath(f), os.fspath(p))
        elif p.is_file():
            suf = p.suffix.lower()
            if suf in URL_LIST_SUFFIXES:
                try:
                    lines = p.read_text(encoding="utf-8", errors="replace").splitlines()
                except OSError as exc:
                    problems.append((s, f"cannot read URL list: {exc}"))
                    continue
                for line in lines:
                    line = line.strip()
                    if not line or line.startswith("#"):
                        continue
                    if _is_url(line):
                        add("url", line, None)
                    else:
                        problems.append((f"{s}: {line}", "not an http(s) URL"))
            elif suf in VIDEO_SUFFIXES:
                add("video", s, os.fspath(p.parent))
            else:  # images, and unknown suffixes: let the decoder decide
                add("image", s, os.fspath(p.parent))
        else:
            problems.append((s, "no such file or folder"))
    return out, problems


def download(url: str, folder: Path, *, timeout: float, max_bytes: int) -> Path:
    """Download ``url`` into ``folder`` (once: an earlier download is reused).

    Raises
    ------
    OSError
        On any network failure (offline, timeout, HTTP error) or a body over ``max_bytes``.
    """
    name = hashlib.sha1(url.encode()).hexdigest()[:20]
    suffix = Path(url.split("?")[0]).suffix.lower()
    suffix = suffix if suffix in IMAGE_SUFFIXES else ".img"
    dest = folder / f"{name}{suffix}"
    if dest.is_file():
        return dest
    folder.mkdir(parents=True, exist_ok=True)
    req = urllib.request.Request(url, headers={"User-Agent": "facecore-build-dataset"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            data = r.read(max_bytes + 1)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise OSError(f"download failed: {reason}") from None
    if len(data) > max_bytes:
        raise OSError(f"download failed: larger than {max_bytes} bytes")
    tmp = dest.with_suffix(dest.suffix + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, dest)
    return dest


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks (exact-duplicate detection)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def dhash(image: np.ndarray) -> int:
    """64-bit difference hash of an image (grey 9x8, horizontal gradient signs)."""
    g = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    small = cv2.resize(g, (9, 8), interpolation=cv2.INTER_AREA).astype(np.int16)
    bits = (small[:, 1:] > small[:, :-1]).ravel()
    return int(np.packbits(bits).view(">u8")[0])


def hamming(a: int, b: int) -> int:
    """Number of differing bits between two integer hashes (near-duplicate distance).

    Examples
    --------
    >>> hamming(0b1011, 0b0001)
    2
    """
    return int((int(a) ^ int(b)).bit_count())


class NearDuplicateIndex:
    """Finds an earlier 64-bit hash within ``max_bits`` Hamming distance.

    The hash is cut into ``max_bits + 1`` bands; two hashes that differ in at most
    ``max_bits`` bits agree exactly on at least one band (pigeonhole), so a lookup only
    compares with the hashes that share a band.
    """

    def __init__(self, max_bits: int) -> None:
        self.max_bits = int(max_bits)
        nb = self.max_bits + 1
        edges = np.linspace(0, 64, nb + 1).astype(int)
        self._bands = [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]
        self._tables: list[dict[int, list[tuple[int, str]]]] = [{} for _ in self._bands]

    def _keys(self, h: int) -> list[int]:
        return [(h >> a) & ((1 << (b - a)) - 1) for a, b in self._bands]

    def find(self, h: int) -> str | None:
        """The id of an earlier hash within ``max_bits``, or None."""
        if self.max_bits < 0:
            return None
        for t, key in zip(self._tables, self._keys(h)):
            for other, ident in t.get(key, ()):
                if hamming(h, other) <= self.max_bits:
                    return ident
        return None

    def add(self, h: int, ident: str) -> None:
        if self.max_bits < 0:
            return
        for t, key in zip(self._tables, self._keys(h)):
            t.setdefault(key, []).append((h, ident))


def iter_video_frames(
    path: str, *, fps: float, dup_bits: int
) -> Iterator[tuple[int, np.ndarray, int, bool]]:
    """``(frame_index, frame, dhash, is_near_duplicate)`` at about ``fps`` frames per second.

    A sampled frame within ``dup_bits`` of the last kept frame's hash is a near duplicate.

    Raises
    ------
    ValueError
        If the file cannot be opened as a video.
    """
    cap = cv2.VideoCapture(path)
    try:
        if not cap.isOpened():
            raise ValueError(f"{path} cannot be opened as a video")
        native = cap.get(cv2.CAP_PROP_FPS)
        native = native if native and np.isfinite(native) and native > 0 else 25.0
        every = max(1, round(native / fps))
        last: int | None = None
        i = 0
        got_any = False
        while True:
            if i % every == 0:
                ok, frame = cap.read()
                if not ok:
                    break
                got_any = True
                h = dhash(frame)
                dup = last is not None and hamming(h, last) <= dup_bits
                if not dup:
                    last = h
                yield i, frame, h, dup
            elif not cap.grab():
                break
            i += 1
        if not got_any:
            raise ValueError(f"{path} has no readable frames")
    finally:
        cap.release()
