"""Install a model trained in ``training/`` as facecore package data and record it in the zoo.

Shared by ``training/{hair,restore,agegender}/register.py``: copies the ONNX file to
``python/facecore/models/data/<name>.onnx`` and writes its sha256 and size into
``python/facecore/models/manifest.json``. The entry is updated in place when present, else
appended from ``entry`` (other entries and the file's layout untouched); the result must still
parse as JSON.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "python" / "facecore" / "models" / "data"
MANIFEST = REPO / "python" / "facecore" / "models" / "manifest.json"


def _entry_text(name: str, fields: dict[str, Any]) -> str:
    lines = [f'    "{k}": {json.dumps(v, separators=(", ", ": "))}' for k, v in fields.items()]
    return f'  "{name}": ' + "{\n" + ",\n".join(lines) + "\n  }"


def register(name: str, src: Path, entry: dict[str, Any] | None = None) -> dict:
    """Copy ``src`` to the package data as ``<name>.onnx`` and record its sha256 and size.

    ``entry``: the manifest fields other than ``file``, ``sha256`` and ``bytes``, used when the
    manifest has no entry ``name`` yet (without it, a missing entry is an error).
    """
    DATA.mkdir(parents=True, exist_ok=True)
    dst = DATA / f"{name}.onnx"
    if Path(src).resolve() != dst.resolve():
        shutil.copyfile(src, dst)
    raw = dst.read_bytes()
    sha, size = hashlib.sha256(raw).hexdigest(), len(raw)
    text = MANIFEST.read_text(encoding="utf-8")
    pat = re.compile(
        rf'("{name}": \{{\s*"file": "{name}\.onnx",\s*"sha256": ")[0-9a-f]{{64}}(",\s*"bytes": )\d+'
    )
    text, n = pat.subn(rf"\g<1>{sha}\g<2>{size}", text)
    if n == 0:
        if entry is None:
            raise SystemExit(f"manifest.json has no entry for {name}")
        text = text.rstrip()
        if not text.endswith("}"):
            raise SystemExit("manifest.json does not end with '}'")
        fields = {"file": f"{name}.onnx", "sha256": sha, "bytes": size, **entry}
        text = text[:-1].rstrip() + ",\n" + _entry_text(name, fields) + "\n}\n"
    json.loads(text)
    MANIFEST.write_text(text, encoding="utf-8")
    return {"name": name, "file": str(dst), "sha256": sha, "bytes": size}


def main(name: str, entry: dict[str, Any], doc: str | None, argv=None) -> None:
    """The command line of a one-model register script (``python -m training.X.register ONNX``)."""
    ap = argparse.ArgumentParser(description=doc)
    ap.add_argument("onnx", type=Path)
    print(register(name, ap.parse_args(argv).onnx, entry))
