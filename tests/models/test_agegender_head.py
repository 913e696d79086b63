"""training/agegender/head.py: the ``agegender_v2`` export (``agegender`` with an MLP head
over the same features, averaged) against the PyTorch head, on real chips.

The chips are cut with OpenCV from a NumPy least-squares similarity
(``test_agegender._reference_chips``), independent of facecore's warp kernel.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

HERE = Path(__file__).resolve().parent


def _reference_chips(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    spec = importlib.util.spec_from_file_location("_ag_v1_tests", HERE / "test_agegender.py")
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod._reference_chips(image, landmarks)


@pytest.mark.filterwarnings("ignore")
def test_onnx_export_matches_torch_head(model_dir, data_dir, tmp_path):
    """head.export on the packaged ``agegender.onnx`` with a seeded (untrained) MLP head:
    the exported graph vs the PyTorch MLP on the base graph's own features, averaged with
    the base outputs as the docstring of training/agegender/head.py says."""
    torch = pytest.importorskip("torch", reason="torch is a training extra")
    import onnx
    import onnxruntime as ort
    from onnx import helper

    import facecore.models as fm

    sys.path.insert(0, str(HERE.parents[1]))
    from training.agegender import head as H

    base = fm.find("agegender")
    img = cv2.imread(str(data_dir / "photos" / "group_05.jpg"))
    lm = fm.load("yunet", score_threshold=0.6, threads=1).detect(img).landmarks
    x = _reference_chips(img, lm.astype(np.float64))
    bm = onnx.load(str(base))
    for name in (H.BASE_LOGIT, H.GENDER_MAP, H.GAP):
        bm.graph.output.append(helper.make_empty_tensor_value_info(name))
    bs = ort.InferenceSession(bm.SerializeToString(), providers=["CPUExecutionProvider"])
    bp, bl, gmap, gap = bs.run(["age_prob", H.BASE_LOGIT, H.GENDER_MAP, H.GAP], {"images": x})
    feats = np.concatenate([gmap, gap], 1)
    torch.manual_seed(0)
    net = H.mlp(feats.shape[1], 32).eval()
    rng = np.random.default_rng(0)
    mu = rng.normal(0, 0.1, feats.shape[1]).astype(np.float32)
    sd = rng.uniform(0.5, 2.0, feats.shape[1]).astype(np.float32)
    head = {"state": net.state_dict(), "mu": mu, "sd": sd}
    t = 1.3
    out = tmp_path / "v2.onnx"
    H.export(Path(base), H.head_arrays(head), t, out)
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    prob, pm = sess.run(["age_prob", "p_male"], {"images": x})
    with torch.no_grad():
        o = net(torch.from_numpy((feats - mu) / sd)).numpy()
    ref_prob = 0.5 * (bp + H.softmax(o[:, : H.AGES]))
    ref_pm = 1 / (1 + np.exp(-0.5 * (bl.reshape(-1) + o[:, H.AGES]) / t))
    bins = np.arange(H.AGES)
    # float16 weights in the file: ages within 0.05 years, P(male) within 2e-3
    assert np.abs(prob @ bins - ref_prob @ bins).max() < 0.05
    assert np.abs(pm.reshape(-1) - ref_pm).max() < 2e-3
    np.testing.assert_allclose(prob.sum(1), 1.0, atol=1e-5)
    # batch of one keeps the shapes (N,) and (N, 121)
    p1, m1 = sess.run(["age_prob", "p_male"], {"images": x[:1]})
    assert p1.shape == (1, H.AGES) and m1.shape == (1,)
