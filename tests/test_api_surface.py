"""The public surface of ``facecore`` (names and signatures) changes only on purpose (issue 21
item 18; kornia's inventory guard). After an intended change, rewrite the inventory with
``python tests/test_api_surface.py`` and review the diff of tests/api_surface.json."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import facecore as fc

HERE = Path(__file__).parent


def _surface() -> dict[str, str]:
    out = {}
    for name in sorted(fc.__all__):
        obj = getattr(fc, name)
        if inspect.ismodule(obj):
            out[name] = "module"
        elif inspect.isclass(obj) or callable(obj):
            try:
                out[name] = (
                    f"{type(obj).__name__ if not inspect.isclass(obj) else 'class'}{inspect.signature(obj)}"
                )
            except (TypeError, ValueError):
                out[name] = "class"
        else:
            out[name] = type(obj).__name__
    for cls in (fc.FaceAnalyzer, fc.HairRecolor):
        for meth in (
            "analyze",
            "analyze_batch",
            "best_face",
            "crops",
            "apply",
            "apply_video",
            "mask",
            "probability",
        ):
            if hasattr(cls, meth):
                out[f"{cls.__name__}.{meth}"] = str(inspect.signature(getattr(cls, meth)))
    return out


def test_public_surface_is_pinned():
    """Item 18: names and signatures change only on purpose. After an intended change, run
    ``python tests/test_api_surface.py`` to rewrite tests/api_surface.json, and review the diff."""
    want = json.loads((HERE / "api_surface.json").read_text())
    got = _surface()
    assert got == want, {
        k: (want.get(k), got.get(k)) for k in set(want) | set(got) if want.get(k) != got.get(k)
    }


if __name__ == "__main__":
    (HERE / "api_surface.json").write_text(json.dumps(_surface(), indent=1, sort_keys=True) + "\n")
