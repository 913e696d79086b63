"""Export the student's tail as ONNX with our own code (no ``torch.onnx``).

    python -m training.maskembed.export [--ckpt /work/cache/maskembed/student_tail.pt]
        [--out /work/cache/maskembed/sface_mask.onnx] [--rank 0]

The tail graph is SFace's own: the nodes from ``conv_13_relu`` to ``fc1`` copied from the
repaired SFace graph, with the trained initialisers in place of SFace's. Input
``conv_13_relu`` (N, 1024, 7, 7) float32, output ``fc1`` (N, 128) float32 (raw, as SFace's).
Convolution and fully connected weights are stored int8 with one float scale per output
channel (symmetric, ``DequantizeLinear`` with ``axis=0``: the format SFace itself ships in and
:func:`facecore.models.repair.fold_dequantize` folds at load); everything else float32.

``--rank R`` (R > 0): the fully connected weight is stored as SFace's weight plus a rank-R
correction ``U V`` (truncated SVD of the trained change); the graph then reads SFace's weight
through a second input ``sface_pre_fc1_weight`` (128, 50176), to be wired to SFace's own
initialiser when the tail is grafted onto SFace (:func:`run_tail` feeds it). This makes the
file small (rank 64: 4.4 MB instead of 7.6 MB).

``main`` compares onnxruntime on the export with the torch student on real glint24 features
(``tests/test_training_maskembed.py`` does the same on a perturbed student).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .model import OUTPUT, TAIL_START, sface_proto, tail_nodes

OPSET = 13
SFACE_FC_INPUT = "sface_pre_fc1_weight"


def _quantize(name: str, w: np.ndarray):
    """int8 per-output-channel (axis 0) weight, its scale and the DequantizeLinear node."""
    flat = w.reshape(w.shape[0], -1)
    scale = np.abs(flat).max(axis=1) / 127.0
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    q = np.clip(np.round(flat / scale[:, None]), -127, 127).astype(np.int8).reshape(w.shape)
    inits = [
        numpy_helper.from_array(q, f"{name}_quantized"),
        numpy_helper.from_array(scale, f"{name}_scale"),
        numpy_helper.from_array(np.zeros_like(scale, dtype=np.int8), f"{name}_zero_point"),
    ]
    node = helper.make_node(
        "DequantizeLinear",
        [f"{name}_quantized", f"{name}_scale", f"{name}_zero_point"],
        [name],
        axis=0,
        name=f"{name}_dequantize",
    )
    return inits, node


def build_tail(m: onnx.ModelProto, trained: dict[str, np.ndarray], *, rank: int = 0):
    """The tail ModelProto with ``trained`` initialisers (by SFace's names)."""
    nodes = [onnx.NodeProto() for _ in range(0)]
    src_nodes = tail_nodes(m, TAIL_START)
    used = {i for n in src_nodes for i in n.input}
    orig = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer if i.name in used}
    gemm = next(n for n in src_nodes if n.op_type == "Gemm")
    # convolution weights reach their Conv through a Reshape: quantise every large matrix
    weights = {k for k, v in orig.items() if v.ndim >= 2 and v.size >= 4096}
    inits: list[onnx.TensorProto] = []
    deq: list[onnx.NodeProto] = []
    extra_inputs = []
    for name, arr in orig.items():
        arr = trained.get(name, arr)
        if name == gemm.input[1] and rank > 0:
            continue
        if name in weights and arr.dtype == np.float32:
            qi, node = _quantize(name, arr)
            inits += qi
            deq.append(node)
        else:
            inits.append(numpy_helper.from_array(np.asarray(arr), name))
    body = [onnx.NodeProto() for _ in range(0)]
    for n in src_nodes:
        c = onnx.NodeProto()
        c.CopyFrom(n)
        body.append(c)
    if rank > 0:
        w0 = orig[gemm.input[1]].astype(np.float64)
        d = trained[gemm.input[1]].astype(np.float64) - w0
        u, s, vt = np.linalg.svd(d, full_matrices=False)
        us = (u[:, :rank] * s[:rank]).astype(np.float32)  # (128, r)
        v = vt[:rank].astype(np.float32)  # (r, 50176)
        for nm, arr in (("fc_delta_u", us), ("fc_delta_v", v)):
            qi, node = _quantize(nm, arr)
            inits += qi
            deq.append(node)
        extra_inputs.append(
            helper.make_tensor_value_info(SFACE_FC_INPUT, TensorProto.FLOAT, list(w0.shape))
        )
        x, bias, out = gemm.input[0], gemm.input[2], gemm.output[0]
        i = next(k for k, n in enumerate(body) if n.op_type == "Gemm")
        body[i : i + 1] = [
            helper.make_node("Gemm", [x, SFACE_FC_INPUT, bias], [out + "_sface"], transB=1),
            helper.make_node("Gemm", [x, "fc_delta_v"], [out + "_h"], transB=1),
            helper.make_node("Gemm", [out + "_h", "fc_delta_u"], [out + "_d"], transB=1),
            helper.make_node("Add", [out + "_sface", out + "_d"], [out]),
        ]
    del nodes
    g = helper.make_graph(
        deq + body,
        "sface_mask_tail",
        [helper.make_tensor_value_info(TAIL_START, TensorProto.FLOAT, ["batch", 1024, 7, 7])]
        + extra_inputs,
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["batch", 128])],
        inits,
    )
    model = helper.make_model(
        g,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="facecore training.maskembed.export",
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def run_tail(model: onnx.ModelProto, feats: np.ndarray, sface: onnx.ModelProto | None = None):
    """onnxruntime on the exported tail (SFace's fc weight fed when the graph reads it)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    feed = {TAIL_START: feats.astype(np.float32)}
    if any(i.name == SFACE_FC_INPUT for i in sess.get_inputs()):
        gemm = next(n for n in sface.graph.node if n.op_type == "Gemm")
        w = next(i for i in sface.graph.initializer if i.name == gemm.input[1])
        feed[SFACE_FC_INPUT] = numpy_helper.to_array(w)
    return sess.run([OUTPUT], feed)[0]


def main(argv=None) -> int:
    import torch

    from .model import Student

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ckpt", default="/work/cache/maskembed/student_tail.pt")
    ap.add_argument("--models", default=os.environ.get("FACECORE_MODEL_DIR"))
    ap.add_argument("--out", default="/work/cache/maskembed/sface_mask.onnx")
    ap.add_argument("--rank", type=int, default=0)
    ap.add_argument("--cache", default="/work/cache/maskembed")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    models = Path(args.models or Path(__file__).resolve().parents[3] / "shared" / "models")
    m = sface_proto(models)
    ck = torch.load(args.ckpt, weights_only=False)
    st = Student(m, ck["args"]["which"])
    st.load_state_dict(ck["model"])
    st.eval()
    tail = build_tail(m, st.state_arrays(), rank=args.rank)
    onnx.save(tail, args.out)
    feats = np.load(Path(args.cache) / "glint_features.npz")["feat_m"][:64].astype(np.float32)
    got = run_tail(tail, feats, m)
    with torch.no_grad():
        ref = st(torch.from_numpy(feats)).numpy()
    c = (got * ref).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(ref, axis=1)
    print(f"{args.out}: {os.path.getsize(args.out)} bytes; cos(onnx, torch) min {c.min():.5f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
