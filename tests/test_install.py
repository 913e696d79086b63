"""What a user gets from an installed facecore: the version everywhere, the compiled core from
the install (CI sets FACECORE_EXPECT_WHEEL=1 after installing the built wheel)."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import facecore
import facecore._core


def test_version_is_the_distribution_version():
    # one source of truth: pyproject's project.version -> metadata -> _core -> facecore.__version__
    assert facecore.__version__ == importlib.metadata.version("facecore")


def test_cli_version():
    run = subprocess.run(
        [sys.executable, "-m", "facecore", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == f"facecore {importlib.metadata.version('facecore')}"


@pytest.mark.skipif(
    os.environ.get("FACECORE_EXPECT_WHEEL") != "1",
    reason="set FACECORE_EXPECT_WHEEL=1 where the built wheel is installed (CI does)",
)
def test_extension_comes_from_the_installed_wheel():
    site = {Path(sysconfig.get_paths()[k]).resolve() for k in ("platlib", "purelib")}
    core = Path(facecore._core.__file__).resolve()
    package = Path(facecore.__file__).resolve()
    assert any(core.is_relative_to(s) for s in site), (
        f"facecore._core imported from {core}, not {site}"
    )
    assert package.parent == core.parent, (package, core)
    repo = Path(__file__).resolve().parents[1]
    assert not core.is_relative_to(repo), f"facecore._core imported from the source tree: {core}"
    dist = importlib.metadata.distribution("facecore")
    # a wheel install records its files; an editable install records only a .pth/finder
    assert any(str(f).endswith(core.name) for f in dist.files or []), (
        "the .so is not in the install's RECORD"
    )
