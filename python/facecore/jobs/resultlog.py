"""An append-only JSON Lines results file that a killed batch job resumes from.

``facecore analyze --jsonl OUT.jsonl`` writes one line per analysed image or video frame as it
finishes, and one ``{"done": path}`` line when an input is complete. Each line is flushed and
fsync'ed before the next input starts, so everything reported done survives a kill (SIGKILL,
power loss after the sync). On a rerun with the same file, inputs with a ``done`` line are
skipped; lines of an input that was cut off half-way (a video) and a torn last line are
dropped, and that input is analysed again from its start.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, TextIO

__all__ = ["ResultLog"]


class ResultLog:
    """Resumable JSON Lines log of per-input results.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.jsonl`` file; created (with its parent folders) if absent.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "r.jsonl"
    >>> with ResultLog(p) as log:
    ...     log.write({"path": "a.jpg", "faces": []})
    ...     log.mark_done("a.jpg")
    >>> ResultLog(p).done
    {'a.jpg'}
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        if not isinstance(path, (str, os.PathLike)) or isinstance(path, bytes):
            raise TypeError(f"path: expected str or os.PathLike; got {type(path).__name__}")
        self.path = Path(path)
        if self.path.exists() and not self.path.is_file():
            raise ValueError(f"path: {self.path} exists and is not a file")
        self.done: set[str] = set()
        self.kept = 0  # result lines carried over from an earlier run
        self._fh: TextIO | None = None
        self._recover()

    def _recover(self) -> None:
        """Keep the lines of completed inputs; drop a torn tail and half-finished inputs."""
        if not self.path.exists():
            return
        records: list[dict[str, Any]] = []
        with self.path.open("r", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if not line.endswith("\n"):
                    break  # torn last line: the process died while writing it
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    break
                if isinstance(rec, dict):
                    records.append(rec)
        self.done = {r["done"] for r in records if isinstance(r.get("done"), str)}
        kept = [r for r in records if r.get("done") in self.done or r.get("path") in self.done]
        self.kept = sum(1 for r in kept if "done" not in r)
        if len(kept) != len(records) or self.path.stat().st_size != sum(
            len(json.dumps(r)) + 1 for r in kept
        ):
            # rewrite only what is complete, atomically (a kill here leaves the old file intact)
            tmp = self.path.with_name(self.path.name + ".tmp")
            with tmp.open("w", encoding="utf-8") as fh:
                for r in kept:
                    fh.write(json.dumps(r) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)

    def records(self) -> list[dict[str, Any]]:
        """Every result line (not the ``done`` markers) now in the file."""
        if not self.path.exists():
            return []
        with self.path.open("r", encoding="utf-8") as fh:
            return [r for r in (json.loads(x) for x in fh if x.strip()) if "done" not in r]

    def _open(self):
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self.path.open("a", encoding="utf-8")
        return self._fh

    def write(self, record: dict[str, Any]) -> None:
        """Append one result line (buffered until :meth:`mark_done`)."""
        self._open().write(json.dumps(record) + "\n")

    def mark_done(self, path: str) -> None:
        """Record that ``path`` is complete, and make its lines durable before going on."""
        fh = self._open()
        fh.write(json.dumps({"done": path}) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
        self.done.add(path)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> ResultLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
