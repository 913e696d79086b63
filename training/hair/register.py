"""Install exported hair models as facecore package data and record them in the zoo manifest.

    python -m training.hair.register --dense /tmp/hair_dense/hair_dense.onnx --patch /tmp/hair_patch/hair_patch.onnx

Copies each file to ``python/facecore/models/data/<name>.onnx`` and writes its sha256 and size
into ``python/facecore/models/manifest.json`` (other entries untouched, file layout kept).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "python" / "facecore" / "models" / "data"
MANIFEST = REPO / "python" / "facecore" / "models" / "manifest.json"


def register(name: str, src: Path) -> dict:
    DATA.mkdir(parents=True, exist_ok=True)
    dst = DATA / f"{name}.onnx"
    if src.resolve() != dst.resolve():
        shutil.copyfile(src, dst)
    raw = dst.read_bytes()
    sha, size = hashlib.sha256(raw).hexdigest(), len(raw)
    text = MANIFEST.read_text(encoding="utf-8")
    pat = re.compile(rf'("{name}": \{{\s*"file": "{name}\.onnx",\s*"sha256": ")[0-9a-f]{{64}}(",\s*"bytes": )\d+')
    text, n = pat.subn(rf"\g<1>{sha}\g<2>{size}", text)
    if n != 1:
        raise SystemExit(f"manifest.json has no entry for {name}")
    json.loads(text)
    MANIFEST.write_text(text, encoding="utf-8")
    return {"name": name, "file": str(dst), "sha256": sha, "bytes": size}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dense", type=Path)
    ap.add_argument("--patch", type=Path)
    args = ap.parse_args(argv)
    for name, p in (("hair_dense", args.dense), ("hair_patch", args.patch)):
        if p is not None:
            print(register(name, p))


if __name__ == "__main__":
    main()
