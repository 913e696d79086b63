"""training/expression: the exported ONNX graph equals the PyTorch model (skips without torch)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch is only in the training extra")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.expression.export import WithSoftmax, export  # noqa: E402
from training.expression.model import MEAN, STD, ExpressionNet  # noqa: E402
from training.expression.train import augment  # noqa: E402


def _faces(data_dir: Path, n: int = 16) -> np.ndarray:
    import cv2

    files = sorted((data_dir / "expression" / "fer2013_test" / "happy").glob("*.jpg"))[:n]
    if not files:
        pytest.skip("expression/fer2013_test absent")
    return np.stack([cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in files])


def test_onnx_export_matches_torch(tmp_path, data_dir):
    import onnxruntime as ort

    torch.manual_seed(0)
    net = ExpressionNet().eval()
    # non-trivial BatchNorm statistics, so folding them is exercised
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    err = export(net, tmp_path / "e.onnx")
    assert err < 1e-5
    x = ((_faces(data_dir).astype(np.float32) - MEAN) / STD)[:, None]
    s = ort.InferenceSession(str(tmp_path / "e.onnx"), providers=["CPUExecutionProvider"])
    got = s.run(None, {"input": x})[0]
    with torch.no_grad():
        ref = WithSoftmax(net)(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, ref, atol=1e-5)


def test_augment_changes_values_keeps_shape():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(8, 1, 48, 48)
    y = augment(x, g)
    assert y.shape == x.shape and torch.isfinite(y).all()
    assert not torch.allclose(x, y)
