"""No import cycle inside python/facecore: a static walk of every module's imports (ast).

Counted: every ``import`` / ``from ... import`` that runs when the module is imported, i.e.
at module level, inside module-level ``if`` / ``try`` / ``with`` blocks and class bodies;
relative imports resolved against the module's package. Not counted: imports inside
functions (they run later, on a call) and under ``if TYPE_CHECKING:`` (never at run time).
``from P import name`` is an edge to ``P.name`` when that is a module of the package, to ``P``
itself when ``P/__init__.py`` defines ``name`` (a value taken from a half-imported package is
a real cycle), and else to nothing (a compiled extension such as ``_core``). Importing
``P.sub.mod`` also runs ``P/sub/__init__.py`` first: an edge to every package on the way that
is not already a parent of the importing module (those are always mid-import when it runs).
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path

import facecore

_CHECKOUT = Path(__file__).resolve().parents[1] / "python" / "facecore"
# the source tree when the tests run from a checkout, else the package that was imported
PACKAGE_DIR = _CHECKOUT if _CHECKOUT.is_dir() else Path(facecore.__file__).resolve().parent

# Cycles closed only through imports inside functions (deferred to dodge the import-time
# cycle): each has a step of issue 18 that removes it. When one lands, its entry here makes
# test_no_new_deferred_import_cycle fail (like a strict xfail): delete the entry then.
KNOWN_DEFERRED: set[frozenset[str]] = set()


@dataclass(frozen=True)
class Edge:
    src: str
    dst: str
    where: str  # "path:line: the import statement"


def module_names(root: Path, package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every .py under ``root`` (a package directory)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).with_suffix("").parts
        if rel[-1] == "__init__":
            rel = rel[:-1]
        out[".".join((package, *rel))] = path
    return out


def _defined_names(init: Path) -> set[str]:
    """Names a package's ``__init__.py`` defines at module level, less the submodules it
    imports by name (``from . import _cuda`` binds a module, not a value of the package)."""
    tree = ast.parse(init.read_text(encoding="utf-8"))
    bound: set[str] = set()
    submodules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.add(node.id)
        elif isinstance(node, ast.ImportFrom) and node.level == 1 and node.module is None:
            submodules.update(a.asname or a.name for a in node.names)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
    return bound - submodules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_time_nodes(body: list[ast.stmt], deferred: bool = False):
    """The Import / ImportFrom statements of ``body`` that run at import time (with
    ``deferred``, also those inside functions, which run on a call)."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if deferred:
                yield from _import_time_nodes(node.body, deferred)
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                yield from _import_time_nodes(node.body, deferred)
            yield from _import_time_nodes(node.orelse, deferred)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody):
                yield from _import_time_nodes(block, deferred)
            for handler in node.handlers:
                yield from _import_time_nodes(handler.body, deferred)
        elif isinstance(node, (ast.With, ast.ClassDef, ast.For, ast.While)):
            yield from _import_time_nodes(node.body, deferred)


def import_edges(root: Path, package: str, *, deferred: bool = False) -> list[Edge]:
    """Every import-time edge between modules of the package at ``root`` (with ``deferred``,
    also the imports inside functions)."""
    modules = module_names(root, package)
    defined = {m: _defined_names(p) for m, p in modules.items() if p.name == "__init__.py"}
    edges = []
    for name, path in modules.items():
        is_pkg = path.name == "__init__.py"
        here = name if is_pkg else name.rpartition(".")[0]  # the package this module is in
        own_parents = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 2)}
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        tree = ast.parse(text, filename=str(path))
        for node in _import_time_nodes(tree.body, deferred):
            targets: list[tuple[str, bool]] = []  # (module, named explicitly)
            if isinstance(node, ast.Import):
                targets = [(a.name, True) for a in node.names]
            else:
                if node.level:
                    parts = here.split(".")
                    if node.level - 1 >= len(parts):
                        raise ValueError(f"{path}:{node.lineno}: relative import beyond {package}")
                    base = ".".join(parts[: len(parts) - (node.level - 1)])
                    base = f"{base}.{node.module}" if node.module else base
                else:
                    base = node.module or ""
                for a in node.names:
                    sub = f"{base}.{a.name}"
                    if sub in modules:
                        targets.append((sub, True))
                    elif base in modules and (base not in defined or a.name in defined[base]):
                        targets.append((base, True))  # a value of that module or package
                    else:
                        targets.append((base, False))  # a compiled extension of that package
            line = " ".join(lines[node.lineno - 1 : node.end_lineno])
            where = f"{path.relative_to(root.parent)}:{node.lineno}: {' '.join(line.split())}"
            for t, explicit in targets:
                if t != package and not t.startswith(package + "."):
                    continue  # numpy, cv2, the standard library...
                # the module itself, or its nearest package that exists (``import a.b.attr``)
                while t not in modules and "." in t:
                    t = t.rpartition(".")[0]
                if explicit and t != name:
                    edges.append(Edge(name, t, where))
                # the packages on the way run first, unless they are this module's own parents
                chain = t.split(".")
                for i in range(1, len(chain) + (0 if explicit else 1)):
                    dst = ".".join(chain[:i])
                    if dst not in own_parents and dst in modules:
                        edges.append(Edge(name, dst, where))
    return edges


