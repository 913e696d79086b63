"""CPU cost per face of the hair models on the ``facecore recolor`` path, one thread.

    python -m training.hair.speed dense parsing

For each model and photo (``photos/single_04``, ``single_03``, ``pair_01``): the model on every
face's person region (``HairRecolor.crop_probability``), process CPU time, best of 3, per
face; and one whole ``HairRecolor.probability`` (detection, regions, gates, paste-back). CPU
time, not wall time: on a loaded machine the wall time is the CPU time times the load.
"""

from __future__ import annotations

import argparse
import os
import time

from .data import data_root

PHOTOS = ("single_04", "single_03", "pair_01")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="+", help="dense, parsing, patch or ONNX paths")
    args = ap.parse_args(argv)

    import facecore as fc
    from facecore.hair import HairRecolor

    fc.set_num_threads(1)
    photos = data_root().parent / "photos"
    for model in args.models:
        hr = HairRecolor(model, threads=1)
        for name in PHOTOS:
            img = fc.read_image(photos / f"{name}.jpg")
            mats = hr.matrices(img)
            hr.probability(img)  # warm-up
            cpu = []
            for _ in range(3):
                t0 = time.process_time()
                hr.crop_probability(img, mats, hr.region_shape)
                cpu.append(time.process_time() - t0)
            t0 = time.process_time()
            hr.probability(img)
            full = time.process_time() - t0
            print(
                f"{model} {name} {img.shape[1]}x{img.shape[0]} faces {len(mats)}: "
                f"model {1000 * min(cpu) / max(len(mats), 1):.0f} CPU ms per face; "
                f"probability() {1000 * full:.0f} CPU ms",
                flush=True,
            )
    print("load average", [round(v, 1) for v in os.getloadavg()])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
