"""On-disk store of detected faces and their embeddings, keyed by file content.

One SQLite file (``<out>/.facecore/store.sqlite``, WAL journal). An *item* is one image
(key: the SHA-256 of its bytes) or one sampled video frame (key: ``<sha256>:<frame>``);
its faces (box, landmarks, pose, quality, 128-d embedding, aligned 112x112 chip as JPEG)
are written with the item row in one transaction, so an interrupted run leaves only
whole items behind and a re-run embeds only the items it does not find. Rows are also
keyed by ``config`` (the detector settings), so changing them never reuses stale faces.
Quality thresholds are applied after the store, so changing them re-embeds nothing.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["EmbeddingStore", "StoredFace"]

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    key TEXT NOT NULL, config TEXT NOT NULL, width INTEGER, height INTEGER,
    dhash INTEGER, n_faces INTEGER NOT NULL, PRIMARY KEY (key, config));
CREATE TABLE IF NOT EXISTS faces (
    key TEXT NOT NULL, config TEXT NOT NULL, idx INTEGER NOT NULL, record TEXT NOT NULL,
    embedding BLOB NOT NULL, chip BLOB NOT NULL, PRIMARY KEY (key, config, idx));
"""
_VERSION = "1"


@dataclass(frozen=True, slots=True)
class StoredFace:
    """One face as stored: ``record`` is ``Face.to_dict(embedding=False)``."""

    record: dict[str, Any]
    embedding: np.ndarray
    chip: bytes


class EmbeddingStore:
    """SQLite store of faces per content-hashed item (see the module docstring).

    Parameters
    ----------
    path : str or os.PathLike
        The database file (created with its folder).
    config : str
        Settings key; rows written under another config are ignored.
    """

    def __init__(self, path: str | os.PathLike[str], *, config: str) -> None:
        if not isinstance(config, str) or not config:
            raise ValueError(f"config: expected a non-empty str; got {config!r}")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.config = config
        self._db = sqlite3.connect(os.fspath(self.path), timeout=30.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        cur = self._db.execute("SELECT value FROM meta WHERE key='version'").fetchone()
        if cur is None:
            with self._db:
                self._db.execute("INSERT INTO meta VALUES ('version', ?)", (_VERSION,))
        elif cur[0] != _VERSION:
            raise ValueError(
                f"path: {self.path} is a store of version {cur[0]}; this facecore writes {_VERSION}"
            )

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> EmbeddingStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return int(
            self._db.execute(
                "SELECT COUNT(*) FROM items WHERE config=?", (self.config,)
            ).fetchone()[0]
        )

    def keys(self) -> list[str]:
        """Keys of every item stored under this config."""
        return [
            r[0] for r in self._db.execute("SELECT key FROM items WHERE config=?", (self.config,))
        ]

    def get(self, key: str) -> tuple[dict[str, Any], list[StoredFace]] | None:
        """``(item, faces)`` for a stored item, or None."""
        row = self._db.execute(
            "SELECT width, height, dhash, n_faces FROM items WHERE key=? AND config=?",
            (key, self.config),
        ).fetchone()
        if row is None:
            return None
        item = {"width": row[0], "height": row[1], "dhash": row[2], "n_faces": row[3]}
        faces = [
            StoredFace(json.loads(rec), np.frombuffer(emb, np.float32).copy(), bytes(chip))
            for rec, emb, chip in self._db.execute(
                "SELECT record, embedding, chip FROM faces WHERE key=? AND config=? ORDER BY idx",
                (key, self.config),
            )
        ]
        if len(faces) != row[3]:  # cannot happen with whole-item transactions; be safe
            return None
        return item, faces

    def put(
        self, key: str, *, width: int, height: int, dhash: int, faces: list[StoredFace]
    ) -> None:
        """Write one item and all its faces in one transaction (replacing any earlier one)."""
        with self._db:
            self._db.execute("DELETE FROM faces WHERE key=? AND config=?", (key, self.config))
            self._db.execute(
                "INSERT OR REPLACE INTO items VALUES (?, ?, ?, ?, ?, ?)",
                (key, self.config, int(width), int(height), _signed(dhash), len(faces)),
            )
            self._db.executemany(
                "INSERT INTO faces VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        key,
                        self.config,
                        i,
                        json.dumps(f.record),
                        np.asarray(f.embedding, np.float32).tobytes(),
                        f.chip,
                    )
                    for i, f in enumerate(faces)
                ],
            )


def _signed(h: int) -> int:
    """64-bit unsigned hash as SQLite's signed INTEGER."""
    h = int(h) & 0xFFFFFFFFFFFFFFFF
    return h - (1 << 64) if h >= (1 << 63) else h
