"""What ships: the wheel and the image carry the package, never the test tooling."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

TOOLING = {"testkit", "devtools", "tests", "support", "benchmarks"}  # directories of test tooling


@pytest.mark.slow
@pytest.mark.system_tools  # builds as `make install` does: setuptools from the package index
def test_the_built_wheel_holds_only_the_package(project_root: Path, tmp_path: Path) -> None:
    source = tmp_path / "source"  # build from a copy: the checkout gets no build/ directory
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(project_root / name, source / name)
    shutil.copytree(
        project_root / "src",
        source / "src",
        ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"),
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--wheel-dir",
            str(tmp_path / "dist"),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [wheel] = (tmp_path / "dist").glob("bandwise-*.whl")
    names = zipfile.ZipFile(wheel).namelist()

    assert "bandwise/bot/terminal.py" in names  # what `bandwise bot try` needs ships
    assert all(re.match(r"bandwise(/|-[^/]+\.dist-info/)", name) for name in names), names
    directories = {part for name in names for part in name.split("/")[:-1]}
    assert not directories & TOOLING


def test_the_image_copies_only_the_package(project_root: Path) -> None:
    copies = re.findall(r"(?m)^COPY (?!--from)(.+)$", (project_root / "Dockerfile").read_text())
    copied = {part for line in copies for part in line.split()[:-1]}
    assert "src" in copied
    assert not {Path(part).parts[0] for part in copied} & TOOLING
