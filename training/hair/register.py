"""Install exported hair models as facecore package data and record them in the zoo manifest.

    python -m training.hair.register --dense /tmp/hair_dense/hair_dense.onnx --patch /tmp/hair_patch/hair_patch.onnx

Copies each file to ``python/facecore/models/data/<name>.onnx`` and writes its sha256 and size
into ``python/facecore/models/manifest.json`` (other entries untouched, file layout kept).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from training.zoo_register import register


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
