"""training/maskembed: the torch student reproduces SFace, and the exported tail ONNX equals
the torch tail (skips without torch)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch is only in the training extra")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.maskembed.export import build_tail, run_tail  # noqa: E402
from training.maskembed.model import Student, full_torch, sface_proto  # noqa: E402
from training.maskembed.prepare import feature_session, run_features  # noqa: E402


@pytest.fixture(scope="module")
def sface(models_dir):
    if not (models_dir / "face_recognition_sface_2021dec_int8bq.onnx").is_file():
        pytest.skip("SFace absent from the model folder")
    return sface_proto(models_dir)


@pytest.fixture(scope="module")
def glint_chips(data_dir):
    import cv2

    root = data_dir / "identity" / "glint24"
    files = sorted(root.glob("*/*.jpg"))[::400][:4]
    if not files:
        pytest.skip("identity/glint24 absent")
    return np.stack([cv2.imread(str(p)) for p in files])


def _cos(a, b):
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_torch_sface_reproduces_onnxruntime(sface, models_dir, glint_chips):
    """The interpreted SFace (dequantised weights) against onnxruntime on real crops."""
    torch.set_num_threads(1)
    sess, inp = feature_session(models_dir)
    ref, _ = run_features(sess, inp, glint_chips)
    x = np.ascontiguousarray(glint_chips[..., ::-1].transpose(0, 3, 1, 2), dtype=np.float32)
    with torch.no_grad():
        got = full_torch(sface)(torch.from_numpy(x)).numpy()
    assert _cos(got, ref).min() > 0.9999


@pytest.mark.parametrize("rank", [0, pytest.param(8, marks=pytest.mark.slow)])
def test_export_matches_torch_tail(sface, models_dir, glint_chips, rank):
    """A perturbed student (as after training) exported by our own code, run by onnxruntime,
    against the torch tail on real conv_13 features; int8 weights cost < 1e-3 in cosine."""
    torch.manual_seed(0)
    st = Student(sface).eval()
    with torch.no_grad():
        for p in st.parameters():
            p.mul_(1 + 0.05 * torch.randn_like(p))
    sess, inp = feature_session(models_dir)
    _, feats = run_features(sess, inp, glint_chips)
    tail = build_tail(sface, st.state_arrays(), rank=rank)
    got = run_tail(tail, feats, sface)
    with torch.no_grad():
        ref = st(torch.from_numpy(feats)).numpy()
    if rank == 0:
        assert _cos(got, ref).min() > 0.999
    else:  # rank-8 correction of a full-rank perturbation: close to, not equal to, the student
        plain = run_tail(build_tail(sface, {}, rank=0), feats, sface)
        assert _cos(got, ref).min() > _cos(plain, ref).min()
