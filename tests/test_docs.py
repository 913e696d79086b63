"""The docstring examples run (doctest over the installed modules)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["facecore", "facecore.kernels", "facecore.align", "facecore.occlusion", "facecore.cluster",
           "facecore.types", "facecore.models.expression", "facecore.background"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert result.attempted > 0, f"{name} has no examples"
