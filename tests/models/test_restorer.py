"""facecore.models.restorer: the inpainting adapter finds its inputs by name, owns its session,
and warps through the kernels (the whole path against OpenCV is in tests/test_occlusion.py)."""

from __future__ import annotations

import numpy as np
import pytest

from facecore.models.restorer import Restorer


def _graph(names=("image", "mask"), order=(0, 1), side=None, img_c=3, mask_c=1):
    """out = image * (1 - mask) + 0.25 * mask, inputs listed in ``order``."""
    from onnx import TensorProto, helper

    hw = [side, side] if side else ["h", "w"]
    vi = [
        helper.make_tensor_value_info(names[0], TensorProto.FLOAT, ["n", img_c, *hw]),
        helper.make_tensor_value_info(names[1], TensorProto.FLOAT, ["n", mask_c, *hw]),
    ]
    out = helper.make_tensor_value_info("out", TensorProto.FLOAT, ["n", 3, *hw])
    inits = [
        helper.make_tensor("one", TensorProto.FLOAT, [], [1.0]),
        helper.make_tensor("q", TensorProto.FLOAT, [], [0.25]),
    ]
    nodes = [
        helper.make_node("Sub", ["one", names[1]], ["keep"]),
        helper.make_node("Mul", [names[0], "keep"], ["kept"]),
        helper.make_node("Mul", [names[1], "q"], ["fill"]),
        helper.make_node("Add", ["kept", "fill"], ["out"]),
    ]
    g = helper.make_graph(nodes, "g", [vi[i] for i in order], [out], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m.SerializeToString()


def test_inputs_are_found_by_name_whatever_their_order():
    frame = np.full((40, 40, 3), 200, np.uint8)
    hole = np.zeros((40, 40), bool)
    hole[10:30, 10:30] = True
    m = np.array([[1.0, 0, 0], [0, 1.0, 0]])  # the chip is the frame itself
    for order in ((0, 1), (1, 0)):
        r = Restorer(_graph(order=order))
        assert r.side is None
        res = r.inpaint(frame, hole, m, 40)
        assert res.cover.all()
        inner = np.zeros_like(hole)
        inner[12:28, 12:28] = True
        assert (res.image[inner] == 64).all()  # 0.25 * 255, from the mask input
        assert (res.image[~hole & (np.arange(40)[:, None] < 8)] == 200).all()


def test_custom_names_and_static_side():
    r = Restorer(_graph(names=("img", "holes"), side=32), image_input="IMG", mask_input="holes")
    assert r.side == 32


@pytest.mark.parametrize(
    "kwargs, names",
    [({}, ("x", "y")), ({"image_input": "mask", "mask_input": "image"}, ("image", "mask"))],
)
def test_wrong_roles_are_refused_with_the_names(kwargs, names):
    with pytest.raises(ValueError, match=r"^model: .*\['"):
        Restorer(_graph(names=names), **kwargs)


def test_bad_role_name_type():
    with pytest.raises(TypeError, match="^image_input:"):
        Restorer(_graph(), image_input=3)  # type: ignore[arg-type]


def test_zoo_load_returns_the_adapter(models_dir, monkeypatch):
    import facecore.models as fm
    from facecore.errors import ModelNotFoundError

    monkeypatch.setenv("FACECORE_MODEL_DIR", str(models_dir))
    try:
        r = fm.load("restore_unet")
    except ModelNotFoundError:
        pytest.skip("restore_unet model not installed")
    assert isinstance(r, Restorer) and r.kind == "restore" and r.side is None
