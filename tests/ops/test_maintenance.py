"""Maintenance flag: honoured while its owner lives, ignored once it died or expired."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bandwise.ops.maintenance import enter_maintenance, leave_maintenance, maintenance_state


def test_flag_is_active_until_left(tmp_path: Path) -> None:
    flag = tmp_path / "maintenance.flag"
    assert maintenance_state(flag) is None
    state = enter_maintenance(flag, "cutover")
    assert maintenance_state(flag) == state
    leave_maintenance(flag)
    assert maintenance_state(flag) is None


def test_flag_of_a_dead_owner_is_ignored(tmp_path: Path) -> None:
    flag = tmp_path / "maintenance.flag"
    script = (
        "import sys; from pathlib import Path; from bandwise.ops.maintenance import "
        "enter_maintenance; enter_maintenance(Path(sys.argv[1]), 'cutover')"
    )
    subprocess.run([sys.executable, "-c", script, str(flag)], check=True, timeout=60)
    assert flag.exists()
    assert maintenance_state(flag) is None  # the process that set it has exited


def test_expired_flag_is_ignored_and_manual_flag_is_honoured(tmp_path: Path) -> None:
    flag = tmp_path / "maintenance.flag"
    enter_maintenance(flag, "cutover", ttl=timedelta(seconds=1))
    assert maintenance_state(flag, now=datetime.now(UTC) + timedelta(seconds=2)) is None
    flag.write_text("operator says so")
    manual = maintenance_state(flag)
    assert manual is not None and manual.reason == "manual"
    flag.write_text(json.dumps({"unexpected": True}))
    assert maintenance_state(flag) is not None
