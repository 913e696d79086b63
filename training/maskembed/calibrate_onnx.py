"""glint24 masked verification of an exported tail file, and its per-pair-type thresholds.

    python -m training.maskembed.calibrate_onnx [--onnx python/facecore/models/data/sface_mask.onnx]

No torch: the tail file runs on onnxruntime over the cached ``conv_13_relu`` features of
glint24's masked crops (``glint_features.npz`` of ``training.maskembed.evaluate``); unmasked
crops keep SFace's embedding (what ``facecore.verify`` does). Prints the rows of
``evaluate`` (all identities: FAR 1e-3 / 1e-4 thresholds and TAR with intervals; the split:
thresholds on the 12 dev identities, TAR on the 12 test identities) and the paired gain over
SFace. The split's dev thresholds are ``facecore.verify.MASK_ROBUST_THRESHOLDS``.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
import onnx

from . import evaluate as E

REPO = Path(__file__).resolve().parents[2]
SFACE_FILE = "face_recognition_sface_2021dec_int8bq.onnx"


def tail_embeddings(tail: onnx.ModelProto, sface: onnx.ModelProto, feats: np.ndarray):
    """Raw (N, 128) outputs of the tail file on (N, 1024, 7, 7) features, in batches of 64."""
    import onnxruntime as ort
    from onnx import numpy_helper

    s = ort.InferenceSession(tail.SerializeToString(), providers=["CPUExecutionProvider"])
    feed = {}
    if any(i.name == "sface_pre_fc1_weight" for i in s.get_inputs()):
        g = next(n for n in sface.graph.node if n.op_type == "Gemm")
        w = next(i for i in sface.graph.initializer if i.name == g.input[1])
        feed["sface_pre_fc1_weight"] = numpy_helper.to_array(w)
    out = []
    for i in range(0, len(feats), 64):
        feed["conv_13_relu"] = feats[i : i + 64].astype(np.float32)
        out.append(s.run(["fc1"], feed)[0])
    return np.concatenate(out)


def main(argv=None) -> int:
    from facecore.models.embedder import repair_sface

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--onnx", default=str(REPO / "python/facecore/models/data/sface_mask.onnx"))
    ap.add_argument("--cache", default="/work/cache/maskembed")
    ap.add_argument("--data", default=os.environ.get("FACECORE_DATA_DIR"))
    ap.add_argument("--models", default=os.environ.get("FACECORE_MODEL_DIR"))
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    data = Path(args.data or REPO.parent / "shared" / "data")
    models = Path(args.models or REPO.parent / "shared" / "models")
    y, _fu, fm, eu, em = E.glint_features(Path(args.cache), data, models)
    sface = repair_sface(onnx.load(str(models / SFACE_FILE)))
    ev = E.eval_module()
    tu, tm = E.l2n(eu), E.l2n(em)
    base = E.sims_of(tu, tm)
    sm = E.l2n(tail_embeddings(onnx.load(args.onnx), sface, fm))
    sims = E.sims_of(tu, sm)
    res = E.score(ev, sims, y)
    res["gain_over_sface"] = E.paired_gain(ev, base, sims, y)
    E.report("tail_masked_only", res)
    print(res["gain_over_sface"])
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1, default=float) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
