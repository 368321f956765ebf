"""Every shell script of the project is clean under Debian's shellcheck."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from testkit.deploy import PROJECT_ROOT

SCRIPTS = sorted(
    path.relative_to(PROJECT_ROOT)
    for folder in ("deploy", "scripts")
    for path in (PROJECT_ROOT / folder).rglob("*.sh")
)


def test_scripts_are_found() -> None:
    assert Path("deploy/deploy.sh") in SCRIPTS and Path("deploy/lib.sh") in SCRIPTS


@pytest.mark.system_tools  # shellcheck
@pytest.mark.parametrize("script", SCRIPTS, ids=str)
def test_script_is_shellcheck_clean(script: Path) -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.fail("shellcheck is not installed: run scripts/ensure-deploy-tools.sh (make test)")
    result = subprocess.run(
        [shellcheck, "--external-sources", "--source-path=SCRIPTDIR", str(script)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("script", [s for s in SCRIPTS if s.name != "lib.sh"], ids=str)
def test_script_is_strict_and_executable(script: Path) -> None:
    text = (PROJECT_ROOT / script).read_text(encoding="utf-8")
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "\nset -euo pipefail\n" in text
    assert (PROJECT_ROOT / script).stat().st_mode & 0o111, f"{script} is not executable"