def cycles(edges: list[Edge]) -> list[list[Edge]]:
    """One cycle (as its edges, in order) per strongly connected component with more than
    one module (a module importing itself is skipped: Python allows it and it loops nowhere)."""
    graph: dict[str, list[Edge]] = {}
    for e in edges:
        graph.setdefault(e.src, []).append(e)
        graph.setdefault(e.dst, [])
    # Tarjan's strongly connected components, iteratively
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    sccs: list[set[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, 0)]
        while work:
            v, i = work.pop()
            if i == 0:
                index[v] = low[v] = counter
                counter += 1
                stack.append(v)
                on_stack.add(v)
            out = graph[v]
            if i < len(out):
                work.append((v, i + 1))
                w = out[i].dst
                if w not in index:
                    work.append((w, 0))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            if low[v] == index[v]:
                comp = set()
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.add(w)
                    if w == v:
                        break
                sccs.append(comp)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
    found = []
    for comp in sccs:
        if len(comp) < 2:
            continue
        # the shortest cycle through the component's first module (breadth-first)
        first = min(comp)
        prev: dict[str, Edge] = {}
        queue = [first]
        while queue and first not in prev:
            nxt = []
            for v in queue:
                for e in graph[v]:
                    if e.dst in comp and e.dst not in prev:
                        prev[e.dst] = e
                        nxt.append(e.dst)
            queue = nxt
        path = [prev[first]]
        while path[0].src != first:
            path.insert(0, prev[path[0].src])
        found.append(path)
    return found


def describe(cycle: list[Edge]) -> str:
    names = " -> ".join([cycle[0].src] + [e.dst for e in cycle])
    return names + "\n" + "\n".join(f"    {e.where}" for e in cycle)


@functools.cache
def facecore_edges(*, deferred: bool = False) -> tuple[Edge, ...]:
    return tuple(import_edges(PACKAGE_DIR, "facecore", deferred=deferred))


def facecore_cycles(*, deferred: bool = False) -> list[list[Edge]]:
    return cycles(list(facecore_edges(deferred=deferred)))


def test_the_walk_sees_the_package_imports():
    """The walker finds real edges (a walk that sees nothing would pass every cycle test)."""
    edges = {(e.src, e.dst) for e in facecore_edges()}
    assert ("facecore.hair", "facecore.kernels") in edges  # from . import kernels
    assert ("facecore", "facecore.align") in edges  # from . import align
    assert ("facecore.models.zoo", "facecore.errors") in edges  # from ..errors import ...
    assert len(edges) > 50


def test_no_import_cycle():
    """No cycle among the imports that run when facecore is imported."""
    found = facecore_cycles()
    assert not found, "import cycles in facecore:\n" + "\n".join(describe(c) for c in found)


def test_no_new_deferred_import_cycle():
    """Counting imports inside functions too, no cycle beyond KNOWN_DEFERRED, and every
    entry there still a cycle (a fixed one must leave the list)."""
    found = facecore_cycles(deferred=True)
    comps = {frozenset(e.src for e in c) for c in found}
    new = [c for c in found if frozenset(e.src for e in c) not in KNOWN_DEFERRED]
    assert not new, "new import cycles (through imports inside functions):\n" + "\n".join(
        describe(c) for c in new
    )
    gone = [sorted(k) for k in KNOWN_DEFERRED if k not in comps]
    assert not gone, f"no longer a cycle: delete from KNOWN_DEFERRED: {gone}"


