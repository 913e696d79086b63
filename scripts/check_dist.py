"""Check facecore's release files: what an sdist and a wheel may and must contain.

Usage::

    python scripts/check_dist.py dist/facecore-0.1.0.tar.gz dist/facecore-0.1.0-*.whl [--expect-cuda]

Wheel: ``facecore/_core`` present (``facecore/_cuda`` too with ``--expect-cuda``), a
``manylinux`` platform tag (after ``auditwheel repair``), nothing outside ``facecore/`` and
its ``.dist-info``, no build outputs, no data beyond the packaged demo photo, models within
the size rule, the version in the file name equal to the package's ``__version__`` source.
Sdist: no build outputs, no compiled objects, no data sets, no file over the size rule.
Exits 1 listing every problem; prints a short inventory on success.
"""

from __future__ import annotations

import argparse
import re
import sys
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

# "Models we ship stay small (a few MB)": one file at most 6 MiB (facecore's own age/gender
# model is 5.3 MiB with float16 weights), all of them at most 16 MiB (15.1 MiB: two hair
# models, restoration, age/gender, two selfie segmenters, expression, and the 4.2 MiB
# mask-robust SFace tail, which needs the total raised from 12 MiB).
MAX_MODEL_BYTES = 6 * 1024 * 1024
MAX_MODELS_TOTAL = 16 * 1024 * 1024
# Small recorded fixtures of the tests (reference outputs, a tiny state dict written by torch
# for the pickle reader's tests) may be data-like files; a data set may not.
MAX_FIXTURE_BYTES = 256 * 1024
MAX_OTHER_BYTES = 1024 * 1024  # any other single file (sources, docs pictures, the demo photo)

BUILD_OUTPUTS = re.compile(
    r"(^|/)(build|dist|_build|__pycache__|\.pytest_cache|\.hypothesis|CMakeFiles|\.git)/"
    r"|\.(o|obj|a|pyc|pyo)$|(^|/)CMakeCache\.txt$|(^|/)\.ninja_\w+$|(^|/)build\.ninja$"
)
COMPILED = re.compile(r"\.(so|pyd|dylib|dll)(\.\d+)*$")
# Data-set-like files: never in a release file (the test data lives in ../shared).
DATA_LIKE = re.compile(
    r"\.(npy|npz|h5|hdf5|parquet|arrow|feather|tar|tgz|zip|7z|mp4|avi|mov|mkv|webm"
    r"|pt|pth|ckpt|safetensors|pkl|pickle|tflite|bin)$",
    re.IGNORECASE,
)
IMAGE = re.compile(r"\.(jpe?g|png|bmp|webp|tiff?|gif)$", re.IGNORECASE)
# The pictures allowed: the packaged demo photo (public domain) and the docs' own figures.
WHEEL_IMAGES = {"facecore/data/astronaut.jpg"}
SDIST_IMAGE_DIRS = ("python/facecore/data/", "docs/images/")
WHEEL_RE = re.compile(
    r"^facecore-(?P<ver>[^-]+)-(?P<py>[^-]+)-(?P<abi>[^-]+)-(?P<plat>[^-]+)\.whl$"
)


def _version(root: Path) -> str:
    import tomllib

    return tomllib.loads((root / "pyproject.toml").read_text())["project"]["version"]


