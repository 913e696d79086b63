"""In-memory ONNX repairs, on tiny graphs built here (no model files needed)."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from facecore.models import repair


def _session(model: onnx.ModelProto) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.log_severity_level = 4
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def _dq_model(
    q: np.ndarray, scale: np.ndarray, zp: np.ndarray, *, axis: int, block_size: int
) -> onnx.ModelProto:
    """y = x + DequantizeLinear(q, scale, zp) with everything constant but x."""
    inits = [
        numpy_helper.from_array(q, "q"),
        numpy_helper.from_array(scale, "s"),
        numpy_helper.from_array(zp, "z"),
    ]
    attrs = {"axis": axis}
    if block_size:
        attrs["block_size"] = block_size
    nodes = [
        helper.make_node("DequantizeLinear", ["q", "s", "z"], ["w"], name="dq", **attrs),
        helper.make_node("Add", ["x", "w"], ["y"]),
    ]
    g = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(q.shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(q.shape))],
        inits,
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 21)])
    m.ir_version = 10
    return m


def test_fold_blocked_dequantize_matches_numpy():
    rng = np.random.default_rng(0)
    q = rng.integers(-128, 127, size=(4, 6), dtype=np.int8)
    scale = rng.uniform(0.01, 0.1, size=(4, 2)).astype(np.float32)
    zp = rng.integers(-3, 3, size=(4, 2), dtype=np.int8)
    m = _dq_model(q, scale, zp, axis=1, block_size=3)
    expected = (q.astype(np.float32) - np.repeat(zp, 3, axis=1)) * np.repeat(scale, 3, axis=1)
    x = rng.standard_normal((4, 6)).astype(np.float32)
    ref = _session(m).run(None, {"x": x})[0]  # onnxruntime runs this blocked case itself
    folded = repair.fold_dequantize(m)
    assert not [n for n in folded.graph.node if n.op_type == "DequantizeLinear"]
    got = _session(folded).run(None, {"x": x})[0]
    np.testing.assert_allclose(got, x + expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-6)


def test_one_element_scale_with_block_size_is_repaired():
    """The YuNet failure: a bias [64] with scale [1] and block_size=64 is rejected at run time
    ("block_size must be 0 for per-tensor quantization"); [1, 64] with scale [1, 1] is repaired too."""
    rng = np.random.default_rng(1)
    x = np.zeros(64, np.float32)
    q = rng.integers(-128, 127, size=(64,), dtype=np.int8)
    m = _dq_model(q, np.array([0.02], np.float32), np.array([1], np.int8), axis=0, block_size=64)
    with pytest.raises(Exception, match="block_size"):
        _session(m).run(None, {"x": x})
    expected = (q.astype(np.float32) - 1) * 0.02
    for fix in (repair.fold_dequantize, repair.scalarize_dequantize_scales):
        got = _session(fix(m)).run(None, {"x": x})[0]
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    m2 = _dq_model(
        q[None], np.array([[0.02]], np.float32), np.array([[1]], np.int8), axis=1, block_size=64
    )
    for fix in (repair.fold_dequantize, repair.scalarize_dequantize_scales):
        got = _session(fix(m2)).run(None, {"x": x[None]})[0]
        np.testing.assert_allclose(got, expected[None], rtol=0, atol=1e-6)


def test_fold_per_axis_and_per_tensor():
    q = np.arange(-6, 6, dtype=np.int8).reshape(3, 4)
    for scale, zp, axis, expected in [
        (
            np.array([0.5, 1.0, 2.0], np.float32),
            np.array([0, 1, 2], np.int8),
            0,
            (q.astype(np.float32) - [[0], [1], [2]]) * [[0.5], [1.0], [2.0]],
        ),
        (np.array(0.25, np.float32), np.array(3, np.int8), 1, (q.astype(np.float32) - 3) * 0.25),
    ]:
        m = _dq_model(q, scale, zp, axis=axis, block_size=0)
        got = _session(repair.fold_dequantize(m)).run(None, {"x": np.zeros((3, 4), np.float32)})[0]
        np.testing.assert_allclose(got, expected, atol=1e-6)


def _dangling_inputs_model() -> onnx.ModelProto:
    b = numpy_helper.from_array(np.array([1.0, 2.0], np.float32), "b")
    g = helper.make_graph(
        [helper.make_node("Add", ["x", "b"], ["y"])],
        "g",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [2]),
            helper.make_tensor_value_info("unread_weight", TensorProto.FLOAT, [3, 3]),
            helper.make_tensor_value_info("b", TensorProto.FLOAT, [2]),  # also an initializer
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
        [b],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def test_drop_unread_inputs():
    m = _dangling_inputs_model()
    with pytest.raises(Exception, match="unread_weight"):
        _session(m).run(None, {"x": np.zeros(2, np.float32)})
    fixed = repair.drop_unread_inputs(m)
    assert [i.name for i in fixed.graph.input] == ["x"]
    out = _session(fixed).run(None, {"x": np.array([1.0, 1.0], np.float32)})[0]
    np.testing.assert_array_equal(out, [2.0, 3.0])
    # keep the initializer input when asked, and for IR < 4 where it must be listed
    assert [i.name for i in repair.drop_unread_inputs(m, drop_initializers=False).graph.input] == [
        "x",
        "b",
    ]
    old = _dangling_inputs_model()
    old.ir_version = 3
    assert [i.name for i in repair.drop_unread_inputs(old).graph.input] == ["x", "b"]


def test_repairs_never_modify_their_input():
    m = _dangling_inputs_model()
    before = m.SerializeToString()
    repair.drop_unread_inputs(m)
    repair.fold_dequantize(m)
    repair.make_dims_symbolic(m, {"x": {0: "n"}})
    assert m.SerializeToString() == before


def test_make_dims_symbolic():
    g = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 4, 4])],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    x = -np.ones((2, 3, 8, 8), np.float32)
    with pytest.raises(Exception, match="dimensions|Got"):
        _session(m).run(None, {"x": x})
    r = repair.make_dims_symbolic(
        m, {"x": {0: "n", 2: "h", 3: "w"}}, all_outputs={0: "n", 2: "h", 3: "w"}
    )
    assert _session(r).run(None, {"x": x})[0].shape == (2, 3, 8, 8)
    with pytest.raises(ValueError, match="inputs"):
        repair.make_dims_symbolic(m, {"nope": {0: "n"}})
    with pytest.raises(ValueError, match="no dim 7"):
        repair.make_dims_symbolic(m, {"x": {7: "n"}})


def test_read_names_sees_subgraphs():
    then_g = helper.make_graph(
        [helper.make_node("Identity", ["a"], ["t"])],
        "then",
        [],
        [helper.make_tensor_value_info("t", TensorProto.FLOAT, [1])],
    )
    else_g = helper.make_graph(
        [helper.make_node("Identity", ["b"], ["e"])],
        "else",
        [],
        [helper.make_tensor_value_info("e", TensorProto.FLOAT, [1])],
    )
    g = helper.make_graph(
        [helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g)],
        "g",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1]) for n in ("a", "b")]
        + [helper.make_tensor_value_info("c", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    assert {"a", "b", "c"} <= repair.read_names(g)