def _package(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root / "pkg"


def test_a_deliberate_cycle_is_found_and_reported(tmp_path):
    pkg = _package(
        tmp_path,
        {
            "pkg/__init__.py": "from .a import run\n",
            "pkg/a.py": "import numpy as np\nfrom .sub import helper\n\ndef run():\n    pass\n",
            "pkg/sub/__init__.py": "",
            "pkg/sub/helper.py": "from ..b import B\n",
            "pkg/b.py": "try:\n    from . import a\nexcept ImportError:\n    a = None\nB = 1\n",
        },
    )
    found = cycles(import_edges(pkg, "pkg"))
    assert len(found) == 1
    (cyc,) = found
    assert {e.src for e in cyc} == {"pkg.a", "pkg.sub.helper", "pkg.b"}
    text = describe(cyc)
    assert text.splitlines()[0] == "pkg.a -> pkg.sub.helper -> pkg.b -> pkg.a"
    assert "pkg/b.py:2: from . import a" in text  # the statement, where it is


def test_imports_that_do_not_run_at_import_time_make_no_cycle(tmp_path):
    pkg = _package(
        tmp_path,
        {
            "pkg/__init__.py": "from . import a\n",
            "pkg/a.py": "from . import b\n",
            "pkg/b.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from .a import X\n"
                "def lazy():\n    from . import a\n    return a\n"
            ),
        },
    )
    edges = import_edges(pkg, "pkg")
    assert {(e.src, e.dst) for e in edges} == {("pkg", "pkg.a"), ("pkg.a", "pkg.b")}
    assert cycles(edges) == []


def test_a_name_from_the_package_init_is_an_edge_to_the_package(tmp_path):
    # pkg/__init__ imports tools, tools takes a name defined in pkg/__init__: a real cycle
    # (tools sees a half-initialised pkg), and `import pkg.inner.deep` runs pkg/inner/__init__
    pkg = _package(
        tmp_path,
        {
            "pkg/__init__.py": "from .tools import t\nVALUE = 1\n",
            "pkg/tools.py": "from . import VALUE\nimport pkg.inner.deep\nt = VALUE\n",
            "pkg/inner/__init__.py": "",
            "pkg/inner/deep.py": "",
        },
    )
    edges = {(e.src, e.dst) for e in import_edges(pkg, "pkg")}
    assert ("pkg.tools", "pkg") in edges
    assert {("pkg.tools", "pkg.inner"), ("pkg.tools", "pkg.inner.deep")} <= edges
    (cyc,) = cycles(import_edges(pkg, "pkg"))
    assert describe(cyc).splitlines()[0] == "pkg -> pkg.tools -> pkg"


def test_imports_inside_functions_count_only_when_asked(tmp_path):
    pkg = _package(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from . import b\n",
            "pkg/b.py": "def later():\n    from .a import x\n    return x\n",
        },
    )
    assert cycles(import_edges(pkg, "pkg")) == []
    (cyc,) = cycles(import_edges(pkg, "pkg", deferred=True))
    assert "pkg/b.py:2: from .a import x" in describe(cyc)


def private_names_imported(package_dir: Path) -> list[str]:
    """``path:line: name`` for every ``from <package module> import _name`` whose ``_name``
    is not itself a module (``.py``, a stub ``.pyi`` for a compiled one, or a package)."""
    found = []
    for path in sorted(package_dir.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or node.level == 0:
                continue  # the package imports itself relatively throughout
            base = path.parent
            for _ in range(node.level - 1):
                base = base.parent
            target = base.joinpath(*node.module.split(".")) if node.module else base
            for alias in node.names:
                name = alias.name
                if not name.startswith("_") or name.startswith("__"):
                    continue
                if any((target / f"{name}{ext}").exists() for ext in (".py", ".pyi", "")):
                    continue  # a private module, imported as a module
                found.append(f"{path.relative_to(package_dir)}:{node.lineno}: {name}")
    return found


def test_no_private_name_is_imported_across_modules():
    """Modules share internal code through non-underscore names of internal modules
    (``models._warp.Pyramid``), never by importing another module's ``_private`` name
    (issue 18); importing a private *module* (``from . import _args``) is fine."""
    found = private_names_imported(PACKAGE_DIR)
    assert not found, "private names imported across modules:\n" + "\n".join(found)


def test_the_private_name_check_fails_on_one(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from . import _mod\nfrom .sub import _helper\n")
    (pkg / "_mod.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("def _helper():\n    pass\n")
    assert private_names_imported(pkg) == ["__init__.py:2: _helper"]
