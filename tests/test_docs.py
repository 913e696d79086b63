"""The docstring examples run: every docstring with examples in every facecore module.

The modules are found by walking the *installed* package (``pkgutil.walk_packages``), so a new
module's examples are tested without editing this file, and CI (which installs the wheel)
runs them against the wheel. One test per docstring, named after the object.

An example that needs the pretrained models (the ``[models]`` extra or
``$FACECORE_MODEL_DIR``) carries the doctest option ``+MODELS`` on its first line that needs
them; where they are absent, that docstring's test is skipped with the reason.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import facecore

MODELS = doctest.register_optionflag("MODELS")
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
# What "+MODELS" means: the default FaceAnalyzer's models (yunet, sface, age, gender).
NEEDED_MODELS = ("yunet", "sface", "age", "gender")


def _module_names() -> list[str]:
    names = ["facecore"]
    for info in pkgutil.walk_packages(facecore.__path__, "facecore."):
        if info.name.rsplit(".", 1)[-1] != "__main__":  # running it is the CLI
            names.append(info.name)
    return names


def _collect() -> list:
    params = []
    finder = doctest.DocTestFinder(exclude_empty=True)
    for name in _module_names():
        try:
            module = importlib.import_module(name)
        except ImportError as exc:  # an optional dependency (an extra) is not installed
            params.append(
                pytest.param(None, id=name, marks=pytest.mark.skip(reason=f"import {name}: {exc}"))
            )
            continue
        for test in finder.find(module, name):
            if test.examples:
                params.append(pytest.param(test, id=test.name))
    return params


def _missing_models() -> list[str]:
    from facecore.errors import ModelNotFoundError
    from facecore.models import zoo

    missing = []
    for name in NEEDED_MODELS:
        try:
            zoo.find(name)
        except ModelNotFoundError:
            missing.append(name)
    return missing


DOCTESTS = _collect()


def test_the_walk_finds_the_examples():
    # the modules with examples today; a module may gain examples, none may lose them all
    ids = {p.id for p in DOCTESTS}
    for name in [
        "facecore.kernels",
        "facecore.align",
        "facecore.occlusion",
        "facecore.cluster",
        "facecore.analyzer.FaceAnalyzer",
        "facecore.models",
    ]:
        assert any(i == name or i.startswith(name + ".") for i in ids), name


# Public modules that have no docstring example yet, each with the reason. Every other
# public module (no leading underscore in its dotted name) must have at least one.
NO_EXAMPLES_YET = {
    "facecore.cli": "the CLI; its examples are the commands in docs/cli.md (tested by tests/test_cli*.py)",
    "facecore.jobs.builder": "build_dataset writes a whole folder; its example is `facecore build-dataset` in docs/cli.md, run by tests/jobs",
    "facecore.jobs.ray_engine": "needs the distributed extra and a Ray cluster; run by tests/jobs when ray is installed",
    "facecore.jobs.report": "internal to build_dataset (writes report.html); run by tests/jobs",
    "facecore.jobs.store": "internal to build_dataset (the resumable embedding store); run by tests/jobs",
    "facecore.models.bisenet": "needs the fetched bisenet_parsing weights, not in ../shared/models",
}


def _public_definitions(module) -> list[str]:
    import inspect

    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in vars(module) if not n.startswith("_")]
    return [
        n
        for n in names
        if (
            inspect.isfunction(getattr(module, n, None))
            or inspect.isclass(getattr(module, n, None))
        )
        and getattr(getattr(module, n), "__module__", None) == module.__name__
    ]


def test_every_public_module_has_examples():
    """Each public module with public functions or classes has at least one example that this
    file runs (the list above names the exceptions and why; it may only shrink)."""
    ids = {p.id for p in DOCTESTS}
    missing, stale = [], []
    for name in _module_names():
        if any(part.startswith("_") for part in name.split(".")):
            continue
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue  # an optional extra; test_docstring_examples reports the skip
        has = any(i == name or i.startswith(name + ".") for i in ids)
        if name in NO_EXAMPLES_YET:
            if has:
                stale.append(name)
        elif not has and _public_definitions(module):
            missing.append(name)
    assert not missing, f"public modules without a docstring example: {missing}"
    assert not stale, f"these have examples now: delete them from NO_EXAMPLES_YET: {stale}"


@pytest.mark.parametrize("test", DOCTESTS)
def test_docstring_examples(test, tmp_path, monkeypatch):
    if any(ex.options.get(MODELS) for ex in test.examples):
        missing = _missing_models()
        if missing:
            pytest.skip(
                f"needs the models {missing}: pip install 'facecore[models]' or set FACECORE_MODEL_DIR"
            )
    monkeypatch.chdir(tmp_path)  # an example that writes a file writes it here
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report: list[str] = []
    test.globs = dict(test.globs)
    result = runner.run(test, out=report.append, clear_globs=True)
    assert result.failed == 0, "".join(report)
