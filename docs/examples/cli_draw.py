"""The CLI's example output in docs/images: ``facecore analyze --draw`` on group_07.jpg and on
a 640-px video frame, exactly as the command writes them.

The frame comes from a short MJPG clip made of ``group_05.jpg`` scaled to 640x480 (the data
has no video), read back through the CLI's video path. Run from the repository root with
``$FACECORE_DATA_DIR`` (or ../shared/data) and the models available::

    python docs/examples/cli_draw.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2

REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("FACECORE_DATA_DIR") or REPO.parent / "shared" / "data")


def main() -> None:
    photos = DATA / "photos"
    out = REPO / "docs" / "images"
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        frame = cv2.resize(
            cv2.imread(str(photos / "group_05.jpg")), (640, 480), interpolation=cv2.INTER_AREA
        )
        vw = cv2.VideoWriter(str(t / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 5, (640, 480))
        for _ in range(3):
            vw.write(frame)
        vw.release()
        draw = t / "drawn"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "facecore",
                "analyze",
                str(photos / "group_07.jpg"),
                str(t / "clip.avi"),
                "--draw",
                str(draw),
                "--every",
                "10",
                "--no-embedding",
                "-q",
            ],
            check=True,
        )
        shutil.copy(draw / "group_07.jpg", out / "cli_draw_group_07.jpg")
        shutil.copy(draw / "clip_f000000.jpg", out / "cli_draw_frame_640.jpg")
    print("wrote", out / "cli_draw_group_07.jpg", "and", out / "cli_draw_frame_640.jpg")


if __name__ == "__main__":
    main()
