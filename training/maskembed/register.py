"""Install the exported mask-robust tail as facecore package data and record it in the zoo.

    python -m training.maskembed.register /work/cache/maskembed/sface_mask.onnx

Copies the file to ``python/facecore/models/data/sface_mask.onnx`` and writes its sha256 and
size into ``python/facecore/models/manifest.json`` (the ``sface_mask`` entry updated in
place when present, else appended).
"""

from __future__ import annotations

from pathlib import Path

from training import zoo_register

NAME = "sface_mask"

ENTRY = {
    "kind": "embedder_tail",
    "task": "mask-robust 128-d identity embedding: a distilled copy of SFace 2021dec's last block "
    "and fully connected layer, read from SFace's conv_13_relu (N, 1024, 7, 7) and grafted onto "
    "SFace in memory by facecore.models.embedder.graft_mask_tail; int8 weights",
    "licence": "non-commercial research (distilled on UTKFace; starts from SFace 2021dec, Apache-2.0)",
    "source": "facecore training/maskembed (see docs/models/sface_mask.md)",
    "packages": [],
    "input": {"shape": None, "mean": [0, 0, 0], "std": [1, 1, 1], "color": "rgb", "layout": "NCHW"},
    "repairs": ["fold_dequantize"],
}


def register(src: Path) -> dict:
    return zoo_register.register(NAME, src, ENTRY)


def main(argv=None):
    zoo_register.main(NAME, ENTRY, __doc__, argv)


if __name__ == "__main__":
    main()
