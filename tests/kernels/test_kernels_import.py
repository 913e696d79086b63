"""``import facecore.kernels`` loads the compiled core and NumPy, not the model runtimes
(issue 18): a script that only warps or blends must not pay for onnxruntime. Measured in a
fresh interpreter, where ``sys.modules`` shows everything the import pulled in."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("onnxruntime", "onnx", "torch", "tensorflow")


def _loaded_after(code: str) -> list[str]:
    probe = f"import json, sys\n{code}\nprint(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    run = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_import_kernels_does_not_import_onnxruntime():
    assert _loaded_after("import facecore.kernels") == []
    # the package itself (facecore/__init__) is part of that import
    assert _loaded_after("import facecore") == []


def test_the_probe_sees_a_model_backed_import():
    """The check above can fail: the model-backed parts, loaded on first use, do import it."""
    pytest.importorskip("onnxruntime")
    assert "onnxruntime" in _loaded_after("import facecore; facecore.FaceAnalyzer")


def test_kernels_work_without_the_model_packages_loaded():
    code = (
        "import numpy as np, facecore.kernels as K\n"
        "p = K.refine_map(np.full((4, 4), 0.5, np.float32))\n"
        "assert abs(float(p[0, 0]) - 0.75) < 1e-6"
    )
    assert _loaded_after(code) == []


def test_every_kernel_with_device_documents_it_once():
    """The device=/stream= paragraph is written once (_args.DEVICE_DOC) and appears in the
    docstring of every public kernel that takes ``device=``."""
    import inspect

    import facecore.kernels as K
    from facecore.kernels._args import DEVICE_DOC

    if sys.flags.optimize >= 2:
        pytest.skip("docstrings are stripped (python -OO)")

    first = DEVICE_DOC.splitlines()[1].strip()  # "Where to run: ..."
    with_device = [
        n for n in K.__all__ if callable(getattr(K, n)) and "device" in _params(getattr(K, n))
    ]
    assert len(with_device) == 9, with_device
    for name in with_device:
        doc = inspect.getdoc(getattr(K, name)) or ""
        assert doc.count(first) == 1 and "{device}" not in doc, name


def _params(obj: object) -> list[str]:
    import inspect

    try:
        return list(inspect.signature(obj).parameters)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return []
