"""Sphinx configuration: the API reference is generated from the installed package's docstrings.

Build (what CI runs, warnings are errors)::

    pip install ".[docs]"
    python -m sphinx -W --keep-going -b html docs docs/_build/html

The reference walks the ``facecore`` package (``autosummary :recursive:``), so a new public
module or function appears without editing these files; it must have a numpydoc docstring
(a missing one is numpydoc check GL08, which is a warning, so an error here).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import facecore

project = "facecore"
author = "facecore developers"
copyright = "facecore developers"
release = facecore.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "sphinxarg.ext",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "examples", "README.md"]
templates_path = ["_templates"]

# Markdown pages (the narrative docs, readable on GitHub as they are).
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 4

# The reference: one page per public module, one per public function and class.
autosummary_generate = True
autosummary_ignore_module_all = False  # a module's __all__ is its public list
autodoc_typehints = "none"  # the numpydoc "Parameters" section carries the types
autodoc_default_options = {"member-order": "bysource"}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks = {"GL08"}  # every documented object has a docstring
# dataclass/enum machinery and inherited builtins carry no docstring of ours
numpydoc_validation_exclude = {r"\.__\w+__$"}

html_theme = "alabaster"
html_title = f"facecore {release}"
html_static_path: list[str] = []


def _reexports() -> dict[str, dict[str, str]]:
    """For each public facecore package module, the names it re-exports from another public module.

    Those are documented once, where they are defined, and listed as links on the package's page.
    """
    out: dict[str, dict[str, str]] = {}
    names = ["facecore"] + [
        m.name for m in pkgutil.walk_packages(facecore.__path__, "facecore.") if "._" not in m.name
    ]
    for name in names:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        found = {}
        for member in getattr(module, "__all__", []):
            obj = getattr(module, member, None)
            home = getattr(obj, "__module__", None)
            if (
                (inspect.isclass(obj) or inspect.isroutine(obj))
                and home
                and home != name
                and home.startswith("facecore.")
                and not any(part.startswith("_") for part in home.split("."))
            ):
                found[member] = f"{home}.{obj.__qualname__}"
        out[name] = found
    return out


def _submodules() -> dict[str, list[str]]:
    """Every public submodule of each facecore package (not only those named in ``__all__``)."""
    out: dict[str, list[str]] = {}
    for info in pkgutil.walk_packages(facecore.__path__, "facecore."):
        parent, _, leaf = info.name.rpartition(".")
        if leaf.startswith("_") or "._" in parent:
            continue
        out.setdefault(parent, []).append(leaf)
    return out


autosummary_context = {"reexports": _reexports(), "submodules": _submodules()}


def _add_unlisted_pages(app, docname, source):
    """Give every narrative page a place in the navigation, even one added without editing index.md.

    Pages not named in index.md's toctrees are appended to it under "More" (so a page added by
    another branch does not fail the build with "document isn't included in any toctree").
    """
    if docname != root_doc:
        return
    srcdir = Path(app.srcdir)
    listed = set(re.findall(r"^\s*([\w./-]+)\s*$", source[0], re.MULTILINE))
    pages = sorted(
        p.relative_to(srcdir).with_suffix("").as_posix()
        for p in srcdir.rglob("*.md")
        if not any(
            part.startswith(("_", ".")) or part in ("generated", "examples")
            for part in p.relative_to(srcdir).parts
        )
    )
    extra = [p for p in pages if p not in listed and p != root_doc and p != "README"]
    if extra:
        source[0] += (
            "\n```{toctree}\n:maxdepth: 1\n:caption: More\n\n" + "\n".join(extra) + "\n```\n"
        )


def setup(app):
    app.connect("source-read", _add_unlisted_pages)
