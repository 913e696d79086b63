"""Install the exported age/gender model as facecore package data and record it in the zoo manifest.

    python -m training.agegender.register /work/cache/agegender/agegender.onnx

Copies the file to ``python/facecore/models/data/agegender.onnx`` and writes its sha256 and
size into ``python/facecore/models/manifest.json``: the ``agegender`` entry is updated in
place when present, else appended (other entries and the file's layout untouched).
"""

from __future__ import annotations

from pathlib import Path

from training import zoo_register

NAME = "agegender"


ENTRY = {
    "kind": "agegender",
    "task": "age (distribution over 0..120 years: mean and uncertainty) and gender (calibrated P(male)) of a 64x64 "
    "dlib-style chip, one graph (dlib's age ResNet fine-tuned by facecore with new heads)",
    "licence": "non-commercial research (trained on UTKFace; starts from dlib dnn_age_predictor_v1, CC0-1.0)",
    "source": "facecore training/agegender (see docs/models/agegender.md)",
    "packages": [],
    "input": {
        "shape": [64, 64],
        "mean": [122.781998, 117.000999, 104.297997],
        "std": [256, 256, 256],
        "color": "rgb",
        "layout": "NCHW",
    },
    "repairs": [],
}


def register(src: Path) -> dict:
    return zoo_register.register(NAME, src, ENTRY)


def main(argv=None):
    zoo_register.main(NAME, ENTRY, __doc__, argv)


if __name__ == "__main__":
    main()