def check_wheel(path: Path, *, expect_cuda: bool, version: str) -> list[str]:
    problems: list[str] = []
    m = WHEEL_RE.match(path.name)
    if not m:
        return [f"{path.name}: not a facecore wheel name"]
    if m["ver"] != version:
        problems.append(f"{path.name}: version {m['ver']} != pyproject's {version}")
    if not m["plat"].startswith("manylinux"):
        problems.append(
            f"{path.name}: platform tag {m['plat']} is not manylinux (run auditwheel repair)"
        )
    with zipfile.ZipFile(path) as z:
        infos = z.infolist()
    names = [i.filename for i in infos]
    dist_info = f"facecore-{m['ver']}.dist-info/"
    core = [n for n in names if re.fullmatch(r"facecore/_core\.[^/]*\.so", n)]
    cuda = [n for n in names if re.fullmatch(r"facecore/_cuda\.[^/]*\.so", n)]
    if len(core) != 1:
        problems.append(f"{path.name}: expected one facecore/_core*.so, found {core}")
    if expect_cuda and len(cuda) != 1:
        problems.append(f"{path.name}: expected facecore/_cuda*.so (CUDA build), found {cuda}")
    models_total = 0
    for info in infos:
        n, size = info.filename, info.file_size
        if not (n.startswith(("facecore/", dist_info))):
            # auditwheel grafts copied shared libraries into facecore.libs/: none are expected
            problems.append(
                f"{path.name}: {n} is outside facecore/ (a grafted library or stray file)"
            )
        if BUILD_OUTPUTS.search(n):
            problems.append(f"{path.name}: build output {n}")
        if COMPILED.search(n) and n not in core + cuda:
            problems.append(f"{path.name}: unexpected compiled file {n}")
        if DATA_LIKE.search(n):
            problems.append(f"{path.name}: data-like file {n}")
        if IMAGE.search(n) and n not in WHEEL_IMAGES:
            problems.append(f"{path.name}: image {n} (only {sorted(WHEEL_IMAGES)} ship)")
        if n.endswith(".onnx"):
            models_total += size
            if size > MAX_MODEL_BYTES:
                problems.append(f"{path.name}: model {n} is {size:,} B > {MAX_MODEL_BYTES:,} B")
        elif size > MAX_OTHER_BYTES and n not in core + cuda:
            problems.append(f"{path.name}: {n} is {size:,} B > {MAX_OTHER_BYTES:,} B")
    if models_total > MAX_MODELS_TOTAL:
        problems.append(f"{path.name}: models total {models_total:,} B > {MAX_MODELS_TOTAL:,} B")
    if not problems:
        print(
            f"ok  {path.name}: {len(names)} files, {path.stat().st_size / 1e6:.1f} MB; "
            f"{', '.join(PurePosixPath(x).name for x in core + cuda)}; models {models_total / 1e6:.1f} MB"
        )
    return problems


def check_sdist(path: Path, *, version: str) -> list[str]:
    problems: list[str] = []
    prefix = f"facecore-{version}/"
    if path.name != f"facecore-{version}.tar.gz":
        problems.append(f"{path.name}: expected facecore-{version}.tar.gz")
    with tarfile.open(path) as t:
        members = [mm for mm in t.getmembers() if mm.isfile()]
    names = {mm.name for mm in members}
    for needed in (
        "pyproject.toml",
        "CMakeLists.txt",
        "src/cpp/module.cpp",
        "python/facecore/__init__.py",
        "PKG-INFO",
    ):
        if prefix + needed not in names:
            problems.append(f"{path.name}: {needed} missing")
    for mm in members:
        n, size = mm.name, mm.size
        rel = n[len(prefix) :] if n.startswith(prefix) else n
        if not n.startswith(prefix):
            problems.append(f"{path.name}: {n} outside {prefix}")
        if BUILD_OUTPUTS.search(rel):
            problems.append(f"{path.name}: build output {rel}")
        if COMPILED.search(rel):
            problems.append(f"{path.name}: compiled file {rel}")
        if DATA_LIKE.search(rel) and not (rel.startswith("tests/") and size <= MAX_FIXTURE_BYTES):
            problems.append(f"{path.name}: data-like file {rel}")
        if IMAGE.search(rel) and not rel.startswith(SDIST_IMAGE_DIRS):
            problems.append(f"{path.name}: image {rel} outside {SDIST_IMAGE_DIRS}")
        limit = MAX_MODEL_BYTES if rel.endswith(".onnx") else MAX_OTHER_BYTES
        if size > limit:
            problems.append(f"{path.name}: {rel} is {size:,} B > {limit:,} B")
    if not problems:
        print(f"ok  {path.name}: {len(members)} files, {path.stat().st_size / 1e6:.1f} MB")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path, help="sdists (.tar.gz) and wheels (.whl)")
    parser.add_argument(
        "--expect-cuda", action="store_true", help="every wheel must contain facecore/_cuda"
    )
    args = parser.parse_args(argv)
    version = _version(Path(__file__).resolve().parents[1])
    problems: list[str] = []
    kinds = set()
    for f in args.files:
        if f.name.endswith(".whl"):
            kinds.add("wheel")
            problems += check_wheel(f, expect_cuda=args.expect_cuda, version=version)
        elif f.name.endswith(".tar.gz"):
            kinds.add("sdist")
            problems += check_sdist(f, version=version)
        else:
            problems.append(f"{f}: neither a wheel nor an sdist")
    if kinds != {"wheel", "sdist"}:
        problems.append(f"expected at least one sdist and one wheel; got {sorted(kinds)}")
    for p in problems:
        print("FAIL", p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
