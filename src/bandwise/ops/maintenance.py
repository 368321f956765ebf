"""Maintenance mode: a flag file the running service watches to freeze writes.

The file holds who set it (pid, host) and until when. A flag whose owner died (a cutover
killed with -9) or that expired is ignored, so a crashed operator tool can never leave the
service frozen.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path


@dataclass(frozen=True)
class MaintenanceState:
    """Why and until when the service is in maintenance."""

    reason: str
    owner_pid: int
    owner_host: str
    started_at: str
    expires_at: str

    def expired(self, now: datetime) -> bool:
        """Tell whether the flag outlived its time limit."""
        return datetime.fromisoformat(self.expires_at) <= now


def _owner_alive(state: MaintenanceState) -> bool:
    if state.owner_host != socket.gethostname():
        return True  # another host's process: trust the expiry time alone
    try:
        os.kill(state.owner_pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def enter_maintenance(
    path: Path, reason: str, ttl: timedelta = timedelta(minutes=30)
) -> MaintenanceState:
    """Switch maintenance on for ``ttl`` at most, owned by this process."""
    now = datetime.now(UTC)
    state = MaintenanceState(
        reason=reason,
        owner_pid=os.getpid(),
        owner_host=socket.gethostname(),
        started_at=now.isoformat(),
        expires_at=(now + ttl).isoformat(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(asdict(state)), encoding="utf-8")
    temporary.replace(path)
    return state


def leave_maintenance(path: Path) -> None:
    """Switch maintenance off."""
    path.unlink(missing_ok=True)


def maintenance_state(path: Path, now: datetime | None = None) -> MaintenanceState | None:
    """Return the active maintenance state, or None (no flag, expired, or owner gone)."""
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        state = MaintenanceState(**json.loads(raw))
    except (ValueError, TypeError):
        # A hand-made flag (e.g. `touch`): honour it, an operator put it there on purpose.
        far = datetime.max.replace(tzinfo=UTC).isoformat()
        return MaintenanceState("manual", os.getpid(), socket.gethostname(), "", far)
    if state.expired(now or datetime.now(UTC)) or not _owner_alive(state):
        return None
    return state
