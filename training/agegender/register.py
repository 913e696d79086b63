"""Install the exported age/gender model as facecore package data and record it in the zoo manifest.

    python -m training.agegender.register /work/cache/agegender/agegender.onnx

Copies the file to ``python/facecore/models/data/agegender.onnx`` and writes its sha256 and
size into ``python/facecore/models/manifest.json``: the ``agegender`` entry is updated in
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
NAME = "agegender"


def entry(sha: str, size: int) -> str:
    e = {
        "file": f"{NAME}.onnx",
        "sha256": sha,
        "bytes": size,
        "kind": "agegender",
        "task": "age (distribution over 0..120 years: mean and uncertainty) and gender (calibrated P(male)) of a 64x64 "
                "dlib-style chip, one graph (dlib's age ResNet fine-tuned by facecore with new heads)",
        "licence": "non-commercial research (trained on UTKFace; starts from dlib dnn_age_predictor_v1, CC0-1.0)",
        "source": "facecore training/agegender (see docs/models/agegender.md)",
        "packages": [],
        "input": {"shape": [64, 64], "mean": [122.781998, 117.000999, 104.297997], "std": [256, 256, 256], "color": "rgb",
                  "layout": "NCHW"},
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
