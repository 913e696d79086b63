"""Install the exported restorer as facecore package data and record it in the zoo manifest.

    python -m training.restore.register /tmp/restore_unet2/restore_unet.onnx

Copies the file to ``python/facecore/models/data/restore_unet.onnx`` and writes its sha256 and
size into ``python/facecore/models/manifest.json``: the ``restore_unet`` entry is updated in
place when present, else appended (other entries and the file's layout untouched).
"""

from __future__ import annotations

from pathlib import Path

from training import zoo_register

NAME = "restore_unet"


ENTRY = {
    "kind": "restore",
    "task": "face inpainting of a 128x128 aligned chip, LaMa-style (image RGB [0,1], mask 1 = hole) -> RGB [0,1] "
    "(gated-conv U-Net trained by facecore)",
    "licence": "non-commercial research (trained on UTKFace)",
    "source": "facecore training/restore (see docs/models/restore.md)",
    "packages": [],
    "input": {
        "shape": [128, 128],
        "mean": [0, 0, 0],
        "std": [255, 255, 255],
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
