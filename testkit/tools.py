"""Locate Debian tools the tests drive for real; fail clearly when one is missing."""

from __future__ import annotations

import shutil

import pytest


def require_tool(*names: str) -> str:
    """Return the path of the first of ``names`` on PATH, or fail naming the installer."""
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(
        f"{' / '.join(names)} not found: run `make test-tools` "
        "(scripts/ensure-test-tools.sh installs chromium, chromium-driver and prometheus)"
    )
