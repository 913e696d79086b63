"""Install the exported mask-robust SFace tail as facecore package data and record it in the zoo.

    python -m training.maskembed.register /work/cache/maskembed/sface_mask_r64.onnx

Copies the file (the int8 rank-64 export of ``training.maskembed.export --rank 64``) to
``python/facecore/models/data/sface_mask.onnx`` and writes its sha256 and size into
``python/facecore/models/manifest.json``: the ``sface_mask`` entry is updated in place when
present, else appended (other entries and the file's layout untouched). See
docs/models/sface_mask.md.
"""

from __future__ import annotations

from pathlib import Path

from training import zoo_register

NAME = "sface_mask"


ENTRY = {
    "kind": "embedder_tail",
    "task": "mask-robust 128-d identity embedding: a distilled copy of SFace 2021dec's last block "
    "and fully connected layer (rank-64 change of its weight, int8), grafted onto SFace's "
    "conv_13_relu features (input (N, 1024, 7, 7) + SFace's fc weight -> fc1 (N, 128))",
    "licence": "non-commercial research (trained on UTKFace, LFW, CelebAMask-HQ)",
    "source": "facecore training/maskembed (see docs/models/sface_mask.md)",
    "packages": [],
    "input": {
        "shape": [112, 112],
        "mean": [0, 0, 0],
        "std": [1, 1, 1],
        "color": "rgb",
        "layout": "NCHW",
    },
    "repairs": ["fold_dequantize"],
}


def register(src: Path) -> dict:
    return zoo_register.register(NAME, src, ENTRY)


def main(argv=None):
    zoo_register.main(NAME, ENTRY, __doc__, argv)


if __name__ == "__main__":
    main()
