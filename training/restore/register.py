"""Install the exported restorer as facecore package data and record it in the zoo manifest.

    python -m training.restore.register /tmp/restore_unet2/restore_unet.onnx

Copies the file to ``python/facecore/models/data/restore_unet.onnx`` and writes its sha256 and
size into ``python/facecore/models/manifest.json``: the ``restore_unet`` entry is updated in
place when present, else appended (other entries and the file's layout untouched).
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
NAME = "restore_unet"


def entry(sha: str, size: int) -> str:
    e = {
        "file": f"{NAME}.onnx",
        "sha256": sha,
        "bytes": size,
        "kind": "restore",
        "task": "face inpainting of a 128x128 aligned chip, LaMa-style (image RGB [0,1], mask 1 = hole) -> RGB [0,1] "
                "(gated-conv U-Net trained by facecore)",
        "licence": "non-commercial research (trained on UTKFace)",
        "source": "facecore training/restore (see docs/models/restore.md)",
        "packages": [],
        "input": {"shape": [128, 128], "mean": [0, 0, 0], "std": [255, 255, 255], "color": "rgb", "layout": "NCHW"},
        "repairs": [],
    }
    lines = [f'    "{k}": {json.dumps(v, separators=(", ", ": "))}' for k, v in e.items()]
    body = "{\n" + ",\n".join(lines) + "\n  }"
    return f'  "{NAME}": {body}'


def register(src: Path) -> dict:
    DATA.mkdir(parents=True, exist_ok=True)
    dst = DATA / f"{NAME}.onnx"
    if src.resolve() != dst.resolve():
        shutil.copyfile(src, dst)
    raw = dst.read_bytes()
    sha, size = hashlib.sha256(raw).hexdigest(), len(raw)
    text = MANIFEST.read_text(encoding="utf-8")
    pat = re.compile(rf'("{NAME}": \{{\s*"file": "{NAME}\.onnx",\s*"sha256": ")[0-9a-f]{{64}}(",\s*"bytes": )\d+')
    text, n = pat.subn(rf"\g<1>{sha}\g<2>{size}", text)
    if n == 0:
        text = text.rstrip()
        if not text.endswith("}"):
            raise SystemExit("manifest.json does not end with '}'")
        text = text[:-1].rstrip() + ",\n" + entry(sha, size) + "\n}\n"
    json.loads(text)
    MANIFEST.write_text(text, encoding="utf-8")
    return {"name": NAME, "file": str(dst), "sha256": sha, "bytes": size}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("onnx", type=Path)
    args = ap.parse_args(argv)
    print(register(args.onnx))


if __name__ == "__main__":
    main()
